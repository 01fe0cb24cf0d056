"""The benchmark protocol behind the course's comparison of families: one matrix of
independent cells (task × family × budget × tuning trial or seed), each a training run that
appends one record to a JSON Lines results file (chapter: Choosing in practice).

Two protocols (``python -m utils.bench protocol --protocol reduced|full``):

- ``reduced``: the chapters' own settings (budget, epochs, learning rate) without further
  tuning, one budget, 3 seeds, smaller training sets where a task allows; meant to finish on
  a 2-core laptop.
- ``full``: every family gets the same small tuning budget on validation data only
  (``TUNING``: learning rate × dropout, the same trials for each family, seed 0), then the
  chosen setting is retrained with 3 seeds, at two budgets (the chapter's and 4 × larger).

Each task is tested on the split that separates the families (``ProtocolTask.split``). A cell
is named by its ``key`` (``"speech/rnn/matched/seed1"``); a results file holds at most one
record per key, so a stopped run resumes where it stopped and files written by different
processes or machines merge (:func:`merge`).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import torch

from utils.config import config

SEEDS = (0, 1, 2)
# latency against length: the speech task's families, untrained, on 40 features per step
LATENCY_TASK = "speech"
LATENCY_LENGTHS = (64, 256, 1024, 4096)  # frames of 10 ms: 0.64 s to 41 s of audio
LATENCY_BATCH = 16  # the batch of a timed training step
TUNING = {"lr": (1e-3, 3e-3, 1e-2), "dropout": (0.1, 0.3)}  # 6 trials per family
BUDGET_SCALES = {"matched": 1, "large": 4}  # the chapter's budget, and 4 × larger
FAMILY_NAMES = ("rnn", "cnn", "hybrid", "transformer")

# ----------------------------------------------------------------------------- tasks


SPEECH_STRESS = {
    "noise_10db": ("noise", 10),
    "noise_0db": ("noise", 0),
    "late_200ms": ("late", 200),
}


def _speech():
    from utils.data import audio, load_task, speech
    from utils.data.spec import Split

    # new speakers: theo is tested, yweweler validates, the other four train
    data = load_task("speech", holdout_speaker="theo", val_speaker="yweweler")
    # robustness, as in the speech chapter: the new speaker's recordings with white
    # noise at a signal-to-noise ratio (dB), or delayed (ms), then the same features
    by_stem = {r.stem: r for r in speech.list_recordings()}
    waves, lengths = speech.load_waveforms(
        [by_stem[s] for s in data.spec.extra["ids"]["test"]]
    )
    for name, (kind, amount) in SPEECH_STRESS.items():
        if kind == "noise":
            changed = audio.add_noise(waves, lengths, amount, seed=amount), lengths
        else:
            changed = audio.time_shift(
                waves, lengths, amount * speech.SAMPLE_RATE // 1000
            )
        x, frames = speech.waveform_features(*changed)
        data.extra_tests[name] = Split(x, data.test.y, frames)
    return data


def _images():
    from utils.data import load_task

    return load_task("images")


def _images_rows():
    from utils.data import load_task

    return load_task("images", view="rows")  # [N, 28, 28]: 28 rows of 28 pixels


def _promoters():
    from utils.data import load_task

    return load_task("promoters", organism="arabidopsis")  # de-duplicated, then split


GRAMMAR = {"variant": "order", "length": 200, "gap": (10, 60)}


def _motif_grammar():
    from utils.data import load_task
    from utils.data.motifs import make_motif_split

    data = load_task("motif_grammar", **GRAMMAR)
    n = config.pick(full=1000, quick=100)
    # two and four times the training length; fresh backgrounds and sites (seed 1, not 0)
    for length in (400, 800):
        data.extra_tests[f"length_{length}"] = make_motif_split(
            "order", n=n, length=length, gap=GRAMMAR["gap"], seed=1
        )
    return data


def _digit_strings():
    from utils.data import load_task

    return load_task("digit_strings")  # extra_tests["new_voice"]: the held-out speaker


@dataclass(frozen=True)
class ProtocolTask:
    """One task of the protocol: how to load it, which architecture stands for each
    family, the chapter's settings, and which test set and metric decide (chapter:
    Choosing in practice).

    ``families``: family -> ``(architecture, overrides, loader or None for the task's
    own)``; ``recipe``: settings for :func:`utils.train.fit` (the chapter's);
    ``family_recipe``: a family's own changes to it (the promoters chapter gives the
    BiGRU 2 epochs on 2,500 sequences); ``reduced_train``: training examples in the
    reduced protocol (None: all); ``test``: the test set that decides (``"test"`` or a
    key of ``extra_tests``); ``fractions``: fractions of the training set for the
    sample-efficiency curves (each a final cell of its own, at the same settings).
    """

    name: str
    split: str
    load: object
    families: dict
    budget: int
    recipe: dict
    metric: str
    test: str = "test"
    family_recipe: dict = field(default_factory=dict)
    reduced_train: int | None = None
    fractions: tuple = ()
    chapter: str = ""


TASKS = {
    "speech": ProtocolTask(
        "speech",
        "new speaker: theo tested, yweweler validates, 4 speakers train",
        _speech,
        {
            "rnn": ("bigru", {}, None),
            "cnn": ("cnn2d", {}, None),
            "hybrid": ("crnn", {}, None),
            "transformer": ("transformer", {}, None),
        },
        budget=40_000,
        recipe={"epochs": 15},
        metric="accuracy",
        chapter="04_speech",
    ),
    "images": ProtocolTask(
        "images",
        "official Fashion-MNIST test set",
        _images,
        {
            "rnn": ("gru", {}, _images_rows),
            "cnn": ("cnn2d", {"head": "flatten"}, None),
            "hybrid": ("crnn", {}, None),
            "transformer": ("transformer", {}, _images_rows),
        },
        budget=40_000,
        recipe={"epochs": 5, "batch_size": 128, "lr": 6e-3},
        metric="accuracy",
        reduced_train=12_000,
        fractions=(0.01, 0.1),
        chapter="05_images",
    ),
    "promoters": ProtocolTask(
        "promoters",
        "Arabidopsis, de-duplicated before a stratified 80/10/10 split",
        _promoters,
        {
            "rnn": ("bigru", {}, None),
            "cnn": ("cnn1d", {}, None),
            "hybrid": ("danq", {"kernel_size": 15, "pool": 4}, None),  # the chapter's
            "transformer": ("transformer", {}, None),
        },
        budget=60_000,
        # one recipe for every family (the chapter stops its CNN at 4 epochs, enough on
        # validation there, to save time; here all three convolutional families get 10)
        recipe={"epochs": 10, "metric": "roc_auc"},
        family_recipe={"rnn": {"epochs": 2, "train_examples": 2500}},
        metric="roc_auc",
        chapter="06_dna",
    ),
    "motif_grammar": ProtocolTask(
        "motif_grammar",
        "order of two motifs; trained at 200 bp, tested at 800 bp",
        _motif_grammar,
        {
            "rnn": ("bigru", {}, None),
            "cnn": ("cnn1d", {}, None),
            "hybrid": ("danq", {"pooling": "max"}, None),
            "transformer": ("transformer", {}, None),
        },
        budget=60_000,
        recipe={"epochs": 10},
        metric="accuracy",
        test="length_800",
        chapter="06_dna",
    ),
    "digit_strings": ProtocolTask(
        "digit_strings",
        "CTC on digit strings; the held-out speaker's strings (new_voice)",
        _digit_strings,
        {  # every family steps 4 frames at a time, as in the chapter; no CTC Transformer
            "rnn": ("ctc_rnn", {"downsample": 4}, None),
            "cnn": ("ctc_cnn", {"time_pool": (2, 2, 1, 1)}, None),
            "hybrid": (
                "ctc_crnn",
                {"downsample": 4, "time_pool": (1, 1, 1), "channels": (8, 16, 16)},
                None,
            ),
        },
        budget=60_000,
        recipe={
            "epochs": 6,
            "lr": 1e-2,
            "metric": "error_rate",
            "bucket_by_length": True,
        },
        metric="error_rate",
        test="new_voice",
        chapter="07_hybrids",
    ),
}


def _check_names(kind: str, names, known) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}; choose from {', '.join(known)}")
    return list(names)


# ----------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """One training run of the protocol. ``stage`` is ``"tune"`` (seed 0, one trial of
    ``TUNING``, validation only) or ``"final"`` (one seed at the chosen setting)."""

    task: str
    family: str
    budget: str
    stage: str
    seed: int
    settings: tuple = ()  # (("lr", 0.003), ("dropout", 0.1)) for a tuning trial
    fraction: float | None = None  # a point of a sample-efficiency curve

    @property
    def key(self) -> str:
        trial = ",".join(f"{k}={v}" for k, v in self.settings)
        last = f"trial[{trial}]" if self.stage == "tune" else f"seed{self.seed}"
        if self.fraction is not None:
            last = f"train{self.fraction}/{last}"
        return f"{self.task}/{self.family}/{self.budget}/{last}"


def seed_cells(task, family, budget, seeds, settings=()) -> list[Cell]:
    """A setting's final cells: one per seed, and one per seed and curve fraction."""
    fractions = (None, *TASKS[task].fractions)
    return [
        Cell(task, family, budget, "final", s, settings, f)
        for f in fractions
        for s in seeds
    ]


def plan(protocol, tasks=None, families=None, seeds=SEEDS, budgets=None) -> list[Cell]:
    """The cells of a protocol; for ``full`` the tuning cells (final cells depend on
    them and are planned by :func:`final_cells` once they are done)."""
    known_tasks = [*TASKS, "latency"]
    tasks = _check_names("tasks", tasks or known_tasks, known_tasks)
    families = _check_names("families", families or FAMILY_NAMES, FAMILY_NAMES)
    default_budgets = ["matched"] if protocol == "reduced" else list(BUDGET_SCALES)
    budgets = _check_names("budgets", budgets or default_budgets, BUDGET_SCALES)
    cells = []
    if "latency" in tasks:  # one cell per family, no training, whatever the protocol
        cells += [Cell("latency", f, "matched", "latency", 0) for f in families]
    for task, family, budget in product(tasks, families, budgets):
        if task == "latency":
            continue
        if family not in TASKS[task].families:
            continue  # e.g. no CTC Transformer for digit strings
        if protocol == "reduced":
            cells += seed_cells(task, family, budget, seeds)
        else:
            for values in product(*TUNING.values()):
                settings = tuple(zip(TUNING, values, strict=True))
                cells.append(Cell(task, family, budget, "tune", 0, settings))
    return cells


def chosen_settings(records, task, family, budget) -> tuple | None:
    """The tuning trial with the best validation metric (None until all trials are
    done)."""
    trials = [
        r
        for r in records
        if (r["task"], r["family"], r["budget"], r["stage"])
        == (task, family, budget, "tune")
    ]
    if len(trials) < len(list(product(*TUNING.values()))):
        return None
    lower_is_better = TASKS[task].metric in ("error_rate", "loss")
    best = (min if lower_is_better else max)(trials, key=lambda r: r["val_metric"])
    return tuple((name, best["settings"][name]) for name in TUNING)


def final_cells(records, tune_cells, seeds=SEEDS) -> list[Cell]:
    """The full protocol's second stage: each (task, family, budget) at its chosen
    setting."""
    cells = []
    for task, family, budget in dict.fromkeys(
        (c.task, c.family, c.budget) for c in tune_cells
    ):
        settings = chosen_settings(records, task, family, budget)
        if settings is not None:
            cells += seed_cells(task, family, budget, seeds, settings)
    return cells


# ----------------------------------------------------------------------------- one cell


def machine() -> dict:
    """Where a record was measured: CPU model, cores, threads, torch, device, commit."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "utils"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", ""
    from utils.config import get_device

    device = get_device().type
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "commit": commit,
        "utils_modified": bool(dirty),  # uncommitted changes to utils/ when it ran
        "load_average": list(os.getloadavg()),
    }


def _peak_memory_mb(device) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_cell(cell: Cell, protocol: str, threads: int = 1) -> dict:
    """Train one cell and return its record (chapter: Choosing in practice)."""
    from utils.config import get_device, seed_everything
    from utils.data.splits import stratified_subset
    from utils.evaluate import evaluate_model, measure_inference
    from utils.models import count_parameters, match_parameters
    from utils.train import fit

    if cell.stage == "latency":
        return run_latency_cell(cell, protocol, threads)
    torch.set_num_threads(threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    task = TASKS[cell.task]
    arch, overrides, loader = task.families[cell.family]
    data = (loader or task.load)()  # the task, or its view for this family (image rows)
    settings = dict(task.recipe) | task.family_recipe.get(cell.family, {})
    settings |= {"epochs": config.pick(full=settings.get("epochs", 15), quick=1)}
    train_examples = settings.pop("train_examples", None)
    if protocol == "reduced" and task.reduced_train:
        train_examples = min(train_examples or task.reduced_train, task.reduced_train)
    trial = dict(cell.settings)
    dropout = trial.pop("dropout", None)
    settings |= trial  # the tuning trial's learning rate
    if dropout is not None:
        overrides = overrides | {"dropout": dropout}
    budget = config.pick(full=task.budget, quick=10_000) * BUDGET_SCALES[cell.budget]

    seed_everything(cell.seed)
    model = match_parameters(arch, data.spec, budget, **overrides)
    train = data.train
    if cell.fraction is not None:  # a curve point: a fraction of the whole training set
        train_examples = max(1, round(cell.fraction * len(train)))
    if train_examples is not None and train_examples < len(train):
        # a subset in proportion to the classes, drawn with the cell's seed (the chapters')
        everything = torch.arange(len(train))
        train = train[
            stratified_subset(everything, train.y, train_examples, seed=cell.seed)
        ]
    device = get_device()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    cpu_before_fit = time.process_time()
    settings |= {"seed": cell.seed, "name": cell.key}
    history = fit(model, train, data.val, quiet=True, **settings)
    train_cpu_seconds = time.process_time() - cpu_before_fit
    record = {
        "key": cell.key,
        "protocol": protocol,
        "stage": cell.stage,
        "task": cell.task,
        "split": task.split,
        "family": cell.family,
        "architecture": arch,
        "budget": cell.budget,
        "budget_parameters": budget,
        "parameters": count_parameters(model),
        "seed": cell.seed,
        "settings": dict(cell.settings),
        "train_fraction": cell.fraction,
        "recipe": {k: v for k, v in settings.items() if not callable(v)},
        "train_examples": len(train),
        "metric": task.metric,
        "val_metric": history.best_val_metric,
        "epochs": history.epochs,
        "seconds_per_epoch": statistics.median(history.epoch_seconds),
        "train_seconds": history.train_seconds,
        # CPU time barely depends on what else the machine runs: the estimates read it
        "train_cpu_seconds": train_cpu_seconds,
        "train_examples_per_second": len(train)
        / statistics.median(history.epoch_seconds),
        "quick": config.quick,
    }
    if cell.stage == "final":  # the test sets are read once, by final cells only
        record["test_set"] = task.test
        record["test"] = {"test": evaluate_model(model, data.test, device=device)}
        for name, split in data.extra_tests.items():
            record["test"][name] = evaluate_model(model, split, device=device)
        for metrics in record["test"].values():
            metrics.pop("parameters", None)
        record["test_metric"] = record["test"][task.test][task.metric]
    sample = data.test[:256]
    speed = measure_inference(model, sample.x, sample.lengths, device=device, repeats=5)
    record |= {
        "latency_ms_batch1": speed[1]["latency_ms"],
        "latency_ms_batch256": speed[256]["latency_ms"],
        "examples_per_second_batch256": speed[256]["examples_per_second"],
        "peak_memory_mb": _peak_memory_mb(device.type),
        "total_seconds": time.perf_counter() - start,
        "total_cpu_seconds": time.process_time() - cpu_start,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return record


def run_latency_cell(cell: Cell, protocol: str, threads: int = 1) -> dict:
    """Time one family against input length, untrained (chapter: Choosing in practice).

    The family's model for ``LATENCY_TASK`` at the matched budget, built for one second of
    speech, reads ``[B, T, 40]`` inputs for each ``T`` in ``LATENCY_LENGTHS``: the
    inference latency of one example (batch 1) and one training step's forward and
    backward pass on ``LATENCY_BATCH``, the medians of a few repeats. Weights do not
    change the arithmetic, so nothing is trained; the record has no test metric.
    """
    from utils.config import get_device, seed_everything
    from utils.data.spec import TaskSpec
    from utils.evaluate import measure_inference, time_forward_backward
    from utils.models import count_parameters, match_parameters

    torch.set_num_threads(threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    task = TASKS[LATENCY_TASK]
    arch, overrides, _ = task.families[cell.family]
    from utils.data import speech

    lengths = config.pick(full=LATENCY_LENGTHS, quick=LATENCY_LENGTHS[:2])
    # sized for the speech task's input, one second of 10 ms frames of 40 log-mel bands
    # (101, 40), so each family is the model the speech cells trained (the Transformer's
    # tokens are two frames, the GRU reads pairs of frames), then fed longer inputs
    frames = 1 + speech.SAMPLE_RATE // speech.HOP_LENGTH
    spec = TaskSpec("latency", "sequence", (frames, 40), 10, tuple("0123456789"))
    budget = config.pick(full=task.budget, quick=10_000) * BUDGET_SCALES[cell.budget]
    seed_everything(cell.seed)
    model = match_parameters(arch, spec, budget, **overrides)
    device = get_device()
    repeats = config.pick(full=5, quick=1)
    inference, train_step = [], []  # one value per length, in the order of ``lengths``
    for length in lengths:
        one = torch.randn(1, length, 40)  # [1, T, 40]
        speed = measure_inference(
            model, one, batch_sizes=(1,), warmup=1, repeats=repeats, device=device
        )
        inference.append(speed[1]["latency_ms"])
        batch = torch.randn(LATENCY_BATCH, length, 40)  # [16, T, 40]
        seconds = time_forward_backward(model, batch, repeats=repeats, device=device)
        train_step.append(1000 * seconds)
    return {
        "key": cell.key,
        "protocol": protocol,
        "stage": "latency",
        "task": "latency",
        "split": f"untrained {LATENCY_TASK} models, random inputs of 40 features per step",
        "family": cell.family,
        "architecture": arch,
        "budget": cell.budget,
        "budget_parameters": budget,
        "parameters": count_parameters(model),
        "seed": cell.seed,
        "settings": {},
        "lengths": list(lengths),
        "latency_ms_by_length": inference,  # batch 1, inference
        "train_step_ms_by_length": train_step,  # batch 16, forward and backward
        "quick": config.quick,
        "peak_memory_mb": _peak_memory_mb(device.type),
        "total_seconds": time.perf_counter() - start,
        "total_cpu_seconds": time.process_time() - cpu_start,
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# ----------------------------------------------------------------------------- results files


def read_results(path) -> list[dict]:
    """Every complete record of a JSON Lines results file (a missing file has none)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash: that cell runs again
                continue
    return records


def append_record(path, record: dict) -> None:
    """Append one record as one line, under an exclusive lock, in one write: processes
    appending to the same file never interleave or leave half a record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    with open(path, "ab") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            os.write(f.fileno(), line)
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def merge(paths, out) -> list[dict]:
    """Combine results files from different processes or machines into ``out``: one
    record per cell key (the first found, in the order given), sorted by key; written
    atomically."""
    by_key = {}
    for path in paths:
        for record in read_results(path):
            by_key.setdefault(record["key"], record)
    records = [by_key[k] for k in sorted(by_key)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    os.replace(tmp, out)
    return records


def summarise(records) -> list[dict]:
    """Final records grouped by (task, family, budget, training fraction): the deciding
    test metric's mean and standard deviation over seeds, parameters, seconds per epoch,
    latency."""
    groups = {}
    for r in records:
        if r["stage"] == "final":
            fraction = r.get("train_fraction") or 1.0
            groups.setdefault(
                (r["task"], r["family"], r["budget"], fraction), []
            ).append(r)
    rows = []
    for (task, family, budget, fraction), group in sorted(groups.items()):
        values = [r["test_metric"] for r in group]
        rows.append(
            {
                "task": task,
                "family": family,
                "budget": budget,
                "train_fraction": fraction,
                "train_examples": group[0]["train_examples"],
                "metric": group[0]["metric"],
                "mean": statistics.mean(values),
                "sd": statistics.stdev(values) if len(values) > 1 else float("nan"),
                "seeds": len(values),
                "parameters": group[0]["parameters"],
                "seconds_per_epoch": statistics.median(
                    r["seconds_per_epoch"] for r in group
                ),
                "latency_ms_batch1": statistics.median(
                    r["latency_ms_batch1"] for r in group
                ),
            }
        )
    return rows


# ----------------------------------------------------------------------------- estimate


def estimate(cells, records, protocol, *, probe=False, threads=1) -> dict:
    """CPU seconds a list of cells would take, from measured CPU seconds per epoch and
    per cell outside training: the median of ``records`` with the same task, family and
    budget, else (``probe=True``) one epoch on 256 examples (after one to warm up)
    scaled to the training set. Returns ``{"seconds", "cells", "unmeasured",
    "groups"}``, ``groups`` the seconds of each (task, family, budget)."""
    measured = {}
    for r in records:
        if r["stage"] == "latency":
            continue
        if "train_cpu_seconds" in r:  # CPU time: what a busy machine inflates least
            epoch = r["train_cpu_seconds"] / r["epochs"]
            outside = r["total_cpu_seconds"] - r["train_cpu_seconds"]
        else:
            epoch, outside = (
                r["seconds_per_epoch"],
                r["total_seconds"] - r["train_seconds"],
            )
        measured.setdefault((r["task"], r["family"], r["budget"]), []).append(
            (epoch / r["train_examples"], outside)
        )
    total, unmeasured, by_group = 0.0, [], {}
    sizes = {}
    for cell in cells:
        group = (cell.task, cell.family, cell.budget)
        if cell.stage == "latency":
            continue  # a few seconds, nothing trained
        if group not in measured and probe:
            measured[group] = [_probe(cell, threads)]
        if group not in measured:
            unmeasured.append(cell.key)
            continue
        per_example = statistics.median(m[0] for m in measured[group])
        overhead = statistics.median(m[1] for m in measured[group])
        epochs, examples = _cell_size(cell, protocol, sizes)
        seconds = per_example * examples * epochs + overhead
        total += seconds
        by_group[group] = by_group.get(group, 0.0) + seconds
    return {
        "seconds": total,
        "cells": len(cells),
        "unmeasured": unmeasured,
        "groups": by_group,
    }


def _cell_size(cell, protocol, sizes) -> tuple[int, int]:
    """(epochs, training examples) of a cell, from the task's settings and data size."""
    task = TASKS[cell.task]
    recipe = dict(task.recipe) | task.family_recipe.get(cell.family, {})
    epochs = config.pick(full=recipe.get("epochs", 15), quick=1)
    if cell.task not in sizes:
        sizes[cell.task] = len(task.load().train)
    examples = min(sizes[cell.task], recipe.get("train_examples") or sizes[cell.task])
    if protocol == "reduced" and task.reduced_train:
        examples = min(examples, task.reduced_train)
    if cell.fraction is not None:
        examples = max(1, round(cell.fraction * sizes[cell.task]))
    return epochs, examples


def _probe(cell, threads) -> tuple[float, float]:
    """CPU time of one epoch on 256 training examples, after a warm-up epoch: (seconds
    per example, seconds outside training: loading the task and sizing the model)."""
    from utils.models import match_parameters
    from utils.train import fit

    torch.set_num_threads(threads)
    cpu_start = time.process_time()
    task = TASKS[cell.task]
    arch, overrides, loader = task.families[cell.family]
    data = (loader or task.load)()
    budget = config.pick(full=task.budget, quick=10_000) * BUDGET_SCALES[cell.budget]
    model = match_parameters(arch, data.spec, budget, **overrides)
    recipe = {k: v for k, v in task.recipe.items() if k != "epochs"}
    train, val = data.train[: min(256, len(data.train))], data.val[:64]
    outside = time.process_time() - cpu_start
    fit(model, train, val, epochs=1, quiet=True, **recipe)  # warm-up
    cpu_start = time.process_time()
    fit(model, train, val, epochs=1, quiet=True, **recipe)
    return (time.process_time() - cpu_start) / len(train), outside


# ----------------------------------------------------------------------------- the runner


def _run_and_append(cell: Cell, protocol: str, threads: int, results: str) -> str:
    """A pool worker's job: train one cell, append its record, return its key."""
    append_record(results, run_cell(cell, protocol, threads))
    return cell.key


def run_cells(
    cells, protocol, results, *, workers=1, threads=1, progress=True
) -> list[str]:
    """Run the cells whose key is not yet in ``results`` (so a stopped run resumes) and
    return the keys run. ``workers=0`` runs them in this process; otherwise each cell
    runs in a fresh process of a pool of ``workers`` (its own peak memory; a failing cell
    is reported and the others go on)."""
    done = {r["key"] for r in read_results(results)}
    todo = [c for c in cells if c.key not in done]
    if not todo:
        return []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), unit="cell", disable=not progress)
    finished = []
    if workers == 0:
        for cell in todo:
            bar.set_description(cell.key)
            finished.append(_run_and_append(cell, protocol, threads, str(results)))
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")  # a fresh interpreter per cell
        failed = {}
        with ProcessPoolExecutor(
            workers, mp_context=context, max_tasks_per_child=1
        ) as pool:
            jobs = {
                pool.submit(_run_and_append, c, protocol, threads, str(results)): c.key
                for c in todo
            }
            for job in as_completed(jobs):
                try:
                    finished.append(job.result())
                except Exception as error:  # report it; the other cells go on
                    failed[jobs[job]] = f"{type(error).__name__}: {error}"
                    bar.write(f"{jobs[job]} failed: {failed[jobs[job]]}")
                bar.set_description(jobs[job])
                bar.update()
        if failed:
            bar.close()
            raise RuntimeError(
                f"{len(failed)} cell(s) failed (the others are in {results}; run again to "
                f"retry only these): {failed}"
            )
    bar.close()
    return finished


def run_protocol(
    protocol="reduced",
    results="benchmarks/protocol/reduced.jsonl",
    *,
    tasks=None,
    families=None,
    seeds=SEEDS,
    budgets=None,
    workers=1,
    threads=1,
    shard=(0, 1),
    progress=True,
) -> list[str]:
    """Run a protocol's cells into ``results`` (resuming), the full protocol's final
    cells once their tuning trials are in the file; ``shard=(i, n)`` keeps every n-th
    cell from the i-th (one job of a cluster array). Returns the keys run."""
    if protocol not in ("reduced", "full"):
        raise ValueError(f"protocol must be 'reduced' or 'full', got {protocol!r}")
    index, count = shard
    cells = plan(protocol, tasks, families, seeds, budgets)
    run = run_cells(cells[index::count], protocol, results, workers=workers,
                    threads=threads, progress=progress)  # fmt: skip
    if protocol == "full":
        finals = final_cells(read_results(results), cells, seeds)
        run += run_cells(finals[index::count], protocol, results, workers=workers,
                         threads=threads, progress=progress)  # fmt: skip
    return run
