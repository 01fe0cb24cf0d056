"""What a reader installs: every package the notebooks and utils/ import is declared in
pyproject.toml and pinned; the commands the README tells a reader to run are installed
by `make` (a fresh clone once failed on `.venv/bin/jupyter lab`)."""

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from utils.config import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]


def _pins() -> dict[str, Requirement]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    texts = [line.split("#")[0].strip() for line in lines]
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, texts))}


PINS = _pins()


def _names(requirements) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements}


def imported_modules(source: str) -> set[str]:
    """Top-level modules a cell or a file imports (IPython's ! and % lines skipped)."""
    lines = [s for s in source.splitlines() if not s.lstrip().startswith(("!", "%"))]
    found = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"utils", "__future__"}


def _sources(paths):
    for path in paths:
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
            yield path, "\n".join(code)
        else:
            yield path, path.read_text()


def _undeclared(paths, declared: set[str]) -> dict[str, str]:
    owners = packages_distributions()
    missing = {}
    for path, source in _sources(paths):
        for module in imported_modules(source):
            dists = {canonicalize_name(d) for d in owners.get(module, [module])}
            if not dists & declared:
                missing[module] = str(path.relative_to(REPO_ROOT))
    return missing


def test_import_scanner_sees_imports_and_skips_the_standard_library():
    source = "import os, pandas as pd\nfrom torch import nn\n%matplotlib inline\n"
    source += "import utils.config\n!pip install -q logomaker"
    assert imported_modules(source) == {"pandas", "torch"}


def test_notebooks_and_course_code_import_only_declared_packages():
    """The chapters and the ML code need only the runtime requirements (Colab's)."""
    code = [p for p in (REPO_ROOT / "utils").rglob("*.py") if "course" not in p.parts]
    chapters = sorted((REPO_ROOT / "chapters").rglob("*.ipynb"))
    assert not _undeclared([*chapters, *code], _names(RUNTIME))


def test_course_tooling_imports_only_declared_packages():
    tooling = sorted((REPO_ROOT / "utils" / "course").rglob("*.py"))
    assert not _undeclared(tooling, _names(RUNTIME) | _names(DEV))


def test_every_runtime_requirement_is_pinned_within_its_range():
    """pyproject.toml is loose (Colab); constraints.txt pins what `make` installs."""
    for requirement in RUNTIME:
        pin = PINS.get(canonicalize_name(requirement.name))
        assert pin, f"{requirement.name} has no pin in constraints.txt"
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{pin}: pin an exact version"
        assert requirement.specifier.contains(spec.version), f"{pin}: {requirement}?"
    assert set(PINS) == _names(RUNTIME), "constraints.txt pins an undeclared package"


def test_dev_requirements_are_exact():
    assert all(str(r.specifier).startswith("==") for r in DEV), DEV


README_COMMAND = re.compile(r"\.venv/bin/([\w.-]+)(?: ([a-z][\w-]*))?")


@pytest.mark.parametrize(
    "command",
    sorted(set(README_COMMAND.findall((REPO_ROOT / "README.md").read_text()))),
    ids=" ".join,
)
def test_readme_commands_come_from_declared_packages(command):
    """`.venv/bin/jupyter lab` needs the `jupyter-lab` script of a declared package."""
    program, subcommand = command
    if program.startswith("python"):
        return
    script = program
    if program == "jupyter" and subcommand:  # `jupyter lab` runs `jupyter-lab`
        script = f"jupyter-{subcommand}"
    (found,) = entry_points(group="console_scripts", name=script) or [None]
    assert found, f"README runs {script}, which no installed package provides"
    assert canonicalize_name(found.dist.name) in _names(RUNTIME) | _names(DEV)
    executable = Path(sys.executable).parent / script
    if executable.exists():  # and it starts: `jupyter lab --version`
        done = subprocess.run([str(executable), "--version"], capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
