"""What did the network learn? Saliency along an input, and the motifs a first-layer DNA filter
responds to (chapter: DNA); the shapes and feature maps inside a network, and what a recurrent
reader knows part-way through an image (chapter: Images).

Plot the results with :func:`utils.plots.saliency_logo`, :func:`utils.plots.filter_logos` and
:func:`utils.plots.plot_feature_maps`.
"""

from __future__ import annotations

import torch
from torch import nn


def saliency(
    model: nn.Module, x: torch.Tensor, lengths=None, target=None
) -> torch.Tensor:
    """Gradient x input for each example: how much each input value pushed the ``target`` logit
    (default: the predicted class) (chapter: DNA). Same shape as ``x``; for one-hot DNA the value
    at the present base is that base's contribution."""
    was_training = model.training
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    logits = model(x, lengths)  # (B, classes)
    target = (
        logits.argmax(dim=1)
        if target is None
        else torch.as_tensor(target).expand(len(x))
    )
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
def filter_pfms(
    conv: nn.Conv1d, x: torch.Tensor, threshold: float = 0.5
) -> torch.Tensor:
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
    # (N, F, L - span + 1)
    activation = nn.functional.conv1d(x, conv.weight, conv.bias, dilation=d)
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


def reverse_complement_pfm(pfm: torch.Tensor) -> torch.Tensor:
    """The matrix of the other strand, ``[k, 4]`` -> ``[k, 4]``: positions reversed and A<->T,
    C<->G swapped, which in ACGT order reverses the base axis too (chapter: DNA)."""
    return torch.as_tensor(pfm).flip(0, 1)


def _column_correlations(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of matching columns of ``[n, 4]`` matrices -> ``[n]``; a column
    with no variation (uniform) correlates 0 with anything."""
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    norms = a.norm(dim=1) * b.norm(dim=1)  # [n]
    return torch.where(norms > 1e-12, (a * b).sum(dim=1) / norms.clamp(min=1e-12), 0.0)


def pfm_similarity(pfm, reference, *, min_overlap: int | None = None) -> dict:
    """How well a learned matrix matches a known motif (chapter: DNA).

    Slide ``reference`` ``[w, 4]`` along ``pfm`` ``[k, 4]`` (both probabilities), on both
    strands, and score each placement by the mean Pearson correlation between aligned columns
    (the column score of TOMTOM's ``pearson`` option). The overlap must be at least
    ``min_overlap`` positions (default: the shorter matrix, so one lies inside the other).
    Returns ``{"score": best mean correlation in [-1, 1], "offset": reference start within pfm
    (negative: it starts before), "strand": "+" or "-"}``.
    """
    pfm = torch.as_tensor(pfm, dtype=torch.float64)
    reference = torch.as_tensor(reference, dtype=torch.float64)
    if (
        pfm.ndim != 2
        or reference.ndim != 2
        or pfm.shape[1] != 4
        or reference.shape[1] != 4
    ):
        raise ValueError(
            f"expected two [positions, 4] matrices, got {list(pfm.shape)} and "
            f"{list(reference.shape)}: transpose a [4, positions] matrix with .T"
        )
    k, w = len(pfm), len(reference)
    overlap = min(k, w) if min_overlap is None else min_overlap
    if not 1 <= overlap <= min(k, w):
        raise ValueError(
            f"min_overlap must be between 1 and {min(k, w)}, got {min_overlap}"
        )
    best = {"score": -2.0, "offset": 0, "strand": "+"}
    for strand, ref in (("+", reference), ("-", reverse_complement_pfm(reference))):
        for offset in range(overlap - w, k - overlap + 1):
            lo, hi = max(0, offset), min(k, offset + w)  # the overlap, in pfm positions
            score = _column_correlations(
                pfm[lo:hi], ref[lo - offset : hi - offset]
            ).mean()
            if score > best["score"] + 1e-12:
                best = {"score": float(score), "offset": offset, "strand": strand}
    return best


# ----------------------------------------------------------------------------- inside a network


def _stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The steps a reader follows through ``model``: the children of the model inside a
    :class:`~utils.models.LayoutAdapter`, with each ``nn.Sequential`` opened one level."""
    inner = getattr(model, "model", model)
    stages = []
    for name, child in inner.named_children():
        if isinstance(child, nn.Sequential):
            stages += [(f"{name}.{i}", block) for i, block in child.named_children()]
        else:
            stages.append((name, child))
    return stages


def _shapes(output) -> list[tuple[int, ...]]:
    tensors = output if isinstance(output, tuple | list) else (output,)
    return [tuple(t.shape) for t in tensors if isinstance(t, torch.Tensor)]


@torch.no_grad()
def stage_shapes(
    model: nn.Module, x: torch.Tensor, lengths=None
) -> list[tuple[str, str, list]]:
    """Run one batch through ``model`` and record what each stage returned (chapter: Images):
    ``[(stage name, layer type, [output shapes]), ...]`` in the order the stages ran.

    A stage is a child of the model (inside its :class:`~utils.models.LayoutAdapter`), or a
    block of a child that is an ``nn.Sequential``. A recurrent stage returns two tensors, its
    per-step outputs and its final state, so it lists two shapes. Operations written in
    ``forward`` itself (a mean over the width, a reshape) are not stages: they show up as the
    difference between one stage's output and the next one's input.
    """
    seen, hooks = [], []
    for name, module in _stages(model):
        hook = module.register_forward_hook(
            lambda m, inputs, output, name=name: seen.append(
                (name, type(m).__name__, _shapes(output))
            )
        )
        hooks.append(hook)
    was_training = model.training
    model.eval()
    try:
        model(x, lengths)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return seen


@torch.no_grad()
def feature_maps(model: nn.Module, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """What ``module`` (a layer inside ``model``) outputs when ``model`` reads ``x``, e.g. the
    first convolutional block's maps ``[B, channels, H, W]`` (chapter: Images)."""
    if not any(m is module for m in model.modules()):
        raise ValueError(
            f"{type(module).__name__} is not a layer of this model: pass one of its modules, "
            "e.g. model.model.features[0]"
        )
    captured = []
    hook = module.register_forward_hook(
        lambda m, inputs, output: captured.append(output)
    )
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        hook.remove()
        model.train(was_training)
    return captured[0].detach()


@torch.no_grad()
def accuracy_after_steps(
    model: nn.Module, split, steps, *, batch_size: int = 1000
) -> dict:
    """Accuracy of a sequence classifier made to answer after reading only the first ``k``
    steps (image rows) of each example, for each ``k`` in ``steps`` (chapter: Images).

    ``split.x`` is ``[N, T, F]``. For a one-directional RNN that reads out its final state, the
    answer after ``k`` steps is its classifier applied to the hidden state after row ``k``:
    what the state knows so far, as the classifier it was trained with reads it. Returns
    ``{k: accuracy}``.
    """
    if split.x.ndim != 3:
        raise ValueError(
            f"expected sequences [N, T, F] (load_task('images', view='rows')), "
            f"got {list(split.x.shape)}"
        )
    T = split.x.shape[1]
    if any(not 1 <= k <= T for k in steps):
        raise ValueError(
            f"every k must be between 1 and the {T} steps of a sequence, got {steps}"
        )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    result = {}
    for k in steps:
        correct = 0
        for start in range(0, len(split), batch_size):
            # (B, k, F)
            x = split.x[start : start + batch_size, :k].to(device, torch.float32)
            lengths = torch.full((len(x),), k, dtype=torch.long)
            predicted = model(x, lengths).argmax(dim=1).cpu()  # (B,)
            correct += (predicted == split.y[start : start + batch_size]).sum().item()
        result[k] = correct / len(split)
    model.train(was_training)
    return result
