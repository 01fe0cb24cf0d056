"""The Transformer family: sinusoidal positions against NumPy, padding masked, any
length, tokens of a few steps on long inputs, budgets met at every size, clear errors.
"""

import math

import numpy as np
import pytest
import torch

from utils.data.spec import TaskSpec
from utils.models import (
    TransformerClassifier,
    build_model,
    count_parameters,
    match_parameters,
    sinusoidal_positions,
)

DNA = TaskSpec("motif_grammar", "dna", (4, 120), 2, ("absent", "present"))
SPEECH = TaskSpec("speech", "sequence", (101, 40), 10, tuple("0123456789"))
IMAGES = TaskSpec("images", "image", (1, 28, 28), 10, tuple("abcdefghij"))


def test_positions_match_the_papers_formula():
    """PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(p / 10000^(2i/d)) (odd d
    too)."""
    for size in (6, 7):
        expected = np.zeros((50, size))
        for p in range(50):
            for j in range(size):
                angle = p / 10000 ** (2 * (j // 2) / size)
                expected[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
        assert np.allclose(sinusoidal_positions(50, size).numpy(), expected, atol=1e-5)
    # defined at every position: a longer table starts with the shorter one
    assert torch.equal(sinusoidal_positions(400, 8)[:120], sinusoidal_positions(120, 8))


@pytest.mark.parametrize(("kernel_size", "patch"), [(1, 1), (3, 2), (9, 4)])
@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_padding_never_changes_the_output(kernel_size, patch, pooling):
    torch.manual_seed(0)
    model = TransformerClassifier(
        5, 3, d_model=8, heads=2, feedforward=16, kernel_size=kernel_size, patch=patch,
        pooling=pooling,
    ).eval()  # fmt: skip
    x, lengths = torch.randn(4, 11, 5), torch.tensor([11, 7, 3, 1])
    noisy = x.clone()
    for i, n in enumerate(lengths):
        noisy[i, n:] = 100 * torch.randn(11 - n, 5)  # loud padding: it must not leak
    batched = model(x, lengths)
    assert torch.allclose(batched, model(noisy, lengths), atol=1e-5)
    for i, n in enumerate(lengths.tolist()):  # each sequence alone, unpadded, agrees
        assert torch.allclose(model(x[i : i + 1, :n]), batched[i : i + 1], atol=1e-5), (
            i,
            n,
        )


def test_long_inputs_become_a_few_tokens():
    dna = build_model("transformer", DNA).model
    speech = build_model("transformer", SPEECH).model
    rows = build_model("transformer", IMAGES).model
    assert (dna.patch, dna.stem.kernel_size) == (4, (9,))  # 120 bp -> 30 tokens
    # 101 frames -> 51 tokens; 28 rows stay 28
    assert (speech.patch, rows.patch) == (
        2,
        1,
    )
    tokens = dna.stem(torch.zeros(1, 4, 251))
    assert tokens.shape[-1] == math.ceil(251 / 4)


def test_reads_four_times_its_training_length():
    """Trained at 120 bp, it reads 480 bp: sinusoidal positions exist at every position."""
    model = build_model("transformer", DNA).eval()
    x = (
        torch.nn.functional.one_hot(torch.randint(0, 4, (3, 480)), 4)
        .transpose(1, 2)
        .float()
    )
    assert model(x).shape == (3, 2) and torch.isfinite(model(x)).all()


@pytest.mark.parametrize("spec", [DNA, SPEECH, IMAGES])
@pytest.mark.parametrize("budget", [8_000, 23_000, 61_000])
def test_every_budget_is_met(spec, budget):
    """The feed-forward width absorbs d_model's rounding to a multiple of the heads."""
    model = match_parameters("transformer", spec, budget)
    assert abs(count_parameters(model) - budget) <= 0.05 * budget
    assert model.model.d_model % 4 == 0


def test_bad_settings_and_inputs_raise_clear_errors():
    with pytest.raises(
        ValueError, match=r"d_model \(30\) must be a multiple of heads \(4\)"
    ):
        TransformerClassifier(5, 2, d_model=30)
    with pytest.raises(ValueError, match="kernel_size must be odd and at least patch"):
        TransformerClassifier(5, 2, kernel_size=3, patch=4)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        TransformerClassifier(5, 2, kernel_size=2, patch=2)
    with pytest.raises(ValueError, match="pooling 'last' needs a recurrent state"):
        TransformerClassifier(5, 2, pooling="last")
    with pytest.raises(
        ValueError, match=r"expected \[batch, time, 5\] features, got \[2, 7\]"
    ):
        TransformerClassifier(5, 2)(torch.zeros(2, 7))
    with pytest.raises(ValueError, match=r"expected \[batch, 4, length\] one-hot DNA"):
        build_model("transformer", DNA)(torch.zeros(2, 120, 4))
