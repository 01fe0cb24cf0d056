"""The DNA chapter's helpers: GC content, IUPAC matrices, the other strand of a matrix, and
the similarity score between a learned filter and a known motif (references: hand-computed
examples and numpy's Pearson correlation)."""

import numpy as np
import pytest
import torch

from utils.data.dna import gc_content, iupac_pfm, one_hot, reverse_complement_sequence
from utils.interpret import pfm_similarity, reverse_complement_pfm


def test_gc_content_by_hand():
    x = one_hot(["GGCC", "ATAT", "GATN"])
    assert torch.allclose(gc_content(x), torch.tensor([1.0, 0.0, (1 + 0.5) / 4]))
    with pytest.raises(ValueError, match=r"expected one-hot DNA \[N, 4, L\]"):
        gc_content(torch.zeros(4, 10))


def test_iupac_pfm_by_hand():
    pfm = iupac_pfm("TAWN")
    expected = torch.tensor(
        [[0, 0, 0, 1.0], [1.0, 0, 0, 0], [0.5, 0, 0, 0.5], [0.25, 0.25, 0.25, 0.25]]
    )
    assert torch.equal(pfm, expected)
    with pytest.raises(ValueError, match="not an IUPAC DNA letter"):
        iupac_pfm("TAXA")


def test_reverse_complement_pfm_matches_the_sequence_rule():
    sequence = "GATTACA"
    pfm = iupac_pfm(sequence)
    assert torch.equal(
        reverse_complement_pfm(pfm), iupac_pfm(reverse_complement_sequence(sequence))
    )


def _pearson_reference(a, b):
    """Mean over columns of numpy's Pearson correlation (0 for a constant column)."""
    values = []
    for u, v in zip(a, b, strict=True):
        values.append(0.0 if u.std() == 0 or v.std() == 0 else np.corrcoef(u, v)[0, 1])
    return float(np.mean(values))


def test_similarity_finds_an_embedded_motif_and_its_offset():
    tata = iupac_pfm("TATAWAWR")
    flank = torch.full((3, 4), 0.25)
    pfm = torch.cat([flank, tata, flank[:2]])  # the box starts at position 3 of 13
    found = pfm_similarity(pfm, tata)
    assert found == {"score": pytest.approx(1.0), "offset": 3, "strand": "+"}


def test_similarity_finds_the_other_strand():
    tata = iupac_pfm("TATAWAWR")
    found = pfm_similarity(reverse_complement_pfm(tata), tata)
    assert found["strand"] == "-" and found["score"] == pytest.approx(1.0)


def test_similarity_score_equals_numpy_pearson_at_the_best_offset():
    g = torch.Generator().manual_seed(0)
    pfm = torch.rand(12, 4, generator=g)
    pfm = pfm / pfm.sum(dim=1, keepdim=True)
    reference = torch.rand(6, 4, generator=g)
    reference = reference / reference.sum(dim=1, keepdim=True)
    found = pfm_similarity(pfm, reference)
    # brute force with numpy over every placement on both strands
    scores = {}
    for strand, ref in (("+", reference), ("-", reference.flip(0, 1))):
        for offset in range(0, 12 - 6 + 1):
            scores[(strand, offset)] = _pearson_reference(
                pfm[offset : offset + 6].numpy(), ref.numpy()
            )
    best = max(scores, key=scores.get)
    assert (found["strand"], found["offset"]) == best
    assert found["score"] == pytest.approx(scores[best], abs=1e-9)


def test_a_uniform_matrix_scores_zero_and_bad_shapes_say_how_to_fix():
    assert (
        pfm_similarity(torch.full((10, 4), 0.25), iupac_pfm("TATAWAWR"))["score"] == 0.0
    )
    with pytest.raises(ValueError, match=r"transpose a \[4, positions\] matrix"):
        pfm_similarity(torch.rand(4, 10), iupac_pfm("TATA"))


def test_check_reverse_complement_feedback():
    from utils import checks

    assert checks.check_reverse_complement("TAACGCAT", "ATGCGTTA")
    # case does not matter
    assert checks.check_reverse_complement("taacgcat", "ATGCGTTA")
    reversed_only = checks.check_reverse_complement("ATTGCGTA", "ATGCGTTA")
    assert not reversed_only and "not complemented" in reversed_only.feedback
    complemented_only = checks.check_reverse_complement("TACGCAAT", "ATGCGTTA")
    assert not complemented_only and "not reversed" in complemented_only.feedback
    assert not checks.check_reverse_complement("TAACG", "ATGCGTTA")
    assert not checks.check_reverse_complement(8, "ATGCGTTA")


def test_check_pooled_steps_matches_the_model():
    from torch import nn

    from utils import checks

    steps = nn.MaxPool1d(8, ceil_mode=True)(torch.zeros(1, 1, 251)).shape[
        2
    ]  # the reference
    assert steps == 32 and checks.check_pooled_steps(steps, length=251, pool=8)
    floor = checks.check_pooled_steps(31, length=251, pool=8)
    assert not floor and "ceil_mode" in floor.feedback
    assert not checks.check_pooled_steps(251, length=251, pool=8)
    assert not checks.check_pooled_steps(31.5, length=251, pool=8)
