"""What did the network learn? Saliency along an input, and the motifs a first-layer DNA filter
responds to (chapter: DNA).

Plot the results with :func:`utils.plots.saliency_logo` and :func:`utils.plots.filter_logos`.
"""

from __future__ import annotations

import torch
from torch import nn


def saliency(model: nn.Module, x: torch.Tensor, lengths=None, target=None) -> torch.Tensor:
    """Gradient x input for each example: how much each input value pushed the ``target`` logit
    (default: the predicted class) (chapter: DNA). Same shape as ``x``; for one-hot DNA the value
    at the present base is that base's contribution."""
    was_training = model.training
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    logits = model(x, lengths)  # (B, classes)
    target = logits.argmax(dim=1) if target is None else torch.as_tensor(target).expand(len(x))
    logits.gather(1, target.view(-1, 1).to(logits.device)).sum().backward()
    model.train(was_training)
    return (x.grad * x).detach()


def first_conv(model: nn.Module) -> nn.Conv1d:
    """The first ``nn.Conv1d`` in ``model`` (the layer whose filters read the bases directly)."""
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            return module
    raise ValueError("the model has no Conv1d layer")


@torch.no_grad()
def filter_pfms(conv: nn.Conv1d, x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Position frequency matrices of what each filter responds to (chapter: DNA).

    For every filter, collect the input windows where its activation exceeds ``threshold`` times
    its maximum over ``x`` (``[N, 4, L]`` one-hot) and count the bases at each position
    (the DeepBind/Basset recipe). Returns probabilities ``[filters, kernel_size, 4]``; a filter
    that never fires gets uniform rows.
    """
    if x.dim() != 3 or x.shape[1] != conv.in_channels:
        raise ValueError(
            f"expected [batch, {conv.in_channels}, length] one-hot DNA, got {list(x.shape)}"
        )
    k, d = conv.kernel_size[0], conv.dilation[0]
    span = (k - 1) * d + 1
    activation = nn.functional.conv1d(x, conv.weight, conv.bias, dilation=d)  # (N, F, L - span + 1)
    windows = x.unfold(2, span, 1)[..., ::d]  # (N, 4, L - span + 1, k)
    counts = torch.zeros(conv.out_channels, k, x.shape[1])
    for f in range(conv.out_channels):
        act = activation[:, f]  # (N, P)
        hits = act > threshold * act.max().clamp(min=1e-12)
        n, p = torch.nonzero(hits, as_tuple=True)
        counts[f] = windows[n, :, p].sum(dim=0).T  # (hits, 4, k) -> (k, 4)
    counts += 1e-3  # a pseudocount keeps never-firing filters uniform
    return counts / counts.sum(dim=2, keepdim=True)


def information_content(pfm: torch.Tensor, background: float = 0.25) -> torch.Tensor:
    """Letter heights of a sequence logo in bits, ``[k, 4]`` (chapter: DNA): each position's
    information ``sum_b p_b log2(p_b / background)`` shared among the bases in proportion to
    ``p_b``. A position where one base is certain carries 2 bits."""
    p = torch.as_tensor(pfm, dtype=torch.float64)
    bits = (p * torch.log2(p.clamp(min=1e-12) / background)).sum(dim=-1, keepdim=True)
    return p * bits
