"""The notebooks' set-up cell (utils.course.notebooks): on Colab it fetches the code of
the book's version, not the main branch, installs only what is missing and never torch;
in a clone of the course (a JupyterHub) it finds the code without fetching anything."""

import os
import subprocess
import sys
import sysconfig
import tomllib

import pytest

from utils.config import REPO_ROOT
from utils.course import notebooks

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]


def test_the_cell_fetches_the_tag_of_the_books_version():
    source = notebooks.setup_source()
    assert f'COURSE_VERSION = "v{VERSION}"' in source
    assert '"--branch", COURSE_VERSION' in source
    assert max(map(len, source.splitlines())) <= 88  # the book's column


def test_the_cell_never_installs_torch_and_names_what_colab_may_lack():
    needed = notebooks.colab_requirements()
    assert "torch" not in needed and "torchvision" not in needed
    assert needed["pandas"].startswith("pandas")
    assert needed["IPython"].startswith("ipython")
    assert "torch" not in notebooks.setup_source().split("needed = ")[1]


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def course_remote(tmp_path):
    """A course repository whose tag v<version> and main branch differ."""
    repo = tmp_path / "remote"
    (repo / "utils").mkdir(parents=True)
    (repo / "utils" / "__init__.py").write_text("")
    (repo / "utils" / "config.py").write_text("CODE = 'tagged'\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    email = ["-c", "user.email=t@example.org", "-c", "user.name=t"]
    _git(repo, *email, "commit", "-q", "-m", "release")
    _git(repo, "tag", f"v{VERSION}")
    (repo / "utils" / "config.py").write_text("CODE = 'main'\n")
    _git(repo, *email, "commit", "-q", "-am", "later work")
    return repo


def _run_cell(source: str, cwd, home) -> subprocess.CompletedProcess:
    """The cell in a fresh Python that cannot import this checkout's `utils` (no site
    processing, so no editable install; the installed packages stay importable)."""
    script = source + "\nimport utils.config\nprint(utils.config.CODE)\n"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
    }
    command = [sys.executable, "-S", "-c", script]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_on_colab_the_cell_imports_the_tagged_code_no_restart(course_remote, tmp_path):
    home, work = tmp_path / "home", tmp_path / "content"
    home.mkdir(), work.mkdir()
    source = notebooks.setup_source(url=str(course_remote))
    done = _run_cell(source, work, home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tagged"  # the book's version, not main
    assert (home / f"rnn-cnn-course-v{VERSION}" / "utils").is_dir()
    again = _run_cell(source, work, home)  # run twice: no second clone
    assert again.returncode == 0 and again.stdout.strip() == "tagged", again.stderr


def test_in_a_clone_of_the_course_the_cell_uses_it(course_remote, tmp_path):
    chapter = course_remote / "chapters" / "03_x"
    chapter.mkdir(parents=True)
    source = notebooks.setup_source(url="https://example.org/unreachable")
    done = _run_cell(source, chapter, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "main"  # the checked-out code, nothing fetched
