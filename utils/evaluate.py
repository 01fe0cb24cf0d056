"""How good and how fast is a model: its predictions, its scores, its speed (chapter:
Speech).

Models return one of a few **kinds of output**, and each kind knows, in one class, how to detach
and join batches of it, its training loss and its metrics:

==================  ====================================  =====================================
kind                what the model returns                loss, metrics
==================  ====================================  =====================================
:class:`Logits`     class scores ``[B, classes]``         cross-entropy; accuracy, macro-F1, ...
:class:`FrameLogits` class scores per step ``[B, T, C]``  cross-entropy per labelled step
:class:`Transcript` a :class:`~utils.models.CTCOutput`    CTC; exact-match accuracy, error rate
==================  ====================================  =====================================

:func:`output_kind` picks the kind of a model's output; a new kind of output is one new class
added to ``OUTPUT_KINDS``. :func:`predict` runs a model over a split, :func:`score` computes one
metric by name, :func:`evaluate_model` all of them. The metrics themselves live in
:mod:`utils.metrics` and CTC decoding in :mod:`utils.ctc`; both are re-exported here.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from utils.config import resolve_device
from utils.ctc import (
    BLANK,
    ctc_beam_decode,
    ctc_greedy_decode,
    ctc_loss,
    edit_distance,
    error_rate,
    label_sequences,
)
from utils.metrics import (
    accuracy,
    balanced_accuracy,
    classification_metrics,
    classification_report,
    confusion_matrix,
    macro_f1,
    pr_auc,
    roc_auc,
)
from utils.models.builder import count_parameters
from utils.models.hybrid import CTCOutput

__all__ = [
    "BLANK",
    "LOWER_IS_BETTER",
    "OUTPUT_KINDS",
    "FrameLogits",
    "Logits",
    "Transcript",
    "accuracy",
    "balanced_accuracy",
    "classification_metrics",
    "classification_report",
    "confusion_matrix",
    "count_parameters",
    "ctc_beam_decode",
    "ctc_greedy_decode",
    "ctc_loss",
    "edit_distance",
    "error_rate",
    "evaluate_model",
    "macro_f1",
    "measure_inference",
    "output_kind",
    "pr_auc",
    "predict",
    "roc_auc",
    "score",
    "time_forward_backward",
]

LOWER_IS_BETTER = {"loss", "error_rate"}  # every other metric: higher is better

# ----------------------------------------------------------------------------- output kinds


class Logits:
    """Class scores ``[B, classes]``: one label per example."""

    metrics = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc")
    loss_name = "cross-entropy"

    def matches(self, outputs) -> bool:
        return isinstance(outputs, torch.Tensor) and outputs.dim() == 2

    def detach(self, outputs):
        return outputs.detach().float()

    def concat(self, chunks):
        return torch.cat([c.cpu() for c in chunks])

    def loss(self, outputs, y) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs.float(), y)

    def score(self, metric: str, outputs, y) -> float:
        if metric in ("roc_auc", "pr_auc"):  # binary tasks only: NaN otherwise
            return classification_metrics(outputs, y).get(metric, float("nan"))
        functions = {
            "accuracy": accuracy,
            "balanced_accuracy": balanced_accuracy,
            "macro_f1": macro_f1,
        }
        return functions[metric](y, outputs.argmax(dim=1))

    def summary(self, outputs, y) -> dict[str, float]:
        return classification_metrics(outputs, y)


class FrameLogits(Logits):
    """Class scores per step ``[B, T, classes]`` (a tagger, e.g.
    :class:`~utils.models.RNNTagger`) against labels ``[B, T]``, -1 on unlabelled steps."""

    metrics = ("accuracy", "balanced_accuracy", "macro_f1")

    def matches(self, outputs) -> bool:
        return isinstance(outputs, torch.Tensor) and outputs.dim() == 3

    def loss(self, outputs, y) -> torch.Tensor:
        # cross_entropy wants classes second: (B, T, C) -> (B, C, T)
        return nn.functional.cross_entropy(
            outputs.float().transpose(1, 2), y, ignore_index=-1
        )

    def _labelled_steps(self, outputs, y):
        labelled = y >= 0  # (B, T)
        return outputs[labelled], y[labelled]  # (steps, C), (steps,)

    def score(self, metric: str, outputs, y) -> float:
        return super().score(metric, *self._labelled_steps(outputs, y))

    def summary(self, outputs, y) -> dict[str, float]:
        steps, labels = self._labelled_steps(outputs, y)
        return {m: Logits.score(self, m, steps, labels) for m in self.metrics}


class Transcript:
    """A :class:`~utils.models.CTCOutput`: per-step log-probabilities over the symbols and the
    blank, against targets ``[B]`` or ``[B, S]`` padded with -1 (see :mod:`utils.ctc`)."""

    metrics = ("accuracy", "error_rate")  # accuracy: the whole sequence exactly right
    loss_name = "CTC"

    def matches(self, outputs) -> bool:
        return isinstance(outputs, CTCOutput)

    def detach(self, outputs):
        return CTCOutput(outputs.log_probs.detach().float(), outputs.lengths.detach())

    def concat(self, chunks):
        # batches may differ in length
        steps = max(c.log_probs.shape[1] for c in chunks)
        log_probs = [  # pad the steps past each batch's end (never read: ``lengths`` stop first)
            torch.nn.functional.pad(
                c.log_probs.cpu(), (0, 0, 0, steps - c.log_probs.shape[1])
            )
            for c in chunks
        ]
        return CTCOutput(
            torch.cat(log_probs), torch.cat([c.lengths.cpu() for c in chunks])
        )

    def loss(self, outputs, y) -> torch.Tensor:
        return ctc_loss(outputs.log_probs, outputs.lengths, y)

    def score(self, metric: str, outputs, y) -> float:
        hypotheses = ctc_greedy_decode(outputs.log_probs, outputs.lengths)
        references = label_sequences(y)
        if metric == "error_rate":
            return error_rate(references, hypotheses)
        right = sum(h == r for h, r in zip(hypotheses, references, strict=True))
        return right / max(1, len(references))

    def summary(self, outputs, y) -> dict[str, float]:
        return {m: self.score(m, outputs, y) for m in self.metrics}


OUTPUT_KINDS = (Transcript(), FrameLogits(), Logits())


def output_kind(outputs):
    """The kind (from ``OUTPUT_KINDS``) of what a model returned."""
    for kind in OUTPUT_KINDS:
        if kind.matches(outputs):
            return kind
    what = (
        list(outputs.shape)
        if isinstance(outputs, torch.Tensor)
        else type(outputs).__name__
    )
    raise TypeError(
        f"the model returned {what}, which is no kind of output the course knows: logits "
        "[batch, classes], per-step logits [batch, time, classes] or a CTCOutput. A new kind "
        "is a new class in utils/evaluate.py's OUTPUT_KINDS."
    )


def default_loss(outputs, y) -> torch.Tensor:
    """The training loss of any kind of output: cross-entropy, or CTC for a transcript."""
    return output_kind(outputs).loss(outputs, y)


# ----------------------------------------------------------------------------- predictions


@torch.no_grad()
def predict(model: nn.Module, split, *, batch_size: int = 256, device=None):
    """Model outputs for every example of ``split``, in order, on the CPU: logits ``[N, classes]``
    or a :class:`CTCOutput` (chapter: Speech)."""
    device = resolve_device(device)
    model = model.to(device)
    was_training = model.training
    model.eval()
    chunks, kind = [], None
    for start in range(0, len(split), batch_size):
        batch = split[start : start + batch_size].to(device)
        outputs = model(batch.x, batch.lengths)
        kind = kind or output_kind(outputs)
        chunks.append(kind.detach(outputs))
    model.train(was_training)
    return kind.concat(chunks)


def score(metric: str, outputs, y) -> float:
    """One metric by name from model outputs of any kind, e.g. ``score("accuracy", logits, y)``:
    for logits ``"accuracy"``, ``"balanced_accuracy"``, ``"macro_f1"``, ``"roc_auc"``,
    ``"pr_auc"``; for a transcript ``"accuracy"`` (exact) and ``"error_rate"``."""
    kind = output_kind(outputs)
    if metric not in kind.metrics:
        raise ValueError(
            f"unknown metric {metric!r} for {type(kind).__name__} outputs; "
            f"choose one of {list(kind.metrics)}"
        )
    return kind.score(metric, outputs, y)


def evaluate_model(
    model, split, *, batch_size: int = 256, device=None
) -> dict[str, float]:
    """Predict ``split`` and return every metric of the output's kind plus the parameter count
    (chapter: Speech)."""
    outputs = predict(model, split, batch_size=batch_size, device=device)
    return output_kind(outputs).summary(outputs, split.y) | {
        "parameters": count_parameters(model)
    }


# ----------------------------------------------------------------------------- speed


@torch.inference_mode()
def measure_inference(
    model,
    x,
    lengths=None,
    *,
    batch_sizes=(1, 256),
    warmup: int = 3,
    repeats: int = 10,
    device=None,
) -> dict[int, dict[str, float]]:
    """Inference latency and throughput at each batch size (chapter: Speech).

    ``x`` is a batch of inputs (repeated if smaller than a batch size). Runs ``warmup`` untimed
    calls first (allocation, lazy initialisation), then ``repeats`` timed calls, and reports the
    median: ``{batch_size: {"latency_ms": ..., "examples_per_second": ...}}``.
    """
    device = resolve_device(device)
    model = model.to(device).eval()
    result = {}
    for bs in batch_sizes:
        reps = -(-bs // len(x))  # ceil: tile small inputs up to the batch size
        xb = x.repeat(reps, *([1] * (x.dim() - 1)))[:bs].to(device)
        lb = None if lengths is None else lengths.repeat(reps)[:bs].to(device)
        times = []
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(xb, lb)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - start)
        median = statistics.median(times)
        result[bs] = {"latency_ms": 1000 * median, "examples_per_second": bs / median}
    return result


def time_forward_backward(
    model, x, lengths=None, *, warmup: int = 1, repeats: int = 3, device=None
) -> float:
    """Median seconds for one forward and backward pass of ``model`` on the batch ``x``
    (chapter: Choosing between RNNs and CNNs).

    What one training step costs apart from the optimiser: the loss is the sum of the outputs,
    so every weight gets a gradient. Runs ``warmup`` untimed passes first. Weight gradients are
    cleared afterwards; the model is left in training mode.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = resolve_device(device)
    model = model.to(device).train()
    x = x.to(device)
    lengths = None if lengths is None else lengths.to(device)
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        outputs = model(x, lengths)
        # a CTC model's output is a tuple
        outputs = getattr(outputs, "log_probs", outputs)
        outputs.float().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return statistics.median(times)
