"""The student edition: every chapter notebook with its solutions replaced by stubs.

Conventions in the instructor notebooks under ``chapters/`` (chapter: Instructor guide):

- An exercise is a markdown cell with a ``{exercise}`` directive and a ``:label:``.
- Its solution sits between two markdown cells, ``{solution-start} <label>`` (with
  ``:class: dropdown``, so the book shows it collapsed) and ``{solution-end}``. Everything in
  between is the solution: markdown is dropped, code cells become stubs.
- A code cell tagged ``solution`` is a solution wherever it is. If it contains the lines
  ``# BEGIN SOLUTION`` and ``# END SOLUTION``, only the lines between them are removed and the
  rest stays as a skeleton; otherwise the whole cell becomes the stub.
- A code cell tagged ``uses-answer`` (an automatic check, say) needs the student's answer: it
  stays, tagged ``nbval-skip`` so that the student edition can be tested before it is filled in.

The student edition is read in Jupyter and on Colab, which do not render MyST: its
markdown cells are rewritten in plain Markdown (numbered exercise headings, citations
and a reference list, links for cross-references; :mod:`utils.course.plain_markdown`).
The book keeps the directives.

``python -m utils.course.student [--out student]`` writes ``student/chapters/...``, outputs
stripped.

``python -m utils.course.student --branch student`` (``make publish-student``) commits the student
edition to a local branch instead: the tree of the current ``HEAD`` with every notebook under
``chapters/`` replaced by its student edition, written with Git plumbing and a temporary index,
so the working tree and the real index are never touched. The book's Colab and Binder buttons
open that branch (``repository.branch`` in ``_config.yml``); the maintainers push it when they
publish (``git push origin student``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from utils.config import REPO_ROOT
from utils.course.notebooks import notebooks
from utils.course.plain_markdown import Book, load_book, plain_notebook
from utils.files import write_text_atomic

SOLUTION_TAG, USES_ANSWER_TAG, STUB_TAG, SKIP_TAG = (
    "solution",
    "uses-answer",
    "stub",
    "nbval-skip",
)
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"

_EXERCISE = re.compile(r"\{exercise\}.*?:label:\s*(\S+)", re.S)
_SOLUTION_START = re.compile(r"\{solution-start\}\s*(\S+)")
_SOLUTION_END = re.compile(r"\{solution-end\}")
_SOLUTION_BLOCK = re.compile(r"\{solution\}")

STUDENT_NOTE = (
    "> **Note.** This is the **student edition** of this notebook: the solutions are "
    "removed. Cells that say `# YOUR CODE HERE` are yours to write. Where an exercise has "
    "one right answer, the check after it tells you whether yours is right and, if not, "
    "what to look at; open-ended exercises have no check: their text says what a good "
    "answer contains."
)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def solution_parts(source: str, label: str) -> tuple[list[str], list[str]]:
    """Split a solution cell into the lines the student sees and the lines removed. Every
    ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block becomes a stub; a cell without one becomes
    a stub as a whole. The leak check (:func:`solution_lines`) reads the same split."""
    todo = f'# YOUR CODE HERE\nraise NotImplementedError("Exercise {label}")'
    lines = source.splitlines()
    markers = {line.strip() for line in lines}
    if END in markers and BEGIN not in markers:
        raise ValueError(f"exercise {label}: {END} without a {BEGIN} before it")
    if BEGIN not in markers:
        return todo.splitlines(), lines
    kept, removed, inside = [], [], False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(
                    f"exercise {label}: {BEGIN} inside another solution block"
                )
            indent = line[: len(line) - len(line.lstrip())]
            kept += [indent + t for t in todo.splitlines()]
            inside = True
        elif marker == END:
            if not inside:
                raise ValueError(f"exercise {label}: {END} without a {BEGIN} before it")
            inside = False
        else:
            (removed if inside else kept).append(line)
    if inside:
        raise ValueError(f"exercise {label}: {BEGIN} without a matching {END}")
    return kept, removed


def stub_source(source: str, label: str) -> str:
    """The student's version of a solution cell: the answer replaced by a stub."""
    return "\n".join(solution_parts(source, label)[0])


def _stub_cell(cell: dict, label: str) -> dict:
    stub = copy.deepcopy(cell)
    stub["source"] = stub_source(_source(cell), label).splitlines(keepends=True)
    tags = [t for t in _tags(cell) if t != SOLUTION_TAG]
    stub["metadata"]["tags"] = [*tags, STUB_TAG, SKIP_TAG]
    return stub


def student_notebook(notebook: dict) -> dict:
    """Return the student edition of a notebook (a new dict; the input is unchanged)."""
    out = copy.deepcopy(notebook)
    cells, label, in_solution = [], "?", False
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            if match := _SOLUTION_START.search(text):
                in_solution, label = True, match.group(1)
                continue
            if _SOLUTION_END.search(text):
                in_solution = False
                continue
            if in_solution or _SOLUTION_BLOCK.search(text):
                continue
            if match := _EXERCISE.search(text):
                label = match.group(1)
            cells.append(copy.deepcopy(cell))
        elif cell["cell_type"] == "code":
            if in_solution or SOLUTION_TAG in _tags(cell):
                new = _stub_cell(cell, label)
            else:
                new = copy.deepcopy(cell)
                if USES_ANSWER_TAG in _tags(cell):
                    new.setdefault("metadata", {})["tags"] = [*_tags(cell), SKIP_TAG]
            new["outputs"], new["execution_count"] = [], None
            cells.append(new)
        else:
            cells.append(copy.deepcopy(cell))
    if in_solution:
        raise ValueError(
            f"solution {label} has a {{solution-start}} but no {{solution-end}}"
        )
    title = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
    note = {
        "cell_type": "markdown",
        "id": "student-note",
        "metadata": {},
        "source": STUDENT_NOTE,
    }
    cells.insert(title + 1, note)
    out["cells"] = cells
    return out


def solution_lines(notebook: dict) -> set[str]:
    """The substantive lines of the solutions that appear nowhere else in the notebook: what
    must not reach the student edition."""
    lines, elsewhere, in_solution = set(), set(), False
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            in_solution = (in_solution or bool(_SOLUTION_START.search(text))) and not (
                _SOLUTION_END.search(text)
            )
        elif in_solution or SOLUTION_TAG in _tags(cell):
            _, removed = solution_parts(text, "?")
            lines |= {line.strip() for line in removed if len(line.strip()) > 8}
        else:
            elsewhere |= {line.strip() for line in text.splitlines()}
    return {line for line in lines - elsewhere if not line.startswith("#")}


def write_student_edition(
    out_dir: Path, sources: list[Path] | None = None
) -> list[Path]:
    """Write the student edition of ``sources`` (default: every chapter) under ``out_dir``."""
    written, book = [], load_book()
    for path in sources or notebooks():
        relative = path.resolve().relative_to(REPO_ROOT)
        target = out_dir / relative
        doc = relative.with_suffix("").as_posix()
        write_text_atomic(target, student_json(path.read_text(), doc, book))
        written.append(target)
    return written


def student_json(text: str, doc: str | None = None, book: Book | None = None) -> str:
    """The student edition of a notebook given and returned as the text of an .ipynb
    file; with ``doc`` (its path in the book, no suffix), in plain Markdown too."""
    student = student_notebook(json.loads(text))
    if doc is not None:
        student = plain_notebook(student, doc, book)
    return json.dumps(student, indent=1, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- the branch


def _git(
    repo: Path, *args: str, env: dict | None = None, data: bytes | None = None
) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=data,
        capture_output=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"git {' '.join(args[:2])} failed in {repo}: {message}")
    return result.stdout.decode().strip()


def write_student_branch(
    branch: str = "student", repo: Path = REPO_ROOT, chapters: str = "chapters"
) -> str | None:
    """Commit the student edition of ``HEAD`` to ``branch``; return the new commit, or ``None``
    when the branch already holds exactly this edition.

    The commit's tree is ``HEAD``'s tree with every ``*.ipynb`` under ``chapters`` replaced by its
    student edition (built from the committed notebooks, not the working tree). Its one parent
    is the branch's previous tip, never ``HEAD``, so the solutions are not in the branch's
    history. A temporary index file does the work: the working tree, the real index and the
    current branch are left alone.
    """
    ref = f"refs/heads/{branch}"
    current = subprocess.run(
        ["git", "-C", str(repo), "symbolic-ref", "-q", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if current == ref:
        raise RuntimeError(
            f"{branch!r} is checked out in {repo}: switch to the main branch first"
        )
    head = _git(repo, "rev-parse", "--verify", "HEAD^{commit}")
    previous = _git_or_none(repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    listing = _git(repo, "ls-tree", "-r", "-z", "HEAD", "--", chapters)
    entries = [line.split("\t", 1) for line in listing.split("\0") if line]
    book = load_book(repo)
    with tempfile.TemporaryDirectory(prefix="student-index-") as folder:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(folder) / "index")}
        _git(repo, "read-tree", "HEAD", env=env)
        for meta, path in entries:
            mode, kind, blob = meta.split()
            if (
                kind != "blob"
                or not path.endswith(".ipynb")
                or ".ipynb_checkpoints" in path
            ):
                continue
            original = _git(repo, "cat-file", "blob", blob)
            doc = path.removesuffix(".ipynb")
            text = student_json(original, doc, book).encode()
            new_blob = _git(repo, "hash-object", "-w", "--stdin", data=text)
            _git(
                repo,
                "update-index",
                "--cacheinfo",
                f"{mode},{new_blob},{path}",
                env=env,
            )
        tree = _git(repo, "write-tree", env=env)
    if previous and _git(repo, "rev-parse", f"{previous}^{{tree}}") == tree:
        return None
    message = (
        f"Student edition of {head[:12]}\n\nEvery notebook under {chapters}/ with its solutions "
        "replaced by stubs (python -m utils.course.student --branch)."
    )
    parents = ["-p", previous] if previous else []
    commit = _git(repo, "commit-tree", tree, *parents, "-m", message)
    _git(
        repo,
        "update-ref",
        "-m",
        "utils.course.student",
        ref,
        commit,
        previous or "0" * 40,
    )
    return commit


def _git_or_none(repo: Path, *args: str) -> str | None:
    try:
        return _git(repo, *args) or None
    except RuntimeError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the student edition of the notebooks."
    )
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "student", help="output folder"
    )
    parser.add_argument(
        "--branch",
        help="commit the edition of HEAD to this local branch instead (e.g. student)",
    )
    args = parser.parse_args(argv)
    if args.branch:
        commit = write_student_branch(args.branch)
        if commit is None:
            print(f"branch {args.branch} already holds the student edition of HEAD")
        else:
            print(f"branch {args.branch}: {commit[:12]}, the student edition of HEAD")
        dirty = _git(REPO_ROOT, "status", "--porcelain", "--", "chapters")
        if dirty:
            print(
                "note: uncommitted changes under chapters/ are not in it (it is built from HEAD)"
            )
        print(f"publish it with: git push origin {args.branch}")
        return 0
    shutil.rmtree(args.out / "chapters", ignore_errors=True)  # no stale notebooks
    for path in write_student_edition(args.out):
        print(f"student edition: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
