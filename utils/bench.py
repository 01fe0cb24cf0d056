"""How fast does each family train and predict on this machine? (chapter: Choosing an architecture)

``python -m utils.bench --smoke`` trains every family for one epoch on a few hundred examples of
each task and prints seconds per epoch, training examples per second, inference throughput at
batch 256 and latency at batch 1. Without ``--smoke`` it runs the full recipe (one-cycle AdamW,
``--epochs``) on the full data and adds test accuracy, saving each :class:`~utils.train.History`
as JSON under ``--out``. Data come from ``utils.data.load_task`` when it can be imported and
loaded; otherwise random tensors of the task's shape are used, and the output says so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from utils.data.spec import Split, TaskData, TaskSpec

TASKS = ("speech", "images", "promoters", "motif_grammar")
ARCHS = ("gru", "bigru", "lstm", "cnn1d", "cnn2d", "tcn", "crnn", "danq")

# the shapes the loaders produce, for when they are not available
SYNTHETIC_SPECS = {
    "speech": TaskSpec("speech", "sequence", (64, 40), 10, tuple("0123456789")),
    "images": TaskSpec("images", "image", (1, 28, 28), 10, tuple(f"class {i}" for i in range(10))),
    "promoters": TaskSpec("promoters", "dna", (4, 251), 2, ("non-promoter", "promoter")),
    "motif_grammar": TaskSpec("motif_grammar", "dna", (4, 200), 2, ("negative", "positive")),
}

# ----------------------------------------------------------------------------- helpers


def synthetic_task(name: str, n: int = 512, seed: int = 0) -> TaskData:
    """Random tensors with the task's layout and shape (timing only: nothing to learn)."""
    spec = SYNTHETIC_SPECS[name]
    g = torch.Generator().manual_seed(seed)

    def split(size):
        y = torch.randint(0, spec.num_classes, (size,), generator=g)
        if spec.layout == "dna":
            bases = torch.randint(0, 4, (size, spec.input_shape[1]), generator=g)
            return Split(torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float(), y)
        x = torch.randn(size, *spec.input_shape, generator=g)
        lengths = None
        if spec.layout == "sequence":
            T = spec.input_shape[0]
            lengths = torch.randint(T // 2, T + 1, (size,), generator=g)
        return Split(x, y, lengths)

    return TaskData(spec, split(n), split(max(64, n // 4)), split(max(64, n // 4)))


def load(name: str, *, quick: bool) -> tuple[TaskData, str]:
    """The task's data and where they came from (``"load_task"`` or ``"synthetic"``)."""
    try:
        from utils.data import load_task
    except ImportError:
        return synthetic_task(name), "synthetic (utils.data.load_task not importable)"
    try:
        return load_task(name, quick=quick), "load_task" + (" (quick)" if quick else "")
    except Exception as error:  # missing download, no network: time on random tensors instead
        reason = f"{type(error).__name__}: {error}"[:80]
        return synthetic_task(name), f"synthetic (load_task failed: {reason})"


def bench_one(arch, data, *, examples, epochs, seed, quick_timing, out=None):
    """Train ``arch`` on ``data`` and time it; returns one row of the results table."""
    from utils.config import seed_everything
    from utils.evaluate import evaluate_model, measure_inference
    from utils.models import build_model, count_parameters
    from utils.train import fit

    seed_everything(seed)
    model = build_model(arch, data.spec)
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
            history.save(Path(out) / f"{data.spec.name}_{arch}.json")
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
    parser.add_argument("--out", default="results/bench", help="where full runs save histories")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    mode = "smoke: 1 epoch" if args.smoke else f"full: {args.epochs} epochs"
    print(f"utils.bench ({mode}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    rows = []
    for task in args.tasks:
        start = time.perf_counter()
        data, source = load(task, quick=args.smoke)
        seconds = time.perf_counter() - start
        shape = list(data.spec.input_shape)
        print(
            f"\n{task}: {data.spec.layout} {shape}, data from {source}, loaded in {seconds:.1f} s"
        )
        header = (
            f"{'model':>7}  {'params':>8}  {'s/epoch':>9}  {'train ex/s':>9}  "
            f"{'infer ex/s':>9}  {'ms@bs1':>7}"
        )
        print(header + ("" if args.smoke else f"  {'test':>6}  {'train s':>7}"))
        for arch in args.archs:
            row = bench_one(
                arch,
                data,
                examples=args.examples if args.smoke else None,
                epochs=1 if args.smoke else args.epochs,
                seed=args.seed,
                quick_timing=args.smoke,
                out=None if args.smoke else args.out,
            )
            rows.append(row | {"data": source})
            print(format_row(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
