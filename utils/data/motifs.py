"""Synthetic DNA with real transcription-factor motifs: does the model need order? (chapter: DNA).

We plant sites sampled from real JASPAR position frequency matrices (``jaspar_motifs.json``:
CTCF MA0139.2, TAL1::TCF3 MA0091.2, GATA1 MA0035.5, GATA1::TAL1 MA0140.3, JASPAR 2024,
CC BY 4.0) into uniform random background DNA. Every sequence gets exactly two sites, at two
non-overlapping random positions, and the two tasks differ only in what the label depends on:

- ``variant="presence"``: a positive carries two A sites, a negative two B sites; the label is
  "motif A is present". A CNN with global max-pooling solves it.
- ``variant="order"``: every sequence carries one A and one B site; the label is "A is upstream
  of B". Both classes hold the same motifs, so a bag of motif detections (global max-pooling)
  cannot tell them apart; a model that reads positions in order (CNN -> RNN) can.

Both variants are built from the same random draws (background, positions, labels, and the
same pools of sampled sites), so over a data set they plant the same number of A and B sites,
the very same site sequences, at positions drawn the same way: identical marginal motif
content. Everything is determined by ``seed``. Sites are planted on the forward strand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from utils.config import config
from utils.data.dna import ALPHABET, tokens_to_one_hot
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.splits import quick_subsets, stratified_split

JASPAR_FILE = Path(__file__).with_name("jaspar_motifs.json")
VARIANTS = ("presence", "order")

# ----------------------------------------------------------------------------- motifs


@dataclass(frozen=True)
class Motif:
    """A JASPAR position frequency matrix: ``counts[b][i]`` sites have base ``b`` at ``i``."""

    name: str
    matrix_id: str
    counts: tuple[tuple[float, ...], ...]  # 4 rows (A, C, G, T) of width W

    @property
    def width(self) -> int:
        return len(self.counts[0])

    def probabilities(self) -> torch.Tensor:
        """Position probability matrix ``[4, W]``: each column's counts over their sum."""
        counts = torch.tensor(self.counts, dtype=torch.float64)
        return (counts / counts.sum(dim=0)).float()

    def information_content(self) -> torch.Tensor:
        """Letter heights of a sequence logo ``[4, W]`` in bits: ``p * (2 - H(p))`` per column
        against a uniform background (chapter: DNA)."""
        p = self.probabilities().double()
        entropy = -(torch.where(p > 0, p * torch.log2(p), 0.0)).sum(dim=0)  # [W]
        return (p * (2.0 - entropy)).float()

    def consensus(self) -> str:
        """The most frequent base at each position."""
        return "".join(ALPHABET[i] for i in self.probabilities().argmax(dim=0).tolist())

    def __repr__(self) -> str:
        consensus = self.consensus()
        return f"Motif({self.name} {self.matrix_id}, width={self.width}, consensus={consensus})"


def jaspar_info() -> dict:
    """The JASPAR file's release, licence, citation and provenance (without the matrices)."""
    info = json.loads(JASPAR_FILE.read_text())
    info.pop("motifs")
    return info


def load_motifs() -> dict[str, Motif]:
    """The stored JASPAR motifs by name: ``load_motifs()["CTCF"]`` (chapter: DNA)."""
    stored = json.loads(JASPAR_FILE.read_text())["motifs"]
    return {
        name: Motif(
            name, m["matrix_id"], tuple(tuple(m["counts"][b]) for b in ALPHABET)
        )
        for name, m in stored.items()
    }


def _gap_range(gap, min_gap: int) -> tuple[int, int]:
    """``gap`` (``None``, an int or a ``(low, high)`` pair) as an inclusive range of gaps."""
    if gap is None:
        return min_gap, min_gap
    low, high = (gap, gap) if isinstance(gap, int) else tuple(gap)
    if not 0 <= low <= high:
        raise ValueError(
            f"gap must be a number of bases >= 0 or a pair (low, high) with 0 <= low <= high, "
            f"got {gap!r}"
        )
    return int(low), int(high)


def sample_sites(motif: Motif, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` binding sites drawn from the motif's column probabilities: tokens ``[n, W]``."""
    columns = motif.probabilities().T  # [W, 4]
    return torch.multinomial(
        columns, n, replacement=True, generator=generator
    ).T  # [n, W]


# ----------------------------------------------------------------------------- generator


def make_motif_sequences(
    variant: str,
    *,
    n: int = 10_000,
    length: int = 200,
    motif_a: str = "CTCF",
    motif_b: str = "TAL1::TCF3",
    min_gap: int = 10,
    gap: int | tuple[int, int] | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Generate one motif task (chapter: DNA).

    The *gap* between the two sites is the number of bases from the end of the left site's
    window to the start of the right site, windows being as wide as the wider motif: the
    right site starts ``width + gap`` bases after the left one. ``gap=None``: two random
    positions at least ``min_gap`` apart; ``gap=30``: exactly 30; ``gap=(10, 60)``: uniform
    between 10 and 60 inclusive, the left site then placed uniformly where both fit.

    Returns ``tokens`` ``[n, length]`` (0-3 = ACGT), ``labels`` ``[n]`` (half of each class),
    ``starts`` ``[n, 2]`` (the two sites' first positions, left one first) and ``motifs``
    ``[n, 2]`` (which motif each site is: 0 = A, 1 = B).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if n <= 0 or n % 2:
        raise ValueError(
            f"n must be a positive even number (two equal classes), got {n}"
        )
    motifs = load_motifs()
    for name in (motif_a, motif_b):
        if name not in motifs:
            raise ValueError(
                f"unknown motif {name!r}; stored motifs: {', '.join(motifs)}"
            )
    a, b = motifs[motif_a], motifs[motif_b]
    width = max(a.width, b.width)
    low, high = _gap_range(gap, min_gap)
    if length < 2 * width + high:
        raise ValueError(
            f"length {length} cannot hold two {width}-bp sites {high} bp apart: use a gap of at "
            f"most {length - 2 * width} bp or a length of at least {2 * width + high}"
        )

    # the same draws, in the same order, for every variant
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (n, length), generator=g)  # [n, L] uniform background
    labels = torch.zeros(n, dtype=torch.long)
    labels[torch.randperm(n, generator=g)[: n // 2]] = 1
    if gap is None:
        starts = torch.randint(0, length - width + 1, (n, 2), generator=g)
        while (clash := (starts[:, 0] - starts[:, 1]).abs() < width + min_gap).any():
            starts[clash] = torch.randint(
                0, length - width + 1, (int(clash.sum()), 2), generator=g
            )
        starts = torch.sort(starts, dim=1).values  # [n, 2], left site first
    else:
        gaps = torch.randint(low, high + 1, (n,), generator=g)  # [n]
        room = length - 2 * width - gaps + 1  # [n] places for the left site
        left = (torch.rand(n, generator=g) * room).long()  # [n], uniform in [0, room)
        starts = torch.stack([left, left + width + gaps], dim=1)  # [n, 2]
    pools = (sample_sites(a, n, g), sample_sites(b, n, g))  # [n, W_a], [n, W_b]

    # which motif sits in each slot, and which pool entry it uses
    positive, negative = (
        torch.nonzero(labels == 1).flatten(),
        torch.nonzero(labels == 0).flatten(),
    )
    rows = torch.arange(n)
    if variant == "order":  # positives A..B, negatives B..A; row i uses pool entry i
        which = torch.stack([1 - labels, labels], dim=1)  # [n, 2]
        entry = torch.stack([rows, rows], dim=1)
    else:  # positives A..A, negatives B..B; each pool entry still used exactly once
        which = torch.stack([1 - labels, 1 - labels], dim=1)
        entry = torch.stack([rows, rows], dim=1)
        entry[positive, 1] = (
            negative  # a positive's second A site borrows a negative's entry
        )
        entry[negative, 1] = positive
    for slot in range(2):
        for m, sites in enumerate(pools):
            chosen = torch.nonzero(which[:, slot] == m).flatten()
            w = sites.shape[1]
            columns = starts[chosen, slot, None] + torch.arange(w)  # [k, w]
            tokens[chosen[:, None], columns] = sites[entry[chosen, slot]]
    return {"tokens": tokens, "labels": labels, "starts": starts, "motifs": which}


def load_motif_grammar(
    *,
    split: str = "random",
    variant: str = "presence",
    n: int = 10_000,
    length: int = 200,
    motif_a: str = "CTCF",
    motif_b: str = "TAL1::TCF3",
    min_gap: int = 10,
    gap: int | tuple[int, int] | None = None,
    quick: bool | None = None,
    seed: int = 0,
) -> TaskData:
    """A motif task as a ``"dna"`` task: ``x`` ``[B, 4, length]`` one-hot (chapter: DNA).

    ``split="random"``: 80/10/10, stratified and seeded; quick mode keeps a few hundred.
    ``gap`` fixes the spacing of the two sites (see :func:`make_motif_sequences`).
    """
    if split != "random":
        raise ValueError(
            f"motif_grammar splits: 'random' (stratified, seeded), got {split!r}"
        )
    quick = config.quick if quick is None else quick
    data = make_motif_sequences(
        variant,
        n=n,
        length=length,
        motif_a=motif_a,
        motif_b=motif_b,
        min_gap=min_gap,
        gap=gap,
        seed=seed,
    )
    labels = data["labels"]
    train, val, test = stratified_split(labels, (0.8, 0.1), seed=seed)
    parts = {"train": train, "val": val, "test": test}
    if quick:
        parts = quick_subsets(parts, labels, seed=seed)

    def make(idx: torch.Tensor) -> Split:
        return Split(tokens_to_one_hot(data["tokens"][idx]), labels[idx])  # [B, 4, L]

    motifs = load_motifs()
    if variant == "presence":
        class_names = (f"no {motif_a}", motif_a)
    else:
        class_names = (f"{motif_b} first", f"{motif_a} first")
    spec = TaskSpec(
        name="motif_grammar",
        layout="dna",
        input_shape=(4, length),
        num_classes=2,
        class_names=class_names,
        extra={
            "variant": variant,
            "motif_a": (motif_a, motifs[motif_a].matrix_id),
            "motif_b": (motif_b, motifs[motif_b].matrix_id),
            "length": length,
            "n": n,
            "min_gap": min_gap,
            "gap": gap,
            "jaspar_release": jaspar_info()["release"],
            "site_starts": {k: data["starts"][v] for k, v in parts.items()},
            "site_motifs": {k: data["motifs"][v] for k, v in parts.items()},
            "split": split,
            "quick": quick,
            "seed": seed,
        },
    )
    return TaskData(spec, make(parts["train"]), make(parts["val"]), make(parts["test"]))


def make_motif_split(
    variant: str,
    *,
    n: int = 1000,
    length: int = 200,
    gap: int | tuple[int, int] | None = None,
    motif_a: str = "CTCF",
    motif_b: str = "TAL1::TCF3",
    seed: int = 1,
) -> Split:
    """A fresh test set of ``n`` sequences at any ``length`` and ``gap``: ``x`` ``[n, 4,
    length]`` (chapter: DNA). Use a ``seed`` other than the training task's, so that no
    background or site is shared with training: e.g. train at 200 bp, test at 800 bp."""
    data = make_motif_sequences(
        variant,
        n=n,
        length=length,
        motif_a=motif_a,
        motif_b=motif_b,
        gap=gap,
        seed=seed,
    )
    return Split(tokens_to_one_hot(data["tokens"]), data["labels"])  # [n, 4, length]
