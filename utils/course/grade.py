"""Grade a folder of submitted notebooks against the reference notebook; write a CSV
(chapter: Instructor guide).

``python -m utils.course.grade SUBMISSIONS/ --reference chapters/04_speech/spoken_digits.ipynb``
``[--out results.csv] [--jobs 4] [--timeout 600] [--memory-mb 4096] [--full]``;
``python -m utils.course.grade feedback NOTEBOOK`` runs one notebook and prints its checks (for
a student's own CI: feedback, not marks; see ``chapters/instructors/classroom-feedback.yml``).

**Marks come from the grader, not from the submission.** A student's notebook could print a
passing check, patch ``utils.checks`` or rewrite a check cell; none of that counts:

1. Each check cell (tag ``uses-answer``) of the *reference* declares the names that hold the
   student's answers (metadata ``{"course": {"answers": ["frames"]}}``). In every submission the
   check cells are restored from the reference (edits and deletions are reported) and an export
   cell is put before each one (:mod:`utils.course.answers`).
2. The submission runs isolated (:mod:`utils.course.sandbox`): a throwaway copy, no network,
   nothing else of the machine to read, time and memory limits, several at once (``--jobs``).
3. Its answers come back as plain data. The reference notebook then runs once, in the grader's
   own kernel, and at each check cell every submission's answers are put in place of the
   reference's and the reference's check cell runs with the real ``utils.checks``: every other
   argument (``hop``, the data, the permutation) is the grader's own.

One bad submission (unreadable, raising, too slow, too big) never stops the batch.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from utils.checks import METADATA_KEY
from utils.course import answers, sandbox
from utils.files import atomic_write, write_text_atomic

CHECK_TAG = "uses-answer"
COLUMNS = [
    "file", "status", "passed", "total", "failed_checks", "feedback", "edited_cells",
    "isolation", "seconds", "detail",
]  # fmt: skip


class GradingError(RuntimeError):
    """The reference notebook cannot be used to grade (the message says how to fix it)."""


# ----------------------------------------------------------------------------- the reference


@dataclass(frozen=True)
class CheckCell:
    """A check cell of the reference: its id, code and the names of the student's answers."""

    id: str
    source: str
    answers: tuple[str, ...]


def reference_checks(reference) -> list[CheckCell]:
    """The check cells of the reference notebook, each declaring its answers."""
    checks = []
    for cell in reference.cells:
        if CHECK_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        names = cell["metadata"].get("course", {}).get("answers")
        if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise GradingError(
                f"check cell {cell.get('id')!r} of the reference declares no answers: add "
                'metadata {"course": {"answers": ["name", ...]}} naming the variables it checks'
            )
        checks.append(CheckCell(cell["id"], cell["source"], tuple(names)))
    if not checks:
        raise GradingError(
            f"the reference has no check cells (tag {CHECK_TAG!r}) to grade"
        )
    return checks


def _export_id(check: CheckCell) -> str:
    return f"course-export-{check.id}"[:64]


def prepare(submission, reference, checks: list[CheckCell], token: str):
    """The submission as it will run: check cells restored from the reference and an export
    cell before each. Returns the notebook and the ids of edited and of deleted check cells."""
    import nbformat

    notebook = copy.deepcopy(submission)
    order = [c.get("id") for c in reference.cells]
    edited, deleted = [], []
    for check in checks:
        ids = [c.get("id") for c in notebook.cells]
        if check.id in ids:
            position = ids.index(check.id)
            if notebook.cells[position].source != check.source:
                edited.append(check.id)
            notebook.cells[position].source = check.source
        else:  # deleted: put it back after the nearest earlier reference cell still present
            deleted.append(check.id)
            earlier = [i for i in order[: order.index(check.id)] if i in ids]
            position = ids.index(earlier[-1]) + 1 if earlier else len(ids)
            notebook.cells.insert(
                position, nbformat.v4.new_code_cell(check.source, id=check.id)
            )
        export = nbformat.v4.new_code_cell(
            answers.export_source(list(check.answers), token), id=_export_id(check)
        )
        notebook.cells.insert(position, export)
    return notebook, edited, deleted


# ----------------------------------------------------------------------------- one submission


def execute_here(timeout: int) -> int:
    """Inside the sandbox: execute ``submission.ipynb`` in this folder, write
    ``executed.ipynb`` and ``status.json``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    notebook = nbformat.read("submission.ipynb", as_version=4)
    status = {"status": "ok", "detail": ""}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3")
    try:
        client.execute()
    except CellTimeoutError:
        status = {"status": "timeout", "detail": f"a cell ran longer than {timeout} s"}
    except CellExecutionError as error:
        status = {"status": "error", "detail": f"{error.ename}: {error.evalue}"[:300]}
    except DeadKernelError as error:
        status = {"status": "error", "detail": f"the kernel died: {error}"[:300]}
    nbformat.write(notebook, "executed.ipynb")
    write_text_atomic("status.json", json.dumps(status))
    return 0


@dataclass
class Submission:
    """One submitted notebook on its way to a CSV row."""

    path: Path
    row: dict = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)  # check id -> answers as JSON
    # check id -> check results
    results: dict[str, list[dict]] = field(default_factory=dict)


def run_submission(sub: Submission, reference, checks, *, settings: dict) -> Submission:
    """Prepare, execute (isolated) and read back one submission's answers."""
    import nbformat

    start = time.perf_counter()
    sub.row = {"file": sub.path.name, "status": "ok", "detail": "", "isolation": ""}
    try:
        notebook = nbformat.read(sub.path, as_version=4)
    except Exception as error:  # not JSON, not a notebook: report and move on
        sub.row.update(
            status="unreadable", detail=f"{type(error).__name__}: {error}"[:300]
        )
        return sub
    token = f"course-answers-{secrets.token_hex(8)}:"
    prepared, edited, deleted = prepare(notebook, reference, checks, token)
    sub.row["edited_cells"] = "; ".join(
        [*(f"{i} (edited)" for i in edited), *(f"{i} (deleted)" for i in deleted)]
    )
    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        workdir = Path(folder)
        nbformat.write(prepared, workdir / "submission.ipynb")
        command = [sys.executable, "-m", "utils.course.grade", "_execute"]
        outcome = sandbox.run_submission(
            [*command, "--timeout", str(settings["timeout"])],
            workdir,
            isolation=settings["isolation"],
            quick=settings["quick"],
            wall_seconds=settings["wall_seconds"],
            memory_mb=settings["memory_mb"],
        )
        sub.row["isolation"] = settings["isolation"] or "none"
        status = _read_status(workdir, outcome, settings)
        sub.row.update(status)
        executed = workdir / "executed.ipynb"
        if executed.exists():
            sub.answers = _exported_answers(
                nbformat.read(executed, as_version=4), checks, token
            )
    sub.row["seconds"] = round(time.perf_counter() - start, 1)
    return sub


def _read_status(workdir: Path, outcome, settings: dict) -> dict:
    if outcome.stopped == "memory":
        return {
            "status": "memory",
            "detail": f"used more than {settings['memory_mb']} MB",
        }
    if outcome.stopped == "time":
        return {
            "status": "timeout",
            "detail": f"ran longer than {settings['wall_seconds']} s",
        }
    try:
        status = json.loads((workdir / "status.json").read_text())
        return {
            "status": str(status["status"])[:20],
            "detail": str(status["detail"])[:300],
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {"status": "error", "detail": outcome.output[-300:]}


def _exported_answers(executed, checks, token: str) -> dict[str, str]:
    """``{check id: answers as JSON}`` for every export cell that ran and printed its line."""
    found = {}
    cells = {c.get("id"): c for c in executed.cells}
    for check in checks:
        cell = cells.get(_export_id(check))
        if cell is None:
            continue
        text = "".join(
            o.get("text", "")
            for o in cell.get("outputs", [])
            if o.get("name") == "stdout"
        )
        try:
            exported = answers.read_export(text, token)
        except ValueError:
            continue
        if exported is not None:
            found[check.id] = json.dumps(exported)
    return found


# ----------------------------------------------------------------------------- the grader's kernel


class ReferenceKernel:
    """The reference notebook, run cell by cell in a kernel of the grader's own."""

    def __init__(self, reference_path: Path, *, timeout: int, quick: bool):
        from jupyter_client.manager import start_new_kernel

        self.timeout = timeout
        env = os.environ | {"COURSE_QUICK": "1" if quick else "0"}
        self.manager, self.client = start_new_kernel(
            kernel_name="python3", cwd=str(reference_path.parent), env=env
        )

    def run(self, code: str) -> list[dict]:
        """Execute ``code``; return its check results. Raises on an error in the code."""
        outputs = []

        def keep(message):
            if message["msg_type"] in ("display_data", "error", "stream"):
                outputs.append(message["content"])

        reply = self.client.execute_interactive(
            code, timeout=self.timeout, output_hook=keep, store_history=False
        )
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
        return [
            o["metadata"][METADATA_KEY]
            for o in outputs
            if METADATA_KEY in o.get("metadata", {})
        ]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def check_all(
    reference, reference_path: Path, checks, submissions, *, timeout, quick
) -> dict:
    """Run the reference once; at each check cell, check every submission's answers there.
    Returns ``{check id: number of results}`` (the total each check cell is worth)."""
    by_id = {c.id: c for c in checks}
    worth = {}
    kernel = ReferenceKernel(reference_path, timeout=timeout, quick=quick)
    try:
        for cell in reference.cells:
            if cell.cell_type != "code":
                continue
            check = by_id.get(cell.get("id"))
            if check is None:
                kernel.run(cell.source)
                continue
            for sub in submissions:
                if check.id in sub.answers:
                    sub.results[check.id] = _check_one(
                        kernel, check, sub.answers[check.id]
                    )
            own = kernel.run(check.source)  # the reference's own answers must pass
            if not own or not all(r["passed"] for r in own):
                raise GradingError(
                    f"the reference fails its own check {check.id!r}: {own}; grading with it "
                    "would be unfair. Run the reference notebook and fix the solution first."
                )
            worth[check.id] = len(own)
    finally:
        kernel.close()
    return worth


def _check_one(
    kernel: ReferenceKernel, check: CheckCell, answers_json: str
) -> list[dict]:
    names = list(check.answers)
    kernel.run(answers.injection_source(answers_json, names))
    try:
        return kernel.run(check.source)
    except (
        RuntimeError
    ) as error:  # no answer, or one of the wrong kind: the check fails
        return [
            {
                "name": check.id,
                "passed": False,
                "feedback": f"no valid answer ({error})",
            }
        ]
    finally:
        kernel.run(answers.restore_source(names))


# ----------------------------------------------------------------------------- the batch


def grade_folder(
    folder: Path,
    out_csv: Path,
    *,
    reference: Path,
    timeout: int = 600,
    jobs: int = 1,
    quick: bool = True,
    memory_mb: int = 4096,
    isolation: str | None = None,
) -> list[dict]:
    """Grade every ``*.ipynb`` in ``folder`` against ``reference``; write one CSV row each.
    ``isolation`` ``None`` uses bubblewrap when available (``""`` forces none)."""
    import nbformat

    reference_nb = nbformat.read(reference, as_version=4)
    checks = reference_checks(reference_nb)
    isolation = sandbox.isolation_available() if isolation is None else isolation
    if not isolation:
        _warn_not_isolated()
    settings = {
        "timeout": timeout,
        "quick": quick,
        "memory_mb": memory_mb,
        "isolation": isolation,
        "wall_seconds": timeout * len(reference_nb.cells) + 120,
    }
    subs = [Submission(p) for p in sorted(Path(folder).glob("*.ipynb"))]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        subs = list(
            pool.map(lambda s: _safely(s, reference_nb, checks, settings), subs)
        )
    # the reference is trusted and runs once: give its cells room even when --timeout is tight
    worth = check_all(
        reference_nb, reference, checks, subs, timeout=max(timeout, 600), quick=quick
    )
    rows = [_row(sub, checks, worth) for sub in subs]
    with atomic_write(out_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _safely(sub: Submission, reference, checks, settings) -> Submission:
    try:
        return run_submission(sub, reference, checks, settings=settings)
    except Exception as error:  # a failure of the grader itself: still one row, go on
        sub.row = {
            "file": sub.path.name,
            "status": "grader error",
            "detail": repr(error)[:300],
        }
        return sub


def _row(sub: Submission, checks, worth: dict) -> dict:
    """The CSV row: marks only from the grader's own checks of the exported answers."""
    results = []
    for check in checks:
        got = sub.results.get(check.id)
        if got is None:
            got = [
                {"name": check.id, "passed": False, "feedback": "not reached"}
            ] * worth[check.id]
        results += got
    failed = [r for r in results if not r["passed"]]
    row = dict(sub.row)
    row.update(
        passed=len(results) - len(failed),
        total=len(results),
        failed_checks="; ".join(r["name"] for r in failed),
        feedback=" | ".join(f"{r['name']}: {r['feedback']}" for r in failed)[:1000],
    )
    print(f"{row['file']}: {row['status']} ({row['passed']}/{row['total']})")
    return row


def _warn_not_isolated() -> None:
    bar = "!" * 78
    print(
        f"{bar}\nWARNING: bubblewrap (bwrap) is not available, so submissions run NOT ISOLATED:\n"
        "each one can read your files and other submissions and reach the network.\n"
        "Install it (Debian/Ubuntu: apt-get install bubblewrap) and grade again.\n"
        f"The CSV's isolation column says 'none' for every row of this run.\n{bar}",
        file=sys.stderr,
    )


def feedback(path: Path, *, timeout: int = 600) -> int:
    """Run one notebook here and print its checks, as a student's own CI would: feedback for the
    student, never marks (``python -m utils.course.grade feedback NOTEBOOK``)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    stopped = ""
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3").execute(
            cwd=str(Path(path).parent)
        )
    except (CellExecutionError, CellTimeoutError) as error:
        stopped = (
            f"the notebook stopped early: {str(error).strip().splitlines()[-1][:200]}"
        )
    results = [
        output["metadata"][METADATA_KEY]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if METADATA_KEY in output.get("metadata", {})
    ]
    for r in results:
        print(f"{'PASS' if r['passed'] else 'FAIL'}  {r['name']}: {r['feedback']}")
    print(
        f"{sum(r['passed'] for r in results)} of {len(results)} checks pass. {stopped}".strip()
    )
    print("(Feedback only: your marks come from your instructor's run of the grader.)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_execute"]:  # inside the sandbox
        inner = argparse.ArgumentParser(prog="grade _execute")
        inner.add_argument("--timeout", type=int, default=600)
        return execute_here(inner.parse_args(argv[1:]).timeout)
    if argv[:1] == ["feedback"]:
        inner = argparse.ArgumentParser(prog="python -m utils.course.grade feedback")
        inner.add_argument("notebook", type=Path)
        return feedback(inner.parse_args(argv[1:]).notebook)
    parser = argparse.ArgumentParser(
        description="Grade submitted notebooks; write a CSV."
    )
    parser.add_argument("folder", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument(
        "--reference", type=Path, required=True, help="the instructor edition"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results.csv"), help="CSV to write"
    )
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1, help="submissions run at once")
    parser.add_argument(
        "--memory-mb", type=int, default=4096, help="memory per submission"
    )
    parser.add_argument(
        "--full", action="store_true", help="full settings, not quick mode"
    )
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if not args.reference.is_file():
        parser.error(f"{args.reference} is not a file")
    try:
        rows = grade_folder(
            args.folder, args.out, reference=args.reference, timeout=args.timeout,
            jobs=args.jobs, quick=not args.full, memory_mb=args.memory_mb,
        )  # fmt: skip
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(rows)} notebooks graded; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
