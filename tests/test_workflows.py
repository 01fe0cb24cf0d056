"""The GitHub workflows (.github/workflows) and the Binder spec cannot run here: they
parse, call only the Makefile's own targets, and do what the README says they do."""

import re
import tomllib

import yaml

from utils.config import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1: `on` is True
    return workflow


def make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", makefile, re.M))


def _runs(workflow: dict) -> list[str]:
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    return [s["run"] for s in steps if "run" in s]


def test_workflows_call_only_make_targets_that_exist():
    targets = make_targets()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for command in _runs(_load(path.name)):
            for target in re.findall(r"\bmake ([\w-]+)", command):
                assert target in targets, f"{path.name}: no make target {target}"


def test_book_workflow_deploys_main_and_uploads_the_quick_book_of_a_pull_request():
    book = _load("book.yml")
    assert book["on"]["push"]["branches"] == ["main"] and "pull_request" in book["on"]
    runs = _runs(book)
    assert "make book" in runs and "make check-html" in runs
    build = book["jobs"]["build"]
    assert "pull_request" in build["env"]["COURSE_QUICK"]  # quick only on pull requests
    steps = {s.get("uses", "").split("@")[0]: s for s in build["steps"]}
    assert "_build/.jupyter_cache" in steps["actions/cache"]["with"]["path"]
    assert steps["actions/cache"]["if"] == "github.event_name == 'push'"
    pull_request = "github.event_name == 'pull_request'"
    assert steps["actions/upload-artifact"]["if"] == pull_request
    assert steps["actions/upload-pages-artifact"]["if"] == "github.event_name == 'push'"
    deploy = book["jobs"]["deploy"]
    assert deploy["if"] == "github.event_name == 'push'" and deploy["needs"] == "build"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")


def test_test_workflow_runs_make_test_in_quick_mode():
    test = _load("test.yml")
    assert "make test" in _runs(test)
    assert test["jobs"]["test"]["env"]["COURSE_QUICK"] == "1"


def test_binder_installs_the_course_with_the_exact_pins():
    post_build = (REPO_ROOT / "binder" / "postBuild").read_text()
    assert "-c constraints.txt" in post_build and "-e ." in post_build
    assert (REPO_ROOT / "binder" / "postBuild").stat().st_mode & 0o111  # executable
    runtime = (REPO_ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    low = project["requires-python"].removeprefix(">=")

    def version(text):
        return tuple(int(part) for part in text.split("."))

    assert version(runtime.removeprefix("python-")) >= version(low)
