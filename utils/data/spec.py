"""The contract between datasets and models: a task's metadata and its tensors
(chapter: Getting started).

Every loader returns a :class:`TaskData`; every model is sized from its :class:`TaskSpec`.
Tensors stay in memory and are batched by indexing (``split.batch(idx)``), which on a laptop
CPU is much faster than a ``DataLoader`` that collates one example at a time. ``x`` may be
stored as float16 to save memory (Fashion-MNIST); ``split.batch(idx)`` returns float32.

Layouts (``TaskSpec.layout``), with the batch axis ``B`` first:

- ``"image"``    ``x`` is ``[B, C, H, W]`` float (Fashion-MNIST: ``[B, 1, 28, 28]``).
- ``"sequence"`` ``x`` is ``[B, T, F]`` float: ``T`` time steps of ``F`` features (log-mel frames,
  image rows). ``lengths`` (``[B]``, int64) gives each example's true length when padded
  (the course's loaders always fill it, with ``T`` for fixed-length sequences).
- ``"dna"``      ``x`` is ``[B, 4, L]`` float one-hot over A, C, G, T.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

LAYOUTS = ("image", "sequence", "dna")


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task to size its input and output layers.

    ``input_shape`` is one example's shape without the batch axis, e.g. ``(1, 28, 28)``,
    ``(T, F)`` or ``(4, 251)``; for padded variable-length sequences ``T`` is the padded length.
    """

    name: str
    layout: str
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...]
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{self.name}: {self.num_classes} classes but {len(self.class_names)} class names"
            )


@dataclass
class Split:
    """One split of a task: inputs ``x``, integer labels ``y`` and, for sequences, ``lengths``."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} examples but y has {len(self.y)}")
        if self.lengths is not None and len(self.lengths) != len(self.x):
            raise ValueError(
                f"x has {len(self.x)} examples but lengths has {len(self.lengths)}"
            )

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index) -> Split:
        """Select examples by index tensor, slice or mask: ``split[idx]`` is a smaller Split."""
        lengths = None if self.lengths is None else self.lengths[index]
        return Split(self.x[index], self.y[index], lengths)

    def batch(self, index, device=None) -> Split:
        """``split[index]`` as float32 on ``device``, ready for a model (chapter: Getting started).

        Use this in training loops: inputs stored compactly (Fashion-MNIST keeps float16) are
        converted here, one batch at a time.
        """
        lengths = None if self.lengths is None else self.lengths[index].to(device)
        x = self.x[index].to(device=device, dtype=torch.float32)
        return Split(x, self.y[index].to(device), lengths)

    def to(self, device) -> Split:
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Split(self.x.to(device), self.y.to(device), lengths)

    def __repr__(self) -> str:
        extra = "" if self.lengths is None else ", lengths"
        return f"Split(x={list(self.x.shape)} {self.x.dtype}, y={list(self.y.shape)}{extra})"


@dataclass
class TaskData:
    """A task's metadata and its train/validation/test splits.

    ``extra_tests`` holds further test sets by name, read once at the end like ``test``
    (digit strings: ``{"new_voice": ...}``, strings spoken by a speaker never trained on).
    """

    spec: TaskSpec
    train: Split
    val: Split
    test: Split
    extra_tests: dict[str, Split] = field(default_factory=dict)

    def __post_init__(self):
        for name, part in self.extra_tests.items():
            if name in ("train", "val", "test") or not isinstance(part, Split):
                raise ValueError(
                    f"extra_tests maps new names to Splits, got {name!r}: {type(part).__name__}"
                )

    def __repr__(self) -> str:
        extra = "".join(f", {k}={len(v)}" for k, v in self.extra_tests.items())
        return (
            f"TaskData({self.spec.name}: train={len(self.train)}, val={len(self.val)}, "
            f"test={len(self.test)}{extra}, layout={self.spec.layout}, "
            f"input_shape={self.spec.input_shape}, classes={self.spec.num_classes})"
        )
