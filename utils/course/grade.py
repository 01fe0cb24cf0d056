"""Execute a folder of submitted notebooks and write their check results to a CSV.

``python -m utils.course.grade SUBMISSIONS/ --out results.csv``
``[--reference chapters/01_speech/spoken_digits.ipynb]``

Each notebook runs in a fresh kernel (quick mode unless ``--full``). The results of the
``utils.checks`` calls are read from the executed notebook's outputs, so a notebook that raises
half-way still gets credit for the checks before the error. A notebook that raises, times out,
is not a notebook at all, or lacks a required cell of the reference (a check cell a student
deleted) is reported as such in its row; one bad submission never stops the batch
(chapter: Instructor guide).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

from utils.checks import METADATA_KEY
from utils.files import atomic_write

REQUIRED_TAGS = {"uses-answer", "course-setup"}
COLUMNS = ["file", "status", "passed", "total", "failed_checks", "seconds", "detail"]


def required_cell_ids(reference: Path) -> set[str]:
    """Ids of the cells a submission must keep: checks and the set-up cell."""
    import nbformat

    notebook = nbformat.read(reference, as_version=4)
    return {
        cell["id"]
        for cell in notebook.cells
        if REQUIRED_TAGS & set(cell.get("metadata", {}).get("tags", []))
    }


def _check_results(notebook) -> list[dict]:
    return [
        output["metadata"][METADATA_KEY]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if METADATA_KEY in output.get("metadata", {})
    ]


def grade_notebook(path: Path, *, timeout: int = 600, required: set[str] = frozenset()) -> dict:
    """Execute one submission and summarise it as a CSV row (a dict)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    row = {"file": path.name, "status": "ok", "detail": ""}
    start = time.perf_counter()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook: report and move on
        return {**row, "status": "unreadable", "detail": f"{type(error).__name__}: {error}"[:300]}
    missing = sorted(required - {cell.get("id") for cell in notebook.cells})
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellTimeoutError:
        row.update(status="timeout", detail=f"a cell ran longer than {timeout} s")
    except CellExecutionError as error:
        row.update(status="error", detail=f"{error.ename}: {error.evalue}"[:300])
    except DeadKernelError as error:
        row.update(status="error", detail=f"the kernel died: {error}"[:300])
    if missing and row["status"] == "ok":
        row.update(status="missing cells", detail=f"required cells deleted: {', '.join(missing)}")
    elif missing:
        row["detail"] += f"; required cells deleted: {', '.join(missing)}"
    results = _check_results(notebook)
    row.update(
        passed=sum(r["passed"] for r in results),
        total=len(results),
        failed_checks="; ".join(r["name"] for r in results if not r["passed"]),
        seconds=round(time.perf_counter() - start, 1),
    )
    return row


def grade_folder(
    folder: Path, out_csv: Path, *, timeout: int = 600, reference: Path | None = None
) -> list[dict]:
    """Grade every ``*.ipynb`` in ``folder`` and write one CSV row per notebook."""
    required = required_cell_ids(reference) if reference else set()
    rows = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            row = grade_notebook(path, timeout=timeout, required=required)
        except Exception as error:  # a failure of the grader itself: still one row, go on
            row = {"file": path.name, "status": "grader error", "detail": repr(error)[:300]}
        print(f"{row['file']}: {row['status']} ({row.get('passed', 0)}/{row.get('total', 0)})")
        rows.append(row)
    with atomic_write(out_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute submitted notebooks; write a CSV.")
    parser.add_argument("folder", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--out", type=Path, default=Path("results.csv"), help="CSV to write")
    parser.add_argument("--reference", type=Path, help="the notebook as handed out")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--full", action="store_true", help="full settings, not quick mode")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    os.environ["COURSE_QUICK"] = "0" if args.full else "1"
    rows = grade_folder(args.folder, args.out, timeout=args.timeout, reference=args.reference)
    print(f"{len(rows)} notebooks graded; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
