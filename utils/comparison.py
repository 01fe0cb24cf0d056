"""Reading the benchmark protocol's results: the tables, verdicts and figures of the
comparison chapter, and the decision guide's recommendation (chapter: Choosing in practice).

Everything here reads the committed results file (``benchmarks/protocol/reduced.jsonl``,
written by ``make benchmark``, see :mod:`utils.protocol`); nothing trains. The chapter prints
only what these functions compute from that file, so a reader who reruns the benchmark on
other hardware redraws every table and figure from their own measurements.

A **verdict** follows one rule, stated once here: with a few seeds per family, two families
are *separated* when the gap between their mean scores is larger than the sum of their
standard deviations over seeds. A task has a **winner** when the best family is separated
from every other; otherwise the families not separated from the best share the lead and the
task has no winner.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from utils import protocol
from utils.config import REPO_ROOT
from utils.plots import color

RESULTS = REPO_ROOT / "benchmarks" / "protocol" / "reduced.jsonl"
FAMILIES = protocol.FAMILY_NAMES  # ("rnn", "cnn", "hybrid", "transformer")
FAMILY_LABELS = {
    "rnn": "recurrent",
    "cnn": "convolutional",
    "hybrid": "hybrid",
    "transformer": "Transformer",
}
FAMILY_COLORS = {
    f: color(i) for i, f in enumerate(FAMILIES)
}  # the same in every figure
TASK_LABELS = {
    "speech": "speech: new speaker",
    "images": "images: Fashion-MNIST (a subset)",
    "promoters": "DNA: promoters",
    "motif_grammar": "DNA: motif order, 4× length",
    "digit_strings": "CTC: digit strings, new voice",
}
METRIC_LABELS = {
    "accuracy": "accuracy",
    "roc_auc": "ROC-AUC",
    "error_rate": "digit error rate",
}


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the better one (error rates, losses).
    (chapter: Choosing in practice)"""
    return metric in ("error_rate", "loss")


# ----------------------------------------------------------------------------- reading


def load_results(path=RESULTS) -> list[dict]:
    """The records of a results file, checked: it exists, it holds full-settings records
    (quick-mode numbers are not results) and every record names its task and family.
    A missing file says how to get one. (chapter: Choosing in practice)"""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no benchmark results at {path}: they are committed with the course "
            "(git checkout benchmarks/protocol), or regenerate them with `make benchmark` "
            "(about 40 minutes on 2 cores)"
        )
    records = protocol.read_results(path)
    if not records:
        raise ValueError(f"{path} holds no complete record; run `make benchmark`")
    quick = [r["key"] for r in records if r.get("quick")]
    if quick:
        raise ValueError(
            f"{path} holds {len(quick)} quick-mode record(s) ({quick[0]}, ...): quick mode "
            "shrinks data and epochs for tests, so its numbers are not results; rerun "
            "`make benchmark` without COURSE_QUICK"
        )
    for r in records:
        missing = {"key", "task", "family", "stage"} - set(r)
        if missing:
            raise ValueError(
                f"{path}: record {r.get('key', '?')} lacks {sorted(missing)}"
            )
    return records


def provenance(records) -> dict:
    """Where and when the records were measured: machine, versions, commits, the dates
    and the busiest load average seen (a busy machine inflates the times).
    (chapter: Choosing in practice)"""
    machines = [r["machine"] for r in records]
    finished = sorted(r["finished"] for r in records)
    return {
        "records": len(records),
        "cpu": sorted({m["cpu"] for m in machines}),
        "cores": sorted({m["cores"] for m in machines}),
        "threads per cell": sorted({m["threads"] for m in machines}),
        "torch": sorted({m["torch"] for m in machines}),
        "device": sorted({m["device"] for m in machines}),
        "commits": sorted({m["commit"][:7] for m in machines}),
        "uncommitted changes to utils": any(m["utils_modified"] for m in machines),
        "first finished": finished[0],
        "last finished": finished[-1],
        "highest 1-minute load": round(max(m["load_average"][0] for m in machines), 2),
    }


# ----------------------------------------------------------------------------- tables


def _final_on_everything(record, task, family) -> bool:
    """A final cell of ``task`` and ``family`` at the matched budget, trained on the whole
    training set (not a point of a sample-efficiency curve)."""
    return (
        (record["task"], record["family"], record["stage"]) == (task, family, "final")
        and record["budget"] == "matched"
        and not record.get("train_fraction")  # None: the whole training set
    )


def summary_table(records):
    """One row per task and family at the whole training set (no curve points): the
    deciding metric's mean and standard deviation over seeds, seeds, parameters, the median
    seconds per epoch and of training, the epochs and training examples (a family may train
    on less, as the promoters' GRU does), and the batch-1 latency. A ``pandas`` frame
    indexed by (task, family), tasks in the protocol's order (chapter: Choosing in
    practice)."""
    import pandas as pd

    rows = []
    for row in protocol.summarise(records):
        if row["train_fraction"] != 1.0 or row["budget"] != "matched":
            continue
        group = [
            r for r in records if _final_on_everything(r, row["task"], row["family"])
        ]
        rows.append(
            row
            | {
                "epochs": statistics.median(r["epochs"] for r in group),
                "train_seconds": statistics.median(r["train_seconds"] for r in group),
            }
        )
    table = pd.DataFrame(rows)
    order = {t: i for i, t in enumerate(protocol.TASKS)}
    table = table.sort_values(
        ["task", "family"],
        key=lambda c: c.map(order) if c.name == "task" else c.map(FAMILIES.index),
    )
    columns = [
        "metric",
        "mean",
        "sd",
        "seeds",
        "train_examples",
        "epochs",
        "parameters",
    ]
    columns += ["seconds_per_epoch", "train_seconds", "latency_ms_batch1"]
    return table.set_index(["task", "family"])[columns]


def separated(a_mean, a_sd, b_mean, b_sd) -> bool:
    """The module's rule: two means are separated when their gap exceeds the sum of the
    standard deviations (a missing spread, from one seed, never separates).
    (chapter: Choosing in practice)"""
    if math.isnan(a_sd) or math.isnan(b_sd):
        return False
    return abs(a_mean - b_mean) > a_sd + b_sd


def verdicts(summary):
    """Per task: the best family by mean, the families sharing the lead (not separated from
    the best, the best included), and ``winner``: the best family when it shares the lead
    with nobody, else ``None``. A ``pandas`` frame indexed by task.
    (chapter: Choosing in practice)"""
    import pandas as pd

    rows = []
    for task, group in summary.groupby(level="task", sort=False):
        group = group.droplevel("task")
        low = lower_is_better(group["metric"].iloc[0])
        ranked = group.sort_values("mean", ascending=low)
        best = ranked.index[0]
        top = ranked.loc[best]
        lead = [
            f
            for f in ranked.index
            if f == best
            or not separated(top["mean"], top["sd"], *ranked.loc[f, ["mean", "sd"]])
        ]
        runner_up = ranked.index[1] if len(ranked) > 1 else None
        rows.append(
            {
                "task": task,
                "metric": group["metric"].iloc[0],
                "best": best,
                "best_mean": top["mean"],
                "best_sd": top["sd"],
                "runner_up": runner_up,
                "gap": abs(top["mean"] - ranked.loc[runner_up, "mean"])
                if runner_up
                else np.nan,
                "sharing_the_lead": lead,
                "winner": best if len(lead) == 1 else None,
            }
        )
    frame = pd.DataFrame(rows).set_index("task")
    for column in ("winner", "runner_up"):  # None, not NaN, where there is none
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def hybrid_costs(summary):
    """Per task with both families: what the hybrid's recurrent layer costs on top of the
    convolutional family (``time_ratio``, training time over training time) and what it
    buys (``gain``, positive when the hybrid scores better, in the metric's units), and
    whether the two are ``separated`` by the module's rule. A ``pandas`` frame indexed by
    task. (chapter: Choosing in practice)"""
    import pandas as pd

    rows = []
    for task in dict.fromkeys(summary.index.get_level_values("task")):
        group = summary.loc[task]
        if not {"hybrid", "cnn"} <= set(group.index):
            continue
        hybrid, cnn = group.loc["hybrid"], group.loc["cnn"]
        gain = hybrid["mean"] - cnn["mean"]
        rows.append(
            {
                "task": task,
                "metric": hybrid["metric"],
                "time_ratio": hybrid["train_seconds"] / cnn["train_seconds"],
                "gain": -gain if lower_is_better(hybrid["metric"]) else gain,
                "separated": separated(
                    hybrid["mean"], hybrid["sd"], cnn["mean"], cnn["sd"]
                ),
            }
        )
    return pd.DataFrame(rows).set_index("task")


def protocol_cost(records) -> dict:
    """What the records cost to measure: cells, CPU hours (every cell's CPU time added
    up) and wall-clock minutes from the first cell's start to the last cell's end.
    (chapter: Choosing in practice)"""
    from datetime import datetime, timedelta

    def ended(r):
        return datetime.fromisoformat(r["finished"].replace("Z", "+00:00"))

    first = min(ended(r) - timedelta(seconds=r["total_seconds"]) for r in records)
    last = max(ended(r) for r in records)
    return {
        "cells": len(records),
        "cpu_hours": sum(r["total_cpu_seconds"] for r in records) / 3600,
        "wall_minutes": (last - first).total_seconds() / 60,
    }


def curve_table(records, task="images"):
    """The sample-efficiency curve: ``{family: [(training examples, mean, sd), ...]}`` in
    increasing size, from the task's final cells at every training fraction (the whole
    training set, or the reduced protocol's subset of it, included).
    (chapter: Choosing in practice)"""
    curves = {}
    for row in protocol.summarise(records):
        if row["task"] == task and row["budget"] == "matched":
            curves.setdefault(row["family"], []).append(
                (row["train_examples"], row["mean"], row["sd"])
            )
    return {f: sorted(curves[f]) for f in FAMILIES if f in curves}


def robustness_table(records, task, metric=None):
    """Mean and standard deviation over seeds of every test set of a task's final cells
    at the whole training set: ``{family: {test set: (mean, sd)}}``.
    (chapter: Choosing in practice)"""
    out = {}
    for family in FAMILIES:
        group = [r for r in records if _final_on_everything(r, task, family)]
        if not group:
            continue
        name = metric or group[0]["metric"]
        out[family] = {}
        for test_set in group[0]["test"]:
            values = [r["test"][test_set][name] for r in group]
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            out[family][test_set] = (statistics.mean(values), sd)
    return out


def latency_table(records) -> dict:
    """From the latency cells: ``{family: {"lengths": [...], "inference_ms": [...],
    "train_step_ms": [...], "parameters": n, "inference_growth": ...,
    "train_step_growth": ...}}``, the growths from the shortest length to the longest.
    (chapter: Choosing in practice)"""
    out = {}
    for r in records:
        if r["stage"] == "latency":
            out[r["family"]] = {
                "lengths": r["lengths"],
                "inference_ms": r["latency_ms_by_length"],
                "train_step_ms": r["train_step_ms_by_length"],
                "parameters": r["parameters"],
                # how many times longer the longest input takes than the shortest
                "inference_growth": r["latency_ms_by_length"][-1]
                / r["latency_ms_by_length"][0],
                "train_step_growth": r["train_step_ms_by_length"][-1]
                / r["train_step_ms_by_length"][0],
            }
    return {f: out[f] for f in FAMILIES if f in out}


def latency_at(latency: dict, family: str, length: int) -> float:
    """A family's batch-1 latency (ms) at ``length`` steps, interpolated on log-log axes
    between the measured lengths; beyond them, the trend of the nearest two measurements
    continues (a Transformer's latency, which grows faster than length, keeps growing
    faster). (chapter: Choosing in practice)"""
    lengths = np.log(latency[family]["lengths"])
    ms = np.log(latency[family]["inference_ms"])
    x = math.log(length)
    for end, before in ((-1, -2), (0, 1)):  # past the longest, or below the shortest
        if (x - lengths[end]) * (lengths[end] - lengths[before]) > 0:
            slope = (ms[end] - ms[before]) / (lengths[end] - lengths[before])
            return float(math.exp(ms[end] + slope * (x - lengths[end])))
    return float(math.exp(np.interp(x, lengths, ms)))


def format_metric(metric: str, mean: float, sd: float | None = None) -> str:
    """``0.912 ± 0.012`` for a fraction, ``0.9877 ± 0.0011`` for a ROC-AUC (whose
    differences here are in the third decimal), ``13.3 % ± 1.2`` for an error rate.
    (chapter: Choosing in practice)"""
    if metric == "error_rate":
        text = f"{100 * mean:.1f} %"
        return text if sd is None or math.isnan(sd) else f"{text} ± {100 * sd:.1f}"
    digits = 4 if metric == "roc_auc" else 3
    text = f"{mean:.{digits}f}"
    return text if sd is None or math.isnan(sd) else f"{text} ± {sd:.{digits}f}"


# ----------------------------------------------------------------------------- figures


def _log_ticks_1_2_5(ax, values):
    """Log-scaled x axis spanning ``values``, ticks at 1, 2, 5, 10, 20, ... in plain
    numbers."""
    low, high = min(values), max(values)
    ticks = [
        m * 10**e
        for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
    ]
    shown = [t for t in ticks if low / 1.6 <= t <= high * 1.6]
    if len(shown) < 2:  # a narrow range: the two ticks around it
        shown = [max(t for t in ticks if t <= low), min(t for t in ticks if t >= high)]
    _plain_log_ticks(ax, shown)
    ax.set_xlim(min(shown[0], low / 1.3), max(shown[-1], high * 1.3))


def _plain_log_ticks(ax, values):
    """Log-scaled x axis labelled at ``values`` in plain numbers (12,000, not 1.2×10⁴)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(values, [f"{v:,.0f}" for v in values])


def plot_heatmap(summary, verdict, *, title="", description=""):
    """Task × family: each cell the mean ± standard deviation of the task's metric, its
    colour how close the mean is to the row's best (full scale: the row's range, or 5 % of
    the best value if larger), the families sharing the lead outlined. Rows have different
    metrics, so colours compare within a row only; a task without a model of a family
    shows a grey cell. (chapter: Choosing in practice)"""
    tasks = list(dict.fromkeys(summary.index.get_level_values("task")))
    fig, ax = plt.subplots(figsize=(8.4, 0.75 * len(tasks) + 1.6))
    cmap = plt.get_cmap("Blues")
    scale_of = {}
    for i, task in enumerate(tasks):
        rows = summary.loc[task]
        metric = rows["metric"].iloc[0]
        best = rows["mean"].min() if lower_is_better(metric) else rows["mean"].max()
        # full scale: the row's range, or 5 % of its best value if that is larger, so
        # that a row of near-equal scores stays one colour
        scale_of[task] = max(np.ptp(rows["mean"]), 0.05 * abs(best), 1e-12)
        for j, family in enumerate(FAMILIES):
            if family not in rows.index:
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fc="#dddddd", ec="white"))
                ax.text(
                    j + 0.5, i + 0.5, "no model", ha="center", va="center", fontsize=8
                )
                continue
            mean, sd = rows.loc[family, ["mean", "sd"]]
            score = 1 - abs(best - mean) / scale_of[task]
            lead = family in verdict.loc[task, "sharing_the_lead"]
            ax.add_patch(
                plt.Rectangle(
                    (j, i), 1, 1, fc=cmap(0.15 + 0.7 * score), ec="black" if lead else "white",
                    lw=2.5 if lead else 1,
                )
            )  # fmt: skip
            ink = "white" if score > 0.6 else "black"
            text = format_metric(metric, mean, sd).replace(" ± ", "\n± ")
            ax.text(
                j + 0.5,
                i + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=8.5,
                color=ink,
            )
    ax.set(xlim=(0, len(FAMILIES)), ylim=(len(tasks), 0))
    ax.set_xticks(np.arange(len(FAMILIES)) + 0.5, [FAMILY_LABELS[f] for f in FAMILIES])
    ax.set_yticks(
        np.arange(len(tasks)) + 0.5,
        [
            f"{TASK_LABELS[t]}\n({METRIC_LABELS[summary.loc[t, 'metric'].iloc[0]]})"
            for t in tasks
        ],
        fontsize=8.5,
    )
    ax.tick_params(length=0)
    ax.set_xlabel(
        "family (outlined: sharing the lead; darker: closer to the row's best)"
    )
    ax.set_title(title)
    fig.set_label(description or title)
    fig.tight_layout()
    return fig


def plot_tradeoffs(summary, *, title="", description=""):
    """One panel per task: the metric (mean ± standard deviation over seeds) against
    training time, one point per family (their parameter counts are matched; the summary
    table lists them). (chapter: Choosing in practice)"""
    tasks = list(dict.fromkeys(summary.index.get_level_values("task")))
    ncols = 3
    nrows = -(-len(tasks) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(11, 3.3 * nrows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = summary.loc[task]
        metric = rows["metric"].iloc[0]
        scale = 100 if metric == "error_rate" else 1
        for family, row in rows.iterrows():
            ax.errorbar(
                row["train_seconds"], scale * row["mean"], yerr=scale * np.nan_to_num(row["sd"]),
                marker="os^D"[FAMILIES.index(family)], color=FAMILY_COLORS[family], capsize=3,
                ls="none", label=FAMILY_LABELS[family],
            )  # fmt: skip
        unit = " (%)" if metric == "error_rate" else ""
        _log_ticks_1_2_5(ax, rows["train_seconds"])
        ax.margins(x=0.15)
        ax.set(
            title=TASK_LABELS[task],
            xlabel="training time (s, log scale)",
            ylabel=f"{METRIC_LABELS[metric]}{unit}"
            + (", lower is better" if lower_is_better(metric) else ""),
        )
        ax.title.set_fontsize(9.5)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    spare = list(axes.flat)[len(tasks) :]
    if spare:  # the legend in an empty panel, where it hides nothing
        spare[0].legend(handles, labels, loc="center", title="family")
    else:
        fig.legend(handles, labels, loc="lower center", ncols=len(labels))
    fig.suptitle(title)
    fig.set_label(description or title)
    fig.tight_layout()
    return fig


def plot_latency(latency: dict, *, title="", description=""):
    """Two log-log panels against input length, one line per family: inference latency of
    one example, and one training step (forward and backward) on a batch of 16.
    (chapter: Choosing in practice)"""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    panels = [
        ("inference_ms", "inference, batch 1 (ms, log scale)"),
        ("train_step_ms", "training step, batch 16 (ms, log scale)"),
    ]
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        for i, (family, row) in enumerate(latency.items()):
            ax.plot(
                row["lengths"], row[key], marker="os^D"[i % 4], color=FAMILY_COLORS[family],
                label=f"{FAMILY_LABELS[family]} ({row['parameters'] / 1000:.0f} k)",
            )  # fmt: skip
        lengths = next(iter(latency.values()))["lengths"]
        first = min(row[key][0] for row in latency.values())
        ax.plot(
            lengths, [first * n / lengths[0] for n in lengths], ":", color="#888888",
            label="proportional to length",
        )  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="input length (steps, log scale)")
        ax.set(ylabel=ylabel)
        ax.set_xticks(lengths, [f"{n:,}" for n in lengths])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(title)
    fig.set_label(description or title)
    fig.tight_layout()
    return fig


def plot_sample_efficiency(curves: dict, *, title="", description=""):
    """Test accuracy (mean ± standard deviation over seeds) against training examples,
    one line per family, log-scaled examples. (chapter: Choosing in practice)"""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (family, points) in enumerate(curves.items()):
        n, mean, sd = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        ax.errorbar(
            n, mean, yerr=np.nan_to_num(sd), marker="os^D"[i % 4], capsize=3,
            color=FAMILY_COLORS[family], label=FAMILY_LABELS[family], ls="-:--"[i % 3],
        )  # fmt: skip
    _plain_log_ticks(
        ax, sorted({n for points in curves.values() for n, _, _ in points})
    )
    ax.set(
        xlabel="training examples (log scale)",
        ylabel="test accuracy (fraction)",
        title=title,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.set_label(description or title)
    fig.tight_layout()
    return fig


ROBUSTNESS_PANELS = {  # task -> (test sets in order, their labels, x-axis label)
    "speech": (
        ["test", "noise_10db", "noise_0db", "late_200ms"],
        ["clean", "noise\n10 dB", "noise\n0 dB", "200 ms\nlate"],
        "new speaker's recordings",
    ),
    "motif_grammar": (
        ["test", "length_400", "length_800"],
        ["200 bp\n(trained)", "400 bp", "800 bp"],
        "test length",
    ),
    "digit_strings": (
        ["test", "new_voice"],
        ["known voices", "new voice"],
        "speakers of the test strings",
    ),
}


def plot_robustness(records, *, title="", description=""):
    """Side by side, each family's score (mean ± standard deviation over seeds) as its test
    conditions move away from training: noise and a late start on speech, longer motif
    sequences (joined by lines: lengths are ordered), a new voice for digit strings
    (points side by side: separate conditions). (chapter: Choosing in practice)"""
    fig, axes = plt.subplots(1, len(ROBUSTNESS_PANELS), figsize=(12, 3.9))
    for ax, (task, (sets, labels, xlabel)) in zip(
        axes, ROBUSTNESS_PANELS.items(), strict=True
    ):
        table = robustness_table(records, task)
        metric = protocol.TASKS[task].metric
        scale = 100 if metric == "error_rate" else 1
        x = np.arange(len(sets))
        ordered = (
            task == "motif_grammar"
        )  # lengths are ordered; the other conditions not
        for i, (family, by_set) in enumerate(table.items()):
            mean = [scale * by_set[s][0] for s in sets]
            sd = [scale * np.nan_to_num(by_set[s][1]) for s in sets]
            dodge = 0 if ordered else 0.08 * (i - (len(table) - 1) / 2)  # bars apart
            ax.errorbar(
                x + dodge, mean, yerr=sd, marker="os^D"[FAMILIES.index(family)], capsize=3,
                color=FAMILY_COLORS[family], label=FAMILY_LABELS[family],
                ls=("-", ":", "--", "-.")[FAMILIES.index(family)] if ordered else "none",
            )  # fmt: skip
        unit = " (%)" if metric == "error_rate" else " (fraction)"
        worse = ", lower is better" if lower_is_better(metric) else ""
        ax.set_xticks(x, labels, fontsize=8)
        ax.set(xlabel=xlabel, ylabel=f"{METRIC_LABELS[metric]}{unit}{worse}")
        ax.set_title(TASK_LABELS[task], fontsize=9.5)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # speech: all four families
    fig.suptitle(title)
    fig.set_label(description or title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncols=len(labels), fontsize="small")
    return fig


# ----------------------------------------------------------------------------- the decision guide

# what the reader's data is like -> (the benchmark task that is evidence for it, in words)
KINDS = {
    "image": ("images", "an image: a grid alike in every direction"),
    "audio clip": ("speech", "a short recording with one label (a word, a sound)"),
    "transcription": (
        "digit_strings",
        "a recording to turn into a sequence of symbols",
    ),
    "motif presence": ("promoters", "a sequence whose local patterns (motifs) decide"),
    "motif arrangement": (
        "motif_grammar",
        "a sequence whose patterns' order decides, at lengths not seen in training",
    ),
}


@dataclass(frozen=True)
class DataDescription:
    """What a reader knows about their data before choosing (chapter: Choosing in
    practice). ``length``: steps per example (frames, bases; rows for an image);
    ``examples``: labelled training examples; ``latency_ms``: the time allowed to answer
    one example, ``None`` for no limit; ``streaming``: answers are needed while the data
    arrive, before the example ends."""

    kind: str
    length: int
    examples: int
    latency_ms: float | None = None
    streaming: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.length < 1 or self.examples < 1:
            raise ValueError(
                f"length and examples must be at least 1, got {self.length}, "
                f"{self.examples}"
            )
        if self.latency_ms is not None and self.latency_ms <= 0:
            raise ValueError(
                f"latency_ms must be positive or None, got {self.latency_ms}"
            )


@dataclass(frozen=True)
class Recommendation:
    """The guide's answer: a family, the task whose results are the evidence, and one
    reason per step of the reasoning, each quoting the numbers it rests on.
    (chapter: Choosing in practice)"""

    family: str
    task: str
    reasons: tuple = ()
    considered: tuple = field(default=())  # the families still in the running, in order

    def __str__(self) -> str:
        lines = [
            f"recommended: {FAMILY_LABELS[self.family]} (evidence: {TASK_LABELS[self.task]})"
        ]
        return "\n".join(lines + [f"- {reason}" for reason in self.reasons])


def recommend(data: DataDescription, records) -> Recommendation:
    """The decision guide as a function of the results (chapter: Choosing in practice).

    Start from the families that share the lead on the benchmark task most like ``data``
    (the module's separation rule), the cheapest to train first, then the others in order
    of their score; then apply the constraints the benchmark measured, each adding a
    reason: streaming (no Transformer: attention needs the whole window), the latency
    budget (batch-1 latency at ``data.length`` from the latency cells) and little data (the
    images sample-efficiency curve, which decides only for images)."""
    summary = summary_table(records)
    task = KINDS[data.kind][0]
    rows, verdict = summary.loc[task], verdicts(summary).loc[task]
    metric = verdict["metric"]

    def score_of(family):
        return format_metric(metric, *rows.loc[family, ["mean", "sd"]])

    seeds = int(rows["seeds"].min())
    evidence = f"on {TASK_LABELS[task]} ({seeds} seeds)"
    lead = list(verdict["sharing_the_lead"])
    if verdict["winner"]:
        best, runner = verdict["best"], verdict["runner_up"]
        reasons = [
            f"{evidence} the {FAMILY_LABELS[best]} family leads, {score_of(best)} against "
            f"{score_of(runner)} for the {FAMILY_LABELS[runner]} one: a gap larger than "
            "the spread"
        ]
    else:
        scores = ", ".join(f"{FAMILY_LABELS[f]} {score_of(f)}" for f in lead)
        lead.sort(key=lambda f: rows.loc[f, "train_seconds"])
        times = ", ".join(
            f"{FAMILY_LABELS[f]} {rows.loc[f, 'train_seconds']:.0f} s" for f in lead
        )
        reasons = [
            f"{evidence} no family wins: {scores} are within the spread between seeds of "
            "each other",
            f"so the cheapest to train comes first: {times}",
        ]
    # beyond the lead, the rest in order of their score, in case a constraint rules out all
    by_score = rows.sort_values("mean", ascending=lower_is_better(metric)).index
    considered = lead + [f for f in by_score if f not in lead]

    if data.streaming:
        reasons.append(
            "streaming: build the chosen family causally (a one-directional GRU, causal "
            "convolutions); the benchmark measured the non-causal versions"
            + (
                ", and a Transformer, which attends to the whole window, is left out"
                if "transformer" in considered
                else ""
            )
        )
        considered = [f for f in considered if f != "transformer"]

    allowed = list(considered)  # the families within the latency budget, if one is set
    if data.latency_ms is not None:
        considered, allowed, reason = _apply_latency(data, considered, records)
        reasons.append(reason)

    trained_on = int(rows["train_examples"].max())
    curves = curve_table(records)
    if data.examples < trained_on / 2 and curves:
        sizes = sorted({n for points in curves.values() for n, _, _ in points})
        nearest = min(sizes, key=lambda n: abs(math.log(n / data.examples)))
        at = {
            f: (m, s)
            for f, points in curves.items()
            for n, m, s in points
            if n == nearest
        }
        candidates = [f for f in allowed if f in at] or [
            f for f in considered if f in at
        ]
        best = max(candidates, key=lambda f: at[f][0])
        reasons.append(
            f"little data: {data.examples:,} examples, against the {trained_on:,} this "
            f"evidence was trained on; on the images curve at {nearest:,} examples the "
            f"{FAMILY_LABELS[best]} family leads ({format_metric('accuracy', *at[best])})"
            + (
                ""
                if task == "images"
                else ", evidence from another domain: a warning that the ranking may "
                "change with so little data, not a measurement of it"
            )
        )
        if task == "images":
            considered = [best] + [f for f in considered if f != best]
    return Recommendation(considered[0], task, tuple(reasons), tuple(considered))


def _apply_latency(data: DataDescription, considered, records):
    """The latency step of :func:`recommend`: ``(considered reordered, families within
    the budget, the reason)``, from the speech models' batch-1 latency at
    ``data.length`` measured by the benchmark."""
    latency = latency_table(records)
    ms = {f: latency_at(latency, f, data.length) for f in considered if f in latency}
    if not ms:
        reason = (
            "latency: the results file has no latency cells to judge by (run "
            "`make benchmark BENCHMARK_ARGS='--tasks latency'`)"
        )
        return considered, considered, reason
    where = "on the benchmark's machine (its speech models' timings)"
    steps, budget = f"{data.length:,} steps", f"{data.latency_ms:g} ms"
    fast_enough = [f for f in considered if ms.get(f, math.inf) <= data.latency_ms]
    if not fast_enough:
        fastest = min(ms, key=ms.get)
        reason = (
            f"latency: no family answers {steps} within {budget} {where}; the fastest, "
            f"{FAMILY_LABELS[fastest]}, takes {ms[fastest]:.2f} ms"
        )
        return [fastest] + [f for f in considered if f != fastest], [fastest], reason
    first = considered[0]
    if fast_enough[0] == first:
        reason = (
            f"latency: the {FAMILY_LABELS[first]} family answers {steps} in "
            f"{ms[first]:.1f} ms {where}, within the {budget} allowed"
        )
        return considered, fast_enough, reason
    reason = (
        f"latency: the {FAMILY_LABELS[first]} family needs {ms[first]:.1f} ms for {steps} "
        f"{where}, over the {budget} allowed; the next in line that meets it, the "
        f"{FAMILY_LABELS[fast_enough[0]]} family, needs {ms[fast_enough[0]]:.1f} ms"
    )
    return (
        fast_enough + [f for f in considered if f not in fast_enough],
        fast_enough,
        reason,
    )


def plot_recommendation(advice: Recommendation, records, data: DataDescription):
    """The decision guide's answer as a figure: the reasons on the left, the evidence
    task's scores (mean ± standard deviation) on the right, the recommended family's bar
    outlined. (chapter: Choosing in practice)"""
    import textwrap

    summary = summary_table(records).loc[advice.task]
    metric = summary["metric"].iloc[0]
    fig, (text_ax, ax) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    text_ax.axis("off")
    described = (
        f"{data.kind}, {data.length:,} steps, {data.examples:,} examples, "
        + ("no latency limit" if data.latency_ms is None else f"{data.latency_ms:g} ms")
        + (", streaming" if data.streaming else "")
    )
    lines = [f"Your data: {described}", ""]
    for reason in advice.reasons:
        lines += textwrap.wrap(reason, 66, initial_indent="• ", subsequent_indent="  ")
    text_ax.text(0, 1, "\n".join(lines), va="top", fontsize=9.5, linespacing=1.4)
    text_ax.set_title(
        f"Recommended: {FAMILY_LABELS[advice.family]}", loc="left", fontweight="bold"
    )
    scale = 100 if metric == "error_rate" else 1
    families = list(summary.index)
    ax.bar(
        [
            f"{FAMILY_LABELS[f]}\n{format_metric(metric, summary.loc[f, 'mean'])}"
            for f in families
        ],
        scale * summary["mean"],
        yerr=scale * summary["sd"].fillna(0),
        color=[FAMILY_COLORS[f] for f in families],
        edgecolor=["black" if f == advice.family else "none" for f in families],
        linewidth=2.5,
        capsize=3,
    )
    spread = scale * summary["sd"].fillna(0)
    low = (scale * summary["mean"] - spread).min()
    high = (scale * summary["mean"] + spread).max()
    margin = max(high - low, 0.02 * scale) / 4
    bottom = max(0, low - margin)
    top = high + margin if metric == "error_rate" else min(high + margin, 1.0)
    ax.set_ylim(bottom, top)
    unit = " (%)" if metric == "error_rate" else ""
    ax.set(
        ylabel=f"{METRIC_LABELS[metric]}{unit}"
        + (f" (axis from {bottom:.2g})" if bottom else ""),
        title=f"evidence: {TASK_LABELS[advice.task]}",
    )
    ax.title.set_fontsize(9.5)
    ax.tick_params(axis="x", labelsize=8)
    fig.set_label(f"Decision guide: {FAMILY_LABELS[advice.family]} for {described}")
    fig.tight_layout()
    return fig
