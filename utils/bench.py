"""How fast does each family train and predict on this machine?
(chapter: Choosing between RNNs and CNNs)

``python -m utils.bench --smoke`` trains every family for one epoch on a few hundred examples of
each task and prints seconds per epoch, training examples per second, inference throughput at
batch 256 and latency at batch 1. Without ``--smoke`` it runs the full recipe (one-cycle AdamW,
``--epochs``) on the full data and adds test accuracy, saving each :class:`~utils.train.History`
as JSON under ``--out``. ``--budget N`` sizes every family to about N parameters with
``match_parameters``, as the chapters do. Data come from ``utils.data.load_task`` (quick subsets
with ``--smoke``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

TASKS = ("speech", "images", "promoters", "motif_grammar")
ARCHS = ("gru", "bigru", "lstm", "cnn1d", "cnn2d", "tcn", "crnn", "danq")

# ----------------------------------------------------------------------------- helpers


def bench_one(arch, data, *, examples, epochs, seed, quick_timing, out=None, budget=None):
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
    train = data.train if examples is None else data.train[: min(examples, len(data.train))]
    history = fit(
        model, train, data.val, epochs=epochs, quiet=True, device="cpu", seed=seed, name=arch
    )
    sample = data.test[:256]
    speed = measure_inference(
        model, sample.x, sample.lengths, device="cpu", warmup=2, repeats=3 if quick_timing else 10
    )
    row = {
        "task": data.spec.name,
        "name": arch,
        "parameters": count_parameters(model),
        "train_examples": len(train),
        # the median epoch: robust to an epoch slowed by other work on a shared machine
        "seconds_per_epoch": statistics.median(history.epoch_seconds),
        "train_examples_per_second": len(train) / statistics.median(history.epoch_seconds),
        "infer_examples_per_second": speed[256]["examples_per_second"],
        "latency_ms": speed[1]["latency_ms"],
    }
    if not quick_timing:
        row["val_accuracy"] = history.best_val_metric
        row["test_accuracy"] = evaluate_model(model, data.test, device="cpu")["accuracy"]
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


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(
        prog="python -m utils.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="one epoch on a few hundred examples")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--archs", nargs="+", default=list(ARCHS), help=f"default: {' '.join(ARCHS)}"
    )
    parser.add_argument("--examples", type=int, default=512, help="training examples in --smoke")
    parser.add_argument("--epochs", type=int, default=15, help="epochs without --smoke")
    parser.add_argument(
        "--threads", type=int, default=min(os.cpu_count() or 1, 8), help="torch threads"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="repeat with seeds seed, seed+1, ...")
    parser.add_argument("--budget", type=int, help="match every family to this parameter count")
    parser.add_argument("--out", default="results/bench", help="where full runs save histories")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    mode = "smoke: 1 epoch" if args.smoke else f"full: {args.epochs} epochs"
    print(f"utils.bench ({mode}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
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
            if args.seeds > 1 and not args.smoke:  # one test set, several runs: how much is luck?
                mean, sd = statistics.mean(accuracies), statistics.stdev(accuracies)
                print(f"{arch:>7}  test accuracy {mean:.3f} ± {sd:.3f} over {args.seeds} seeds")
    return rows


if __name__ == "__main__":
    main()
