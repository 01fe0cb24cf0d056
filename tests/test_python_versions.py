"""Which Python the course runs on: 3.11 or newer, chosen by the Makefile, refused when older."""

import glob
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from utils.config import REPO_ROOT

FIND = ["sh", str(REPO_ROOT / "tools" / "find-python.sh")]


def test_the_default_choice_runs_and_is_supported():
    found = subprocess.run(
        FIND, capture_output=True, text=True, check=True
    ).stdout.strip()
    version = subprocess.run(
        [found, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert version >= "(3, 11)"


def test_a_missing_version_prints_nothing_and_fails():
    done = subprocess.run([*FIND, "python3.99"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""


def old_python():
    """A Python older than 3.11 on this machine (pyenv keeps several), or None."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for path in sorted(glob.glob(f"{root}/versions/3.*/bin/python3.*")):
        if path.endswith(("3.8", "3.9", "3.10")) and os.access(path, os.X_OK):
            return path
    return None


@pytest.mark.skipif(
    old_python() is None or not shutil.which("make"), reason="no old Python"
)
def test_an_old_python_is_refused_in_one_line(tmp_path):
    done = subprocess.run(
        ["make", "-s", f"PYTHON={old_python()}", f"VENV={tmp_path / 'venv'}", "env"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    errors = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "needs Python 3.11 or newer" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "venv").exists()


def test_metadata_readme_and_ci_name_the_same_versions():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"  # no upper bound: nothing needs one
    listed = [
        c.rsplit(" ", 1)[-1] for c in project["classifiers"] if "Python :: 3." in c
    ]
    assert listed == ["3.11", "3.12", "3.13"]
    assert "Python 3.11, 3.12 or 3.13" in (REPO_ROOT / "README.md").read_text()
    assert "for version in 3.12 3.13" in (REPO_ROOT / ".ci" / "run").read_text()
    assert sys.version_info >= (3, 11)
