"""Small synthetic tasks that isolate one idea each, generated in memory from a seed
(chapters: Recurrent networks, Convolutional networks).

- :func:`adding_problem`: remember two marked numbers across a long sequence and add them
  (Hochreiter & Schmidhuber, 1997), the classic test of a network's memory.
- :func:`pattern_anywhere`: which of a few short patterns is hidden somewhere in a noisy
  sequence, at a random position, the classic case for a convolution.

Each returns a :class:`~utils.data.spec.TaskData`, so :func:`~utils.models.build_model` and
:func:`~utils.train.fit` take it like any dataset of the course.
"""

from __future__ import annotations

import torch

from utils.data.spec import Split, TaskData, TaskSpec

# ----------------------------------------------------------------------------- helpers


def _check_sizes(**sizes) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _three_splits(
    make, sizes: tuple[int, int, int], seed: int
) -> tuple[Split, Split, Split]:
    """``make(n, generator)`` for train, validation and test, each from its own seed."""
    return tuple(
        make(n, torch.Generator().manual_seed(seed * 3 + i))
        for i, n in enumerate(sizes)
    )


# ----------------------------------------------------------------------------- the adding problem

# always answering 1.0: the variance of the sum of two U(0, 1)
ADDING_BASELINE_MSE = 1 / 6


def adding_examples(
    n: int, length: int, generator: torch.Generator | None = None
) -> Split:
    """``n`` sequences of the adding problem (chapter: Recurrent networks).

    Each step carries two features: a random number in [0, 1) and a marker, 1 at exactly two
    steps (one in the first half, one in the second) and 0 elsewhere. The target is the sum of
    the two marked numbers, in [0, 2). ``x`` is ``[n, length, 2]``, ``y`` ``[n]`` (float).
    """
    _check_sizes(n=n)
    if not isinstance(length, int) or length < 4:
        raise ValueError(
            f"length must be a whole number of at least 4 steps, got {length!r}"
        )
    values = torch.rand(n, length, generator=generator)  # (n, T)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)  # (n,)
    second = torch.randint(half, length, (n,), generator=generator)  # (n,)
    rows = torch.arange(n)
    markers = torch.zeros(n, length)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=2)  # (n, T, 2)
    y = values[rows, first] + values[rows, second]  # (n,)
    return Split(x, y, torch.full((n,), length))


def adding_problem(
    length: int, *, train: int = 4000, val: int = 500, test: int = 1000, seed: int = 0
) -> TaskData:
    """The adding problem at one sequence ``length`` as a task (chapter: Recurrent networks).

    A regression: train with ``fit(..., loss_fn=mse_loss, metric="loss")`` and a model with one
    output. Always answering 1.0 scores a mean squared error of 1/6 (``ADDING_BASELINE_MSE``):
    a model that does better has remembered something about the marked numbers.
    """
    _check_sizes(train=train, val=val, test=test)
    splits = _three_splits(
        lambda n, g: adding_examples(n, length, g), (train, val, test), seed
    )
    spec = TaskSpec(f"adding_{length}", "sequence", (length, 2), 1, ("sum",))
    return TaskData(spec, *splits)


def mse_loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between one output per example ``[B, 1]`` and targets ``[B]``
    (chapter: Recurrent networks)."""
    if outputs.dim() != 2 or outputs.shape[1] != 1:
        raise ValueError(
            f"expected one output per example, [batch, 1], got {list(outputs.shape)}: "
            "build the model with num_classes=1 (the task's spec does)"
        )
    return torch.nn.functional.mse_loss(outputs.float().squeeze(1), y.float())


# ----------------------------------------------------------------------------- a pattern anywhere


def pattern_examples(
    n: int,
    patterns: torch.Tensor,
    length: int,
    generator: torch.Generator | None = None,
    *,
    positions: tuple[int, int] | None = None,
    noise: float = 0.3,
) -> Split:
    """``n`` noisy sequences, each hiding one of ``patterns`` (``[K, width]``) at a random start
    in ``positions`` (``(first, last)`` inclusive; default anywhere) (chapter: Convolutional
    networks). ``x`` is ``[n, length, 1]`` (one feature per step), ``y`` ``[n]`` the pattern's
    index."""
    _check_sizes(n=n, length=length)
    K, width = patterns.shape
    first, last = positions if positions is not None else (0, length - width)
    if not 0 <= first <= last <= length - width:
        raise ValueError(
            f"positions must satisfy 0 <= first <= last <= length - width = {length - width}, "
            f"got {positions}"
        )
    y = torch.randint(0, K, (n,), generator=generator)  # (n,)
    start = torch.randint(first, last + 1, (n,), generator=generator)  # (n,)
    x = noise * torch.randn(n, length, generator=generator)  # (n, L)
    steps = start[:, None] + torch.arange(width)  # (n, width): where each pattern goes
    x[torch.arange(n)[:, None], steps] += patterns[y]
    return Split(x[:, :, None], y, torch.full((n,), length))  # x: (n, L, 1)


def make_patterns(num_patterns: int = 3, width: int = 9, seed: int = 0) -> torch.Tensor:
    """``num_patterns`` random smooth bumps of ``width`` steps, scaled to unit peak:
    ``[num_patterns, width]`` (chapter: Convolutional networks)."""
    _check_sizes(num_patterns=num_patterns, width=width)
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(num_patterns, width + 2, generator=g)
    smooth = (
        raw[:, :-2] + raw[:, 1:-1] + raw[:, 2:]
    ) / 3  # (K, width): a moving average
    return smooth / smooth.abs().amax(dim=1, keepdim=True)


def pattern_anywhere(
    length: int = 64,
    *,
    num_patterns: int = 3,
    width: int = 9,
    train: int = 1000,
    val: int = 500,
    test: int = 1000,
    train_positions: tuple[int, int] | None = None,
    noise: float = 0.3,
    seed: int = 0,
) -> TaskData:
    """Which pattern is in the sequence, wherever it is (chapter: Convolutional networks).

    ``train_positions`` restricts where patterns start in the training and validation sets (for
    example the first half only); the test set always places them anywhere, so a model that
    learned *where* rather than *what* is found out. ``spec.extra["patterns"]`` holds the
    patterns. Layout ``"sequence"``: ``x`` is ``[n, length, 1]``, one feature per step.
    """
    patterns = make_patterns(num_patterns, width, seed)

    def make(n, g, positions):
        return pattern_examples(
            n, patterns, length, g, positions=positions, noise=noise
        )

    tr, va, _ = _three_splits(
        lambda n, g: make(n, g, train_positions), (train, val, 1), seed
    )
    (te,) = _three_splits(lambda n, g: make(n, g, None), (test,), seed + 1000)
    names = tuple(f"pattern {k}" for k in range(num_patterns))
    spec = TaskSpec(
        "pattern_anywhere",
        "sequence",
        (length, 1),
        num_patterns,
        names,
        {"patterns": patterns},
    )
    return TaskData(spec, tr, va, te)
