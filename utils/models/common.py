"""Small pieces every model family shares: shape checks, padding masks, pooling over time
(chapter: Recurrent networks).

Shapes use ``B`` batch, ``T`` time steps, ``D`` features per step.
"""

from __future__ import annotations

import torch
from torch import nn

# ----------------------------------------------------------------------------- helpers


def require_shape(
    x: torch.Tensor, expected: str, ndim: int, sizes: dict[int, int] | None = None
):
    """Raise a ``ValueError`` that says what was expected unless ``x`` has ``ndim`` axes and the
    given ``{axis: size}``; ``expected`` reads like ``"[batch, 4, length] one-hot DNA"``."""
    ok = x.dim() == ndim and all(
        x.shape[axis] == size for axis, size in (sizes or {}).items()
    )
    if not ok:
        raise ValueError(f"expected {expected}, got {list(x.shape)}")


def lengths_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``[B]`` lengths to a ``[B, max_len]`` boolean mask that is True on real (unpadded) steps."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps[None, :] < lengths[:, None]  # (B, T)


def pooled_lengths(lengths: torch.Tensor | None, stride: int) -> torch.Tensor | None:
    """Lengths after pooling time by ``stride`` (``ceil_mode=True``): ``ceil(length / stride)``."""
    if lengths is None or stride == 1:
        return lengths
    return torch.div(lengths + stride - 1, stride, rounding_mode="floor")


# ----------------------------------------------------------------------------- classes


class SequencePool(nn.Module):
    """Summarise per-step outputs ``[B, T, D]`` as one vector ``[B, D]`` per sequence.

    ``mode``: ``"last"`` (the RNN's final state, passed in as ``final``), ``"mean"`` or ``"max"``
    over real steps only, or ``"attention"`` (a learned weighted mean: score each step, softmax
    over real steps, average). Padded steps never contribute.
    """

    MODES = ("last", "mean", "max", "attention")

    def __init__(self, size: int, mode: str = "mean"):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"pooling must be one of {self.MODES}, got {mode!r}")
        self.mode = mode
        self.score = (
            nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1))
            if mode == "attention"
            else None
        )

    def forward(self, out, lengths=None, final=None):
        """``out`` ``[B, T, D]``, ``lengths`` ``[B]`` or None, ``final`` ``[B, D]`` -> ``[B, D]``"""
        if self.mode == "last":
            if (
                final is None
            ):  # no RNN state given: take the output at each sequence's last step
                if lengths is None:
                    return out[:, -1]
                index = (lengths - 1).clamp(min=0).to(out.device)
                return out[torch.arange(len(out), device=out.device), index]
            return final
        mask = (
            None
            if lengths is None
            else lengths_mask(lengths.to(out.device), out.shape[1])
        )
        if self.mode == "mean":
            if mask is None:
                return out.mean(dim=1)
            m = mask.unsqueeze(-1).to(out.dtype)  # (B, T, 1)
            return (out * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
        if self.mode == "max":
            if mask is not None:
                out = out.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            return out.max(dim=1).values
        scores = self.score(out).squeeze(-1)  # (B, T)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=1)  # (B, T), sums to 1 over real steps
        return torch.einsum("bt,btd->bd", weights, out)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
