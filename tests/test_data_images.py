"""Fashion-MNIST from the real IDX files: reading, views, splits, augmentation."""

import pytest
import torch

from utils.data import images
from utils.data.splits import stratified_split
from utils.data.tasks import load_task

pytestmark = pytest.mark.usefixtures("quick_mode")  # see conftest.py


@pytest.fixture(scope="module")
def raw():
    return images.load_raw()


def test_idx_files_match_torchvision(raw):
    # the reference reader, in the test only
    from torchvision.datasets import (
        FashionMNIST,
    )

    from utils.data import fetch

    reference = FashionMNIST(
        root=fetch("fashion-mnist", progress=False), train=False, download=False
    )
    assert torch.equal(raw["test_x"], reference.data)
    assert torch.equal(raw["test_y"].long(), reference.targets)
    assert (
        raw["train_x"].shape == (60000, 28, 28) and raw["train_x"].dtype == torch.uint8
    )
    assert torch.bincount(raw["train_y"].long()).tolist() == [6000] * 10


def test_mean_and_std_constants_match_the_training_pixels(raw):
    counts = torch.bincount(
        raw["train_x"].flatten(), minlength=256
    ).double()  # grey-level histogram
    levels = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * levels).sum() / counts.sum()
    std = ((counts * (levels - mean) ** 2).sum() / counts.sum()).sqrt()
    assert mean.item() == pytest.approx(images.MEAN, abs=1e-4)
    assert std.item() == pytest.approx(images.STD, abs=1e-4)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")  # promises 5 bytes, holds 3
    with pytest.raises(ValueError, match="file holds 3 bytes"):
        images.read_idx(bad)
    (tmp_path / "text").write_text("hello")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        images.read_idx(tmp_path / "text")


def test_normalise_matches_formula(raw):
    x = images.normalise(raw["test_x"], torch.arange(50))
    expected = (raw["test_x"][:50, None].float() / 255 - images.MEAN) / images.STD
    assert x.dtype == torch.float16 and x.shape == (50, 1, 28, 28)
    assert torch.allclose(x.float(), expected, atol=2e-3)


def test_load_images_quick_views():
    data = load_task("images")
    assert (len(data.train), len(data.val), len(data.test)) == (400, 100, 100)
    assert data.spec.layout == "image" and data.spec.input_shape == (1, 28, 28)
    assert data.train.x.dtype == torch.float16
    assert torch.bincount(data.test.y, minlength=10).tolist() == [10] * 10
    batch = data.train.batch(torch.arange(8))
    assert batch.x.dtype == torch.float32 and batch.x.shape == (8, 1, 28, 28)
    rows = load_task("images", view="rows")
    assert rows.spec.layout == "sequence" and rows.spec.input_shape == (28, 28)
    assert torch.equal(rows.train.x, data.train.x[:, 0])  # same pixels, time = rows
    assert rows.train.lengths.tolist() == [28] * 400
    with pytest.raises(ValueError, match="view must be"):
        load_task("images", view="columns")


def test_official_split_sizes(raw):
    train, val = stratified_split(raw["train_y"].long(), (1 - 5000 / 60000,), seed=0)
    assert (len(train), len(val)) == (55000, 5000)
    assert torch.bincount(raw["train_y"][val].long()).tolist() == [500] * 10
    assert not set(train.tolist()) & set(val.tolist())


def test_shift_and_rotate():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    moved = images.shift_images(x, dx=1, dy=-2, fill=0.0)
    assert moved[0, 0, 0, 3] == 1.0 and moved.sum() == 1.0
    img = torch.rand(2, 1, 28, 28)
    assert torch.allclose(images.rotate_images(img, 0.0, fill=0.0), img, atol=1e-5)
    # 90 degrees anticlockwise is torch.rot90 for a square image (pixel centres map exactly)
    assert torch.allclose(
        images.rotate_images(img, 90.0, fill=0.0),
        torch.rot90(img, 1, (2, 3)),
        atol=1e-5,
    )
    out = images.random_augment(img, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape
