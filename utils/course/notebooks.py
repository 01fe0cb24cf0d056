"""Housekeeping for the course's notebooks: the set-up cell and output stripping.

Every notebook starts with the same set-up cell, which makes ``import utils`` work on
Colab and on a JupyterHub. It holds the repository address, whose one source is
``repository.url`` in ``_config.yml``, and the version of the book (tag ``v<version>``,
the version in ``pyproject.toml``), so that Colab runs the code the notebook was written
for, not whatever the main branch holds that day; ``python -m utils.course.notebooks
sync`` rewrites the cell in every notebook (``make release`` does, for the new version),
and the test suite fails when a notebook is out of date.

Command line: ``python -m utils.course.notebooks {sync,check,strip}``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from utils.config import REPO_ROOT
from utils.files import write_text_atomic

CHAPTERS = REPO_ROOT / "chapters"
SETUP_TAG = "course-setup"
ANSWER_TAG = "uses-answer"  # a check cell: it reads the student's answers

SETUP_TEMPLATE = """\
# Set-up: makes `import utils` work. A no-op where the course is installed (make book,
# make test, Binder); in a clone of the course (a JupyterHub), it finds the code; on
# Colab it fetches the code of this notebook's version ({tag}) once and installs only
# the packages Colab lacks (never torch). No kernel restart is needed.
import sys

try:
    import utils.config  # noqa: F401
except ImportError:
    import importlib.util
    import os
    import subprocess

    COURSE_REPO = "{url}"
    COURSE_VERSION = "{tag}"  # the version of the book this notebook belongs to
    code = next(
        (d for d in (".", "..", "../..") if os.path.isfile(f"{{d}}/utils/config.py")),
        os.path.expanduser(f"~/rnn-cnn-course-{{COURSE_VERSION}}"),
    )
    if not os.path.isdir(f"{{code}}/utils"):
        clone = ["git", "clone", "-q", "--depth=1", "--branch", COURSE_VERSION]
        subprocess.run([*clone, COURSE_REPO, code], check=True)
    needed = {needed}
    missing = [r for m, r in needed.items() if importlib.util.find_spec(m) is None]
    if missing:
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *missing], check=True)
    sys.modules.pop("utils", None)  # an unrelated `utils` may already be imported
    sys.path.insert(0, os.path.abspath(code))"""

# Requirements Colab may lack, by import name (pyproject.toml); torch and torchvision
# are Colab's own and never reinstalled, whatever their version.
NEVER_INSTALLED = {"torch", "torchvision"}
IMPORT_NAMES = {"ipython": "IPython", "pyyaml": "yaml"}


def colab_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> dict:
    """``{import name: requirement}`` for the set-up cell: the runtime dependencies of
    ``pyproject`` without torch and torchvision."""
    import tomllib

    from packaging.requirements import Requirement

    found = {}
    for text in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        name = Requirement(text).name.lower()
        if name not in NEVER_INSTALLED:
            found[IMPORT_NAMES.get(name, name.replace("-", "_"))] = text
    return found


def course_version(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """The course's version, ``[project] version`` in ``pyproject.toml``."""
    import tomllib

    return tomllib.loads(pyproject.read_text())["project"]["version"]


def repository_url(config_file: Path = REPO_ROOT / "_config.yml") -> str:
    """``repository.url`` from the book's ``_config.yml``."""
    import yaml

    url = (yaml.safe_load(config_file.read_text()).get("repository") or {}).get("url")
    if not url:
        raise ValueError(
            f"{config_file} has no repository.url: add the course's Git address"
        )
    return url


def setup_source(url: str | None = None, root: Path = REPO_ROOT) -> str:
    """The source of the set-up cell for repository ``url`` (default: from
    ``_config.yml``), fetching tag ``v<version>`` of ``root``'s ``pyproject.toml``."""
    needed = colab_requirements(root / "pyproject.toml")
    lines = "".join(f"        {m!r}: {text!r},\n" for m, text in needed.items())
    return SETUP_TEMPLATE.format(
        url=url or repository_url(root / "_config.yml"),
        tag=f"v{course_version(root / 'pyproject.toml')}",
        needed="{\n" + lines.replace("'", '"') + "    }",
    )


def notebooks(root: Path = CHAPTERS) -> list[Path]:
    """Every notebook under ``root``, in a stable order, skipping checkpoints."""
    return sorted(
        p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _save(path: Path, notebook: dict) -> None:
    """Write a notebook atomically, formatted as Jupyter writes it."""
    write_text_atomic(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _setup_cell(notebook: dict) -> dict | None:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            return cell if SETUP_TAG in tags else None
    return None


def problems(path: Path, url: str | None = None) -> list[str]:
    """What is wrong with a committed notebook: outputs left in, a missing or stale set-up cell."""
    notebook, found = _load(path), []
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    if any(c.get("outputs") or c.get("execution_count") for c in code):
        found.append("has outputs: run `python -m utils.course.notebooks strip`")
    cell = _setup_cell(notebook)
    if cell is None:
        found.append(f"its first code cell is not the set-up cell (tag {SETUP_TAG!r})")
    elif "".join(cell["source"]) != setup_source(url):
        found.append(
            "its set-up cell is out of date: run `python -m utils.course.notebooks sync`"
        )
    return found + undeclared_answers(notebook)


def _assigned_names(source: str) -> set[str]:
    """Names a cell binds (assignments, loops, imports, definitions); none if it is not Python."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def undeclared_answers(notebook: dict) -> list[str]:
    """Check cells (tag ``uses-answer``) the grader cannot use: each must name, in its metadata
    ``{"course": {"answers": [...]}}``, the variables holding the student's answers, bound by
    an earlier cell (see :mod:`utils.course.grade`)."""
    found, bound = [], set()
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        if ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            names = cell["metadata"].get("course", {}).get("answers")
            if not names:
                found.append(
                    f"check cell {cell.get('id')!r} declares no answers: add cell metadata "
                    '{"course": {"answers": ["name", ...]}} naming what it checks'
                )
            elif unbound := [n for n in names if n not in bound]:
                found.append(
                    f"check cell {cell.get('id')!r}: no earlier cell binds {unbound}"
                )
        bound |= _assigned_names("".join(cell["source"]))
    return found


def sync(path: Path, url: str | None = None, root: Path = REPO_ROOT) -> bool:
    """Rewrite the set-up cell of ``path`` from the template (the version and address of
    the course in ``root``); True if the file changed."""
    notebook = _load(path)
    cell = _setup_cell(notebook)
    if cell is None:
        cell = {"cell_type": "code", "metadata": {}, "source": "", "outputs": []}
        cell["execution_count"] = None
        first_code = next(
            (i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"),
            len(notebook["cells"]),
        )
        notebook["cells"].insert(first_code, cell)
    cell["metadata"]["tags"] = sorted(
        {*cell["metadata"].get("tags", []), SETUP_TAG, "remove-cell"}
    )
    source = setup_source(url, root)
    if "".join(cell["source"]) == source and cell.get("id"):
        return False
    cell["source"] = source.splitlines(keepends=True)  # as Jupyter stores it
    cell.setdefault("id", "course-setup")
    _save(path, notebook)
    return True


def strip(path: Path) -> bool:
    """Remove outputs and execution counts; True if the file changed."""
    notebook, changed = _load(path), False
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and (
            cell.get("outputs") or cell.get("execution_count")
        ):
            cell["outputs"], cell["execution_count"], changed = [], None, True
    if changed:
        _save(path, notebook)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Keep the course's notebooks tidy.")
    parser.add_argument("command", choices=["sync", "check", "strip"])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: chapters/)"
    )
    args = parser.parse_args(argv)
    paths = args.paths or notebooks()
    if args.command == "check":
        bad = {p: problems(p) for p in paths}
        for path, found in bad.items():
            for problem in found:
                print(f"{path}: {problem}")
        return 1 if any(bad.values()) else 0
    action = sync if args.command == "sync" else strip
    for path in paths:
        if action(path):
            print(f"{args.command}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
