"""The package's shape: imports run one way, fit fits on a screen, fetching stays light."""

import ast
import inspect
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import MIRROR
from utils import train
from utils.config import REPO_ROOT

UTILS = REPO_ROOT / "utils"


def module_name(path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(UTILS.rglob("*.py"))}


def imports_of(path) -> set[str]:
    """Every ``utils`` module that a file imports, at the top or inside a function: an import
    hidden in a function to dodge a cycle is still an edge of the graph."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from utils import plots` imports the module utils.plots; `from utils.x import f`
            # imports utils.x
            names = [
                f"{node.module}.{a.name}"
                if f"{node.module}.{a.name}" in MODULES
                else node.module
                for a in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found - {module_name(path)}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_the_graph_is_read_from_real_imports():
    assert "utils.evaluate" in GRAPH["utils.train"]
    assert "utils.models.builder" in GRAPH["utils.evaluate"]
    assert "utils.plots" in GRAPH["utils.train"]  # a function-level import counts too


def test_imports_have_no_cycle():
    state = {}  # module -> "visiting" or "done"

    def visit(name, path):
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if state.get(name) == "done":
            return
        state[name] = "visiting"
        for target in sorted(GRAPH[name]):
            visit(target, [*path, name])
        state[name] = "done"

    for name in sorted(GRAPH):
        visit(name, [])


def depends_on(a: str, b: str) -> bool:
    """Does module ``a`` import ``b``, directly or through others?"""
    seen, todo = set(), [a]
    while todo:
        for target in GRAPH[todo.pop()]:
            if target == b or target.startswith(b + "."):
                return True
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return False


def test_layers_run_one_way_train_evaluate_models():
    assert depends_on("utils.train", "utils.evaluate")
    assert not depends_on("utils.evaluate", "utils.train")
    for model_module in (m for m in MODULES if m.startswith("utils.models")):
        assert not depends_on(model_module, "utils.train"), model_module
        assert not depends_on(model_module, "utils.evaluate"), model_module
    for low in ("utils.config", "utils.files"):
        assert not any(
            target.startswith("utils.") for target in GRAPH[low] if target != low
        )


def test_no_machine_learning_module_imports_the_course_tooling():
    for name in MODULES:
        if not name.startswith("utils.course"):
            assert not depends_on(name, "utils.course"), (
                f"{name} imports the course tooling"
            )
    for name in (m for m in MODULES if m.startswith("utils.course.")):
        for target in GRAPH[name]:
            allowed = target.startswith("utils.course") or target in {
                "utils.config",
                "utils.files",
                "utils.checks",
            }
            assert allowed, f"{name} imports {target}"


def test_fit_and_what_it_calls_fit_on_a_screen():
    pieces = [
        train.fit,
        train.train_one_epoch,
        train.validate,
        train.make_optimizer,
        train.make_scheduler,
        train.TrainStep.__call__,
        train.BestEpoch.update,
        train.History.record,
    ]
    for piece in pieces:
        lines = len(inspect.getsourcelines(piece)[0])
        assert lines <= 60, f"{piece.__qualname__} is {lines} lines"


@pytest.mark.skipif(
    not MIRROR.is_dir(), reason="needs the offline mirror beside the repo"
)
def test_fetching_data_does_not_import_torch(tmp_path):
    """``python -m utils.data fetch`` downloads (here: from the mirror) without torch."""
    code = (
        "import json, runpy, sys\n"
        "sys.argv = ['utils.data', 'fetch', 'promoters']\n"
        "try:\n"
        "    runpy.run_module('utils.data', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as stop:\n"
        "    status = stop.code\n"
        "print(json.dumps({'status': status, 'torch': 'torch' in sys.modules}))\n"
    )
    env = os.environ | {
        "COURSE_DATA_DIR": str(tmp_path / "cache"),
        "COURSE_DATA_MIRROR": str(MIRROR),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 0, "torch": False}
    assert any((tmp_path / "cache" / "promoters").rglob("*.fa"))  # it really fetched
