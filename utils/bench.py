"""How fast does each family train and predict on this machine?
(chapter: Choosing between RNNs and CNNs)

``python -m utils.bench --smoke`` trains every family for one epoch on a few hundred examples of
each task and prints seconds per epoch, training examples per second, inference throughput at
batch 256 and latency at batch 1. Without ``--smoke`` it runs the full recipe (one-cycle AdamW,
``--epochs``) on the full data and adds test accuracy, saving each :class:`~utils.train.History`
as JSON under ``--out``. ``--budget N`` sizes every family to about N parameters with
``match_parameters``, as the chapters do. Data come from ``utils.data.load_task`` (quick subsets
with ``--smoke``).

Two subcommands run the course's benchmark protocol (see :mod:`utils.protocol`, ``make
benchmark``): ``python -m utils.bench protocol --protocol reduced|full`` runs its cells into a
JSON Lines results file, resuming, in a local process pool; ``python -m utils.bench merge A B
-o OUT`` combines results files written by different processes or machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

TASKS = ("speech", "images", "promoters", "motif_grammar")
ARCHS = ("gru", "bigru", "lstm", "cnn1d", "cnn2d", "tcn", "crnn", "danq", "transformer")
RESULTS = (
    "benchmarks/protocol/{protocol}.jsonl"  # committed: the comparison chapter reads it
)

# ----------------------------------------------------------------------------- helpers


def bench_one(
    arch, data, *, examples, epochs, seed, quick_timing, out=None, budget=None
):
    """Train ``arch`` on ``data`` and time it; returns one row of the results table."""
    from utils.config import seed_everything
    from utils.evaluate import evaluate_model, measure_inference
    from utils.models import build_model, count_parameters, match_parameters
    from utils.train import fit

    seed_everything(seed)
    if budget is None:
        model = build_model(arch, data.spec)
    else:
        model = match_parameters(arch, data.spec, budget)
    train = (
        data.train if examples is None else data.train[: min(examples, len(data.train))]
    )
    history = fit(
        model,
        train,
        data.val,
        epochs=epochs,
        quiet=True,
        device="cpu",
        seed=seed,
        name=arch,
    )
    sample = data.test[:256]
    speed = measure_inference(
        model,
        sample.x,
        sample.lengths,
        device="cpu",
        warmup=2,
        repeats=3 if quick_timing else 10,
    )
    row = {
        "task": data.spec.name,
        "name": arch,
        "parameters": count_parameters(model),
        "train_examples": len(train),
        # the median epoch: robust to an epoch slowed by other work on a shared machine
        "seconds_per_epoch": statistics.median(history.epoch_seconds),
        "train_examples_per_second": len(train)
        / statistics.median(history.epoch_seconds),
        "infer_examples_per_second": speed[256]["examples_per_second"],
        "latency_ms": speed[1]["latency_ms"],
    }
    if not quick_timing:
        row["val_accuracy"] = history.best_val_metric
        row["test_accuracy"] = evaluate_model(model, data.test, device="cpu")[
            "accuracy"
        ]
        row["train_seconds"] = history.train_seconds
        history.info |= {"task": data.spec.name, "test_accuracy": row["test_accuracy"]}
        if out is not None:
            history.save(Path(out) / f"{data.spec.name}_{arch}_seed{seed}.json")
    return row


def format_row(row: dict) -> str:
    text = (
        f"{row['name']:>7}  {row['parameters']:>8,}  {row['seconds_per_epoch']:>9.2f}  "
        f"{row['train_examples_per_second']:>9.0f}  {row['infer_examples_per_second']:>9.0f}  "
        f"{row['latency_ms']:>7.2f}"
    )
    if "test_accuracy" in row:
        text += f"  {row['test_accuracy']:>6.3f}  {row['train_seconds']:>7.1f}"
    return text


def protocol_main(argv) -> list:
    """``python -m utils.bench protocol ...``: run, estimate or summarise a protocol."""
    from utils import protocol as p

    parser = argparse.ArgumentParser(
        prog="python -m utils.bench protocol", description=p.__doc__.split("\n")[0]
    )
    parser.add_argument("--protocol", choices=("reduced", "full"), default="reduced")
    parser.add_argument("--tasks", nargs="+", help=f"default: {' '.join(p.TASKS)}")
    parser.add_argument(
        "--families", nargs="+", help=f"default: {' '.join(p.FAMILY_NAMES)}"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=list(p.SEEDS))
    parser.add_argument(
        "--budgets",
        nargs="+",
        help="matched, large (default: reduced matched, full both)",
    )
    parser.add_argument(
        "--results", help="the JSON Lines results file (default: " + RESULTS + ")"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    parser.add_argument(
        "--workers",
        type=int,
        help="cells at once, each in a fresh process (default: cores ÷ threads; 0: in this "
        "process)",
    )
    parser.add_argument(
        "--shard",
        default="0/1",
        help="I/N: run every N-th cell from the I-th (cluster arrays)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print the protocol's estimated CPU time from the results file; train nothing",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="with --estimate: time one epoch on 256 examples for cells the file lacks",
    )
    parser.add_argument(
        "--summary", action="store_true", help="print mean ± sd; train nothing"
    )
    args = parser.parse_args(argv)
    args.results = args.results or RESULTS.format(protocol=args.protocol)
    try:
        cells = p.plan(
            args.protocol, args.tasks, args.families, args.seeds, args.budgets
        )
    except ValueError as error:
        parser.error(str(error))
    records = p.read_results(args.results)
    if args.summary:
        rows = p.summarise(records)
        for r in rows:
            print(
                f"{r['task']:>14} {r['family']:>11} {r['budget']:>7} "
                f"{r['train_examples']:>6} examples  {r['metric']} "
                f"{r['mean']:.3f} ± {r['sd']:.3f} ({r['seeds']} seeds), "
                f"{r['parameters']:,} parameters, {r['seconds_per_epoch']:.1f} s/epoch"
            )
        return rows
    if args.estimate:
        if (
            args.protocol == "full"
        ):  # the final cells: 3 seeds per (task, family, budget)
            groups = dict.fromkeys(
                (c.task, c.family, c.budget) for c in cells if c.stage == "tune"
            )
            trial = tuple((name, values[0]) for name, values in p.TUNING.items())
            cells = cells + [
                c for g in groups for c in p.seed_cells(*g, args.seeds, trial)
            ]
        torch.set_num_threads(args.threads)
        result = p.estimate(cells, records, args.protocol, probe=args.probe,
                            threads=args.threads)  # fmt: skip
        for (task, family, budget), seconds in sorted(result["groups"].items()):
            print(f"{task:>14} {family:>11} {budget:>7}  {seconds / 60:6.1f} CPU min")
        hours = result["seconds"] / 3600
        cores = os.cpu_count() or 1
        print(
            f"{args.protocol} protocol: {result['cells']} cells, about {hours:.1f} CPU hours "
            f"at {args.threads} thread(s) per cell (about {hours * args.threads / cores:.1f} h "
            f"on {cores} cores), measured on this machine"
        )
        if result["unmeasured"]:
            print(f"not measured ({len(result['unmeasured'])} cells, not counted; --probe "
                  f"times them): {', '.join(result['unmeasured'][:6])}, ...")  # fmt: skip
        return [result]
    workers = args.workers
    if workers is None:
        workers = max(1, (os.cpu_count() or 1) // args.threads)
    index, count = (int(n) for n in args.shard.split("/"))
    print(f"{args.protocol} protocol: {len(cells)} cells into {args.results}, "
          f"{workers} worker(s) × {args.threads} thread(s)")  # fmt: skip
    return p.run_protocol(
        args.protocol,
        args.results,
        tasks=args.tasks,
        families=args.families,
        seeds=args.seeds,
        budgets=args.budgets,
        workers=workers,
        threads=args.threads,
        shard=(index, count),
    )


def merge_main(argv) -> list:
    """``python -m utils.bench merge A B ... -o OUT``: one record per cell key."""
    from utils import protocol as p

    parser = argparse.ArgumentParser(
        prog="python -m utils.bench merge", description=merge_main.__doc__
    )
    parser.add_argument("files", nargs="+", help="results files (JSON Lines)")
    parser.add_argument("-o", "--out", required=True, help="the merged results file")
    args = parser.parse_args(argv)
    records = p.merge(args.files, args.out)
    print(f"{len(records)} cells in {args.out}")
    return records


def main(argv=None) -> list[dict]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["protocol"]:
        return protocol_main(argv[1:])
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m utils.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one epoch on a few hundred examples"
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--archs", nargs="+", default=list(ARCHS), help=f"default: {' '.join(ARCHS)}"
    )
    parser.add_argument(
        "--examples", type=int, default=512, help="training examples in --smoke"
    )
    parser.add_argument("--epochs", type=int, default=15, help="epochs without --smoke")
    parser.add_argument(
        "--threads", type=int, default=min(os.cpu_count() or 1, 8), help="torch threads"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds", type=int, default=1, help="repeat with seeds seed, seed+1, ..."
    )
    parser.add_argument(
        "--budget", type=int, help="match every family to this parameter count"
    )
    parser.add_argument(
        "--out", default="results/bench", help="where full runs save histories"
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    mode = "smoke: 1 epoch" if args.smoke else f"full: {args.epochs} epochs"
    print(
        f"utils.bench ({mode}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    from utils.data import load_task

    rows = []
    for task in args.tasks:
        start = time.perf_counter()
        data = load_task(task, quick=args.smoke)
        seconds = time.perf_counter() - start
        source = "quick subsets" if args.smoke else "full data"
        print(
            f"\n{task}: {data.spec.layout} {list(data.spec.input_shape)}, {source}, "
            f"loaded in {seconds:.1f} s"
        )
        header = (
            f"{'model':>7}  {'params':>8}  {'s/epoch':>9}  {'train ex/s':>9}  "
            f"{'infer ex/s':>9}  {'ms@bs1':>7}"
        )
        print(header + ("" if args.smoke else f"  {'test':>6}  {'train s':>7}"))
        for arch in args.archs:
            accuracies = []
            for seed in range(args.seed, args.seed + args.seeds):
                row = bench_one(
                    arch,
                    data,
                    examples=args.examples if args.smoke else None,
                    epochs=1 if args.smoke else args.epochs,
                    seed=seed,
                    quick_timing=args.smoke,
                    out=None if args.smoke else args.out,
                    budget=args.budget,
                )
                rows.append(row | {"data": source, "seed": seed})
                accuracies.append(row.get("test_accuracy"))
                print(format_row(row), flush=True)
            if (
                args.seeds > 1 and not args.smoke
            ):  # one test set, several runs: how much is luck?
                mean, sd = statistics.mean(accuracies), statistics.stdev(accuracies)
                print(
                    f"{arch:>7}  test accuracy {mean:.3f} ± {sd:.3f} over {args.seeds} seeds"
                )
    return rows


if __name__ == "__main__":
    main()
