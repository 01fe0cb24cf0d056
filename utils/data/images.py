"""Fashion-MNIST as in-memory tensors, two views and robustness augmentations (chapter: Images).

The 70,000 28×28 greyscale images (60,000 train, 10,000 test) are read straight from the IDX
files that :func:`~utils.data.download.fetch` verified, the same files (and the same bytes)
that ``torchvision.datasets.FashionMNIST`` reads; a test checks the two agree. Parsing them
ourselves keeps the import cheap and the memory low.

**Memory.** Inputs are stored normalised as **float16** ``(pixel / 255 - MEAN) / STD``: half
the memory of float32 (the full set is 110 MB, not 220 MB), and within 0.05 % of each value
(under a tenth of a grey level), so every grey level is recovered exactly. Take batches with
``split.batch(idx)``, which returns float32; a float16 tensor cannot go straight into a
float32 model.

Two views of the same pixels:

- ``view="image"``: ``[N, 1, 28, 28]``, for CNNs;
- ``view="rows"``: ``[N, 28, 28]``, a sequence of 28 rows of 28 pixels (time = row), the
  classic way to feed an image to an RNN; ``lengths`` are all 28.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from utils.config import config
from utils.data.download import fetch
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.splits import QUICK_SIZES, stratified_split, stratified_subset

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# mean and standard deviation of the 60,000 training pixels scaled to [0, 1]
MEAN, STD = 0.2860, 0.3530
RAW = "FashionMNIST/raw"

# ----------------------------------------------------------------------------- reading


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (the MNIST format) as a uint8 tensor (chapter: Images).

    Header: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
    then each dimension as a big-endian int32; the data follows.
    """
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path.name}: not an unsigned-byte IDX file")
    ndim = int(raw[3])
    shape = tuple(int(d) for d in raw[4 : 4 + 4 * ndim].view(">i4"))
    offset = 4 + 4 * ndim
    if len(raw) - offset != math.prod(shape):
        raise ValueError(
            f"{path.name}: header says shape {shape} ({math.prod(shape):,} bytes), "
            f"file holds {len(raw) - offset:,} bytes of data"
        )
    return torch.from_numpy(raw[offset:].reshape(shape))


def load_raw(folder: Path | None = None) -> dict[str, torch.Tensor]:
    """The four IDX files as uint8 tensors: ``train_x`` ``[60000, 28, 28]``, ``train_y``,
    ``test_x`` ``[10000, 28, 28]``, ``test_y`` (chapter: Images)."""
    folder = (
        Path(folder)
        if folder is not None
        else fetch("fashion-mnist", progress=False) / RAW
    )
    return {
        "train_x": read_idx(folder / "train-images-idx3-ubyte"),
        "train_y": read_idx(folder / "train-labels-idx1-ubyte"),
        "test_x": read_idx(folder / "t10k-images-idx3-ubyte"),
        "test_y": read_idx(folder / "t10k-labels-idx1-ubyte"),
    }


def normalise(
    images: torch.Tensor,
    index: torch.Tensor | None = None,
    dtype=torch.float16,
    chunk: int = 8192,
) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` (or the rows ``index`` picks) -> ``(x / 255 - MEAN) / STD`` as
    ``[N, 1, 28, 28]`` ``dtype`` (chapter: Images).

    A pixel has only 256 possible values, so we look each one up in a 256-entry table instead
    of doing arithmetic on every pixel; chunks keep the temporary copies small.
    """
    numpy_dtype = {torch.float16: np.float16, torch.float32: np.float32}[dtype]
    # grey level -> value
    table = ((np.arange(256) / 255.0 - MEAN) / STD).astype(numpy_dtype)
    pixels = images.numpy()
    index = np.arange(len(images)) if index is None else index.numpy()
    out = np.empty((len(index), 1, *pixels.shape[1:]), dtype=table.dtype)
    for start in range(0, len(index), chunk):
        out[start : start + chunk, 0] = table[pixels[index[start : start + chunk]]]
    return torch.from_numpy(out)


# ----------------------------------------------------------------------------- augmentation


def _fill(x: torch.Tensor) -> float:
    """The normalised value of a black pixel: what an image's border should be padded with."""
    return -MEAN / STD if x.dtype.is_floating_point else 0.0


def shift_images(
    x: torch.Tensor, dx: int, dy: int, fill: float | None = None
) -> torch.Tensor:
    """Move images ``[B, C, H, W]`` by ``dx`` pixels right and ``dy`` down, filling the
    uncovered border with black (chapter: Images)."""
    if x.ndim != 4:
        raise ValueError(f"expected images [B, C, H, W], got shape {list(x.shape)}")
    fill = _fill(x) if fill is None else fill
    out = torch.full_like(x, fill)
    H, W = x.shape[-2:]
    if abs(dx) >= W or abs(dy) >= H:
        return out
    src_y, dst_y = (
        slice(max(0, -dy), H - max(0, dy)),
        slice(max(0, dy), H - max(0, -dy)),
    )
    src_x, dst_x = (
        slice(max(0, -dx), W - max(0, dx)),
        slice(max(0, dx), W - max(0, -dx)),
    )
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


def rotate_images(
    x: torch.Tensor, degrees: torch.Tensor | float, fill: float | None = None
):
    """Rotate images ``[B, C, H, W]`` anticlockwise about their centre by ``degrees`` (one
    angle, or one per image ``[B]``), bilinear, black outside (chapter: Images)."""
    if x.ndim != 4:
        raise ValueError(f"expected images [B, C, H, W], got shape {list(x.shape)}")
    fill = _fill(x) if fill is None else fill
    angle = torch.deg2rad(torch.as_tensor(degrees, dtype=torch.float32)).expand(len(x))
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # where each output pixel samples the input (y points down): [B, 2, 3]
    theta = torch.stack(
        [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # [B, H, W, 2]
    shifted = x.float() - fill  # so that zero padding means a black pixel
    out = F.grid_sample(
        shifted, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return (out + fill).to(x.dtype)


def random_augment(
    x: torch.Tensor, *, max_shift: int = 2, max_degrees: float = 15.0, generator=None
) -> torch.Tensor:
    """Random shift (up to ``max_shift`` pixels) and rotation (up to ``max_degrees``) per image
    ``[B, C, H, W]``, e.g. for a robustness experiment or training-time augmentation
    (chapter: Images)."""
    shifts = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator)
    angles = (torch.rand(len(x), generator=generator) * 2 - 1) * max_degrees
    moved = torch.stack(
        [
            shift_images(img[None], int(dx), int(dy))[0]
            for img, (dx, dy) in zip(x, shifts, strict=True)
        ]
    )
    return rotate_images(moved, angles)


# ----------------------------------------------------------------------------- task


def load_images(
    *,
    split: str = "official",
    view: str = "image",
    val_size: int = 5000,
    dtype: str = "float16",
    quick: bool | None = None,
    seed: int = 0,
) -> TaskData:
    """Fashion-MNIST as an ``"image"`` (``[B, 1, 28, 28]``) or ``"sequence"`` (``view="rows"``,
    ``[B, 28, 28]``) task, stored as normalised float16 (chapter: Images).

    ``split="official"``: the dataset's 10,000 test images; ``val_size`` of the 60,000 training
    images (stratified, seeded) form the validation set. ``dtype="float32"`` stores full
    precision (twice the memory) for code that feeds ``split.x`` to a model without
    ``split.batch``.
    """
    if split != "official":
        raise ValueError(f"Fashion-MNIST has one split, 'official', got {split!r}")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    if view not in ("image", "rows"):
        raise ValueError(f"view must be 'image' or 'rows', got {view!r}")
    quick = config.quick if quick is None else quick
    raw = load_raw()
    train_y, test_y = raw["train_y"].long(), raw["test_y"].long()
    train_idx, val_idx = stratified_split(
        train_y, (1 - val_size / len(train_y),), seed=seed
    )
    parts = {"train": train_idx, "val": val_idx, "test": torch.arange(len(test_y))}
    if quick:
        parts = {
            name: stratified_subset(
                idx, test_y if name == "test" else train_y, QUICK_SIZES[name], seed=seed
            )
            for name, idx in parts.items()
        }

    def make(name: str) -> Split:
        images, labels = (
            (raw["test_x"], test_y) if name == "test" else (raw["train_x"], train_y)
        )
        idx = parts[name]
        x = normalise(images, idx, dtype=getattr(torch, dtype))  # [B, 1, 28, 28]
        if view == "rows":
            # [B, 28, 28]
            return Split(x[:, 0], labels[idx], torch.full((len(idx),), 28))
        return Split(x, labels[idx])

    train, val, test = make("train"), make("val"), make("test")
    spec = TaskSpec(
        name="images",
        layout="image" if view == "image" else "sequence",
        input_shape=tuple(train.x.shape[1:]),
        num_classes=10,
        class_names=CLASS_NAMES,
        extra={
            "view": view,
            "mean": MEAN,
            "std": STD,
            "storage_dtype": dtype,
            "split": split,
            "quick": quick,
        },
    )
    return TaskData(spec, train, val, test)


# ----------------------------------------------------------------------------- chapter experiments


def class_means(
    x: torch.Tensor, y: torch.Tensor, num_classes: int = 10
) -> torch.Tensor:
    """The mean image of each class, ``[classes, ...]`` float32, from images ``x`` ``[N, ...]``
    and labels ``y`` ``[N]`` (chapter: Images). A class with no example gets NaNs."""
    if len(x) != len(y):
        raise ValueError(
            f"x has {len(x)} images but y has {len(y)} labels: pass matching splits"
        )
    flat = x.reshape(
        len(x), -1
    ).float()  # (N, pixels), float32 so sums stay exact enough
    one_hot = torch.nn.functional.one_hot(y.long(), num_classes).float()  # (N, classes)
    sums = one_hot.T @ flat  # (classes, pixels)
    counts = one_hot.sum(dim=0)  # (classes,)
    means = sums / counts[:, None]  # NaN where a class is empty (0 / 0)
    return means.reshape(num_classes, *x.shape[1:])  # (classes, ...)


def pixel_permutation(num_pixels: int = 28 * 28, *, seed: int = 0) -> torch.Tensor:
    """A fixed random order of ``num_pixels`` pixel positions, the same for every call with the
    same ``seed`` (chapter: Images): the "permuted pixels" task."""
    if num_pixels < 1:
        raise ValueError(f"num_pixels must be positive, got {num_pixels}")
    return torch.randperm(num_pixels, generator=torch.Generator().manual_seed(seed))


def permute_pixels(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Shuffle every image's pixels in the same fixed order (chapter: Images).

    ``x`` is ``[B, C, H, W]`` images or ``[B, H, W]`` rows; pixel ``i`` of the result (counting
    row by row) is pixel ``permutation[i]`` of the input. Every image keeps its own pixels, only
    their places change, so a model that ignores where pixels are (a fully connected network)
    cannot tell the two tasks apart. Undo it with ``permute_pixels(x, permutation.argsort())``.
    """
    if x.ndim not in (3, 4):
        raise ValueError(
            f"expected images [B, C, H, W] or rows [B, H, W], got {list(x.shape)}"
        )
    H, W = x.shape[-2:]
    if permutation.shape != (H * W,):
        raise ValueError(
            f"the permutation has shape {list(permutation.shape)}; these images need one of "
            f"{H * W} pixel positions: pixel_permutation({H * W})"
        )
    flat = x.flatten(-2)  # (..., H * W): pixels in reading order
    return flat[..., permutation].reshape(x.shape)  # (..., H, W)
