"""The compute note each chapter opens with (utils.course.timing.describe_cost), from the
committed reports in benchmarks/latest/, so that a fresh clone's book states it."""

import json

import pytest

from utils.course import timing


def _report(mode: str, seconds: float, status: str = "ok") -> dict:
    row = {"notebook": "chapters/02_recurrent/recurrent.ipynb", "seconds": seconds}
    return {
        "mode": mode,
        "machine": {"cpu_count": 2, "device": "cpu"},
        "notebooks": [{**row, "status": status}],
    }


@pytest.fixture
def latest(tmp_path, monkeypatch):
    paths = {m: tmp_path / f"timing-{m}.json" for m in ("full", "quick")}
    monkeypatch.setattr(timing, "LATEST", paths)
    return paths


def test_the_note_gives_full_and_quick_costs(latest):
    latest["full"].write_text(json.dumps(_report("full", 750.0)))
    latest["quick"].write_text(json.dumps(_report("quick", 14.4)))
    assert timing.describe_cost("recurrent.ipynb") == (
        "Compute: about 12.5 min at the book's full settings on 2 CPU cores (cpu); "
        "about 14 s in quick mode (`COURSE_QUICK=1`)."
    )


def test_a_missing_or_failed_run_is_said_not_invented(latest):
    assert "No timing report" in timing.describe_cost("recurrent.ipynb")
    latest["quick"].write_text(json.dumps(_report("quick", 14.4)))
    latest["full"].write_text(json.dumps(_report("full", 750.0, status="failed")))
    note = timing.describe_cost("recurrent.ipynb")
    assert note.startswith("Compute: full settings not measured yet (`make bench`);")
    assert "No timing report" in timing.describe_cost("choosing.ipynb")


def test_reports_live_in_the_committed_benchmarks_folder():
    for path in timing.LATEST.values():
        assert path.parent.parent == timing.BENCHMARKS
        # not results/
        assert path.relative_to(timing.REPO_ROOT).parts[0] == "benchmarks"


def test_git_keeps_the_reports():
    import subprocess

    for path in timing.LATEST.values():
        ignored = subprocess.run(
            ["git", "-C", str(timing.REPO_ROOT), "check-ignore", "-q", str(path)]
        )
        assert ignored.returncode == 1, f"{path} is ignored by git"
