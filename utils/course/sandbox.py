"""Run a submission's code where it cannot harm or read anything else (chapter: Instructor guide).

A submitted notebook is arbitrary code. The grader runs each one with **bubblewrap** (Debian's
``bubblewrap`` package: the sandbox Flatpak uses, unprivileged, no daemon) in new namespaces:

- no network (a network namespace of its own: only a loopback that reaches nothing);
- a file system that holds only the system's programs and libraries, Python, the course's
  ``utils`` package and the data folder, all **read-only**, plus one writable folder holding a
  throwaway copy of this submission; home and ``/tmp`` are empty in-memory folders, so the
  instructor's home, the reference notebook and other submissions are simply not there;
- its own process tree (killed with the grader), a wall-clock limit, and a memory limit
  enforced by a watchdog that stops the run when its processes together use more.

Without bubblewrap the grader still runs every submission in a separate process in a throwaway
folder, but **not isolated**: it warns loudly, and the CSV says so in its ``isolation`` column.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from utils.config import REPO_ROOT, config

SANDBOX_HOME = "/home/student"


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed command ended: its exit code (None if it was stopped), why it was
    stopped (``"time"`` or ``"memory"``, else ``""``), and what it printed."""

    returncode: int | None
    stopped: str
    output: str


def isolation_available() -> str:
    """``"bubblewrap"`` when a working ``bwrap`` is on the PATH, else ``""``."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return ""
    probe = subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        timeout=30,
    )
    return "bubblewrap" if probe.returncode == 0 else ""


def _read_only_paths() -> list[Path]:
    """What a submission may read: system folders, Python (the venv and the interpreter it
    was made from), the course's package and the data folder; nothing else of the machine."""
    system = [
        Path(p) for p in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc")
    ]
    python = [
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.executable).resolve().parent,
    ]
    course = [REPO_ROOT / "utils", config.data_dir]
    return [p for p in dict.fromkeys(system + python + course) if p.exists()]


def bubblewrap_command(workdir: Path, command: list[str]) -> list[str]:
    """The ``bwrap`` command line that runs ``command`` in ``workdir`` (the one writable
    folder) with everything else as the module docstring describes."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    # mounts apply in order, later ones on top: the empty /tmp and home first, so that a course
    # checked out under /tmp (as CI may do) is bound over them rather than hidden by them
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        SANDBOX_HOME,
    ]
    for path in _read_only_paths():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return [*args, "--", *command]


def sandbox_env(quick: bool) -> dict[str, str]:
    """A clean environment: no tokens or settings of the instructor's leak in."""
    return {
        "HOME": SANDBOX_HOME,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "COURSE_QUICK": "1" if quick else "0",
        "COURSE_DATA_DIR": str(config.data_dir),
        "XDG_CACHE_HOME": f"{SANDBOX_HOME}/.cache",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _tree_rss(process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    import psutil

    total = 0
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in family:
        with contextlib.suppress(psutil.Error):  # a process that just ended
            total += p.memory_info().rss
    return total


def run_limited(
    command: list[str], *, env: dict, cwd: Path, wall_seconds: float, memory_mb: int
) -> Outcome:
    """Run ``command``, stopping it (and every process it started) past ``wall_seconds`` or
    when its processes together hold more than ``memory_mb`` of memory."""
    import psutil

    log = cwd / ".grader-output.txt"
    with open(log, "w") as out:
        child = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watched, start, stopped = psutil.Process(child.pid), time.monotonic(), ""
        while child.poll() is None:
            if time.monotonic() - start > wall_seconds:
                stopped = "time"
            elif _tree_rss(watched) > memory_mb * 2**20:
                stopped = "memory"
            if stopped:
                _kill_tree(watched)
                break
            time.sleep(0.2)
        child.wait()
    output = log.read_text(errors="replace")[-4000:]
    return Outcome(None if stopped else child.returncode, stopped, output)


def _kill_tree(process) -> None:
    import psutil

    try:
        family = [*process.children(recursive=True), process]
    except psutil.Error:
        family = [process]
    for p in family:
        with contextlib.suppress(psutil.Error):
            p.kill()


def run_submission(
    command: list[str],
    workdir: Path,
    *,
    isolation: str,
    quick: bool,
    wall_seconds: float,
    memory_mb: int,
) -> Outcome:
    """Run ``command`` (a Python invocation that executes the notebook in ``workdir``), in
    bubblewrap when ``isolation == "bubblewrap"``, else as a plain limited process."""
    if isolation == "bubblewrap":
        command = bubblewrap_command(workdir, command)
    env = (
        sandbox_env(quick)
        if isolation
        else os.environ | {"COURSE_QUICK": "1" if quick else "0"}
    )
    return run_limited(
        command, env=env, cwd=workdir, wall_seconds=wall_seconds, memory_mb=memory_mb
    )
