"""One training loop for every model in the course (chapter: Speech).

:func:`fit` trains any model whose ``forward(x, lengths=None)`` returns one of the kinds of
output :mod:`utils.evaluate` knows (logits, per-step logits, a CTC transcript) on in-memory
:class:`~utils.data.spec.Split` tensors. Its loop is the one a chapter shows::

    for epoch in range(recipe.epochs):
        train_loss, train_value = train_one_epoch(model, train, step, recipe, generator)
        val_loss, val_value = validate(model, val, step.loss_fn, recipe.metric, device)
        if best.update(val_value, model, epoch): ...   # keep the best epoch's weights

The :class:`Recipe` is what every family shares in a fair comparison: AdamW with weight decay on
weight matrices only, a one-cycle (or cosine) learning rate stepped every batch, gradient
clipping (recurrent nets need it), early stopping on the validation metric. Batches are drawn by
indexing a random permutation of tensors already in memory, which on a laptop CPU is much faster
than a ``DataLoader`` that collates one example at a time.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn

from utils.config import resolve_device, seed_everything
from utils.evaluate import LOWER_IS_BETTER, default_loss, output_kind, predict, score
from utils.files import atomic_write, write_text_atomic
from utils.models.builder import count_parameters

# ----------------------------------------------------------------------------- History


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch (chapter: Speech).

    Saved to and loaded from JSON (:meth:`save`, :meth:`load`) so chapters and the benchmark can
    compare runs without retraining. ``best_epoch`` is 0-based; ``info`` holds anything else
    (architecture, task, settings, test scores).
    """

    name: str = ""
    metric: str = "accuracy"
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    examples_per_second: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    parameters: int = 0
    info: dict = field(default_factory=dict)
    loss: str = "cross-entropy"  # what the losses above measure: "cross-entropy", "CTC"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def best_val_metric(self) -> float | None:
        return None if self.best_epoch is None else self.val_metric[self.best_epoch]

    @property
    def train_seconds(self) -> float:
        return sum(self.epoch_seconds)

    def record(
        self, train_loss, val_loss, train_value, val_value, optimizer, seconds, examples
    ):
        """Append one epoch's numbers."""
        self.train_loss.append(train_loss)
        self.val_loss.append(val_loss)
        self.train_metric.append(train_value)
        self.val_metric.append(val_value)
        self.lr.append(optimizer.param_groups[0]["lr"])
        self.epoch_seconds.append(seconds)
        self.examples_per_second.append(examples / seconds)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path) -> Path:
        """Write this history as JSON to ``path`` (parent folders are created)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path) -> History:
        """Read a history written by :meth:`save`."""
        return cls(**json.loads(Path(path).read_text()))

    def __repr__(self) -> str:
        if not self.epochs:
            return f"History({self.name!r}, no epochs)"
        best = (
            ""
            if self.best_epoch is None
            else f", best val {self.metric} {self.best_val_metric:.4f}"
        )
        return (
            f"History({self.name!r}, {self.epochs} epochs{best} at epoch {self.best_epoch}, "
            f"{self.parameters:,} parameters, {self.train_seconds:.1f} s)"
        )


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(model: nn.Module, path) -> Path:
    """Save the model's weights, its ``state_dict`` only (chapter: Speech)."""
    with atomic_write(path, "wb") as f:
        torch.save(model.state_dict(), f)
    return Path(path)


def load_checkpoint(model: nn.Module, path, device=None) -> nn.Module:
    """Load weights saved by :func:`save_checkpoint` into ``model``; ``weights_only=True`` refuses
    anything but tensors, so a checkpoint cannot run code (chapter: Speech)."""
    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    model.load_state_dict(state)
    return model


# ----------------------------------------------------------------------------- the recipe


@dataclass(frozen=True)
class Recipe:
    """How to train, the same for every family in a comparison (chapter: Speech).

    - ``schedule``: ``"onecycle"`` (warm up to ``lr`` then anneal, stepped each batch),
      ``"cosine"`` (anneal from ``lr``) or ``None`` (constant ``lr``).
    - ``clip_grad``: rescale gradients whose global norm exceeds it (``None``: never).
    - ``patience``: stop after this many epochs without a better validation ``metric``.
    - ``metric``: what picks the best epoch: ``"accuracy"``, ``"balanced_accuracy"``,
      ``"macro_f1"``, ``"roc_auc"``, ``"pr_auc"``, ``"loss"`` or, for CTC, ``"error_rate"``.
    - ``seed``: seeds shuffling, dropout and augmentation; on the CPU two runs with the same
      seed and the same initial weights give the same history.
    - ``augment(batch, generator) -> batch``: transforms each training batch (a
      :class:`~utils.data.spec.Split`), e.g. :func:`utils.data.audio.spec_augment`, drawing its
      randomness from ``generator`` so that runs stay repeatable.
    - ``bucket_by_length``: batch sequences of similar length together and crop each batch to
      its longest, so little time goes on padding (see :func:`batch_indices`); only for models
      that accept any length (chapter: Hybrids).
    """

    epochs: int = 15
    lr: float = 3e-3
    batch_size: int = 64
    weight_decay: float = 1e-2
    schedule: str | None = "onecycle"
    clip_grad: float | None = 1.0
    patience: int | None = None
    metric: str = "accuracy"
    seed: int = 0
    augment: object = None
    bucket_by_length: bool = False

    def __post_init__(self):
        if self.schedule not in ("onecycle", "cosine", None):
            raise ValueError(
                f"schedule must be 'onecycle', 'cosine' or None, got {self.schedule!r}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}"
            )

    def settings(self) -> dict:
        """The recipe as JSON-friendly values (the augmentation by name), for a History."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        augment = values["augment"]
        values["augment"] = getattr(
            augment, "__name__", None if augment is None else repr(augment)
        )
        return values


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW that decays weight matrices and kernels only, not biases or norm scales (as nanoGPT
    does)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for p in params if p.dim() >= 2],
            "weight_decay": recipe.weight_decay,
        },
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=recipe.lr)


def make_scheduler(optimizer, recipe: Recipe, steps_per_epoch: int):
    """The learning-rate schedule of ``recipe``, stepped once per batch (or ``None``)."""
    total_steps = recipe.epochs * steps_per_epoch
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps
        )
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return None


# ----------------------------------------------------------------------------- one epoch


@dataclass
class TrainStep:
    """What one optimisation step needs besides the batch: optimiser, schedule, loss and, on
    CUDA, the gradient scaler of mixed precision."""

    optimizer: torch.optim.Optimizer
    scheduler: object
    loss_fn: object
    device: torch.device

    def __post_init__(self):
        self.loss_name = getattr(self.loss_fn, "__name__", type(self.loss_fn).__name__)
        self.use_amp = self.device.type == "cuda"  # float16 autocast on CUDA only
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def __call__(self, model: nn.Module, batch, clip_grad: float | None):
        """Forward, backward, clip, update: returns the loss and the (detached) outputs."""
        with torch.autocast(
            self.device.type, dtype=torch.float16, enabled=self.use_amp
        ):
            outputs = model(batch.x, batch.lengths)
            loss = self.loss_fn(outputs, batch.y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if clip_grad is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        kind = output_kind(outputs)
        if self.loss_fn is default_loss:
            # the loss default_loss chose for these outputs
            self.loss_name = kind.loss_name
        return loss.item(), kind.detach(outputs)


def batch_indices(
    n: int, batch_size: int, generator, *, lengths=None, pool: int = 16
) -> list[torch.Tensor]:
    """The example indices of one epoch's batches, in a random order (chapter: Hybrids).

    Without ``lengths``: a random permutation of ``range(n)`` cut into batches. With
    ``lengths`` (bucketing): the permutation is cut into pools of ``pool`` batches, each pool
    is sorted by length and cut into batches, and the batches are shuffled, so a batch holds
    sequences of similar length (little padding) yet changes from epoch to epoch.
    """
    order = torch.randperm(n, generator=generator)
    if lengths is None:
        return list(order.split(batch_size))
    if len(lengths) != n:
        raise ValueError(f"lengths has {len(lengths)} entries for {n} examples")
    batches = []
    for chunk in order.split(batch_size * pool):
        by_length = chunk[torch.argsort(lengths.cpu()[chunk], stable=True)]
        batches += by_length.split(batch_size)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def crop_to_longest(batch):
    """A batch of padded sequences ``x`` ``[B, T, ...]`` cut to its longest sequence."""
    longest = int(batch.lengths.max())
    return type(batch)(batch.x[:, :longest], batch.y, batch.lengths)


def train_one_epoch(model, train, step: TrainStep, recipe: Recipe, generator):
    """One pass over ``train`` (already on the device) in a random order: returns the mean
    training loss and the metric on the batches as they were seen (dropout on)."""
    model.train()
    total_loss, outputs_seen, labels_seen = 0.0, [], []
    if recipe.bucket_by_length and train.lengths is None:
        raise ValueError(
            "bucket_by_length needs sequences with lengths; this split has none"
        )
    lengths = train.lengths if recipe.bucket_by_length else None
    for idx in batch_indices(len(train), recipe.batch_size, generator, lengths=lengths):
        batch = train[idx.to(step.device)]
        if recipe.bucket_by_length:
            batch = crop_to_longest(batch)
        if recipe.augment is not None:
            batch = recipe.augment(batch, generator)
        loss, outputs = step(model, batch, recipe.clip_grad)
        total_loss += loss * len(idx)
        outputs_seen.append(outputs)
        labels_seen.append(batch.y.cpu())
    if step.device.type == "cuda":
        torch.cuda.synchronize()  # let the GPU finish before the caller stops the clock
    mean_loss = total_loss / len(train)
    if recipe.metric == "loss":
        return mean_loss, mean_loss
    outputs = output_kind(outputs_seen[0]).concat(outputs_seen)
    return mean_loss, score(recipe.metric, outputs, torch.cat(labels_seen))


def validate(model, val, loss_fn, metric: str, device=None, *, batch_size: int = 256):
    """The loss and ``metric`` on ``val`` (dropout off): the evaluation pass of every epoch."""
    outputs = predict(model, val, batch_size=batch_size, device=device)
    loss = loss_fn(outputs, val.y.cpu()).item()
    return loss, loss if metric == "loss" else score(metric, outputs, val.y)


class BestEpoch:
    """Remembers the epoch with the best validation value and a copy of its weights; counts the
    epochs since (for early stopping)."""

    def __init__(self, metric: str):
        self.higher_is_better = metric not in LOWER_IS_BETTER
        self.value, self.epoch, self.state, self.stale = None, None, None, 0

    def update(self, value: float, model: nn.Module, epoch: int) -> bool:
        """Record this epoch's ``value``; True (and a copy of the weights) if it is the best."""
        better = self.value is None or (
            value > self.value if self.higher_is_better else value < self.value
        )
        if better:
            self.value, self.epoch, self.stale = value, epoch, 0
            self.state = copy.deepcopy(model.state_dict())
        else:
            self.stale += 1
        return better

    def restore(self, model: nn.Module) -> None:
        """Load the best epoch's weights back into ``model``."""
        if self.state is not None:
            model.load_state_dict(self.state)


# ----------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    train,
    val,
    recipe: Recipe | None = None,
    *,
    loss_fn=None,
    device=None,
    quiet: bool = False,
    live_plot: bool = False,
    name: str = "",
    checkpoint=None,
    **settings,
) -> History:
    """Train ``model`` on ``train`` with ``recipe``, keep the epoch with the best metric on
    ``val`` and return a :class:`History`; the model ends with that epoch's weights (chapter:
    Speech).

    ``settings`` change single fields of the recipe: ``fit(model, train, val, epochs=3)`` is
    ``fit(model, train, val, Recipe(epochs=3))``. ``loss_fn(outputs, y)``: default cross-entropy
    (CTC loss for a CTC model). ``quiet``: no progress bar; ``live_plot``: redraw the learning
    curves after every epoch (in a notebook); ``checkpoint``: also save the best weights there.
    """
    recipe = _with_settings(recipe or Recipe(), settings)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"empty split: {len(train)} train, {len(val)} val examples")
    seed_everything(recipe.seed)
    device = resolve_device(device)
    model, train = model.to(device), train.to(device)
    optimizer = make_optimizer(model, recipe)
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    scheduler = make_scheduler(optimizer, recipe, steps_per_epoch)
    step = TrainStep(optimizer, scheduler, loss_fn or default_loss, device)
    generator = torch.Generator().manual_seed(recipe.seed)  # shuffling, not model init
    history = _new_history(model, recipe, name, device)
    best, bar = BestEpoch(recipe.metric), _progress(recipe.epochs, quiet)
    display_handle = None

    for epoch in range(recipe.epochs):
        start = time.perf_counter()
        train_loss, train_value = train_one_epoch(model, train, step, recipe, generator)
        seconds = time.perf_counter() - start
        val_loss, val_value = validate(model, val, step.loss_fn, recipe.metric, device)
        history.record(
            train_loss, val_loss, train_value, val_value, optimizer, seconds, len(train)
        )
        history.loss = step.loss_name  # known once the first batch has run
        if best.update(val_value, model, epoch):
            history.best_epoch = epoch
            if checkpoint is not None:
                save_checkpoint(model, checkpoint)
        display_handle = _report(bar, history, live_plot, display_handle)
        if recipe.patience is not None and best.stale >= recipe.patience:
            break

    if bar is not None:
        bar.close()
    best.restore(model)
    return history


def _with_settings(recipe: Recipe, settings: dict) -> Recipe:
    """``recipe`` with some fields changed; an unknown name is an error that lists the fields."""
    names = [f.name for f in fields(Recipe)]
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise TypeError(f"fit() got unknown settings {unknown}; a Recipe has {names}")
    return replace(recipe, **settings)


def _new_history(model, recipe: Recipe, name: str, device) -> History:
    inner = getattr(model, "model", model)  # the model inside a LayoutAdapter
    history = History(
        name=name or type(inner).__name__,
        metric=recipe.metric,
        parameters=count_parameters(model),
    )
    history.info |= {"device": str(device), "settings": recipe.settings()}
    return history


def _report(bar, history: History, live_plot: bool, handle):
    """Show the epoch just recorded: the progress bar's numbers and, if asked, the curves."""
    if bar is not None:
        bar.set_postfix(
            loss=f"{history.train_loss[-1]:.3f}",
            val_loss=f"{history.val_loss[-1]:.3f}",
            **{f"val_{history.metric}": f"{history.val_metric[-1]:.4f}"},
        )
        bar.update(1)
    return _live_plot(history, handle) if live_plot else handle


def _progress(epochs: int, quiet: bool):
    """A tqdm bar over epochs (a widget in notebooks, text in a terminal), or None when quiet."""
    if quiet:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", leave=True)


def _live_plot(history: History, handle):
    """Redraw the learning curves in place in a notebook; returns the display handle."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    from utils.plots import learning_curves

    fig = learning_curves({history.name: history})
    plt.close(fig)  # show it through the handle only
    if handle is None:
        return display(fig, display_id=True)
    handle.update(fig)
    return handle
