"""utils.course.timing: the book's execution benchmark, on two tiny notebooks (one passes, one
raises)."""

import json
import os

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from utils.course import timing


def write_notebook(path, *sources):
    notebook = new_notebook(cells=[new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def test_benchmark_reports_each_notebook_and_goes_on_after_a_failure(tmp_path, capsys):
    (tmp_path / "here.txt").write_text("the notebook's own folder")
    good = write_notebook(
        tmp_path / "good.ipynb",
        "import os\nassert os.environ['COURSE_QUICK'] == '1', os.environ.get('COURSE_QUICK')",
        "print(open('here.txt').read())",  # cwd is the notebook's folder
    )
    bad = write_notebook(tmp_path / "bad.ipynb", "1 / 0")
    missing = tmp_path / "missing.ipynb"
    out = tmp_path / "results" / "timing.json"
    before = os.environ.get("COURSE_QUICK")

    status = timing.main(
        [
            str(bad),
            str(good),
            str(missing),
            "--quick",
            "--out",
            str(out),
            "--timeout",
            "60",
        ]
    )

    assert status == 1  # a notebook failed
    # the caller's environment is left alone
    assert os.environ.get("COURSE_QUICK") == before
    report = json.loads(out.read_text())
    assert [row["notebook"] for row in report["notebooks"]] == [
        str(bad),
        str(good),
        str(missing),
    ]
    assert [row["status"] for row in report["notebooks"]] == ["failed", "ok", "failed"]
    assert [row["error"] for row in report["notebooks"]] == [
        "ZeroDivisionError",
        "",
        "FileNotFoundError",
    ]
    assert all(row["seconds"] >= 0 for row in report["notebooks"])
    total = sum(row["seconds"] for row in report["notebooks"])
    assert abs(report["total_seconds"] - total) < 0.2
    assert report["mode"] == "quick"
    machine = report["machine"]
    assert machine["cpu_count"] == os.cpu_count() and machine["torch_threads"] >= 1
    assert machine["device"] in {"cpu", "cuda", "mps"} and machine["cpu_model"]
    assert [p.name for p in out.parent.iterdir()] == [
        "timing.json"
    ]  # no temp file left

    printed = capsys.readouterr().out
    assert "failed (ZeroDivisionError)" in printed and "2 failed" in printed
    assert "mode:    quick" in printed and "cores" in printed


def test_all_passing_exits_zero_in_full_mode(tmp_path):
    good = write_notebook(
        tmp_path / "good.ipynb", "import os\nassert os.environ['COURSE_QUICK'] == '0'"
    )
    assert timing.main([str(good), "--out", str(tmp_path / "t.json")]) == 0
    assert json.loads((tmp_path / "t.json").read_text())["mode"] == "full"


def test_toc_notebooks_follow_the_toc_order_and_skip_markdown(tmp_path):
    (tmp_path / "chapters").mkdir()
    for name in ["b.ipynb", "a.ipynb", "c.ipynb"]:
        write_notebook(tmp_path / "chapters" / name)
    (tmp_path / "chapters" / "intro.md").write_text("# Intro")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: chapters/intro\nparts:\n"
        "  - caption: One\n    chapters:\n      - file: chapters/b\n"
        "        sections:\n          - file: chapters/c.ipynb\n"
        "  - caption: Two\n    chapters:\n      - file: chapters/a\n      - file: chapters/gone\n"
    )
    found = timing.toc_notebooks(tmp_path / "_toc.yml")
    assert [p.name for p in found] == ["b.ipynb", "c.ipynb", "a.ipynb"]


def test_real_toc_lists_the_tour_first():
    assert timing.toc_notebooks()[0].name == "tour.ipynb"
