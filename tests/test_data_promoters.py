"""CNNProm promoters on the real FASTA files: sizes, balance and de-duplication."""

import pytest
import torch

from utils.data import dna, promoters
from utils.data.tasks import load_task

pytestmark = pytest.mark.usefixtures("quick_mode")  # see conftest.py


def _strings(x):
    """One-hot [N, 4, L] back to strings (argmax; the real files hold hardly any N)."""
    return ["".join("ACGT"[i] for i in row) for row in x.argmax(dim=1).tolist()]


def test_real_files_and_counts():
    sequences, labels, _ = promoters.load_sequences("arabidopsis")
    assert len(sequences) == 5905 + 1497 + 11459
    assert torch.bincount(labels).tolist() == [11459, 5905 + 1497]
    assert {len(s) for s in sequences} == {251}
    sequences, labels, _ = promoters.load_sequences("mouse")
    assert torch.bincount(labels).tolist() == [3530, 1255]
    with pytest.raises(ValueError, match="organism must be one of"):
        promoters.load_sequences("human")


def test_deduplicate_handles_copies_reverse_complements_and_conflicts():
    keep, report = promoters.deduplicate(
        ["AAC", "GTT", "ACG", "ACG", "CCC", "CCC"], [0, 0, 1, 1, 0, 1]
    )
    assert keep == [0, 2]  # GTT is AAC's reverse complement; CCC has both labels
    assert report == {"duplicates": 2, "conflicting": 2}


@pytest.mark.parametrize("organism", ["arabidopsis", "mouse"])
def test_full_split_has_no_sequence_in_two_splits(organism):
    data = load_task("promoters", organism=organism, quick=False)
    removed = data.spec.extra["removed"]
    total = len(data.train) + len(data.val) + len(data.test)
    raw, _, _ = promoters.load_sequences(organism)
    assert total == len(raw) - removed["duplicates"] - removed["conflicting"]
    assert removed["duplicates"] > 0  # both organisms' files hold repeated sequences
    keys = {}
    for name in ("train", "val", "test"):
        strings = _strings(getattr(data, name).x)
        keys[name] = {min(s, dna.reverse_complement_sequence(s)) for s in strings}
        assert len(keys[name]) == len(strings)  # no copy within a split either
    assert not keys["train"] & keys["test"]
    assert not keys["train"] & keys["val"]
    assert not keys["val"] & keys["test"]
    # stratified: every split keeps the promoter fraction of the whole, to within 1 %
    fractions = [
        getattr(data, n).y.float().mean().item() for n in ("train", "val", "test")
    ]
    assert max(fractions) - min(fractions) < 0.01


def test_quick_promoters():
    data = load_task("promoters")
    assert (len(data.train), len(data.val), len(data.test)) == (400, 100, 100)
    assert data.spec.layout == "dna" and data.spec.input_shape == (4, 251)
    assert data.train.x.shape == (400, 4, 251) and data.train.x.dtype == torch.float32
    assert torch.allclose(data.train.x.sum(dim=1), torch.ones(400, 251))
    assert data.spec.class_names == ("non-promoter", "promoter")
    assert 35 <= int(data.test.y.sum()) <= 43  # 39 % promoters, as in the whole set
