"""How gradients travel back through time in a recurrent network (chapter: Recurrent networks).

Backpropagation through time sends the loss's gradient from the last step back to the first,
multiplying it by one Jacobian per step. :func:`gradient_norm_per_step` measures how much of it
arrives at each step's input: a curve that falls exponentially means the early steps cannot be
learned from (vanishing gradients), one that rises means the updates blow up (exploding).
"""

from __future__ import annotations

import torch
from torch import nn

from utils.models.rnn import CELLS

# ----------------------------------------------------------------------------- helpers


def recurrent_layer(
    cell: str,
    *,
    input_size: int = 8,
    hidden_size: int = 32,
    recurrent_scale: float | None = None,
    forget_bias: float | None = None,
    seed: int = 0,
) -> nn.Module:
    """One ``nn.RNN``/``nn.LSTM``/``nn.GRU`` layer (``batch_first``) with PyTorch's default
    initialisation (chapter: Recurrent networks).

    ``recurrent_scale`` replaces the hidden-to-hidden matrix of each gate by a random orthogonal
    matrix times this number: below 1 the state shrinks at every step, above 1 it grows (for a
    vanilla RNN, the gradient follows). ``forget_bias`` (LSTM only) sets the forget gate's bias,
    so that at the start of training the cell keeps about ``sigmoid(forget_bias)`` of its memory
    at every step (PyTorch's default draws it near 0: it keeps about half).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
    if forget_bias is not None and cell != "lstm":
        raise ValueError(
            f"forget_bias applies to an LSTM only, not to {cell!r}: leave it None"
        )
    torch.manual_seed(seed)
    layer = CELLS[cell](input_size, hidden_size, batch_first=True)
    if recurrent_scale is not None:
        weight = layer.weight_hh_l0  # (gates * H, H): one H x H block per gate
        with torch.no_grad():
            for block in weight.split(hidden_size):
                nn.init.orthogonal_(block, gain=recurrent_scale)
    if forget_bias is not None:
        # gates are stacked input, forget, cell, output
        forget = slice(hidden_size, 2 * hidden_size)
        with torch.no_grad():
            layer.bias_ih_l0[forget] = forget_bias
            layer.bias_hh_l0[forget] = 0.0
    return layer


# ----------------------------------------------------------------------------- measurement


def gradient_norm_per_step(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The norm of the gradient that reaches each step's input from a loss that reads only the
    end of the sequence (chapter: Recurrent networks).

    ``model`` is either a ``batch_first`` recurrent layer (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``:
    the loss is the sum of its last step's outputs) or a model of the course (``[B, T, F]`` ->
    ``[B, outputs]``: the loss is the sum of its outputs); ``x`` is ``[B, T, F]``. Every step's
    gradient has travelled back from the end through the steps after it. Returns ``[T]``: the
    gradient's norm at each step, averaged over the batch. Weights' gradients are left as found.
    """
    if x.dim() != 3:
        raise ValueError(
            f"x must be [batch, time, features], got shape {list(x.shape)}"
        )
    x = x.detach().clone().requires_grad_(True)
    was_training = model.training
    model.eval()  # no dropout: measure the network, not a random mask
    outputs = model(x)
    if isinstance(outputs, tuple):  # a recurrent layer: (outputs (B, T, H), state)
        outputs = outputs[0][:, -1]  # (B, H)
    (gradient,) = torch.autograd.grad(outputs.sum(), x)  # (B, T, F)
    model.train(was_training)
    return gradient.norm(dim=2).mean(dim=0)  # (B, T, F) -> (B, T) -> (T,)


def gradient_norms(
    cells=("rnn", "lstm", "gru"),
    *,
    length: int = 100,
    batch: int = 16,
    input_size: int = 8,
    hidden_size: int = 32,
    recurrent_scale: float | None = None,
    forget_bias: float | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """:func:`gradient_norm_per_step` for freshly initialised layers of each cell type, on the
    same random input ``[batch, length, input_size]`` (chapter: Recurrent networks).
    ``forget_bias`` applies to the LSTM only."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, input_size, generator=g)  # (B, T, F)
    return {
        cell: gradient_norm_per_step(
            recurrent_layer(
                cell,
                input_size=input_size,
                hidden_size=hidden_size,
                recurrent_scale=recurrent_scale,
                forget_bias=forget_bias if cell == "lstm" else None,
                seed=seed,
            ),
            x,
        )
        for cell in cells
    }
