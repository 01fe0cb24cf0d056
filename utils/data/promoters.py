"""Promoter recognition on CNNProm's data: is this 251-bp sequence a promoter? (chapter: DNA).

Umarov & Solovyev (2017) collected promoters from EPDnew, 200 bp upstream to 50 bp downstream
of the transcription start site, and non-promoter sequences from the same genomes. Tasks:

- ``organism="arabidopsis"`` (default): non-TATA and TATA promoters (7,402) against
  ``Arabidopsis_non_prom_big`` (11,459);
- ``organism="mouse"``: TATA promoters (1,255) against non-promoters (3,530).

**De-duplication.** A few sequences occur more than once. A sequence and its reverse
complement count as the same (reverse-complement augmentation would otherwise show the model a
test sequence), we keep one copy of each, and drop sequences that appear with both labels.
Only then is the data split (stratified by label, seeded), so no sequence, nor its reverse
complement, sits in two splits.
"""

from __future__ import annotations

import torch

from utils.config import config
from utils.data import dna
from utils.data.download import fetch
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.splits import quick_subsets, stratified_split

LENGTH = 251
CLASS_NAMES = ("non-promoter", "promoter")
FILES = {
    "arabidopsis": {
        "promoter": ("Arabidopsis_non_tata.fa", "Arabidopsis_tata.fa"),
        "non-promoter": ("Arabidopsis_non_prom_big.fa",),
    },
    "mouse": {"promoter": ("Mouse_tata.fa",), "non-promoter": ("Mouse_nonprom.fa",)},
}


def deduplicate(
    sequences: list[str], labels: list[int]
) -> tuple[list[int], dict[str, int]]:
    """Indices to keep: the first copy of each sequence (a sequence and its reverse complement
    are the same), none of a sequence seen with two labels (chapter: DNA).

    Returns ``(keep, report)``; ``report`` counts the sequences dropped as ``duplicates`` (later
    copies) and as ``conflicting`` (every copy of a sequence labelled both ways).
    """
    keys = [
        min(s, dna.reverse_complement_sequence(s)) for s in sequences
    ]  # one key per strand pair
    labels_of: dict[str, set[int]] = {}
    for key, label in zip(keys, labels, strict=True):
        labels_of.setdefault(key, set()).add(label)
    keep, seen = [], set()
    for i, key in enumerate(keys):
        if key not in seen and len(labels_of[key]) == 1:
            keep.append(i)
        seen.add(key)
    conflicting = sum(len(labels_of[key]) > 1 for key in keys)
    return keep, {
        "duplicates": len(keys) - len(keep) - conflicting,
        "conflicting": conflicting,
    }


def load_sequences(
    organism: str = "arabidopsis",
) -> tuple[list[str], torch.Tensor, list[str]]:
    """All sequences of ``organism`` with labels (1 = promoter) and FASTA headers, before
    de-duplication (chapter: DNA)."""
    if organism not in FILES:
        raise ValueError(
            f"organism must be one of {', '.join(FILES)}, got {organism!r}"
        )
    folder = fetch("promoters", progress=False)
    sequences, labels, headers = [], [], []
    for label, kind in enumerate(CLASS_NAMES):
        for filename in FILES[organism][kind]:
            for header, sequence in dna.read_fasta(folder / filename, length=LENGTH):
                sequences.append(sequence)
                labels.append(label)
                headers.append(f"{filename}:{header}")
    return sequences, torch.tensor(labels), headers


def load_promoters(
    *,
    split: str = "random",
    organism: str = "arabidopsis",
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    quick: bool | None = None,
    seed: int = 0,
) -> TaskData:
    """Promoter vs non-promoter as a ``"dna"`` task: ``x`` ``[B, 4, 251]`` one-hot (chapter: DNA).

    ``split="random"``: de-duplicated, then stratified by label and seeded into
    train/val/test (default 80/10/10). The classes are not balanced (Arabidopsis: 39 %
    promoters); ``spec.extra["class_counts"]`` gives the counts.
    """
    if split != "random":
        raise ValueError(
            f"promoter splits: 'random' (stratified, seeded), got {split!r}"
        )
    quick = config.quick if quick is None else quick
    sequences, labels, headers = load_sequences(organism)
    keep, report = deduplicate(sequences, labels.tolist())
    keep = torch.tensor(keep)
    labels = labels[keep]
    train, val, test = stratified_split(
        labels, (1 - val_fraction - test_fraction, val_fraction), seed=seed
    )
    parts = {"train": train, "val": val, "test": test}
    if quick:
        parts = quick_subsets(parts, labels, seed=seed)

    def make(idx: torch.Tensor) -> Split:
        return Split(
            dna.one_hot([sequences[keep[i]] for i in idx.tolist()]), labels[idx]
        )

    spec = TaskSpec(
        name="promoters",
        layout="dna",
        input_shape=(4, LENGTH),
        num_classes=2,
        class_names=CLASS_NAMES,
        extra={
            "organism": organism,
            "length": LENGTH,
            "files": FILES[organism],
            "class_counts": torch.bincount(labels, minlength=2).tolist(),
            "removed": report,
            "split": split,
            "quick": quick,
            "ids": {
                k: tuple(headers[keep[i]] for i in v.tolist()) for k, v in parts.items()
            },
        },
    )
    return TaskData(spec, make(parts["train"]), make(parts["val"]), make(parts["test"]))
