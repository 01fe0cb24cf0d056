"""`make release` (utils.course.release), run in a temporary clone of the repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from utils.config import REPO_ROOT
from utils.course import release

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

NEW = "9.9.0"
TIMING = {
    "mode": "full",
    "started": "2026-11-26T00:00:00+00:00",
    "total_seconds": 300.0,
    "machine": {
        "cpu_count": 2,
        "torch_threads": 2,
        "cpu_model": "test",
        "device": "cpu",
    },
    "notebooks": [
        {"notebook": "chapters/a.ipynb", "seconds": 300.0, "status": "ok", "error": ""}
    ],
}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def clone(tmp_path) -> Path:
    """A clone of the committed repository with a changelog section for ``NEW``."""
    root = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(root)], check=True)
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.org")
    changelog = root / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]", f"## [Unreleased]\n\n## [{NEW}]", 1
        )
    )
    git(root, "commit", "-q", "-m", "changelog", "--", "CHANGELOG.md")
    return root


def run_release(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m utils.course.release`` as `make release` runs it, from ``root``."""
    return subprocess.run(
        [sys.executable, "-m", "utils.course.release", *args],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_a_dirty_working_tree_is_refused(clone):
    (clone / "README.md").write_text("edited\n")
    (clone / "notes.txt").write_text("untracked\n")
    done = run_release(clone, NEW)
    assert done.returncode == 1
    assert "working tree is not clean" in done.stderr and "notes.txt" in done.stderr
    assert git(clone, "tag", "--list") == ""


def test_a_version_without_a_changelog_section_is_refused(clone):
    done = run_release(clone, "9.9.1")
    assert done.returncode == 1
    assert "CHANGELOG.md has no section for 9.9.1" in done.stderr


def test_a_bad_version_or_an_existing_tag_is_refused(clone):
    assert "is not a version" in run_release(clone, "v9.9").stderr
    git(clone, "tag", f"v{NEW}")
    assert f"tag v{NEW} already exists" in run_release(clone, NEW).stderr


def test_a_dry_run_prints_the_steps_and_changes_nothing(clone):
    head = git(clone, "rev-parse", "HEAD")
    done = run_release(clone, NEW, "--dry-run")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for step in ["make bench", f"benchmarks/{NEW}/timing.json", f"git tag -a v{NEW}"]:
        assert step in out
    assert "--branch student" in out and "print, not run: git push" in out
    assert git(clone, "rev-parse", "HEAD") == head
    assert (
        git(clone, "status", "--porcelain") == "" and git(clone, "tag", "--list") == ""
    )


def test_a_release_tags_sets_the_version_records_the_benchmark_and_never_pushes(
    clone, tmp_path
):
    timing = tmp_path / "timing.json"
    timing.write_text(json.dumps(TIMING))
    measured = git(clone, "rev-parse", "HEAD")
    done = run_release(clone, NEW, "--timing", str(timing))
    assert done.returncode == 0, done.stdout + done.stderr
    branch = git(clone, "rev-parse", "--abbrev-ref", "HEAD")
    assert f"git push origin {branch} v{NEW} student" in done.stdout  # printed, not run

    # one version everywhere, in the tagged commit
    assert set(release.versions(clone).values()) == {NEW}
    assert (
        tomllib.loads((clone / "pyproject.toml").read_text())["project"]["version"]
        == NEW
    )
    cff = yaml.safe_load((clone / "CITATION.cff").read_text())
    assert cff["version"] == NEW and cff["date-released"]
    assert release.changelog_heading(NEW, clone).startswith(f"## [{NEW}] - 20")
    assert git(clone, "describe", "--exact-match", "HEAD") == f"v{NEW}"
    assert git(clone, "log", "-1", "--format=%s") == f"Release {NEW}"
    assert git(clone, "status", "--porcelain") == ""

    # the benchmark the version was built with, committed
    recorded = json.loads(git(clone, "show", f"v{NEW}:benchmarks/{NEW}/timing.json"))
    assert recorded["course_version"] == NEW and recorded["commit"] == measured
    assert recorded["notebooks"] == TIMING["notebooks"]

    # the student edition of the tag, on the local branch
    assert git(clone, "rev-parse", "student^{tree}") != git(
        clone, "rev-parse", "HEAD^{tree}"
    )
    tour = "chapters/00_setup/tour.ipynb"
    assert "NotImplementedError" in git(clone, "show", f"student:{tour}")
    assert "NotImplementedError" not in git(clone, "show", f"v{NEW}:{tour}")

    # nothing pushed: the origin has neither the tag nor the release commit
    assert git(clone, "ls-remote", "--tags", "origin", f"v{NEW}") == ""
    assert git(clone, "branch", "-r", "--contains", "HEAD") == ""


def test_only_a_complete_full_benchmark_is_recorded():
    release.check_timing(TIMING)
    with pytest.raises(release.ReleaseError, match="not at full settings"):
        release.check_timing({**TIMING, "mode": "quick"})
    failed = [{**TIMING["notebooks"][0], "status": "failed"}]
    with pytest.raises(release.ReleaseError, match="failed"):
        release.check_timing({**TIMING, "notebooks": failed})


def test_set_version_rewrites_every_copy(tmp_path):
    for name, _, _ in release.VERSION_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    release.set_version("1.2.3", tmp_path)
    assert set(release.versions(tmp_path).values()) == {"1.2.3"}
    footer = yaml.safe_load((tmp_path / "_config.yml").read_text())["html"][
        "extra_footer"
    ]
    assert "Version 1.2.3" in footer
