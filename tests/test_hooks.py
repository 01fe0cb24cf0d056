"""The git hooks (.pre-commit-config.yaml): a notebook with outputs is never committed.

The hooks run the tools pinned in pyproject.toml from .venv; these tests run them the same way,
on copies of the real chapters, and through a real `git commit` in a temporary repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from utils.config import REPO_ROOT
from utils.course import notebooks

CONFIG = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
HOOKS = {hook["id"]: hook for repo in CONFIG["repos"] for hook in repo["hooks"]}
BIN = REPO_ROOT / ".venv" / "bin"

needs_tools = pytest.mark.skipif(
    not all((BIN / tool).exists() for tool in ["pre-commit", "nbstripout", "ruff"])
    or shutil.which("git") is None,
    reason="needs git and the dev extra in .venv (make env)",
)


def _command(hook_id: str) -> list[str]:
    hook = HOOKS[hook_id]
    entry = hook["entry"].split()
    return [str(REPO_ROOT / entry[0]), *entry[1:], *hook.get("args", [])]


def _with_outputs(notebook: dict) -> dict:
    """``notebook`` as Jupyter saves it after a run: counts, outputs, timing metadata."""
    for count, cell in enumerate(
        (c for c in notebook["cells"] if c["cell_type"] == "code"), 1
    ):
        cell["execution_count"] = count
        cell["outputs"] = [
            {"name": "stdout", "output_type": "stream", "text": [f"cell {count}\n"]},
            {
                "data": {"text/plain": ["42"]},
                "execution_count": count,
                "metadata": {"course_check": {"name": "x", "passed": True}},
                "output_type": "execute_result",
            },
        ]
        cell["metadata"]["execution"] = {
            "iopub.status.busy": "2026-01-01T00:00:00.000000Z"
        }
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    return notebook


def _has_outputs(notebook: dict) -> bool:
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return any(c.get("outputs") or c.get("execution_count") is not None for c in code)


def _write(path: Path, notebook: dict) -> None:
    path.write_text(
        json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    )


def test_every_hook_is_local_and_runs_a_pinned_tool_from_the_venv():
    assert [repo["repo"] for repo in CONFIG["repos"]] == ["local"]  # nothing to clone
    assert set(HOOKS) == {"nbstripout", "ruff-check", "ruff-format"}
    dev = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    pins = dict(re.match(r"([\w.-]+)==(\S+)", line).groups() for line in dev)
    for hook in HOOKS.values():
        assert hook["language"] in {"system", "unsupported"}
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/"), tool
        assert Path(tool).name in pins, f"{tool} is not pinned in the dev extra"
    assert "pre-commit" in pins
    assert re.search(
        HOOKS["nbstripout"]["files"], "chapters/04_speech/spoken_digits.ipynb"
    )
    assert "--keep-id" in HOOKS["nbstripout"]["args"]


@needs_tools
@pytest.mark.parametrize("chapter", notebooks.notebooks(), ids=lambda p: p.stem)
def test_nbstripout_strips_exactly_as_the_course_does(chapter, tmp_path):
    """On each real chapter with outputs added: the hook's result is the course's `strip`."""
    executed = _with_outputs(json.loads(chapter.read_text()))
    by_hook, by_course = tmp_path / "hook.ipynb", tmp_path / "course.ipynb"
    _write(by_hook, executed)
    _write(by_course, executed)
    subprocess.run([*_command("nbstripout"), str(by_hook)], check=True)
    assert notebooks.strip(by_course)
    stripped = json.loads(by_hook.read_text())
    assert stripped == json.loads(by_course.read_text())
    assert by_hook.read_text() == by_course.read_text()  # byte for byte, no diff noise
    assert not _has_outputs(stripped)
    ids = [c["id"] for c in stripped["cells"]]
    assert ids == [c["id"] for c in json.loads(chapter.read_text())["cells"]]


@needs_tools
def test_a_commit_with_notebook_outputs_is_refused_and_the_notebook_stripped(tmp_path):
    repo = tmp_path / "repo"
    (repo / "chapters").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".pre-commit-config.yaml", repo)
    shutil.copy(REPO_ROOT / "pyproject.toml", repo)  # ruff's settings
    (repo / ".venv").symlink_to(REPO_ROOT / ".venv")
    # so ruff sorts utils.* as first-party
    (repo / "utils").symlink_to(REPO_ROOT / "utils")
    (repo / ".gitignore").write_text(".venv\nutils\n")
    source = REPO_ROOT / "chapters" / "00_setup" / "tour.ipynb"
    _write(
        repo / "chapters" / "tour.ipynb", _with_outputs(json.loads(source.read_text()))
    )

    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True)

    assert run("git", "init", "-q").returncode == 0
    assert run(str(BIN / "pre-commit"), "install").returncode == 0
    run("git", "add", ".")
    refused = run("git", "commit", "-q", "-m", "a notebook with outputs")
    assert refused.returncode != 0, refused.stdout
    said = refused.stdout + refused.stderr
    assert "nbstripout" in said and "files were modified" in said, said
    assert run("git", "rev-parse", "HEAD").returncode != 0  # nothing was committed

    stripped = repo / "chapters" / "tour.ipynb"
    assert not _has_outputs(json.loads(stripped.read_text()))
    expected = tmp_path / "expected.ipynb"  # what the course's own `strip` makes of it
    _write(expected, _with_outputs(json.loads(source.read_text())))
    notebooks.strip(expected)
    assert stripped.read_text() == expected.read_text()
    run("git", "add", "chapters/tour.ipynb")
    accepted = run("git", "commit", "-q", "-m", "stripped")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    committed = run("git", "show", "HEAD:chapters/tour.ipynb").stdout
    assert committed == expected.read_text()


@needs_tools
def test_the_ruff_hooks_refuse_unlinted_and_unformatted_code(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=1\n")
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    check = subprocess.run(
        [*_command("ruff-check"), str(bad)], cwd=tmp_path, capture_output=True
    )
    assert check.returncode != 0 and b"F401" in check.stdout
    subprocess.run(
        [*_command("ruff-format"), str(bad)], cwd=tmp_path, capture_output=True
    )
    assert bad.read_text() == "import os\n\nx = 1\n"
