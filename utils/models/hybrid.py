"""Hybrids: convolutions find local patterns, a recurrent layer reads them in order
(chapter: Hybrids).

- :class:`CRNN` 2-D conv front end, then a (bi)GRU along the width/time axis: the speech and
  image workhorse.
- :class:`DanQ` 1-D conv + max-pool over one-hot DNA, then a BiLSTM (Quang & Xie, 2016).
- :class:`CTCRecognizer` a CRNN that emits one distribution per time step for CTC transcription.
- :class:`CTCConvNet` and :class:`CTCBiGRU` the single-family baselines for CTC: frame-wise 1-D
  convolutions only, or a bidirectional GRU only, each with a per-step classifier.
- :class:`CTCConvBiGRU` the CNN-only model's 1-D blocks, fewer of them, with a bidirectional
  GRU on top: a CRNN whose front end reads mel bands as channels (as in Deep Speech 2).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from utils.models.cnn import conv_block_1d, conv_block_2d
from utils.models.common import SequencePool, pooled_lengths, require_shape
from utils.models.rnn import RNNEncoder

# ----------------------------------------------------------------------------- helpers


class CTCOutput(NamedTuple):
    """What a CTC model returns: per-step ``log_probs`` ``[B, T', classes + 1]`` (the blank is the
    last index) and each sequence's number of valid steps ``lengths`` ``[B]``."""

    log_probs: torch.Tensor
    lengths: torch.Tensor


# ----------------------------------------------------------------------------- classes


class CRNN(nn.Module):
    """Convolutional recurrent network: ``x`` ``[B, C, H, W]`` (+ ``lengths`` along ``W``) ->
    logits ``[B, classes]``.

    Conv blocks shrink height (frequency) by 2 each and width (time) by ``time_pool[i]``; each
    remaining column becomes one time step whose features are all channels of all rows:
    ``[B, C', H', W']`` -> ``[B, W', C' * H']``. A (bi)GRU reads the columns and ``pooling``
    summarises them (see :class:`~utils.models.common.SequencePool`). ``downsample`` first
    averages every ``downsample`` columns, as in :class:`~utils.models.cnn.CNN2d`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        input_height: int,
        channels=(16, 32, 48),
        kernel_size: int = 3,
        time_pool=(2, 2, 1),
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "mean",
        dropout: float = 0.1,
        downsample: int = 1,
    ):
        super().__init__()
        if len(time_pool) != len(channels):
            raise ValueError(
                f"time_pool needs one entry per conv block ({len(channels)}), got {time_pool}"
            )
        self.in_channels, self.input_height = in_channels, input_height
        widths, h, blocks = (in_channels, *channels), input_height, []
        for i, tp in enumerate(time_pool):
            ph = 2 if h >= 2 else 1
            blocks.append(
                conv_block_2d(
                    widths[i], widths[i + 1], kernel_size=kernel_size, pool=(ph, tp)
                )
            )
            h = math.ceil(h / ph)
        self.conv = nn.Sequential(*blocks)
        self.downsample = downsample
        self.time_stride = downsample * math.prod(time_pool)
        self.rnn = RNNEncoder(
            channels[-1] * h,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.pool = SequencePool(self.rnn.output_size, pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.output_size, num_classes)

    def encode(self, x, lengths=None):
        """``[B, C, H, W]`` -> per-column RNN outputs ``[B, W', D]``, final state, ``lengths``."""
        require_shape(
            x,
            f"[batch, {self.in_channels}, {self.input_height}, width] images or spectrograms",
            4,
            {1: self.in_channels, 2: self.input_height},
        )
        if self.downsample > 1:
            # (B, C, H, W/k)
            x = nn.functional.avg_pool2d(x, (1, self.downsample), ceil_mode=True)
        h = self.conv(x)  # (B, C', H', W')
        h = h.permute(0, 3, 1, 2).flatten(2)  # (B, W', C' * H'): one step per column
        lengths = pooled_lengths(lengths, self.time_stride)
        out, final = self.rnn(h, lengths)  # (B, W', D), (B, D)
        return out, final, lengths

    def forward(self, x, lengths=None):
        out, final, lengths = self.encode(x, lengths)
        return self.head(self.dropout(self.pool(out, lengths, final)))  # (B, classes)


class CTCRecognizer(CRNN):
    """A CRNN for transcription with CTC: ``x`` ``[B, C, H, W]`` -> :class:`CTCOutput` with
    ``log_probs`` ``[B, W', classes + 1]``, one distribution over the symbols and the blank
    (last index) per column. Train with :func:`utils.ctc.ctc_loss`; decode with
    :func:`utils.ctc.ctc_greedy_decode` or :func:`utils.ctc.ctc_beam_decode` (the blank
    is last, as everywhere in the course).
    """

    def __init__(
        self, in_channels: int, num_classes: int, *, input_height: int, **kwargs
    ):
        # keep enough steps for one symbol per few frames
        kwargs.setdefault("time_pool", (2, 1, 1))
        super().__init__(
            in_channels, num_classes + 1, input_height=input_height, **kwargs
        )
        self.blank = num_classes
        self.pool = None  # one output per step, no pooling

    def forward(self, x, lengths=None):
        out, _, lengths = self.encode(x, lengths)  # (B, W', D)
        if lengths is None:
            lengths = torch.full((len(x),), out.shape[1], dtype=torch.long)
        # (B, W', classes + 1)
        log_probs = self.head(self.dropout(out)).log_softmax(dim=-1)
        return CTCOutput(log_probs, lengths.to(log_probs.device))


class DanQ(nn.Module):
    """DanQ-style DNA classifier: one-hot ``x`` ``[B, 4, L]`` -> logits ``[B, classes]``.

    One wide convolution scans for motifs (``kernel_size`` bases), max-pooling keeps the strongest
    hit in each window of ``pool`` bases, and a BiLSTM reads the pooled motif track in order, so
    it can learn which motifs co-occur and in what arrangement.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        in_channels: int = 4,
        conv_channels: int = 96,
        kernel_size: int = 19,
        pool: int = 8,
        hidden_size: int = 48,
        pooling: str = "mean",
        dropout: float = 0.2,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.conv = conv_block_1d(
            in_channels,
            conv_channels,
            kernel_size=kernel_size,
            pool=pool,
            batch_norm=True,
            dropout=dropout,
        )
        self.pool_size = pool
        self.rnn = RNNEncoder(
            conv_channels, cell="lstm", hidden_size=hidden_size, bidirectional=True
        )
        self.pool = SequencePool(self.rnn.output_size, pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.output_size, num_classes)

    def forward(self, x, lengths=None):
        what = (
            "[batch, 4, length] one-hot DNA"
            if self.in_channels == 4
            else f"[batch, {self.in_channels}, length]"
        )
        require_shape(x, what, 3, {1: self.in_channels})
        # (B, C, L) -> (B, L / pool, C): the motif track
        h = self.conv(x).transpose(1, 2)
        lengths = pooled_lengths(lengths, self.pool_size)
        out, final = self.rnn(h, lengths)  # (B, L', 2H)
        return self.head(self.dropout(self.pool(out, lengths, final)))  # (B, classes)


# ----------------------------------------------------------------------------- CTC baselines


def _ctc_output(head: nn.Module, out: torch.Tensor, lengths, B: int) -> CTCOutput:
    """Per-step ``out`` ``[B, T', D]`` -> :class:`CTCOutput` (the blank is the last class)."""
    if lengths is None:
        lengths = torch.full((B,), out.shape[1], dtype=torch.long)
    log_probs = head(out).log_softmax(dim=-1)  # (B, T', classes + 1)
    return CTCOutput(log_probs, lengths.to(log_probs.device))


def _frame_convolutions(
    in_channels, channels, kernel_size, dilation, time_pool, dropout
):
    """The 1-D blocks of the CTC convolutional models: block ``i`` maps ``channels[i - 1]``
    to ``channels[i]`` (same padding, batch norm), dilated by ``dilation[i]``, then
    max-pools time by ``time_pool[i]``; ``[B, F, T]`` -> ``[B, channels[-1], T']``."""
    if not len(channels) == len(dilation) == len(time_pool):
        raise ValueError(
            f"channels, dilation and time_pool need one entry per block, got "
            f"{channels}, {dilation} and {time_pool}"
        )
    widths = (in_channels, *channels)
    return nn.Sequential(
        *(
            conv_block_1d(
                widths[i],
                widths[i + 1],
                kernel_size=kernel_size,
                dilation=d,
                pool=p,
                dropout=dropout,
            )
            for i, (d, p) in enumerate(zip(dilation, time_pool, strict=True))
        )
    )


class CTCConvNet(nn.Module):
    """Convolutions only, for CTC: ``x`` ``[B, F, T]`` (+ ``lengths``) -> :class:`CTCOutput` with
    ``log_probs`` ``[B, T', classes + 1]`` (chapter: Hybrids).

    A stack of 1-D convolutions over time (features as channels, same padding, batch norm) with
    ``time_pool[i]`` max-pooling after block ``i``, then a 1x1 classifier on every remaining
    step. Each output step sees only its receptive field (``kernel_size`` and ``dilation``
    set it): no memory beyond that window, unlike :class:`CTCBiGRU` and :class:`CTCRecognizer`.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels=(64, 64, 96, 96),
        kernel_size: int = 5,
        dilation=(1, 1, 2, 2),
        time_pool=(2, 1, 1, 1),
        dropout: float = 0.1,
    ):
        super().__init__()
        self.in_channels, self.blank = in_channels, num_classes
        self.conv = _frame_convolutions(
            in_channels, channels, kernel_size, dilation, time_pool, dropout
        )
        self.time_stride = math.prod(time_pool)
        self.head = nn.Linear(channels[-1], num_classes + 1)  # + 1: the blank, last

    def forward(self, x, lengths=None):
        require_shape(
            x, f"[batch, {self.in_channels}, time] frames", 3, {1: self.in_channels}
        )
        h = self.conv(x).transpose(1, 2)  # (B, C, T') -> (B, T', C)
        return _ctc_output(
            self.head, h, pooled_lengths(lengths, self.time_stride), len(x)
        )


class CTCBiGRU(nn.Module):
    """Recurrence only, for CTC: ``x`` ``[B, T, F]`` (+ ``lengths``) -> :class:`CTCOutput` with
    ``log_probs`` ``[B, T', classes + 1]`` (chapter: Hybrids).

    ``downsample`` first averages every ``downsample`` frames (``T' = ceil(T / downsample)``);
    a bidirectional GRU reads the frames and a linear classifier scores every step.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        hidden_size: int = 64,
        num_layers: int = 2,
        downsample: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.blank, self.downsample = num_classes, downsample
        self.rnn = RNNEncoder(
            input_size,
            cell="gru",
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            dropout=dropout,
        )
        self.dropout = nn.Dropout(dropout)
        # + 1: the blank, last
        self.head = nn.Linear(self.rnn.output_size, num_classes + 1)

    def forward(self, x, lengths=None):
        if self.downsample > 1:  # (B, T, F) -> (B, ceil(T / k), F)
            x = nn.functional.avg_pool1d(
                x.transpose(1, 2), self.downsample, ceil_mode=True
            ).transpose(1, 2)
        lengths = pooled_lengths(lengths, self.downsample)
        out, _ = self.rnn(x, lengths)  # (B, T', 2H)
        return _ctc_output(self.head, self.dropout(out), lengths, len(x))


class CTCConvBiGRU(nn.Module):
    """A 1-D convolutional front end, then recurrence, for CTC: ``x`` ``[B, F, T]``
    (+ ``lengths``) -> :class:`CTCOutput` with ``log_probs`` ``[B, T', classes + 1]``
    (chapter: Hybrids).

    The blocks of :class:`CTCConvNet` (features as channels, same padding, batch norm,
    ``time_pool[i]`` max-pooling after block ``i``, ``T' = T / prod(time_pool)`` rounded up),
    then a bidirectional GRU over the pooled steps and a linear classifier on every step:
    the CNN-only model with a recurrent layer on top.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels=(64, 64),
        kernel_size: int = 5,
        dilation=(1, 1),
        time_pool=(2, 2),
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.in_channels, self.blank = in_channels, num_classes
        self.conv = _frame_convolutions(
            in_channels, channels, kernel_size, dilation, time_pool, dropout
        )
        self.time_stride = math.prod(time_pool)
        self.rnn = RNNEncoder(
            channels[-1],
            cell="gru",
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=True,
            dropout=dropout,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.output_size, num_classes + 1)  # + 1: the blank

    def forward(self, x, lengths=None):
        require_shape(
            x, f"[batch, {self.in_channels}, time] frames", 3, {1: self.in_channels}
        )
        # (B, C, T') -> (B, T', C): one step per column
        h = self.conv(x).transpose(1, 2)
        lengths = pooled_lengths(lengths, self.time_stride)
        out, _ = self.rnn(h, lengths)  # (B, T', 2H)
        return _ctc_output(self.head, self.dropout(out), lengths, len(x))
