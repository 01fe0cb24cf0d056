"""One training loop for every model in the course (chapter: Training recipes).

:func:`fit` trains any model whose ``forward(x, lengths=None)`` returns logits ``[B, classes]``
(or a :class:`~utils.models.hybrid.CTCOutput`) on in-memory :class:`~utils.data.spec.Split`
tensors, batching by indexing a random permutation, which on a laptop CPU is much faster than a
``DataLoader`` that collates one example at a time. The recipe: AdamW, a one-cycle (or cosine)
learning-rate schedule stepped every batch, gradient clipping (recurrent nets need it), early
stopping on the validation metric and restoring the best epoch's weights at the end.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from utils.config import get_device, seed_everything
from utils.evaluate import score
from utils.models.builder import count_parameters
from utils.models.hybrid import CTCOutput

LOWER_IS_BETTER = {"loss", "error_rate"}

# ----------------------------------------------------------------------------- History


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch (chapter: Training recipes).

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

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def best_val_metric(self) -> float | None:
        return None if self.best_epoch is None else self.val_metric[self.best_epoch]

    @property
    def train_seconds(self) -> float:
        return sum(self.epoch_seconds)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path) -> Path:
        """Write this history as JSON to ``path`` (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

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
    """Save the model's weights, its ``state_dict`` only (chapter: Training recipes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_checkpoint(model: nn.Module, path, device=None) -> nn.Module:
    """Load weights saved by :func:`save_checkpoint` into ``model``; ``weights_only=True`` refuses
    anything but tensors, so a checkpoint cannot run code (chapter: Training recipes)."""
    state = torch.load(path, map_location=device or "cpu", weights_only=True)
    model.load_state_dict(state)
    return model


# ----------------------------------------------------------------------------- helpers


def ctc_loss(outputs: CTCOutput, y: torch.Tensor) -> torch.Tensor:
    """CTC loss for a :class:`CTCOutput`; ``y`` is ``[B]`` (one symbol each) or ``[B, S]`` padded
    with -1 (chapter: Sequence transcription)."""
    log_probs, lengths = outputs
    targets = y.unsqueeze(1) if y.dim() == 1 else y  # (B, S)
    target_lengths = (targets >= 0).sum(dim=1)
    blank = log_probs.shape[-1] - 1
    return nn.functional.ctc_loss(
        log_probs.transpose(0, 1).float(),  # (T, B, C): the layout ctc_loss wants
        targets.clamp(min=0),
        lengths,
        target_lengths,
        blank=blank,
        zero_infinity=True,
    )


def default_loss(outputs, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on logits, or :func:`ctc_loss` on a :class:`CTCOutput`."""
    if isinstance(outputs, CTCOutput):
        return ctc_loss(outputs, y)
    return nn.functional.cross_entropy(outputs.float(), y)


def _concat(chunks):
    """Join per-batch outputs (tensors or CTCOutputs) along the batch axis, on the CPU."""
    if isinstance(chunks[0], CTCOutput):
        return CTCOutput(
            *(torch.cat([getattr(c, f).cpu() for c in chunks]) for f in CTCOutput._fields)
        )
    return torch.cat([c.cpu() for c in chunks])


def _detach(outputs):
    if isinstance(outputs, CTCOutput):
        return CTCOutput(outputs.log_probs.detach().float(), outputs.lengths.detach())
    return outputs.detach().float()


def _param_groups(model: nn.Module, weight_decay: float):
    """Decay weight matrices and kernels only, not biases or norm scales (as nanoGPT does)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def _resolve_device(device):
    return get_device(device) if device is None or isinstance(device, str) else device


@torch.no_grad()
def predict(model: nn.Module, split, *, batch_size: int = 256, device=None):
    """Model outputs for every example of ``split``, in order, on the CPU: logits ``[N, classes]``
    or a :class:`CTCOutput` (chapter: Training recipes)."""
    device = _resolve_device(device)
    model = model.to(device)
    was_training = model.training
    model.eval()
    chunks = []
    for start in range(0, len(split), batch_size):
        batch = split[start : start + batch_size].to(device)
        chunks.append(_detach(model(batch.x, batch.lengths)))
    model.train(was_training)
    return _concat(chunks)


# ----------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    train,
    val,
    *,
    epochs: int = 15,
    lr: float = 3e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-2,
    schedule: str | None = "onecycle",
    clip_grad: float | None = 1.0,
    patience: int | None = None,
    metric: str = "accuracy",
    loss_fn=None,
    device=None,
    seed: int = 0,
    quiet: bool = False,
    live_plot: bool = False,
    name: str = "",
    checkpoint=None,
    augment=None,
) -> History:
    """Train ``model`` on ``train``, keep the epoch with the best ``metric`` on ``val``, return a
    :class:`History` (chapter: Training recipes). The model ends with the best epoch's weights.

    - ``schedule``: ``"onecycle"`` (warm up to ``lr`` then anneal, stepped each batch),
      ``"cosine"`` (anneal from ``lr``) or ``None`` (constant ``lr``).
    - ``clip_grad``: rescale gradients whose global norm exceeds it (``None``: never).
    - ``patience``: stop after this many epochs without a better validation ``metric``.
    - ``metric``: ``"accuracy"``, ``"balanced_accuracy"``, ``"macro_f1"``, ``"roc_auc"``,
      ``"pr_auc"``, ``"loss"`` or, for CTC models, ``"error_rate"``.
    - ``loss_fn(outputs, y)``: default cross-entropy (or CTC loss for CTC models).
    - ``seed``: seeds initialisation-independent randomness (shuffling, dropout); on the CPU two
      runs with the same seed and the same initial weights give the same history.
    - ``quiet``: no progress bar; ``live_plot``: redraw the learning curves after every epoch
      (in a notebook); ``checkpoint``: also save the best weights to this path.
    - ``augment(batch, generator) -> batch``: transforms each training batch (a
      :class:`~utils.data.spec.Split`), e.g. :func:`utils.data.audio.spec_augment`; it draws
      its randomness from ``generator`` so that runs stay repeatable.

    Mixed precision (float16 autocast) is used on CUDA only.
    """
    if schedule not in ("onecycle", "cosine", None):
        raise ValueError(f"schedule must be 'onecycle', 'cosine' or None, got {schedule!r}")
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"empty split: train has {len(train)} examples, val has {len(val)}")
    seed_everything(seed)
    device = _resolve_device(device)
    model = model.to(device)
    train_data, loss_fn = train.to(device), loss_fn or default_loss
    steps_per_epoch = math.ceil(len(train) / batch_size)

    optimizer = torch.optim.AdamW(_param_groups(model, weight_decay), lr=lr)
    scheduler = None
    if schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch
        )
    elif schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=epochs * steps_per_epoch
        )
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    generator = torch.Generator().manual_seed(seed)  # shuffling, independent of model init

    inner = getattr(model, "model", model)  # the model inside a LayoutAdapter
    history = History(
        name=name or type(inner).__name__, metric=metric, parameters=count_parameters(model)
    )
    history.info |= {
        "device": str(device),
        "settings": {
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "weight_decay": weight_decay,
            "schedule": schedule,
            "clip_grad": clip_grad,
            "patience": patience,
            "seed": seed,
            "augment": getattr(augment, "__name__", None if augment is None else repr(augment)),
        },
    }
    higher_is_better = metric not in LOWER_IS_BETTER
    best_state, best_value, stale = None, None, 0
    bar, display_handle = _progress(epochs, quiet), None

    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        total_loss, outputs_seen, labels_seen = 0.0, [], []
        for idx in torch.randperm(len(train), generator=generator).split(batch_size):
            batch = train_data[idx.to(device)]
            if augment is not None:
                batch = augment(batch, generator)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                outputs = model(batch.x, batch.lengths)
                loss = loss_fn(outputs, batch.y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip_grad is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            total_loss += loss.item() * len(idx)
            outputs_seen.append(_detach(outputs))
            labels_seen.append(batch.y.cpu())
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start

        train_outputs, train_y = _concat(outputs_seen), torch.cat(labels_seen)
        val_outputs = predict(model, val, batch_size=max(256, batch_size), device=device)
        val_loss = loss_fn(val_outputs, val.y.cpu()).item()
        history.train_loss.append(total_loss / len(train))
        history.val_loss.append(val_loss)
        history.train_metric.append(
            history.train_loss[-1] if metric == "loss" else score(metric, train_outputs, train_y)
        )
        history.val_metric.append(
            val_loss if metric == "loss" else score(metric, val_outputs, val.y)
        )
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.epoch_seconds.append(seconds)
        history.examples_per_second.append(len(train) / seconds)

        value = history.val_metric[-1]
        improved = best_value is None or (
            value > best_value if higher_is_better else value < best_value
        )
        if improved:
            best_value, stale, history.best_epoch = value, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None:
                save_checkpoint(model, checkpoint)
        else:
            stale += 1
        if bar is not None:
            bar.set_postfix(
                loss=f"{history.train_loss[-1]:.3f}",
                val_loss=f"{val_loss:.3f}",
                **{f"val_{metric}": f"{value:.4f}"},
            )
            bar.update(1)
        if live_plot:
            display_handle = _live_plot(history, display_handle)
        if patience is not None and stale >= patience:
            break

    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


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
