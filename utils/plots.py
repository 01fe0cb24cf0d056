"""The course's figures (chapter: Getting started, and each chapter that draws one).

Every function returns its ``matplotlib`` figure, with labelled axes and units, drawn in the
Okabe-Ito palette, which stays distinguishable under the common forms of colour blindness.
Nothing here changes matplotlib's global style. In a notebook, end the call with ``;`` or assign
the result (``fig = learning_curves(...)``) so the figure is shown once.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch

# Okabe & Ito (2008): black, orange, sky blue, bluish green, yellow, blue, vermillion, purple
OKABE_ITO = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
)
# Series colours: the Okabe-Ito hues that read on white *and* on the book's dark theme (contrast
# at least 3:1 against both, WCAG's rule for graphics; a test checks it). Yellow vanishes on
# white, black on dark, and orange and sky blue are too light for white, so orange is darkened
# and a mid grey takes the last place.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B87800", "#888888")
DARK_BACKGROUND = "#121212"  # the dark theme's page colour, for the contrast test
BASE_COLORS = {
    "A": "#009E73",
    "C": "#0072B2",
    "G": "#B87800",
    "T": "#CC3311",
}  # G, T apart

# ----------------------------------------------------------------------------- helpers


def color(i: int) -> str:
    """The ``i``-th colour of the course palette (cycles)."""
    return PALETTE[i % len(PALETTE)]


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x)


def _histories(histories) -> dict:
    """Accept one History, a list of them, or a ``{name: History}`` dict."""
    if hasattr(histories, "train_loss"):
        return {histories.name: histories}
    if isinstance(histories, dict):
        return histories
    return {h.name or f"model {i}": h for i, h in enumerate(histories)}


# ----------------------------------------------------------------------------- training


def learning_curves(histories, *, metric: bool = True, figsize=None):
    """Loss (and the validation metric) per epoch for one or several models on shared axes:
    solid lines validation, dashed training (chapter: Speech)."""
    histories = _histories(histories)
    ncols = 2 if metric else 1
    fig, axes = plt.subplots(
        1, ncols, figsize=figsize or (5.5 * ncols, 3.8), squeeze=False
    )
    loss_ax = axes[0, 0]
    for i, (name, h) in enumerate(histories.items()):
        epochs = np.arange(1, h.epochs + 1)
        # one epoch: a point, not an invisible line
        marker = "o" if h.epochs == 1 else None
        loss_ax.plot(
            epochs, h.train_loss, "--", marker=marker, color=color(i), alpha=0.7
        )
        loss_ax.plot(epochs, h.val_loss, "-", marker=marker, color=color(i), label=name)
        if metric:
            ax = axes[0, 1]
            ax.plot(
                epochs, h.train_metric, "--", marker=marker, color=color(i), alpha=0.7
            )
            ax.plot(
                epochs, h.val_metric, "-", marker=marker, color=color(i), label=name
            )
            if h.best_epoch is not None:
                ax.plot(
                    h.best_epoch + 1, h.val_metric[h.best_epoch], "o", color=color(i)
                )
    kinds = sorted({getattr(h, "loss", "cross-entropy") for h in histories.values()})
    loss_name = " / ".join(kinds) or "cross-entropy"
    loss_ax.set(xlabel="epoch", ylabel=f"loss ({loss_name}, nats)", title="Loss")
    loss_ax.legend(title="solid: validation\ndashed: training", fontsize="small")
    if metric:
        name = next(iter(histories.values())).metric if histories else "metric"
        axes[0, 1].set(
            xlabel="epoch",
            ylabel=name.replace("_", " "),
            title=name.replace("_", " ").capitalize(),
        )
        axes[0, 1].legend(fontsize="small")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    cm, class_names, *, normalize: bool = True, ax=None, title: str = ""
):
    """A confusion matrix as a heat map, true class down, predicted class across; with
    ``normalize`` each row shows the fraction of that class (chapter: Speech)."""
    cm = _numpy(cm).astype(float)
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = len(class_names)
    fig, ax = (
        (ax.figure, ax)
        if ax is not None
        else plt.subplots(figsize=(1 + 0.45 * n, 0.8 + 0.45 * n))
    )
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                text = f"{values[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                dark = values[i, j] > 0.6 * values.max()
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    ax.set_xticks(
        range(n),
        class_names,
        rotation=45 if max(map(len, map(str, class_names))) > 2 else 0,
    )
    ax.set_yticks(range(n), class_names)
    ax.set(
        xlabel="predicted class", ylabel="true class", title=title or "Confusion matrix"
    )
    fig.colorbar(
        image, ax=ax, label="fraction of true class" if normalize else "examples"
    )
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- inputs


def spectrogram(
    features,
    *,
    hop_seconds: float | None = None,
    waveform=None,
    sample_rate=None,
    title: str = "",
    feature_label: str = "mel band",
):
    """A log-mel spectrogram ``[T, F]`` (time along x, frequency up), with the waveform above it
    when given (chapter: Speech). ``hop_seconds`` converts frames to seconds."""
    features = _numpy(features)
    rows = 2 if waveform is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(6, 2.2 * rows + 0.6), squeeze=False)
    if waveform is not None:
        if sample_rate is None:
            raise ValueError("a waveform needs its sample_rate (e.g. 8000 for FSDD)")
        wave = _numpy(waveform)
        ax = axes[0, 0]
        ax.plot(np.arange(len(wave)) / sample_rate, wave, color=color(4), lw=0.6)
        ax.set(xlabel="time (s)", ylabel="amplitude", title=title or "Waveform")
        ax.set_xlim(0, len(wave) / sample_rate)
    ax = axes[-1, 0]
    T = features.shape[0]
    extent = (0, T * hop_seconds if hop_seconds else T, 0, features.shape[1])
    image = ax.imshow(
        features.T, origin="lower", aspect="auto", cmap="magma", extent=extent
    )
    ax.set(xlabel="time (s)" if hop_seconds else "time (frames)", ylabel=feature_label)
    ax.set_title("Log-mel spectrogram" if waveform is not None or not title else title)
    fig.colorbar(image, ax=ax, label="log power (normalised)")
    fig.tight_layout()
    return fig


def audio_player(waveform, sample_rate: int):
    """An audio player for a notebook (``IPython.display.Audio``) (chapter: Speech)."""
    from IPython.display import Audio

    return Audio(_numpy(waveform), rate=sample_rate, normalize=True)


def image_grid(images, labels, predictions=None, *, class_names=None, ncols: int = 8):
    """Images ``[N, C, H, W]`` or ``[N, H, W]`` in a grid, titled with the label (and prediction:
    blue when right, vermillion with a cross when wrong) (chapter: Images)."""
    images = _numpy(images)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    labels = _numpy(labels).astype(int)
    n = len(images)
    nrows = -(-n // ncols)
    # a wrong prediction's title has 2 lines
    row_height = 1.55 if predictions is None else 1.8
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(1.3 * ncols, row_height * nrows), squeeze=False
    )
    name = (lambda k: str(class_names[k])) if class_names is not None else str
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r" if images.ndim == 3 else None)
        if predictions is None:
            ax.set_title(name(labels[i]), fontsize=8)
        else:
            p = int(_numpy(predictions)[i])
            right = p == labels[i]
            text = name(p) if right else f"✗ {name(p)}\n(true {name(labels[i])})"
            ax.set_title(
                text, fontsize=7, color=OKABE_ITO[5] if right else OKABE_ITO[6]
            )
    title = (
        "each image titled with its class"
        if predictions is None
        else "prediction (✗: wrong)"
    )
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- DNA


def _logo(matrix, ax, title="", ylabel="information (bits)"):
    import logomaker  # imported here: only logo figures need it
    import pandas as pd

    frame = pd.DataFrame(_numpy(matrix).astype("float64"), columns=list("ACGT"))
    logomaker.Logo(frame, ax=ax, color_scheme=BASE_COLORS, show_spines=False)
    ax.set(xlabel="position (bases)", ylabel=ylabel, title=title)
    return ax


def filter_logos(pfms, *, titles=None, ncols: int = 4, background: float = 0.25):
    """Sequence logos of what first-layer filters learned, from position frequency matrices
    ``[filters, k, 4]`` (see :func:`utils.interpret.filter_pfms`) (chapter: DNA)."""
    from utils.interpret import information_content

    pfms = torch.as_tensor(pfms)
    n = len(pfms)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols, 1.9 * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        _logo(
            information_content(pfms[i], background),
            ax,
            titles[i] if titles else f"filter {i}",
        )
        ax.set_ylim(0, 2)
    fig.tight_layout()
    return fig


def saliency_logo(
    onehot, contribution, *, start: int = 0, end: int | None = None, title: str = ""
):
    """Saliency along a DNA sequence: each base drawn as tall as its contribution (gradient x
    input, :func:`utils.interpret.saliency`), below the axis when it argues against the class
    (chapter: DNA). ``onehot`` ``[4, L]``; ``contribution`` ``[4, L]`` or ``[L]``."""
    onehot, contribution = _numpy(onehot), _numpy(contribution)
    if contribution.ndim == 1:
        contribution = onehot * contribution[None, :]
    matrix = contribution[:, start:end].T  # (positions, 4)
    fig, ax = plt.subplots(figsize=(min(16, 0.12 * len(matrix) + 2), 2.4))
    _logo(
        matrix,
        ax,
        title or "Saliency (gradient x input)",
        ylabel="contribution (logit units)",
    )
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{int(t) + start}" for t in ticks])
    ax.set_xlim(-0.5, len(matrix) - 0.5)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- architecture


def plot_receptive_field(
    kernel_sizes, dilations=None, *, causal: bool = True, length: int | None = None
):
    """Which inputs one output unit sees through a stack of 1-D convolutions (chapter:
    Convolutional networks). Rows are layers (input at the bottom), dots are positions, and the
    highlighted units are those the top-right output depends on."""
    from utils.models.cnn import receptive_field as field_size

    n = len(kernel_sizes)
    dilations = dilations or [1] * n
    size = field_size(kernel_sizes, dilations)
    length = length or size + 4
    top = length - 1 if causal else length // 2
    used = [{top}]  # positions used at each layer, from the output down
    edges = []
    for layer in reversed(range(n)):
        k, d = kernel_sizes[layer], dilations[layer]
        offsets = (
            [-(k - 1 - j) * d for j in range(k)]
            if causal
            else [(j - k // 2) * d for j in range(k)]
        )
        below = set()
        for p in used[-1]:
            for o in offsets:
                if 0 <= p + o < length:
                    below.add(p + o)
                    edges.append((layer, p + o, p))
        used.append(below)
    used.reverse()  # used[0]: input layer
    fig, ax = plt.subplots(figsize=(max(5, 0.28 * length + 1), 0.9 * (n + 1) + 0.8))
    for layer, p_below, p_above in edges:
        ax.plot(
            [p_below, p_above], [layer, layer + 1], color=color(0), lw=0.8, alpha=0.8
        )
    for level in range(n + 1):
        xs = np.arange(length)
        on = np.isin(xs, sorted(used[level]))
        ax.scatter(
            xs[~on], np.full((~on).sum(), level), s=18, color="#BBBBBB", zorder=2
        )
        ax.scatter(xs[on], np.full(on.sum(), level), s=24, color=color(4), zorder=3)
    ax.set_yticks(
        range(n + 1),
        ["input"] + [f"layer {i + 1} (d={dilations[i]})" for i in range(n)],
    )
    ax.set_xlabel("position (time steps)")
    # positions are whole steps
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_title(f"Receptive field: {size} steps")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- results


def results_scatter(
    results,
    *,
    x: str = "parameters",
    y: str = "accuracy",
    size: str | None = "train_seconds",
):
    """One point per model: ``y`` against ``x`` (log scale), marker area proportional to ``size``
    (chapter: Choosing between RNNs and CNNs). ``results`` is a list of dicts with a ``"name"``."""
    labels = {
        "parameters": "parameters (count, log scale)",
        "train_seconds": "training time (s, log scale)",
        "latency_ms": "latency at batch 1 (ms, log scale)",
        "accuracy": "test accuracy (fraction)",
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = (
        np.array([r[size] for r in results], dtype=float)
        if size
        else np.ones(len(results))
    )
    area = 40 + 360 * sizes / sizes.max()
    for i, r in enumerate(results):
        ax.scatter(
            r[x], r[y], s=area[i], color=color(i), alpha=0.8, edgecolor="black", lw=0.5
        )
        ax.annotate(
            r["name"],
            (r[x], r[y]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set(xlabel=labels.get(x, x), ylabel=labels.get(y, y))
    if size:
        ax.set_title(
            f"marker area: {labels.get(size, size).split(' (')[0]}", fontsize=9
        )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def results_bars(
    results,
    *,
    key: str = "accuracy",
    ylabel: str | None = None,
    lower: float | None = None,
):
    """A bar per model for one number (accuracy, seconds per epoch, ...) (chapter: Choosing
    between RNNs and CNNs). ``lower`` starts the y axis there to show small differences
    (labelled)."""
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(results) + 1.5), 3.6))
    names = [r["name"] for r in results]
    values = [r[key] for r in results]
    bars = ax.bar(
        names,
        values,
        color=[color(i) for i in range(len(results))],
        edgecolor="black",
        lw=0.5,
    )
    ax.bar_label(bars, fmt="%.3g", fontsize=8)
    label = ylabel or key.replace("_", " ")
    if lower is not None:
        ax.set_ylim(bottom=lower)
        label += f" (axis from {lower:g})"
    ax.set(xlabel="model", ylabel=label)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- chapter: Images


def plot_filters(weights, *, ncols: int = 8, title: str = "First-layer filters"):
    """Convolution kernels ``[filters, 1, k, k]`` as small images, one colour scale shared by all,
    orange for positive weights and purple for negative ones, white at zero (chapter: Images)."""
    w = _numpy(weights)
    if w.ndim != 4 or w.shape[1] != 1:
        raise ValueError(
            f"expected the kernels of a convolution on one-channel images [filters, 1, k, k], "
            f"got {list(w.shape)}: pass conv.weight of the first layer"
        )
    n = len(w)
    nrows = -(-n // ncols)
    limit = np.abs(w).max() or 1.0
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(0.9 * ncols + 1.2, 0.95 * nrows + 0.5)
    )
    axes = np.atleast_1d(axes).reshape(nrows, ncols)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        image = ax.imshow(w[i, 0], cmap="PuOr_r", vmin=-limit, vmax=limit)
        ax.set_title(f"{i}", fontsize=7)
    fig.colorbar(image, ax=axes, label="weight", shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_feature_maps(image, maps, *, ncols: int = 8, title: str = "Feature maps"):
    """One image ``[H, W]`` (or ``[1, H, W]``) beside what each channel of a layer made of it,
    ``maps`` ``[channels, h, w]``; each map on its own colour scale, dark = strong response
    (chapter: Images)."""
    image, maps = _numpy(image), _numpy(maps)
    image = image[0] if image.ndim == 3 else image
    if maps.ndim != 3:
        raise ValueError(
            f"expected one image's maps [channels, h, w], got {list(maps.shape)}"
        )
    n = len(maps)
    nrows = -(-n // ncols)
    fig = plt.figure(figsize=(1.1 * ncols + 2.6, 1.15 * nrows + 0.6))
    grid = fig.add_gridspec(nrows, ncols + 2)
    ax = fig.add_subplot(grid[: min(nrows, 2), :2])
    ax.imshow(image, cmap="gray_r")
    ax.set_title("input", fontsize=9)
    ax.axis("off")
    for i in range(n):
        ax = fig.add_subplot(grid[i // ncols, 2 + i % ncols])
        ax.imshow(maps[i], cmap="gray_r")
        ax.set_title(f"channel {i}", fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy_against(
    values,
    curves: dict,
    *,
    xlabel: str,
    title: str = "",
    ylabel: str = "accuracy (fraction)",
    chance: float | None = None,
    colors: dict | None = None,
    ax=None,
):
    """One line per model: accuracy (or any score) against a setting such as a shift in pixels,
    an angle or a number of rows read, ``curves`` ``{name: [score per value]}`` (chapter:
    Images). ``chance`` draws the accuracy of guessing as a dotted line; ``colors``
    ``{name: colour}`` keeps a family's colour the same across figures (default: the palette
    in order). Each line also gets its own marker and dash pattern, so that two lines with
    the same scores (say, two models at chance) stay visible one over the other."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 3.6))
    markers, dashes = "osD^v", ("-", "--", "-.", ":")
    for i, (name, ys) in enumerate(curves.items()):
        if len(ys) != len(values):
            raise ValueError(
                f"{name}: {len(ys)} scores for {len(values)} values of {xlabel!r}"
            )
        line_color = (colors or {}).get(name, color(i))
        style = dict(marker=markers[i % len(markers)], ls=dashes[i % len(dashes)])
        ax.plot(
            values, ys, color=line_color, label=name, ms=4 + i % 3, mfc="none", **style
        )
    if chance is not None:
        ax.axhline(chance, color="#888888", ls=":", lw=1, label="chance")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ chapters: Foundations


def plot_time_against_length(
    times: dict, *, title: str = "", what: str = "forward + backward"
):
    """Seconds per pass against sequence length, log-log, one line per model (chapter: Choosing
    between RNNs and CNNs). ``times`` is ``{model name: {length: seconds}}``; a dotted grey line
    of slope 1 shows what "cost grows in proportion to length" looks like."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    markers = "osD^v<>"
    for i, (name, by_length) in enumerate(times.items()):
        lengths = sorted(by_length)
        seconds = [1000 * by_length[n] for n in lengths]
        ax.plot(lengths, seconds, marker=markers[i % 7], color=color(i), label=name)
    all_lengths = sorted({n for by_length in times.values() for n in by_length})
    if all_lengths:
        first = min(1000 * min(b.values()) for b in times.values())
        ax.plot(
            all_lengths,
            [first * n / all_lengths[0] for n in all_lengths],
            ":",
            color="#888888",
            label="proportional to length",
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="sequence length (steps, log scale)",
        ylabel=f"{what} time (ms, log scale)",
        title=title,
    )
    ax.set_xticks(all_lengths, [f"{n:,}" for n in all_lengths])
    ax.minorticks_off()
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms: dict, *, title: str = "", ax=None):
    """Gradient norm at each time step's input, log scale, one line per model (chapter:
    Recurrent networks). ``norms`` is ``{name: tensor [T]}``, e.g. from
    :func:`utils.dynamics.gradient_norms`; the loss reads the last step, on the right."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (name, norm) in enumerate(norms.items()):
        values = _numpy(norm)
        # a gradient below float range: no point
        values = np.where(values > 0, values, np.nan)
        ax.plot(np.arange(len(values)), values, color=color(i), label=name, lw=1.5)
    ax.set(
        yscale="log",
        xlabel="time step (the loss reads the last one)",
        ylabel="gradient norm at the input (log scale)",
        title=title,
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(fontsize="small")
    if fig is not None:
        fig.tight_layout()
    return fig or ax.figure


def plot_against_length(
    results: dict,
    *,
    ylabel: str,
    baseline: float | None = None,
    baseline_label: str = "",
    title: str = "",
    log: bool = False,
):
    """One line per family of a score against sequence length (chapter: Recurrent networks).
    ``results`` is ``{family: {length: value}}``; ``baseline`` draws a dashed reference line
    (for example the error of always answering the mean)."""
    fig, ax = plt.subplots(figsize=(7.6, 3.8))
    markers = "osD^v<>"
    for i, (name, by_length) in enumerate(results.items()):
        lengths = sorted(by_length)
        ax.plot(
            lengths,
            [by_length[n] for n in lengths],
            marker=markers[i % 7],
            color=color(i),
            label=name,
        )
    if baseline is not None:
        ax.axhline(
            baseline, color="#888888", ls="--", label=baseline_label or "baseline"
        )
    ax.set(xlabel="sequence length (steps)", ylabel=ylabel, title=title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    # beside the data
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_diagram(
    boxes: dict, arrows, *, title: str = "", figsize=(9, 5), description: str = ""
):
    """A box-and-arrow diagram: a flowchart or a cell's wiring (chapters: Choosing between RNNs
    and CNNs, Recurrent networks).

    ``boxes`` maps a name to ``(x, y, text)`` or ``(x, y, text, style)`` in axes coordinates
    (0 to 1), style ``"question"`` (outlined), ``"answer"`` (filled with a palette colour
    ``"answer:<i>"``) or ``"op"`` (a small circle, for ``×``, ``+``, ``σ``). ``arrows`` is a list
    of ``(from, to)`` or ``(from, to, label)``. ``description`` becomes the figure's alt text.
    """
    fig, ax = plt.subplots(figsize=figsize)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.axis("off")
    patches = {}
    for name, (x, y, text, *style) in boxes.items():
        style = style[0] if style else "question"
        if style.startswith("answer"):
            index = int(style.split(":")[1]) if ":" in style else 0
            bbox = dict(boxstyle="round,pad=0.4", fc=color(index), ec="black", lw=0.6)
            patches[name] = ax.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                fontsize=9,
                color="white",
                bbox=bbox,
                fontweight="bold",
            )
        elif style == "op":
            bbox = dict(boxstyle="circle,pad=0.25", fc="white", ec=color(0), lw=1.2)
            patches[name] = ax.text(
                x, y, text, ha="center", va="center", fontsize=10, bbox=bbox
            )
        else:
            bbox = dict(boxstyle="round,pad=0.4", fc="white", ec=color(0), lw=1.2)
            patches[name] = ax.text(
                x, y, text, ha="center", va="center", fontsize=9, bbox=bbox
            )
    fig.canvas.draw()  # the boxes need a size before arrows can stop at their edges
    for a, b, *label in arrows:
        (xa, ya), (xb, yb) = boxes[a][:2], boxes[b][:2]
        if abs(yb - ya) >= abs(xb - xa) / 2:  # mostly vertical: bottom edge to top edge
            start, end = ((0.5, 0), (0.5, 1)) if yb < ya else ((0.5, 1), (0.5, 0))
        else:  # mostly horizontal: side to side
            start, end = ((1, 0.5), (0, 0.5)) if xb > xa else ((0, 0.5), (1, 0.5))
        arrow = ax.annotate(
            "",
            xy=end,
            xycoords=patches[b],
            xytext=start,
            textcoords=patches[a],
            arrowprops=dict(
                arrowstyle="-|>", color="#555555", lw=1.1, shrinkA=2, shrinkB=2
            ),
        )
        if label:
            ax.text(
                (xa + xb) / 2,
                (ya + yb) / 2,
                label[0],
                fontsize=8,
                ha="center",
                va="center",
                color=color(1),
                bbox=dict(fc="white", ec="none", pad=0.5),
            )
        del arrow
    if title:
        ax.set_title(title)
    fig.set_label(description or title)
    return fig


# what a stage of a hybrid does -> (box style of plot_diagram, columns it spans, legend entry)
PIPELINE_STAGES = {
    "input": ("question", 1, None),
    "output": ("question", 1, None),
    "convolution": ("answer:1", 1, "convolutional stage"),
    "recurrence": ("answer:0", 1, "recurrent stage"),
    "convolutional recurrence": (
        "answer:2",
        2,
        "one cell: a recurrence whose gates convolve",
    ),
}


def plot_pipelines(rows: dict, *, title: str = "", figsize=None, description: str = ""):
    """One row of boxes per architecture, left to right, coloured by what each stage does
    (chapter: Hybrids).

    ``rows`` maps a name to its stages ``[(text, kind), ...]``, ``kind`` one of
    ``PIPELINE_STAGES``: outlined input and output, orange convolution, blue recurrence, and a
    green ``"convolutional recurrence"`` (a ConvLSTM cell) that spans both middle columns,
    because it is both stages in one. Every row must span the same number of columns.
    """
    unknown = {kind for stages in rows.values() for _, kind in stages} - set(
        PIPELINE_STAGES
    )
    if unknown:
        raise ValueError(
            f"unknown stage kinds {sorted(unknown)}; use {list(PIPELINE_STAGES)}"
        )
    spans = {
        name: sum(PIPELINE_STAGES[k][1] for _, k in st) for name, st in rows.items()
    }
    if len(set(spans.values())) > 1:
        raise ValueError(f"every row must span the same number of columns, got {spans}")
    columns = next(iter(spans.values()), 1)
    step = 0.8 / max(columns - 1, 1)  # column centres from x = 0.1 to 0.9
    boxes, arrows = {}, []
    for i, (name, stages) in enumerate(rows.items()):
        y = 0.88 - 0.8 * i / max(len(rows) - 1, 1)
        column = 0
        for j, (text, kind) in enumerate(stages):
            style, span, _ = PIPELINE_STAGES[kind]
            # a box spanning 2 sits between them
            x = 0.1 + step * (column + (span - 1) / 2)
            boxes[f"{i}.{j}"] = (x, y, f"{name}:\n{text}" if j == 0 else text, style)
            column += span
        arrows += [(f"{i}.{j}", f"{i}.{j + 1}") for j in range(len(stages) - 1)]
    fig = plot_diagram(
        boxes,
        arrows,
        title=title,
        figsize=figsize or (10, 1.6 * len(rows) + 0.5),
        description=description,
    )
    used = {PIPELINE_STAGES[k] for stages in rows.values() for _, k in stages}
    handles = [
        Patch(fc=color(int(style.split(":")[1])), ec="black", lw=0.6, label=label)
        for style, _, label in PIPELINE_STAGES.values()
        if label and (style, _, label) in used
    ]
    fig.axes[0].legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, -0.08),
        ncol=len(handles),
        fontsize="small",
        frameon=False,
    )
    return fig


def plot_kernels_1d(
    kernels, *, patterns=None, ncols: int = 8, title: str = "Learned kernels"
):
    """First-layer 1-D kernels ``[filters, 1, k]`` as small line plots, beside the patterns
    the data were built from (``[K, width]``, optional) (chapter: Convolutional networks)."""
    w = _numpy(kernels)
    if w.ndim != 3 or w.shape[1] != 1:
        raise ValueError(
            f"expected the kernels of a 1-D convolution on one channel [filters, 1, k], got "
            f"{list(w.shape)}: pass conv.weight of the first layer"
        )
    rows = [("kernel", k[0]) for k in w]
    if patterns is not None:
        rows = [(f"pattern {i}", p) for i, p in enumerate(_numpy(patterns))] + rows
    n = len(rows)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(1.2 * ncols + 0.6, 1.15 * nrows + 0.6),
        squeeze=False,
        sharex=True,
    )
    kernel_index = 0
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        kind, values = rows[i]
        is_pattern = kind.startswith("pattern")
        ax.plot(values, color=color(1 if is_pattern else 0), lw=1.5, marker=".", ms=3)
        ax.axhline(0, color="#888888", lw=0.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(kind if is_pattern else f"kernel {kernel_index}", fontsize=7)
        kernel_index += 0 if is_pattern else 1
    for ax in axes[:, 0]:
        ax.set_ylabel("weight", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_ctc_alignment(
    features,
    log_probs,
    *,
    frame_seconds: float,
    class_names,
    decoded=None,
    title: str = "",
):
    """A spectrogram ``[T, F]`` above a CTC model's per-step posteriors ``[T', C + 1]`` (the
    blank last, drawn grey), on one time axis in seconds (chapter: Hybrids)."""
    features, probs = _numpy(features), np.exp(_numpy(log_probs))
    T, steps = features.shape[0], probs.shape[0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
    top.imshow(
        features.T,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, T * frame_seconds, 0, features.shape[1]),
    )
    top.set(
        xlabel="time (s)",
        ylabel="mel band",
        title=title or "Log-mel spectrogram and CTC posteriors",
    )
    # each step's centre in seconds
    t = (np.arange(steps) + 0.5) * T * frame_seconds / steps
    bottom.fill_between(t, probs[:, -1], color="#999999", alpha=0.35, label="blank")
    for c, name in enumerate(class_names):
        if probs[:, c].max() > 0.2:
            bottom.plot(t, probs[:, c], color=color(c), lw=1.4, label=name)
    bottom.set(xlabel="time (s)", ylabel="P(symbol | step)", ylim=(0, 1.05))
    bottom.legend(
        ncol=6, fontsize=8, loc="upper right", title="digit", title_fontsize=8
    )
    if decoded is not None:
        bottom.set_title(f"decoded: {' '.join(class_names[d] for d in decoded)}")
    fig.tight_layout()
    fig.set_label(
        "Spectrogram of a spoken digit string above the model's per-step probabilities: "
        "sharp spikes for each digit separated by long stretches of blank"
    )
    return fig
