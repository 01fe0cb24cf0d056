"""Command line for the datasets (chapter: Getting started).

``python -m utils.data fetch [NAME ...] [--verify] [--list]``  download and verify raw files
``python -m utils.data describe NAME``                          print a dataset card
``python -m utils.data bench [TASK ...]``                       time cold and warm loads
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from utils.data.download import main as fetch_main

# what the benchmark loads: the full (not quick) default of each task
BENCH = {
    "speech": {"features": "logmel"},
    "images": {"view": "image"},
    "promoters": {"organism": "arabidopsis"},
    "motif_grammar": {"variant": "order"},
}


def _measure(argv: list[str]) -> int:
    """Run in a fresh process: load one task once and print time and memory as JSON."""
    import resource
    import time

    import torch  # noqa: F401  (the baseline includes torch, which every load needs)

    from utils.data.cache import clear_cache
    from utils.data.tasks import load_task

    name, cold = argv[0], argv[1:] == ["--cold"]
    if cold:
        clear_cache("fsdd" if name == "speech" else name)
    # MB (Linux: KiB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    data = load_task(name, quick=False, **BENCH[name])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak,
                "baseline_mb": before,
                "data": repr(data),
            }
        )
    )
    return 0


def bench(argv: list[str]) -> int:
    """Time each task's cold load (feature cache cleared) and warm load, each in a fresh process."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.data bench", description=bench.__doc__
    )
    parser.add_argument(
        "tasks", nargs="*", help=f"tasks (default: all of {', '.join(BENCH)})"
    )
    args = parser.parse_args(argv)
    print("cold: feature cache cleared; warm: cache filled; each a fresh process.")
    print(
        "peak RSS includes torch itself; data MB = peak RSS - RSS after `import torch`."
    )
    print(f"{'task':15}{'cold s':>8}{'warm s':>8}{'peak RSS MB':>13}{'data MB':>9}")
    for name in args.tasks or list(BENCH):
        if name not in BENCH:
            print(
                f"error: unknown task {name!r}; tasks: {', '.join(BENCH)}",
                file=sys.stderr,
            )
            return 2
        runs = {}
        for mode in ("cold", "warm"):
            command = [sys.executable, "-m", "utils.data", "_measure", name]
            command += ["--cold"] if mode == "cold" else []
            done = subprocess.run(
                command, capture_output=True, text=True, env=os.environ
            )
            if done.returncode != 0:
                print(f"{name}: {mode} load failed:\n{done.stderr}", file=sys.stderr)
                return 1
            runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        warm = runs["warm"]
        print(
            f"{name:15}{runs['cold']['seconds']:8.2f}{warm['seconds']:8.2f}"
            f"{warm['peak_mb']:13.0f}{warm['peak_mb'] - warm['baseline_mb']:9.0f}  {warm['data']}"
        )
    return 0


def describe(argv: list[str]) -> int:
    from utils.data.tasks import describe as print_card

    if len(argv) != 1:
        print("usage: python -m utils.data describe NAME", file=sys.stderr)
        return 2
    try:
        print_card(argv[0])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    commands = {
        "fetch": fetch_main,
        "describe": describe,
        "bench": bench,
        "_measure": _measure,
    }
    if not argv or argv[0] not in commands:
        public = [c for c in commands if not c.startswith("_")]
        print(
            f"usage: python -m utils.data {{{','.join(public)}}} [options]",
            file=sys.stderr,
        )
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
