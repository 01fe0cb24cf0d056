"""Seeded, stratified splits and quick-mode subsets (chapter: Getting started).

Every split in the course is drawn the same way: shuffle the examples of each class (or of each
stratum, e.g. digit × speaker) with a seeded generator and cut the same fraction from each, so
that train, validation and test keep the class balance of the whole and a seed repeats a split
exactly on any machine.
"""

from __future__ import annotations

import torch

# how many examples each split keeps in quick mode (COURSE_QUICK=1): a few hundred in all
QUICK_SIZES = {"train": 400, "val": 100, "test": 100}

# ----------------------------------------------------------------------------- helpers


def _allocate(counts: torch.Tensor, total: int) -> torch.Tensor:
    """Split ``total`` over strata in proportion to ``counts`` (largest remainder), never more
    than a stratum holds: ``_allocate([6, 3, 1], 5) -> [3, 2, 0]`` or similar."""
    if total <= 0 or counts.sum() == 0:
        return torch.zeros_like(counts)
    share = counts.double() * total / counts.sum()
    take = share.floor().long()
    leftover = total - int(take.sum())
    order = torch.argsort(share - take, descending=True, stable=True)
    take[order[:leftover]] += 1
    return torch.minimum(take, counts)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- public API


def stratified_split(
    strata: torch.Tensor, fractions: tuple[float, ...], *, seed: int = 0
) -> list[torch.Tensor]:
    """Cut examples into parts of the given fractions, the same fraction from every stratum
    (chapter: Getting started).

    ``strata`` ([N], int) labels each example; ``fractions`` are the sizes of all parts but the
    last, which takes the rest: ``train, val, test = stratified_split(y, (0.8, 0.1))``.
    Returns one sorted index tensor per part; the parts are disjoint and cover every example.
    """
    if strata.ndim != 1:
        raise ValueError(
            f"strata must be a 1-D tensor of labels, got shape {list(strata.shape)}"
        )
    if any(f < 0 for f in fractions) or sum(fractions) > 1:
        raise ValueError(
            f"fractions must be non-negative and sum to at most 1, got {fractions}"
        )
    generator = _generator(seed)
    # sorted: a fixed order of draws
    values, counts = torch.unique(strata, return_counts=True)
    members = []
    for value in values:
        group = torch.nonzero(strata == value).flatten()
        members.append(group[torch.randperm(len(group), generator=generator)])
    # part sizes per stratum: each part's total is exact, shared out by largest remainder
    remaining = counts.clone()
    sizes = []
    for fraction in fractions:
        take = _allocate(remaining, round(fraction * len(strata)))
        sizes.append(take)
        remaining = remaining - take
    sizes.append(remaining)
    parts: list[list[torch.Tensor]] = [[] for _ in sizes]
    for s, group in enumerate(members):
        start = 0
        for part, size in zip(parts, sizes, strict=True):
            part.append(group[start : start + int(size[s])])
            start += int(size[s])
    return [torch.sort(torch.cat(p)).values for p in parts]


def stratified_subset(
    indices: torch.Tensor, strata: torch.Tensor, size: int, *, seed: int = 0
) -> torch.Tensor:
    """``size`` of ``indices`` chosen at random but in proportion to their strata (chapter:
    Getting started): quick mode's small subsets keep the class balance of the full split.

    ``strata`` ([N], int) labels every example of the dataset; ``indices`` select some of them.
    Returns a sorted subset of ``indices`` (all of them if ``size >= len(indices)``).
    """
    if size >= len(indices):
        return indices
    generator = _generator(seed)
    groups, counts = torch.unique(strata[indices], return_counts=True)
    take = _allocate(counts, size)
    chosen = []
    for value, k in zip(groups.tolist(), take.tolist(), strict=True):
        members = indices[strata[indices] == value]
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.sort(torch.cat(chosen)).values


def quick_subsets(
    splits: dict[str, torch.Tensor], strata: torch.Tensor, *, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Shrink each split to :data:`QUICK_SIZES` with :func:`stratified_subset`
    (chapter: Getting started)."""
    return {
        name: stratified_subset(idx, strata, QUICK_SIZES[name], seed=seed + i)
        for i, (name, idx) in enumerate(splits.items())
    }
