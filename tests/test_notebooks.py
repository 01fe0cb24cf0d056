"""The book's structure: every notebook is listed, clean, and starts with the set-up cell."""

import json

import pytest
import yaml

from utils.config import REPO_ROOT
from utils.course import notebooks


def toc_files() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
        files += [
            s["file"]
            for chapter in part["chapters"]
            for s in chapter.get("sections", [])
        ]
    return files


def test_every_toc_entry_exists():
    for entry in toc_files():
        candidates = [REPO_ROOT / f"{entry}{ext}" for ext in ("", ".md", ".ipynb")]
        assert any(p.is_file() for p in candidates), (
            f"_toc.yml lists {entry}, which is missing"
        )


def test_every_notebook_is_in_the_toc():
    listed = {str(REPO_ROOT / entry) for entry in toc_files()}
    for path in notebooks.notebooks():
        assert str(path.with_suffix("")) in listed, f"{path} is not in _toc.yml"


@pytest.mark.parametrize("path", notebooks.notebooks(), ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_set_up(path):
    assert notebooks.problems(path) == [], f"{path.relative_to(REPO_ROOT)}"
    kernel = json.loads(path.read_text())["metadata"]["kernelspec"]["name"]
    assert kernel == "python3"


def test_setup_cell_follows_the_repository_url(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text((notebooks.CHAPTERS / "00_setup" / "tour.ipynb").read_text())
    assert notebooks.problems(path) == []
    assert notebooks.problems(path, url="https://example.org/fork") == [
        "its set-up cell is out of date: run `python -m utils.course.notebooks sync`"
    ]
    assert notebooks.sync(path, url="https://example.org/fork")
    assert notebooks.problems(path, url="https://example.org/fork") == []
    setup = next(
        c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
    )
    assert '    COURSE_REPO = "https://example.org/fork"\n' in setup["source"]


def test_strip_removes_outputs(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook = json.loads((notebooks.CHAPTERS / "00_setup" / "tour.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    cell["execution_count"] = 3
    path.write_text(json.dumps(notebook))
    assert notebooks.problems(path)[0].startswith("has outputs")
    assert notebooks.strip(path)
    assert notebooks.problems(path) == []


def test_setup_cell_is_valid_python():
    compile(notebooks.setup_source(), "<setup cell>", "exec")


def test_a_check_cell_must_declare_answers_bound_before_it():
    def nb(*cells):
        return {
            "cells": [
                {"cell_type": "code", "id": i, "metadata": m, "source": s}
                for i, s, m in cells
            ]
        }

    check = {"tags": ["uses-answer"], "course": {"answers": ["frames"]}}
    assert (
        notebooks.undeclared_answers(
            nb(("a", "frames = 51", {}), ("c", "check(frames)", check))
        )
        == []
    )
    assert (
        "declares no answers"
        in notebooks.undeclared_answers(
            nb(
                ("a", "frames = 51", {}),
                ("c", "check(frames)", {"tags": ["uses-answer"]}),
            )
        )[0]
    )
    assert (
        "no earlier cell binds ['frames']"
        in notebooks.undeclared_answers(
            nb(("c", "check(frames)", check), ("a", "frames = 51", {}))
        )[0]
    )
