"""When neither: a small Transformer encoder, the fourth family next to recurrent,
convolutional and hybrid networks (chapter: Choosing between RNNs and CNNs).

Input is a batch of sequences ``[B, T, F]`` with optional ``lengths`` ``[B]``, like the
recurrent family; :func:`~utils.models.build_model` feeds it images as rows and DNA as
``[B, L, 4]``. A convolutional *stem* turns every ``patch`` steps into one token, so
that 251-800 bases or 101 speech frames become a few dozen tokens and attention, whose
cost grows with the square of the number of tokens, stays cheap on a CPU.

Positions are **sinusoidal** (Vaswani et al., 2017), not learned: a learned table has
one row per position seen in training and nothing for a longer test sequence (the motif
grammar is tested at four times its training length), while sines and cosines are
defined at every position. Padded steps are masked: they are zeroed before the stem,
never attended to and never pooled, so padding cannot change the output.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from utils.models.common import (
    SequencePool,
    lengths_mask,
    pooled_lengths,
    require_shape,
)

# ----------------------------------------------------------------------------- helpers


def sinusoidal_positions(length: int, size: int) -> torch.Tensor:
    """``[length, size]`` position codes: ``sin`` on even features, ``cos`` on odd ones,
    with wavelengths from 2π to 10000·2π (chapter: Choosing between RNNs and CNNs)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    # (ceil(size / 2),)
    frequency = torch.exp(
        torch.arange(0, size, 2, dtype=torch.float32) * (-math.log(10000.0) / size)
    )
    codes = torch.zeros(length, size)
    codes[:, 0::2] = torch.sin(position * frequency)
    codes[:, 1::2] = torch.cos(position * frequency[: size // 2])
    return codes


# ----------------------------------------------------------------------------- classes


class TransformerClassifier(nn.Module):
    """Sequence classification with self-attention: ``[B, T, F]`` (+ ``lengths``
    ``[B]``) -> logits ``[B, classes]``.

    - stem: ``Conv1d(F, d_model, kernel_size, stride=patch)`` -> ``[B, ceil(T / patch),
      d_model]`` tokens (``kernel_size=1, patch=1`` is a plain linear embedding per
      step);
    - plus sinusoidal positions (any length);
    - ``num_layers`` pre-norm encoder layers of ``heads``-head attention and a
      feed-forward network of ``feedforward`` units, padded tokens masked;
    - ``pooling`` over real tokens (see :class:`~utils.models.common.SequencePool`),
      then a linear classifier.
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        num_layers: int = 2,
        feedforward: int = 128,
        kernel_size: int = 1,
        patch: int = 1,
        pooling: str = "mean",
        dropout: float = 0.1,
    ):
        super().__init__()
        if d_model % heads:
            raise ValueError(
                f"d_model ({d_model}) must be a multiple of heads ({heads})"
            )
        if kernel_size % 2 == 0 or kernel_size < patch:
            raise ValueError(
                f"kernel_size must be odd and at least patch ({patch}) so that no step is "
                f"skipped, got {kernel_size}"
            )
        if pooling == "last":
            raise ValueError(
                "pooling 'last' needs a recurrent state; use 'mean', 'max' or 'attention'"
            )
        self.input_size, self.d_model, self.patch = input_size, d_model, patch
        self.stem = nn.Conv1d(
            input_size, d_model, kernel_size, stride=patch, padding=kernel_size // 2
        )
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=feedforward,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,  # pre-norm: trains without a learning-rate warm-up
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.pool = SequencePool(d_model, pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x, lengths=None):
        require_shape(
            x, f"[batch, time, {self.input_size}] features", 3, {2: self.input_size}
        )
        T = x.shape[1]
        if lengths is not None:
            lengths = lengths.to(x.device).clamp(min=1, max=T)
            x = x * lengths_mask(lengths, T).unsqueeze(-1)  # padding -> 0, as if absent
        # (B, ceil(T / patch), d_model)
        tokens = self.stem(x.transpose(1, 2)).transpose(1, 2)
        # tokens per sequence: ceil(length / patch)
        lengths = pooled_lengths(lengths, self.patch)
        codes = sinusoidal_positions(tokens.shape[1], self.d_model).to(tokens)
        tokens = tokens + codes  # (B, T', d_model)
        padding = None if lengths is None else ~lengths_mask(lengths, tokens.shape[1])
        out = self.encoder(tokens, src_key_padding_mask=padding)  # (B, T', d_model)
        summary = self.pool(out, lengths)  # (B, d_model)
        return self.head(self.dropout(summary))  # (B, classes)

    def extra_repr(self) -> str:
        return f"patch={self.patch}, positions='sinusoidal'"
