"""Build any architecture for any task by name, sized from the task's metadata
(chapter: Choosing between RNNs and CNNs).

``build_model("crnn", spec)`` reads ``spec.layout`` and ``spec.input_shape`` to size the first
layer, ``spec.num_classes`` to size the last, and wraps the model in a :class:`LayoutAdapter`
when the task's layout is not the one the family reads:

=================  =====================  =======================  ==========================
family reads       ``"image"`` [B,C,H,W]  ``"sequence"`` [B,T,F]   ``"dna"`` [B,4,L]
=================  =====================  =======================  ==========================
sequence [B,T,F]   rows: [B, H, C*W]      as is (+ lengths)        [B, L, 4]
channels [B,C,L]   rows: [B, C*W, H]      [B, F, T] (+ lengths)    as is
image [B,C,H,W]    as is                  [B, 1, F, T] (+ lengths) [B, 1, 4, L]
=================  =====================  =======================  ==========================

``width`` scales every layer's size (channels, hidden units) by the same factor;
:func:`match_parameters` searches for the width that hits a parameter budget.
"""

from __future__ import annotations

import torch
from torch import nn

from utils.models.cnn import TCN, CNN1d, CNN2d
from utils.models.common import require_shape
from utils.models.hybrid import (
    CRNN,
    CTCBiGRU,
    CTCConvBiGRU,
    CTCConvNet,
    CTCRecognizer,
    DanQ,
)
from utils.models.rnn import RNNClassifier
from utils.models.transformer import TransformerClassifier

# ----------------------------------------------------------------------------- helpers

LAYOUT_NAMES = {
    "image": "[batch, channels, height, width] images",
    "sequence": "[batch, time, features] sequences",
    "dna": "[batch, 4, length] one-hot DNA",
}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters (chapter: Choosing between RNNs and CNNs)."""
    return sum(
        p.numel() for p in model.parameters() if p.requires_grad or not trainable_only
    )


def _scale(n: int, width: float) -> int:
    return max(1, round(n * width))


def _time_length(spec) -> int:
    """Length of the axis a family would read as time: T, image height (rows) or DNA length."""
    return {
        "image": spec.input_shape[1],
        "sequence": spec.input_shape[0],
        "dna": spec.input_shape[1],
    }[spec.layout]


# ----------------------------------------------------------------------------- classes


class LayoutAdapter(nn.Module):
    """Check a batch against the task's layout, rearrange it into what ``model`` reads
    (``"sequence"``, ``"channels"`` or ``"image"``, see the module docstring) and call the model.
    ``forward(x, lengths=None)`` returns whatever ``model`` returns.

    Only the axes the architecture needs are fixed: the channels and features, never the length
    (time steps, bases, image rows), which convolutions, recurrence and global pooling all handle.
    A model whose head flattens (``CNN2d(head="flatten")``, the ``cnn1d_flat`` family) checks its
    own fixed size.
    """

    def __init__(
        self, model: nn.Module, layout: str, input_shape: tuple[int, ...], reads: str
    ):
        super().__init__()
        self.model, self.layout, self.reads = model, layout, reads
        self.input_shape = tuple(input_shape)

    def fixed_axes(self) -> tuple[dict[int, int], str]:
        """``{axis: size}`` every batch must match, and what that means in words."""
        if self.layout == "sequence":
            return {2: self.input_shape[1]}, f"{self.input_shape[1]} features per step"
        if self.layout == "dna":
            return {1: 4}, "any length"
        C, _, W = self.input_shape
        if self.reads == "image":  # the 2-D model checks height (and width) itself
            return {1: C}, f"{C} channel(s)"
        return {1: C, 3: W}, f"{C} channel(s), rows of {W} pixels read in order"

    def forward(self, x, lengths=None):
        fixed, details = self.fixed_axes()
        expected = f"{LAYOUT_NAMES[self.layout]} with {details}"
        require_shape(x, expected, len(self.input_shape) + 1, fixed)
        if x.dtype != torch.float32:
            # data stored compactly (float16, uint8) -> the weights' float32
            x = x.float()
        x, lengths = self.rearrange(x, lengths)
        return self.model(x, lengths)

    def rearrange(self, x, lengths):
        """The layout change on its own, ``(x, lengths)`` -> ``(x, lengths)``."""
        layout, reads = self.layout, self.reads
        if layout == "image":
            lengths = None
            if reads == "sequence":
                # (B, C, H, W) -> (B, H, C*W): rows in order
                x = x.permute(0, 2, 1, 3).flatten(2)
            elif reads == "channels":
                # (B, C, H, W) -> (B, C*W, H): rows as steps
                x = x.permute(0, 1, 3, 2).flatten(1, 2)
        elif layout == "sequence":
            if reads == "channels":
                x = x.transpose(1, 2)  # (B, T, F) -> (B, F, T)
            elif reads == "image":
                # (B, T, F) -> (B, 1, F, T): frequency up, time across
                x = x.transpose(1, 2).unsqueeze(1)
        else:  # dna
            lengths = None
            if reads == "sequence":
                x = x.transpose(1, 2)  # (B, 4, L) -> (B, L, 4)
            elif reads == "image":
                x = x.unsqueeze(1)  # (B, 4, L) -> (B, 1, 4, L)
        return x, lengths

    def extra_repr(self) -> str:
        return f"layout={self.layout!r}, input_shape={self.input_shape}, reads={self.reads!r}"


# ----------------------------------------------------------------------------- the builder


def _reader_shape(spec, reads):
    """Shape of one example after the layout change, without the batch axis."""
    s, layout = spec.input_shape, spec.layout
    if layout == "image":
        C, H, W = s
        return {"sequence": (H, C * W), "channels": (C * W, H), "image": s}[reads]
    if layout == "sequence":
        T, F = s
        return {"sequence": s, "channels": (F, T), "image": (1, F, T)}[reads]
    L = s[1]  # dna: (4, L)
    return {"sequence": (L, 4), "channels": s, "image": (1, 4, L)}[reads]


def _long_frames(spec, kw):
    """Long frame sequences (speech at 100 frames per second): average pairs of frames first."""
    if spec.layout == "sequence" and spec.input_shape[0] > 64:
        return {"downsample": 2} | kw
    return kw


def _rnn(cell, bidirectional):
    def make(shape, classes, spec, width, **kw):
        kw = {
            "cell": cell,
            "bidirectional": bidirectional,
            "hidden_size": _scale(64, width),
        } | kw
        return RNNClassifier(shape[1], classes, **_long_frames(spec, kw))

    return "sequence", make


def _cnn1d(shape, classes, spec, width, **kw):
    if spec.layout == "dna":  # a wide first kernel to catch motifs, then pool hard
        kw = {
            "channels": (64, 64, 64),
            "kernel_size": (15, 5, 5),
            "pool": (4, 2, 2),
        } | kw
    kw = {"channels": (32, 64, 64)} | kw
    kw["channels"] = tuple(_scale(c, width) for c in kw["channels"])
    return CNN1d(shape[0], classes, **kw)


def _cnn1d_flat(shape, classes, spec, width, **kw):
    """The 1-D CNN with a flattening head: it keeps where each pattern was (chapter: DNA)."""
    return _cnn1d(
        shape,
        classes,
        spec,
        width,
        **({"head": "flatten", "input_length": shape[1]} | kw),
    )


def _cnn2d(shape, classes, spec, width, **kw):
    kw = {"channels": tuple(_scale(c, width) for c in (16, 32, 64))} | kw
    return CNN2d(shape[0], classes, input_size=shape[1:], **_long_frames(spec, kw))


def _tcn(shape, classes, spec, width, **kw):
    levels, kernel = 1, kw.get("kernel_size", 3)
    while 1 + 2 * (kernel - 1) * (2**levels - 1) < shape[1] and levels < 8:
        levels += 1  # grow until one output step sees the whole input
    kw = {"channels": _scale(48, width), "levels": levels} | kw
    return TCN(shape[0], classes, **kw)


def _crnn(shape, classes, spec, width, **kw):
    kw = {
        "channels": tuple(_scale(c, width) for c in (16, 32, 48)),
        "hidden_size": _scale(64, width),
    } | kw
    return CRNN(shape[0], classes, input_height=shape[1], **_long_frames(spec, kw))


def _ctc_crnn(shape, classes, spec, width, **kw):
    kw = {
        "channels": tuple(_scale(c, width) for c in (16, 32, 48)),
        "hidden_size": _scale(64, width),
    } | kw
    return CTCRecognizer(shape[0], classes, input_height=shape[1], **kw)


def _ctc_cnn(shape, classes, spec, width, **kw):
    kw = {"channels": tuple(_scale(c, width) for c in (64, 64, 96, 96))} | kw
    return CTCConvNet(shape[0], classes, **kw)


def _ctc_crnn_1d(shape, classes, spec, width, **kw):
    kw = {
        "channels": tuple(_scale(c, width) for c in (64, 64)),
        "hidden_size": _scale(64, width),
    } | kw
    return CTCConvBiGRU(shape[0], classes, **kw)


def _ctc_rnn(shape, classes, spec, width, **kw):
    return CTCBiGRU(shape[1], classes, **({"hidden_size": _scale(64, width)} | kw))


def _danq(shape, classes, spec, width, **kw):
    kw = {"conv_channels": _scale(96, width), "hidden_size": _scale(48, width)} | kw
    if spec.layout != "dna":
        kw = {
            "kernel_size": 5,
            "pool": 2,
        } | kw  # frames/rows: short patterns, short sequences
    return DanQ(classes, in_channels=shape[0], **kw)


def _transformer(shape, classes, spec, width, **kw):
    """Tokens of a few steps each on long inputs; the feed-forward width absorbs the rounding
    of ``d_model`` to a multiple of the heads, so the parameter count grows smoothly with
    ``width`` and :func:`match_parameters` can hit a budget."""
    if spec.layout == "dna":  # motif-sized kernels, one token per 4 bases: 251 bp -> 63
        kw = {"kernel_size": 9, "patch": 4} | kw
    elif (
        spec.layout == "sequence" and spec.input_shape[0] > 64
    ):  # speech: 101 frames -> 51
        kw = {"kernel_size": 3, "patch": 2} | kw
    heads = kw.setdefault("heads", 4)
    exact = 64 * width  # the unrounded model size; 4 * d^2 + 2 * d * ff per layer
    d_model = kw.setdefault("d_model", heads * max(1, round(exact / heads)))
    # = 2 * exact when exact
    feedforward = (8 * exact**2 - 4 * d_model**2) / (2 * d_model)
    kw = {"feedforward": max(1, round(feedforward))} | kw
    return TransformerClassifier(shape[1], classes, **kw)


# name -> (what the family reads, constructor taking (shape, classes, spec, width, **overrides))
ARCHITECTURES = {
    "rnn": _rnn("rnn", False),
    "lstm": _rnn("lstm", False),
    "gru": _rnn("gru", False),
    "bilstm": _rnn("lstm", True),
    "bigru": _rnn("gru", True),
    "cnn1d": ("channels", _cnn1d),
    "cnn1d_flat": ("channels", _cnn1d_flat),
    "tcn": ("channels", _tcn),
    "cnn2d": ("image", _cnn2d),
    "crnn": ("image", _crnn),
    "danq": ("channels", _danq),
    "transformer": ("sequence", _transformer),
    "ctc_crnn": ("image", _ctc_crnn),
    "ctc_cnn": ("channels", _ctc_cnn),
    "ctc_rnn": ("sequence", _ctc_rnn),
    "ctc_crnn_1d": ("channels", _ctc_crnn_1d),
}


def build_model(arch: str, spec, *, width: float = 1.0, **overrides) -> nn.Module:
    """Build architecture ``arch`` (a key of ``ARCHITECTURES``) for the task described by ``spec``
    (a :class:`~utils.data.spec.TaskSpec`) (chapter: Choosing between RNNs and CNNs).

    Returns a model with ``forward(x, lengths=None)`` taking the task's own layout. ``width``
    scales the default layer sizes; ``overrides`` go to the model class (e.g. ``hidden_size=32``,
    ``pooling="attention"``, ``head="global_pool"``) and win over the defaults.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}"
        )
    reads, make = ARCHITECTURES[arch]
    shape = _reader_shape(spec, reads)
    model = make(shape, spec.num_classes, spec, width, **overrides)
    return LayoutAdapter(model, spec.layout, spec.input_shape, reads)


def match_parameters(
    arch: str, spec, target: int, *, tolerance: float = 0.05, **overrides
) -> nn.Module:
    """Build ``arch`` with the ``width`` whose parameter count is closest to ``target``, so that
    families are compared at the same budget (chapter: Choosing between RNNs and CNNs).

    Bisects the width (parameter count grows with it); stops within ``tolerance`` of the target.
    """
    low, high = 1 / 64, 16.0
    best = None
    for _ in range(40):
        mid = (
            low * high
        ) ** 0.5  # bisect in log-space: widths span orders of magnitude
        model = build_model(arch, spec, width=mid, **overrides)
        n = count_parameters(model)
        if best is None or abs(n - target) < abs(best[1] - target):
            best = (model, n)
        if abs(n - target) <= tolerance * target:
            break
        low, high = (mid, high) if n < target else (low, mid)
    return best[0]
