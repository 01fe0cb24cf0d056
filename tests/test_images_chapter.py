"""The Images chapter's machinery: class means, permuted pixels, stage shapes, feature maps,
accuracy after k rows and its figures, each checked against a NumPy or hand-built reference."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from utils import interpret, plots
from utils.data.images import class_means, permute_pixels, pixel_permutation
from utils.data.spec import Split, TaskSpec
from utils.models import build_model


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_spec():
    return TaskSpec("images", "image", (1, 28, 28), 10, tuple("abcdefghij"))


def rows_spec():
    return TaskSpec("images", "sequence", (28, 28), 10, tuple("abcdefghij"))


# ----------------------------------------------------------------------------- data


def test_class_means_match_a_numpy_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 1, 4, 5)).astype(np.float16)
    y = rng.integers(0, 3, size=50)
    means = class_means(torch.from_numpy(x), torch.from_numpy(y), 3)
    for c in range(3):
        expected = x[y == c].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(means[c].numpy(), expected, atol=1e-5)
    assert means.shape == (3, 1, 4, 5) and means.dtype == torch.float32


def test_class_means_leave_an_empty_class_nan_and_reject_mismatched_labels():
    means = class_means(torch.ones(4, 2, 2), torch.tensor([0, 0, 2, 2]), 3)
    assert torch.isnan(means[1]).all() and torch.equal(means[0], torch.ones(2, 2))
    with pytest.raises(ValueError, match="matching splits"):
        class_means(torch.ones(4, 2, 2), torch.tensor([0, 1]), 3)


def test_permute_pixels_matches_numpy_take_and_is_undone_by_argsort():
    x = torch.arange(2 * 1 * 3 * 4, dtype=torch.float32).reshape(2, 1, 3, 4)
    permutation = pixel_permutation(12, seed=3)
    out = permute_pixels(x, permutation)
    expected = np.take(x.numpy().reshape(2, 1, 12), permutation.numpy(), axis=-1)
    np.testing.assert_array_equal(out.numpy(), expected.reshape(2, 1, 3, 4))
    assert torch.equal(permute_pixels(out, permutation.argsort()), x)
    rows = x[:, 0]  # [B, H, W]: the rows view is permuted the same way
    assert torch.equal(permute_pixels(rows, permutation), out[:, 0])


def test_pixel_permutation_is_fixed_by_its_seed_and_a_true_permutation():
    a, b = pixel_permutation(784, seed=0), pixel_permutation(784, seed=0)
    assert torch.equal(a, b) and not torch.equal(a, pixel_permutation(784, seed=1))
    assert torch.equal(a.sort().values, torch.arange(784))


def test_permute_pixels_explains_a_wrong_permutation_size():
    with pytest.raises(ValueError, match=r"pixel_permutation\(784\)"):
        permute_pixels(torch.zeros(2, 1, 28, 28), pixel_permutation(100))
    with pytest.raises(ValueError, match="expected images"):
        permute_pixels(torch.zeros(784), pixel_permutation(784))


# ----------------------------------------------------------------------------- interpret


def test_stage_shapes_follow_a_cnn_and_a_crnn():
    torch.manual_seed(0)
    cnn = build_model("cnn2d", image_spec())
    stages = interpret.stage_shapes(cnn, torch.zeros(5, 1, 28, 28))
    names = [name for name, _, _ in stages]
    assert names[:3] == ["features.0", "features.1", "features.2"]
    shapes = dict((name, shape[0]) for name, _, shape in stages)
    assert shapes["features.0"] == (5, 16, 14, 14)  # same padding, then a 2x2 max-pool
    assert shapes["features.2"] == (5, 64, 4, 4)  # ceil(7 / 2) = 4
    assert shapes["head"] == (5, 10)
    crnn = build_model("crnn", image_spec())
    stages = interpret.stage_shapes(crnn, torch.zeros(2, 1, 28, 28))
    rnn = next(shape for name, _, shape in stages if name == "rnn")
    # 7 columns read in order, and a final state
    assert rnn[0][:2] == (2, 7) and len(rnn) == 2
    cnn.train()  # the helper leaves the mode as it found it
    interpret.stage_shapes(cnn, torch.zeros(1, 1, 28, 28))
    assert cnn.training


def test_feature_maps_equal_the_first_block_computed_by_hand():
    torch.manual_seed(0)
    model = build_model("cnn2d", image_spec()).eval()
    x = torch.randn(3, 1, 28, 28)
    block = model.model.features[0]
    conv, norm = block[0], block[1]
    expected = nn.functional.max_pool2d(torch.relu(norm(conv(x))), 2, ceil_mode=True)
    maps = interpret.feature_maps(model, x, block)
    assert torch.allclose(maps, expected, atol=1e-6)
    with pytest.raises(ValueError, match="not a layer of this model"):
        interpret.feature_maps(model, x, nn.Conv2d(1, 1, 3))


def test_accuracy_after_steps_is_the_head_on_the_hidden_state_after_k_rows():
    torch.manual_seed(0)
    model = build_model("gru", rows_spec()).eval()
    x = torch.randn(40, 28, 28)
    inner = model.model
    with torch.no_grad():
        outputs, _ = inner.encoder(x)  # (B, 28, H): the state after every row
        by_hand = {k: inner.head(outputs[:, k - 1]).argmax(1) for k in (1, 7, 28)}
    y = by_hand[7].clone()
    y[:10] = (y[:10] + 1) % 10  # 30 of 40 right after 7 rows
    result = interpret.accuracy_after_steps(
        model, Split(x, y), [1, 7, 28], batch_size=16
    )
    assert result[7] == pytest.approx(0.75)
    for k in (1, 28):
        assert result[k] == pytest.approx((by_hand[k] == y).float().mean().item())


def test_accuracy_after_steps_rejects_images_and_impossible_steps():
    model = build_model("gru", rows_spec())
    with pytest.raises(ValueError, match="view='rows'"):
        interpret.accuracy_after_steps(
            model, Split(torch.zeros(4, 1, 28, 28), torch.zeros(4)), [1]
        )
    with pytest.raises(ValueError, match="between 1 and the 28"):
        interpret.accuracy_after_steps(
            model, Split(torch.zeros(4, 28, 28), torch.zeros(4)), [29]
        )


# ----------------------------------------------------------------------------- figures


def test_plot_filters_and_feature_maps_draw_every_channel():
    fig = plots.plot_filters(torch.randn(16, 1, 3, 3))
    assert len([ax for ax in fig.axes if ax.images]) == 16  # one image per filter
    with pytest.raises(ValueError, match="first layer"):
        plots.plot_filters(torch.randn(16, 3, 3))
    fig = plots.plot_feature_maps(
        torch.zeros(1, 28, 28), torch.rand(12, 14, 14), ncols=6
    )
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 12


def test_plot_accuracy_against_labels_axes_and_checks_lengths():
    fig = plots.plot_accuracy_against(
        [0, 2, 4],
        {"CNN": [0.9, 0.8, 0.5], "RNN": [0.9, 0.6, 0.3]},
        xlabel="shift (pixels)",
        chance=0.1,
    )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "shift (pixels)" and "accuracy" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "CNN",
        "RNN",
        "chance",
    ]
    with pytest.raises(ValueError, match="2 scores for 3 values"):
        plots.plot_accuracy_against([0, 2, 4], {"CNN": [0.9, 0.8]}, xlabel="shift")


def test_plot_accuracy_against_keeps_a_family_colour():
    fig = plots.plot_accuracy_against(
        [1, 2],
        {"CRNN": [0.5, 0.6], "GRU": [0.4, 0.5]},
        xlabel="k",
        colors={"CRNN": plots.color(3)},
    )
    crnn, gru = fig.axes[0].get_lines()[:2]
    assert crnn.get_color() == plots.color(3) and gru.get_color() == plots.color(1)


def test_plot_accuracy_against_tells_equal_lines_apart():
    # two models at chance draw the same points: marker and dash pattern must differ
    fig = plots.plot_accuracy_against(
        [1, 2], {"A": [0.5, 0.5], "B": [0.5, 0.5]}, xlabel="k"
    )
    a, b = fig.axes[0].get_lines()[:2]
    assert a.get_marker() != b.get_marker() and a.get_linestyle() != b.get_linestyle()
