"""Cut a release of the course: one version, one tag, one student edition, one benchmark.

``python -m utils.course.release X.Y.Z`` (``make release VERSION=X.Y.Z``), from a clean checkout:

1. checks: ``X.Y.Z`` is a version, the working tree is clean, tag ``vX.Y.Z`` does not exist,
   and ``CHANGELOG.md`` has a ``## [X.Y.Z]`` section;
2. benchmarks the book at full settings on the committed code (``make bench``, which writes
   ``benchmarks/latest/timing-full.json``), or takes an existing report with
   ``--timing FILE``;
3. writes the version everywhere the book and the code show it (``VERSION_FILES``: the
   ``[project] version`` in ``pyproject.toml``, the source of truth; ``utils.__version__``;
   the book's footer in ``_config.yml``; ``CITATION.cff``; every notebook's set-up cell,
   which fetches tag ``vX.Y.Z`` on Colab), dates the changelog section, and
   keeps the benchmark as ``benchmarks/X.Y.Z/timing.json``;
4. commits those files ("Release X.Y.Z") and tags the commit ``vX.Y.Z`` (annotated);
5. builds the student edition of the tag on the local branch ``student``
   (``python -m utils.course.student --branch student``).

It never pushes: it prints the ``git push`` that publishes the release. ``--dry-run`` runs the
checks and prints the steps without changing anything. (chapter: Contributing, releases)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from utils.config import REPO_ROOT
from utils.course import notebooks

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

# Where the version is written: (file, pattern whose group 1 is the version, replacement).
VERSION_FILES = [
    ("pyproject.toml", r'(?m)^version = "([^"]+)"', 'version = "{v}"'),
    ("utils/__init__.py", r'(?m)^__version__ = "([^"]+)"', '__version__ = "{v}"'),
    ("_config.yml", r"Version (\d+\.\d+\.\d+)", "Version {v}"),  # the footer
    ("_config.yml", r'(?m)^    course_version: "([^"]+)"', '    course_version: "{v}"'),
    ("CITATION.cff", r'(?m)^version: "?([^"\n]+)"?$', 'version: "{v}"'),
]


class ReleaseError(RuntimeError):
    """A release cannot go ahead; the message says why and what to do."""


# ----------------------------------------------------------------------------- helpers


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def versions(root: Path = REPO_ROOT) -> dict[str, str]:
    """The version each place in ``VERSION_FILES`` holds now (a test checks they agree)."""
    found = {}
    for name, pattern, _ in VERSION_FILES:
        match = re.search(pattern, (root / name).read_text())
        if match is None:
            raise ReleaseError(f"{name}: no version found (pattern {pattern!r})")
        found[f"{name}: {pattern}"] = match.group(1)
    return found


def set_version(version: str, root: Path = REPO_ROOT) -> list[str]:
    """Write ``version`` into every one of ``VERSION_FILES``; return the files' names."""
    for name, pattern, replacement in VERSION_FILES:
        path = root / name
        text, count = re.subn(
            pattern, replacement.format(v=version), path.read_text(), count=1
        )
        if count != 1:
            raise ReleaseError(f"{name}: no version found (pattern {pattern!r})")
        if (
            name == "CITATION.cff"
        ):  # the date of this version, added on the first release
            text = re.sub(r"(?m)^date-released: .*\n", "", text)
            text = re.sub(
                r"(?m)^(version: .*\n)", rf"\g<1>date-released: {date.today()}\n", text
            )
        path.write_text(text)
    return sorted({name for name, _, _ in VERSION_FILES})


def changelog_heading(version: str, root: Path = REPO_ROOT) -> str | None:
    """The ``## [version]`` line of CHANGELOG.md, or None if it has no section for it."""
    path = root / "CHANGELOG.md"
    if not path.exists():
        return None
    match = re.search(rf"(?m)^## \[{re.escape(version)}\].*$", path.read_text())
    return match.group(0) if match else None


def date_changelog(version: str, root: Path = REPO_ROOT) -> None:
    """Give the version's changelog heading today's date if it has none."""
    path = root / "CHANGELOG.md"
    heading = changelog_heading(version, root)
    if heading is not None and not re.search(r"\d{4}-\d{2}-\d{2}", heading):
        dated = f"## [{version}] - {date.today()}"
        path.write_text(path.read_text().replace(heading, dated, 1))


def check(version: str, root: Path = REPO_ROOT) -> None:
    """Raise ``ReleaseError`` unless ``version`` can be released from ``root`` now."""
    if not VERSION_RE.match(version):
        raise ReleaseError(
            f"{version!r} is not a version: use MAJOR.MINOR.PATCH, e.g. 0.2.0"
        )
    _git(root, "rev-parse", "--git-dir")
    dirty = _git(root, "status", "--porcelain")
    if dirty:
        raise ReleaseError(
            "the working tree is not clean: commit or remove these first, a release is built "
            f"from a commit:\n{dirty}"
        )
    if _git(root, "tag", "--list", f"v{version}"):
        raise ReleaseError(f"tag v{version} already exists: pick the next version")
    if changelog_heading(version, root) is None:
        raise ReleaseError(
            f"CHANGELOG.md has no section for {version}: rename '## [Unreleased]' to "
            f"'## [{version}]', start a new empty Unreleased section, and commit"
        )
    versions(root)  # every version file is readable


def check_timing(report: dict) -> None:
    """A benchmark worth recording: full settings, every notebook ran."""
    if report.get("mode") != "full":
        raise ReleaseError("the benchmark is not at full settings: run `make bench`")
    failed = [
        r["notebook"] for r in report.get("notebooks", []) if r.get("status") != "ok"
    ]
    if failed or not report.get("notebooks"):
        raise ReleaseError(f"the benchmark has failed or no notebooks: {failed}")


# ----------------------------------------------------------------------------- main


def plan(version: str, timing: Path | None) -> list[str]:
    """The steps a release of ``version`` takes, in words (``--dry-run`` prints them)."""
    bench = (
        f"take the benchmark in {timing}" if timing else "make bench (full settings)"
    )
    return [
        f"check: clean tree, no tag v{version}, CHANGELOG.md has '## [{version}]'",
        f"{bench} -> benchmarks/{version}/timing.json",
        f"set version {version} in {', '.join(sorted({f for f, _, _ in VERSION_FILES}))}"
        f" and in every notebook's set-up cell (tag v{version}); date the changelog section",
        f"git commit 'Release {version}' and git tag -a v{version}",
        "python -m utils.course.student --branch student (the student edition of the tag)",
        f"print, not run: git push origin <branch> v{version} student",
    ]


def release(
    version: str,
    *,
    root: Path = REPO_ROOT,
    timing: Path | None = None,
    dry_run: bool = False,
) -> None:
    check(version, root)
    if dry_run:
        print(f"dry run: the release of {version} would")
        for number, step in enumerate(plan(version, timing), 1):
            print(f"  {number}. {step}")
        return
    if timing is None:
        subprocess.run(["make", "bench"], cwd=root, check=True)
        timing = root / "benchmarks" / "latest" / "timing-full.json"
    report = json.loads(Path(timing).read_text())
    check_timing(report)
    report["course_version"] = version
    report["commit"] = _git(root, "rev-parse", "HEAD")  # the code that was measured

    changed = set_version(version, root)
    # the set-up cells fetch tag v<version>: every notebook names the new one
    chapters = notebooks.notebooks(root / "chapters")
    changed += [
        str(p.relative_to(root)) for p in chapters if notebooks.sync(p, root=root)
    ]
    date_changelog(version, root)
    bench_file = Path("benchmarks") / version / "timing.json"
    (root / bench_file).parent.mkdir(parents=True, exist_ok=True)
    (root / bench_file).write_text(json.dumps(report, indent=2) + "\n")
    paths = [*changed, "CHANGELOG.md", str(bench_file)]
    _git(root, "add", "--", *paths)
    _git(root, "commit", "-q", "-m", f"Release {version}", "--", *paths)
    _git(root, "tag", "-a", f"v{version}", "-m", f"Release {version}")
    subprocess.run(
        [sys.executable, "-m", "utils.course.student", "--branch", "student"],
        cwd=root,
        check=True,
    )
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    print(f"released {version}: tag v{version}, {bench_file}, branch student")
    print(
        f"publish it (nothing was pushed): git push origin {branch} v{version} student"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Tag a release of the course (never pushes)."
    )
    parser.add_argument("version", help="MAJOR.MINOR.PATCH, e.g. 0.2.0")
    parser.add_argument(
        "--dry-run", action="store_true", help="check and print the steps only"
    )
    parser.add_argument(
        "--timing",
        type=Path,
        help="an existing full `make bench` report instead of running it",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        print("release: git is not installed", file=sys.stderr)
        return 2
    try:
        release(args.version, root=args.root, timing=args.timing, dry_run=args.dry_run)
    except ReleaseError as error:
        print(f"release refused: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
