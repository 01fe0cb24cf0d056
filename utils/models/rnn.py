"""Recurrent networks: vanilla RNN, LSTM and GRU, one- or two-directional, stacked
(chapter: Recurrent networks).

Input is a batch of sequences ``[B, T, F]`` (``T`` time steps of ``F`` features) with optional
``lengths`` ``[B]``. With lengths, the sequences are *packed*, so the recurrence stops at each
sequence's true end instead of reading the padding.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from utils.models.common import SequencePool, pooled_lengths, require_shape

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# ----------------------------------------------------------------------------- classes


class RNNEncoder(nn.Module):
    """Run a (stacked, optionally bidirectional) RNN over ``[B, T, F]``.

    Returns ``(outputs, final)``: ``outputs`` ``[B, T, directions * hidden_size]`` (zeros on padded
    steps) and ``final`` ``[B, directions * hidden_size]``, the top layer's last state (for the
    backward direction, its state after reading back to the first step).
    """

    def __init__(
        self,
        input_size: int,
        *,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
        self.input_size, self.cell, self.hidden_size = input_size, cell, hidden_size
        self.num_layers, self.directions = num_layers, 2 if bidirectional else 1
        self.rnn = CELLS[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout
            if num_layers > 1
            else 0.0,  # dropout acts between stacked layers
        )
        self.output_size = self.directions * hidden_size

    def forward(self, x, lengths=None):
        require_shape(
            x, f"[batch, time, {self.input_size}] features", 3, {2: self.input_size}
        )
        B, T, _ = x.shape
        if lengths is not None and bool((lengths < T).any()):
            # packing wants CPU int64
            lengths = lengths.detach().cpu().clamp(min=1, max=T)
            packed = pack_padded_sequence(
                x, lengths, batch_first=True, enforce_sorted=False
            )
            out, state = self.rnn(packed)
            # (B, T, D*H)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        else:  # no padding: the plain (faster) path
            out, state = self.rnn(x)  # (B, T, D*H)
        h = state[0] if self.cell == "lstm" else state  # LSTM state is (h, c)
        h = h.view(self.num_layers, self.directions, B, self.hidden_size)[
            -1
        ]  # (D, B, H)
        final = h.transpose(0, 1).reshape(B, self.output_size)  # (B, D*H)
        return out, final


class RNNClassifier(nn.Module):
    """Sequence classification: ``[B, T, F]`` (+ ``lengths`` ``[B]``) -> logits ``[B, classes]``.

    ``downsample`` averages every ``downsample`` frames before the recurrence (a cheap way to make
    an RNN faster on long inputs); ``pooling`` is how per-step outputs become one vector
    (``"last"``, ``"mean"``, ``"max"``, ``"attention"``, see :class:`SequencePool`).
    """

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "last",
        downsample: int = 1,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.downsample = downsample
        self.encoder = RNNEncoder(
            input_size,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.pool = SequencePool(self.encoder.output_size, pooling)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, x, lengths=None):
        require_shape(x, f"[batch, time, {self.encoder.input_size}] features", 3)
        if self.downsample > 1:
            # (B, T, F) -> (B, F, T) -> average pool time -> (B, ceil(T / k), F)
            x = nn.functional.avg_pool1d(
                x.transpose(1, 2), self.downsample, ceil_mode=True
            ).transpose(1, 2)
            lengths = pooled_lengths(lengths, self.downsample)
        out, final = self.encoder(x, lengths)  # (B, T, D*H), (B, D*H)
        summary = self.pool(out, lengths, final)  # (B, D*H)
        return self.head(self.dropout(summary))  # (B, classes)


class RNNTagger(nn.Module):
    """Sequence labelling: one label per step, ``[B, T, F]`` -> logits ``[B, T, classes]``."""

    def __init__(
        self,
        input_size: int,
        num_classes: int,
        *,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.encoder = RNNEncoder(
            input_size,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)

    def forward(self, x, lengths=None):
        out, _ = self.encoder(x, lengths)  # (B, T, D*H)
        return self.head(self.dropout(out))  # (B, T, classes)
