"""How long does the book take to execute on this machine? (chapter: Instructor guide)

``python -m utils.course.timing [--quick] [NOTEBOOK ...] [--out FILE]`` executes each
chapter notebook (default: every notebook in ``_toc.yml``, in its order) in a fresh kernel whose
working directory is the notebook's folder, as the book build does, and prints one row per
notebook (seconds, status), the total, the machine and the mode. A notebook that fails is
reported with the name of its error and the run goes on; the exit status is non-zero if any
failed. The report is also written as JSON (atomically: temp file, then rename) to
``benchmarks/latest/timing-<mode>.json``, or ``--out FILE``.

The reports in ``benchmarks/latest/`` are committed: each chapter's opening quotes its
compute note from them (:func:`describe_cost`), so the published book, built from a
fresh clone, says what a chapter costs; ``benchmarks/<version>/`` keeps each release's.

Full settings by default (what the published book runs); ``--quick`` sets ``COURSE_QUICK=1``
for the kernels. ``make bench`` runs the full benchmark. The notebooks' outputs are discarded:
this measures, it does not build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from utils.config import REPO_ROOT
from utils.files import write_text_atomic

BENCHMARKS = REPO_ROOT / "benchmarks"
LATEST = {m: BENCHMARKS / "latest" / f"timing-{m}.json" for m in ("full", "quick")}
DEFAULT_OUT = LATEST["full"]  # what `make bench` writes and `make release` records


# ----------------------------------------------------------------------------- helpers


def toc_notebooks(toc_file: Path = REPO_ROOT / "_toc.yml") -> list[Path]:
    """The notebooks ``toc_file`` lists, in reading order (Markdown pages are skipped)."""
    import yaml

    toc = yaml.safe_load(toc_file.read_text())
    root = toc_file.parent

    def entries(items):
        for item in items:
            if "file" in item:
                yield item["file"]
            yield from entries(item.get("sections", []))
            yield from entries(item.get("chapters", []))

    files = [
        toc["root"],
        *entries(toc.get("chapters", [])),
        *entries(toc.get("parts", [])),
    ]
    found = []
    for entry in files:
        path = root / entry
        path = path if path.suffix == ".ipynb" else path.with_name(path.name + ".ipynb")
        if path.is_file():
            found.append(path)
    return found


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load_average() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def machine_info() -> dict:
    """What the timings depend on: cores, threads, CPU model, device, versions."""
    info = {
        "cpu_count": os.cpu_count(),
        "torch_threads": None,
        "cpu_model": cpu_model(),
        "device": "unknown",
        "python": platform.python_version(),
        "torch": None,
        "platform": platform.platform(),
        # at the end of the run; other work slows every row: compare similar loads
        "load_average_1min": _load_average(),
    }
    try:
        import torch

        from utils.config import get_device

        info.update(
            torch_threads=torch.get_num_threads(),
            torch=torch.__version__,
            device=str(get_device()),
        )
    except Exception as error:  # report the machine even where torch is broken
        info["device"] = f"unknown ({type(error).__name__}: {error})"
    return info


def run_notebook(path: Path, *, timeout: int = 900) -> dict:
    """Execute one notebook in a fresh kernel (cwd: its folder); return its row of the report."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    row = {"notebook": _display_name(path), "seconds": 0.0, "status": "ok", "error": ""}
    start = time.perf_counter()
    try:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        client.execute()
    except (
        CellExecutionError
    ) as error:  # the notebook raised: name the notebook's error
        row.update(status="failed", error=error.ename or type(error).__name__)
    except Exception as error:  # timeout, dead kernel, unreadable file, ...: go on
        row.update(status="failed", error=type(error).__name__)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def format_report(report: dict) -> str:
    """The report as a plain-text table with the total, the machine and the mode."""
    rows = report["notebooks"]
    width = max([len("notebook"), *(len(r["notebook"]) for r in rows)])
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  status", "-" * (width + 26)]
    for r in rows:
        status = r["status"] if r["status"] == "ok" else f"failed ({r['error']})"
        lines.append(f"{r['notebook']:<{width}}  {r['seconds']:8.1f}  {status}")
    m = report["machine"]
    failed = sum(r["status"] != "ok" for r in rows)
    lines += [
        "-" * (width + 26),
        f"{'total':<{width}}  {report['total_seconds']:8.1f}  "
        f"{len(rows) - failed} ok, {failed} failed",
        f"machine: {m['cpu_count']} cores, {m['torch_threads']} torch threads, "
        f"{m['cpu_model']}, device {m['device']}",
        f"mode:    {report['mode']} (COURSE_QUICK={'1' if report['mode'] == 'quick' else '0'})",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def benchmark(paths: list[Path], *, quick: bool, timeout: int = 900) -> dict:
    """Execute ``paths`` one after another and return the report (a JSON-ready dict)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    rows, before = [], os.environ.get("COURSE_QUICK")
    os.environ["COURSE_QUICK"] = "1" if quick else "0"  # the kernels inherit it
    try:
        for path in paths:
            print(f"running {_display_name(path)} ...", flush=True)
            rows.append(run_notebook(path, timeout=timeout))
            print(f"  {rows[-1]['seconds']:.1f} s, {rows[-1]['status']}", flush=True)
    finally:
        if before is None:
            os.environ.pop("COURSE_QUICK", None)
        else:
            os.environ["COURSE_QUICK"] = before
    return {
        "mode": "quick" if quick else "full",
        "started": started,
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
        "machine": machine_info(),
        "notebooks": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Execute the chapter notebooks and report how long each takes."
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: all, in _toc.yml order)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="quick mode (COURSE_QUICK=1)"
    )
    parser.add_argument(
        "--out", type=Path, help="the JSON report's file (default: benchmarks/latest/)"
    )
    parser.add_argument(
        "--timeout", type=int, default=900, help="seconds per cell (default 900)"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or toc_notebooks()
    if not paths:
        parser.error("no notebooks to run")
    report = benchmark(paths, quick=args.quick, timeout=args.timeout)
    print(format_report(report))
    out = args.out or LATEST[report["mode"]]
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    print(f"report: {_display_name(out)}")
    return 1 if any(r["status"] != "ok" for r in report["notebooks"]) else 0


def _took(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _row(report: dict, notebook: str) -> dict | None:
    rows = [r for r in report.get("notebooks", []) if r["notebook"].endswith(notebook)]
    return rows[-1] if rows else None


def describe_cost(notebook: str, report_file: Path | None = None) -> str:
    """One line for a chapter's opening: what ``notebook`` (a file name such as
    ``"recurrent.ipynb"``) costs, from the committed reports in ``benchmarks/latest/``
    (full settings and quick mode), or from ``report_file`` alone (chapters: all)."""
    if report_file is not None:
        report = json.loads(report_file.read_text()) if report_file.exists() else {}
        if (row := _row(report, notebook)) is None:
            return f"No timing report for {notebook} yet: `make bench` measures it."
        machine = report["machine"]
        return (
            f"Last measured: {_took(row['seconds'])} at {report['mode']} settings on "
            f"{machine['cpu_count']} CPU cores ({machine['device']}), {row['status']}."
        )
    found = {}
    for mode, path in LATEST.items():
        report = json.loads(path.read_text()) if path.exists() else {}
        if (row := _row(report, notebook)) and row["status"] == "ok":
            found[mode] = (row["seconds"], report["machine"])
    if not found:
        return f"No timing report for {notebook} yet: `make bench` measures it."
    parts = []
    if "full" in found:
        seconds, machine = found["full"]
        where = f"{machine['cpu_count']} CPU cores ({machine['device']})"
        parts.append(f"about {_took(seconds)} at the book's full settings on {where}")
    else:
        parts.append("full settings not measured yet (`make bench`)")
    if "quick" in found:
        quick = _took(found["quick"][0])
        parts.append(f"about {quick} in quick mode (`COURSE_QUICK=1`)")
    return f"Compute: {'; '.join(parts)}."


if __name__ == "__main__":
    sys.exit(main())
