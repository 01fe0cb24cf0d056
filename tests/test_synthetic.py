"""The synthetic tasks of Part I: the adding problem and a pattern at a random position."""

import pytest
import torch

from utils.data.synthetic import (
    ADDING_BASELINE_MSE,
    adding_examples,
    adding_problem,
    make_patterns,
    mse_loss,
    pattern_anywhere,
    pattern_examples,
)


def test_adding_examples_mark_one_value_in_each_half_and_add_them():
    split = adding_examples(200, 10, torch.Generator().manual_seed(0))
    values, markers = split.x[..., 0], split.x[..., 1]  # (n, T) each
    assert split.x.shape == (200, 10, 2)
    assert torch.equal(markers.sum(dim=1), torch.full((200,), 2.0))
    # one in the first half
    assert torch.equal(markers[:, :5].sum(dim=1), torch.ones(200))
    assert torch.allclose(split.y, (values * markers).sum(dim=1))
    assert torch.equal(split.lengths, torch.full((200,), 10))


def test_adding_problem_by_hand():
    split = adding_examples(1, 4, torch.Generator().manual_seed(3))
    first = int(torch.nonzero(split.x[0, :2, 1])[0])
    second = 2 + int(torch.nonzero(split.x[0, 2:, 1])[0])
    expected = split.x[0, first, 0] + split.x[0, second, 0]
    assert split.y[0].item() == pytest.approx(expected.item())


def test_adding_problem_is_seeded_and_its_baseline_is_one_sixth():
    a, b = (
        adding_problem(12, train=50, val=10, test=10),
        adding_problem(12, train=50, val=10, test=10),
    )
    assert torch.equal(a.train.x, b.train.x)
    assert not torch.equal(a.train.x[:10], a.val.x)  # splits are drawn separately
    assert a.spec.input_shape == (12, 2) and a.spec.num_classes == 1
    big = adding_examples(200_000, 8, torch.Generator().manual_seed(1))
    assert (big.y - 1.0).pow(2).mean().item() == pytest.approx(
        ADDING_BASELINE_MSE, abs=2e-3
    )
    with pytest.raises(ValueError, match="at least 4"):
        adding_examples(5, 3)
    with pytest.raises(ValueError, match="train"):
        adding_problem(10, train=0)


def test_mse_loss_matches_torch_and_asks_for_one_output():
    outputs, y = torch.randn(7, 1), torch.randn(7)
    reference = torch.nn.MSELoss()(outputs[:, 0], y)
    assert torch.allclose(mse_loss(outputs, y), reference)
    with pytest.raises(ValueError, match="num_classes=1"):
        mse_loss(torch.randn(7, 3), y)


def test_pattern_examples_place_the_pattern_where_asked():
    patterns = make_patterns(3, 5, seed=0)
    assert patterns.shape == (3, 5)
    assert torch.allclose(patterns.abs().amax(dim=1), torch.ones(3))
    split = pattern_examples(
        40,
        patterns,
        30,
        torch.Generator().manual_seed(0),
        positions=(10, 12),
        noise=0.0,
    )
    assert split.x.shape == (40, 30, 1)
    signal = split.x[..., 0]
    for row, label in zip(signal, split.y, strict=True):
        start = int(torch.nonzero(row)[0])
        assert 10 <= start <= 12
        assert torch.allclose(row[start : start + 5], patterns[label])
        assert int(torch.count_nonzero(row)) <= 5
    with pytest.raises(ValueError, match="positions"):
        pattern_examples(4, patterns, 30, positions=(20, 28))


def test_pattern_anywhere_restricts_training_positions_only():
    task = pattern_anywhere(
        40, width=5, train=300, val=50, test=300, train_positions=(0, 9), noise=0.0
    )
    first = lambda x: torch.tensor([int(torch.nonzero(r)[0]) for r in x[..., 0]])  # noqa: E731
    assert int(first(task.train.x).max()) <= 9
    assert int(first(task.test.x).max()) > 20  # the test set places patterns anywhere
    assert task.spec.layout == "sequence" and task.spec.input_shape == (40, 1)
    assert task.spec.extra["patterns"].shape == (3, 5)
