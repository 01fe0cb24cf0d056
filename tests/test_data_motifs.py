"""The JASPAR motif tasks: real matrices, determinism, identical motif content."""

import json
from collections import Counter

import pytest
import torch

from utils.data import motifs
from utils.data.tasks import load_task


def _planted(data, a_width, b_width):
    """(motif, site sequence) of every planted site, read back from the tokens."""
    sites = []
    for row, (starts, which) in enumerate(
        zip(data["starts"], data["motifs"], strict=True)
    ):
        for start, m in zip(starts.tolist(), which.tolist(), strict=True):
            width = a_width if m == 0 else b_width
            sites.append(
                (m, tuple(data["tokens"][row, start : start + width].tolist()))
            )
    return sites


def test_stored_matrices_are_jaspar_2024():
    stored = json.loads(motifs.JASPAR_FILE.read_text())
    assert stored["release"] == "JASPAR2024" and "CC BY 4.0" in stored["licence"]
    found = motifs.load_motifs()
    assert (
        found["CTCF"].matrix_id == "MA0139.2"
        and found["CTCF"].consensus() == "GCCACCAGGGGGCGC"
    )
    assert found["TAL1::TCF3"].matrix_id == "MA0091.2"
    for motif in found.values():
        assert torch.allclose(motif.probabilities().sum(dim=0), torch.ones(motif.width))


def test_information_content_matches_logomaker():
    import logomaker  # the reference, in the test only
    import pandas as pd

    motif = motifs.load_motifs()["CTCF"]
    probabilities = motif.probabilities().double().T.numpy()  # [W, 4]
    frame = logomaker.transform_matrix(
        pd.DataFrame(probabilities, columns=list("ACGT")),
        from_type="probability",
        to_type="information",
    )
    assert torch.allclose(
        motif.information_content().T.double(), torch.tensor(frame.values), atol=1e-3
    )


@pytest.mark.parametrize("variant", motifs.VARIANTS)
def test_deterministic_by_seed(variant):
    one = motifs.make_motif_sequences(variant, n=200, length=120, seed=3)
    two = motifs.make_motif_sequences(variant, n=200, length=120, seed=3)
    other = motifs.make_motif_sequences(variant, n=200, length=120, seed=4)
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert not torch.equal(one["tokens"], other["tokens"])


def test_variants_have_identical_motif_content():
    a, b = motifs.load_motifs()["CTCF"], motifs.load_motifs()["TAL1::TCF3"]
    order = motifs.make_motif_sequences("order", n=400, length=150, seed=0)
    presence = motifs.make_motif_sequences("presence", n=400, length=150, seed=0)
    # the same labels, positions and background draws...
    assert torch.equal(order["labels"], presence["labels"])
    assert torch.equal(order["starts"], presence["starts"])
    # ...and the very same planted sites: 400 A sites and 400 B sites in each variant
    planted_order = Counter(_planted(order, a.width, b.width))
    assert planted_order == Counter(_planted(presence, a.width, b.width))
    assert Counter(m for m, _ in planted_order.elements()) == {0: 400, 1: 400}
    assert torch.bincount(order["labels"]).tolist() == [200, 200]


def test_labels_follow_the_rules():
    order = motifs.make_motif_sequences("order", n=100, length=150, seed=1)
    assert (order["motifs"].sum(dim=1) == 1).all()  # one A and one B in every sequence
    # A upstream <=> 1
    assert torch.equal(order["motifs"][:, 0] == 0, order["labels"] == 1)
    presence = motifs.make_motif_sequences("presence", n=100, length=150, seed=1)
    has_a = (presence["motifs"] == 0).any(dim=1)
    assert torch.equal(has_a, presence["labels"] == 1)
    gap = order["starts"][:, 1] - order["starts"][:, 0]
    assert (gap >= 15 + 10).all()  # sites never overlap: CTCF is 15 bp, min_gap 10


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant must be"):
        motifs.make_motif_sequences("spacing")
    with pytest.raises(ValueError, match="even"):
        motifs.make_motif_sequences("order", n=11)
    with pytest.raises(ValueError, match="unknown motif 'SOX2'"):
        motifs.make_motif_sequences("order", motif_a="SOX2")
    with pytest.raises(ValueError, match="cannot hold"):
        motifs.make_motif_sequences("order", length=30)


def test_load_task_quick(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    data = load_task("motif_grammar", variant="order")
    assert (len(data.train), len(data.val), len(data.test)) == (400, 100, 100)
    assert data.spec.input_shape == (4, 200) and data.train.x.shape == (400, 4, 200)
    assert data.spec.class_names == ("TAL1::TCF3 first", "CTCF first")
    assert torch.bincount(data.test.y).tolist() == [50, 50]
    again = load_task("motif_grammar", variant="order")
    assert torch.equal(data.train.x, again.train.x)
