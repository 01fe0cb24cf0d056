"""Convolutional networks: a 1-D CNN (audio frames, DNA), a 2-D CNN (images, spectrograms) and a
TCN, a stack of dilated causal 1-D convolutions (chapter: Convolutional networks).

Every block is convolution -> batch norm -> ReLU -> max-pool; "same" padding keeps the length,
so only pooling shrinks it. Max-pooling uses ``ceil_mode=True``: a length ``L`` becomes
``ceil(L / pool)``.
"""

from __future__ import annotations

import math

from torch import nn

from utils.models.common import SequencePool, require_shape

# ----------------------------------------------------------------------------- helpers


def receptive_field(kernel_sizes, dilations=None, strides=None) -> int:
    """How many input steps one output step of a stack of convolutions/pools sees
    (chapter: Convolutional networks). ``1 + sum((k - 1) * d * product of earlier strides)``."""
    n = len(kernel_sizes)
    dilations, strides = dilations or [1] * n, strides or [1] * n
    field, jump = 1, 1
    for k, d, s in zip(kernel_sizes, dilations, strides, strict=True):
        field += (k - 1) * d * jump
        jump *= s
    return field


def _as_tuple(value, n: int) -> tuple:
    """``5`` -> ``(5, 5, 5)`` for ``n = 3``; a sequence is checked to have ``n`` entries."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) != n:
        raise ValueError(f"expected one value per layer ({n}), got {value}")
    return tuple(value)


def conv_block_1d(
    in_ch, out_ch, *, kernel_size=5, dilation=1, pool=2, batch_norm=True, dropout=0.0
):
    """Conv1d (same padding) -> BatchNorm -> ReLU -> MaxPool -> Dropout:
    ``[B, C, L]`` -> ``[B, C', ceil(L / pool)]``."""
    layers = [
        nn.Conv1d(
            in_ch,
            out_ch,
            kernel_size,
            padding="same",
            dilation=dilation,
            bias=not batch_norm,
        )
    ]
    layers += [nn.BatchNorm1d(out_ch)] if batch_norm else []
    layers += [nn.ReLU()]
    layers += [nn.MaxPool1d(pool, ceil_mode=True)] if pool > 1 else []
    layers += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers)


def conv_block_2d(
    in_ch, out_ch, *, kernel_size=3, pool=(2, 2), batch_norm=True, dropout=0.0
):
    """Conv2d (same padding) -> BatchNorm -> ReLU -> MaxPool -> Dropout:
    ``[B, C, H, W]`` -> ``[B, C', ceil(H / pool_h), ceil(W / pool_w)]``."""
    layers = [
        nn.Conv2d(in_ch, out_ch, kernel_size, padding="same", bias=not batch_norm)
    ]
    layers += [nn.BatchNorm2d(out_ch)] if batch_norm else []
    layers += [nn.ReLU()]
    layers += [nn.MaxPool2d(pool, ceil_mode=True)] if max(pool) > 1 else []
    layers += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers)


def pools_2d(input_size, num_blocks, pool_height=2, pool_width=2):
    """Per-block pool sizes that halve each axis while it is at least 2 long (so a short axis,
    like the 4 rows of one-hot DNA seen as an image, is not pooled away). Returns
    ``(pools, output_size)``."""
    h, w = input_size
    pools = []
    for _ in range(num_blocks):
        ph, pw = (pool_height if h >= 2 else 1), (pool_width if w >= 2 else 1)
        pools.append((ph, pw))
        h, w = math.ceil(h / ph), math.ceil(w / pw)
    return pools, (h, w)


# ----------------------------------------------------------------------------- classes


class CNN1d(nn.Module):
    """1-D CNN classifier: ``x`` ``[B, C, L]`` -> logits ``[B, classes]``.

    A stack of conv blocks, then a ``head`` over what is left of the length:

    - ``"global_pool"`` (default): a global max (or mean, ``global_pool="mean"``); it makes the
      network indifferent to where along the sequence a pattern occurs, and reads any length.
    - ``"flatten"``: keep every pooled position, ``[B, C', L']`` -> ``[B, C' * L']``, so the
      classifier has one weight per position and can tell *where* (and so in which order)
      patterns occur (chapter: DNA); it needs ``input_length`` and reads only that length.

    ``lengths`` is accepted and ignored (padding is short and zero).
    """

    HEADS = ("global_pool", "flatten")

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels=(32, 64, 64),
        kernel_size=5,
        dilation=1,
        pool=2,
        batch_norm: bool = True,
        dropout: float = 0.1,
        global_pool: str = "max",
        head: str = "global_pool",
        input_length: int | None = None,
    ):
        super().__init__()
        if head not in self.HEADS:
            raise ValueError(f"head must be one of {self.HEADS}, got {head!r}")
        if head == "flatten" and input_length is None:
            raise ValueError(
                "head='flatten' has one weight per position: pass input_length (the sequence "
                "length it will read), e.g. CNN1d(4, 2, head='flatten', input_length=200)"
            )
        n = len(channels)
        kernels, dilations, pools = (
            _as_tuple(kernel_size, n),
            _as_tuple(dilation, n),
            _as_tuple(pool, n),
        )
        self.in_channels = in_channels
        widths = (in_channels, *channels)
        self.features = nn.Sequential(
            *[
                conv_block_1d(
                    widths[i],
                    widths[i + 1],
                    kernel_size=kernels[i],
                    dilation=dilations[i],
                    pool=pools[i],
                    batch_norm=batch_norm,
                    dropout=dropout,
                )
                for i in range(n)
            ]
        )
        if global_pool not in ("max", "mean"):
            raise ValueError(
                f"global_pool must be 'max' or 'mean', got {global_pool!r}"
            )
        self.global_pool, self.head_type, self.input_length = (
            global_pool,
            head,
            input_length,
        )
        features = channels[-1]
        if head == "flatten":
            pooled = input_length
            for p in pools:
                pooled = math.ceil(pooled / p)  # ceil_mode pooling
            features = channels[-1] * pooled
        self.head = nn.Linear(features, num_classes)

    def forward(self, x, lengths=None):
        C, L = self.in_channels, self.input_length
        if self.head_type == "flatten":
            expected = (
                f"[batch, {C} channels, {L} positions] (a flattening head reads only the length "
                f"it was built for: build one for {x.shape[-1]} positions, or use "
                "head='global_pool')"
            )
            require_shape(x, expected, 3, {1: C, 2: L})
        else:
            require_shape(x, f"[batch, {C} channels, length]", 3, {1: C})
        h = self.features(x)  # (B, C', L')
        if self.head_type == "flatten":
            h = h.flatten(1)  # (B, C' * L'): one feature per channel and position
        elif self.global_pool == "max":
            h = h.amax(dim=2)  # (B, C')
        else:
            h = h.mean(dim=2)  # (B, C')
        return self.head(h)  # (B, classes)


class CNN2d(nn.Module):
    """2-D CNN classifier: ``x`` ``[B, C, H, W]`` -> logits ``[B, classes]``.

    For a spectrogram ``H`` is frequency and ``W`` is time. ``head`` decides what survives:

    - ``"width_pool"`` (default): average over the width (time) only, keep every row (frequency
      band): ``[B, C', H', W']`` -> ``[B, C' * H']``. Where a sound sits in time matters little,
      which band it sits in matters a lot.
    - ``"global_pool"``: average over both axes, ``[B, C']``; cheap, but throws away *where in
      frequency* a feature fired (the speech chapter measures what that costs).
    - ``"flatten"``: keep everything, ``[B, C' * H' * W']``; needs a fixed input size.

    ``downsample`` first averages every ``downsample`` columns (time frames), a cheap way to
    halve the cost when the input has more time resolution than the task needs.
    """

    HEADS = ("width_pool", "global_pool", "flatten")

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        input_size: tuple[int, int],
        channels=(16, 32, 64),
        kernel_size: int = 3,
        batch_norm: bool = True,
        dropout: float = 0.2,
        head: str = "width_pool",
        downsample: int = 1,
    ):
        super().__init__()
        if head not in self.HEADS:
            raise ValueError(f"head must be one of {self.HEADS}, got {head!r}")
        self.in_channels, self.input_size, self.head_type = (
            in_channels,
            tuple(input_size),
            head,
        )
        self.downsample = downsample
        H, W = input_size
        pools, (h, w) = pools_2d((H, math.ceil(W / downsample)), len(channels))
        widths = (in_channels, *channels)
        self.features = nn.Sequential(
            *[
                conv_block_2d(
                    widths[i],
                    widths[i + 1],
                    kernel_size=kernel_size,
                    pool=pools[i],
                    batch_norm=batch_norm,
                )
                for i in range(len(channels))
            ]
        )
        features = {"width_pool": channels[-1] * h, "global_pool": channels[-1]}
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(features.get(head, channels[-1] * h * w), num_classes)

    def forward(self, x, lengths=None):
        H, W = self.input_size
        sizes = {1: self.in_channels, 2: H} | (
            {3: W} if self.head_type == "flatten" else {}
        )
        require_shape(x, f"[batch, {self.in_channels}, {H}, {W}] images", 4, sizes)
        if self.downsample > 1:
            # (B, C, H, W/k)
            x = nn.functional.avg_pool2d(x, (1, self.downsample), ceil_mode=True)
        h = self.features(x)  # (B, C', H', W')
        if self.head_type == "width_pool":
            h = h.mean(dim=3).flatten(1)  # (B, C' * H')
        elif self.head_type == "global_pool":
            h = h.mean(dim=(2, 3))  # (B, C')
        else:
            h = h.flatten(1)  # (B, C' * H' * W')
        return self.head(self.dropout(h))  # (B, classes)


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution that only looks back: pad ``(k - 1) * dilation`` steps on the left."""

    def __init__(self, in_ch, out_ch, kernel_size, dilation=1):
        super().__init__(in_ch, out_ch, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x):
        return super().forward(nn.functional.pad(x, (self.left_pad, 0)))  # (B, C', L)


class TemporalBlock(nn.Module):
    """Two dilated causal convolutions plus a residual: ``[B, C, L]`` -> ``[B, C', L]``."""

    def __init__(self, in_ch, out_ch, *, kernel_size=3, dilation=1, dropout=0.1):
        super().__init__()
        self.net = nn.Sequential(
            CausalConv1d(in_ch, out_ch, kernel_size, dilation),
            nn.BatchNorm1d(out_ch),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv1d(out_ch, out_ch, kernel_size, dilation),
            nn.BatchNorm1d(out_ch),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.skip = nn.Conv1d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x):
        return self.net(x) + self.skip(x)


class TCN(nn.Module):
    """Temporal convolutional network: ``[B, C, L]`` (+ ``lengths``) -> logits ``[B, classes]``.

    ``levels`` residual blocks with dilations 1, 2, 4, ...; the receptive field is
    ``1 + 2 * (kernel_size - 1) * (2**levels - 1)`` steps. Being causal, the output at step ``t``
    has seen steps ``<= t`` only, so like an RNN it reads out at each sequence's last real step
    (``readout="last"``); ``"mean"`` averages over all steps instead.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels: int = 64,
        levels: int = 4,
        kernel_size: int = 3,
        dropout: float = 0.1,
        readout: str = "last",
    ):
        super().__init__()
        self.in_channels = in_channels
        self.blocks = nn.Sequential(
            *[
                TemporalBlock(
                    in_channels if i == 0 else channels,
                    channels,
                    kernel_size=kernel_size,
                    dilation=2**i,
                    dropout=dropout,
                )
                for i in range(levels)
            ]
        )
        self.receptive_field = 1 + 2 * (kernel_size - 1) * (2**levels - 1)
        self.pool = SequencePool(channels, readout)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x, lengths=None):
        require_shape(
            x, f"[batch, {self.in_channels} channels, length]", 3, {1: self.in_channels}
        )
        h = self.blocks(x).transpose(1, 2)  # (B, C, L) -> (B, L, C)
        return self.head(self.pool(h, lengths))  # (B, classes)

    def extra_repr(self) -> str:
        return f"receptive_field={self.receptive_field}"
