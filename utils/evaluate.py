"""How good and how fast is a model: classification metrics, CTC decoding and error rates,
parameter counts and inference timing (chapter: Evaluating models).

Metrics take true labels and predicted labels (or scores) as 1-D tensors, arrays or lists and are
small enough to read; the tests check each one against a hand-computed example.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from utils.models.builder import count_parameters
from utils.models.hybrid import CTCOutput

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "classification_metrics",
    "classification_report",
    "confusion_matrix",
    "count_parameters",
    "ctc_beam_decode",
    "ctc_greedy_decode",
    "edit_distance",
    "error_rate",
    "evaluate_model",
    "macro_f1",
    "measure_inference",
    "pr_auc",
    "roc_auc",
    "score",
]

# ----------------------------------------------------------------------------- classification


def _labels(values) -> torch.Tensor:
    return torch.as_tensor(values).long().flatten().cpu()


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> torch.Tensor:
    """``[classes, classes]`` counts; row ``i``, column ``j`` = examples of class ``i`` predicted
    as ``j`` (chapter: Evaluating models)."""
    y_true, y_pred = _labels(y_true), _labels(y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1 if len(y_true) else 0
    index = y_true * num_classes + y_pred
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions that are right (chapter: Evaluating models)."""
    y_true, y_pred = _labels(y_true), _labels(y_pred)
    return (y_true == y_pred).float().mean().item()


def _per_class(y_true, y_pred, num_classes=None):
    """Precision, recall, F1 and support per class, from the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, num_classes).double()
    tp = cm.diag()
    support, predicted = cm.sum(dim=1), cm.sum(dim=0)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(
        denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp)
    )
    return precision, recall, f1, support, predicted


def balanced_accuracy(y_true, y_pred, num_classes: int | None = None) -> float:
    """Mean over classes of the recall (fraction of each class found); immune to class imbalance
    (chapter: Evaluating models). Classes absent from ``y_true`` are skipped."""
    _, recall, _, support, _ = _per_class(y_true, y_pred, num_classes)
    return recall[support > 0].mean().item()


def macro_f1(y_true, y_pred, num_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over classes that occur in ``y_true`` or ``y_pred``
    (as scikit-learn's ``f1_score(average="macro")``) (chapter: Evaluating models)."""
    _, _, f1, support, predicted = _per_class(y_true, y_pred, num_classes)
    return f1[(support + predicted) > 0].mean().item()


def classification_report(y_true, y_pred, class_names) -> str:
    """Per-class precision, recall, F1 and support as a text table (chapter: Evaluating models)."""
    precision, recall, f1, support, _ = _per_class(y_true, y_pred, len(class_names))
    width = max(12, *(len(str(n)) for n in class_names))
    lines = [f"{'class':>{width}}  precision  recall     f1  support"]
    for i, name in enumerate(class_names):
        p, r, f, n = precision[i], recall[i], f1[i], int(support[i])
        lines.append(f"{name!s:>{width}}  {p:9.3f}  {r:6.3f}  {f:5.3f}  {n:7d}")
    n = int(support.sum())
    lines.append(f"{'accuracy':>{width}}  {accuracy(y_true, y_pred):>23.3f}  {n:7d}")
    lines.append(
        f"{'macro avg':>{width}}  {precision.mean():9.3f}  {recall.mean():6.3f}  {f1.mean():5.3f}"
    )
    return "\n".join(lines)


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """1-based ranks, ties sharing the mean of their ranks (as ``scipy.stats.rankdata``)."""
    sorted_values, order = torch.sort(values)
    ranks = torch.empty(len(values), dtype=torch.float64)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve for a binary task: the probability that a random positive scores
    higher than a random negative, ties counting half (chapter: Evaluating models)."""
    y = _labels(y_true).bool()
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten().cpu()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs at least one positive and one negative example")
    ranks = _average_ranks(scores)
    return ((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()  # Mann-Whitney U


def pr_auc(y_true, scores) -> float:
    """Area under the precision-recall curve as average precision, ``sum_k (R_k - R_{k-1}) P_k``
    over score thresholds (as scikit-learn's ``average_precision_score``) (chapter: Evaluating
    models). A random classifier scores about the fraction of positives."""
    y = _labels(y_true).double()
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten().cpu()
    if y.sum() == 0:
        raise ValueError("PR-AUC needs at least one positive example")
    order = torch.argsort(scores, descending=True, stable=True)
    scores, y = scores[order], y[order]
    last_of_tie = torch.ones(len(y), dtype=torch.bool)  # one threshold per distinct score
    last_of_tie[:-1] = scores[1:] != scores[:-1]
    tp = torch.cumsum(y, 0)[last_of_tie]
    predicted = (torch.arange(len(y)) + 1.0)[last_of_tie]
    precision, recall = tp / predicted, tp / y.sum()
    recall_step = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return (recall_step * precision).sum().item()


def classification_metrics(logits: torch.Tensor, y_true) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 from logits ``[N, classes]``, plus ROC-AUC and
    PR-AUC when there are two classes (chapter: Evaluating models)."""
    num_classes = logits.shape[1]
    y_pred = logits.argmax(dim=1)
    result = {
        "accuracy": accuracy(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred, num_classes),
        "macro_f1": macro_f1(y_true, y_pred, num_classes),
    }
    y = _labels(y_true)
    if num_classes == 2 and 0 < int(y.sum()) < len(y):
        positive = logits.float().softmax(dim=1)[:, 1]
        result |= {"roc_auc": roc_auc(y, positive), "pr_auc": pr_auc(y, positive)}
    return result


# ----------------------------------------------------------------------------- CTC decoding


def _ctc_inputs(log_probs, lengths):
    """``[T, C]`` or ``[B, T, C]`` (+ lengths) -> ``[B, T, C]`` on CPU and a list of lengths."""
    log_probs = torch.as_tensor(log_probs).detach().float().cpu()
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)  # (T, C) -> (1, T, C)
    if log_probs.dim() != 3:
        raise ValueError(
            f"expected log-probabilities [batch, time, classes], got {list(log_probs.shape)}"
        )
    B, T, _ = log_probs.shape
    lengths = [T] * B if lengths is None else [int(n) for n in torch.as_tensor(lengths).flatten()]
    return log_probs, lengths


def ctc_greedy_decode(log_probs, lengths=None, *, blank: int = 0) -> list[list[int]]:
    """Best path decoding: take the most likely symbol at each step, merge repeats, drop blanks
    (chapter: Sequence transcription). ``a a - a`` decodes to ``a a``; ``a a a`` to ``a``."""
    log_probs, lengths = _ctc_inputs(log_probs, lengths)
    decoded = []
    for path, n in zip(log_probs.argmax(dim=-1).tolist(), lengths, strict=True):
        out, previous = [], None
        for symbol in path[:n]:
            if symbol != previous and symbol != blank:
                out.append(symbol)
            previous = symbol
        decoded.append(out)
    return decoded


def _logsumexp(*values: float) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def ctc_beam_decode(
    log_probs, lengths=None, *, beam_width: int = 8, blank: int = 0
) -> list[list[int]]:
    """Prefix beam search: keep the ``beam_width`` most likely label prefixes, summing over all
    the paths (with blanks and repeats) that spell each one (chapter: Sequence transcription).

    Each prefix tracks two log-probabilities: of the paths ending in a blank and of those ending
    in its last symbol, because only after a blank does a repeated symbol start a new label.
    """
    log_probs, lengths = _ctc_inputs(log_probs, lengths)
    decoded = []
    for seq, n in zip(log_probs.tolist(), lengths, strict=True):
        beams = {(): (0.0, -math.inf)}  # prefix -> (log p ending in blank, log p ending in symbol)
        for step in seq[:n]:
            new: dict[tuple, list[float]] = {}

            def add(prefix, p_blank=-math.inf, p_symbol=-math.inf, new=new):
                b, s = new.get(prefix, (-math.inf, -math.inf))
                new[prefix] = (_logsumexp(b, p_blank), _logsumexp(s, p_symbol))

            for prefix, (p_b, p_s) in beams.items():
                p_total = _logsumexp(p_b, p_s)
                add(prefix, p_blank=p_total + step[blank])  # emit blank: prefix unchanged
                for c, p_c in enumerate(step):
                    if c == blank:
                        continue
                    if prefix and prefix[-1] == c:
                        add(prefix, p_symbol=p_s + p_c)  # repeat without blank: merged
                        add((*prefix, c), p_symbol=p_b + p_c)  # after a blank: a new label
                    else:
                        add((*prefix, c), p_symbol=p_total + p_c)
            ranked = sorted(new.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)
            beams = dict(ranked[:beam_width])
        best = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0]
        decoded.append(list(best))
    return decoded


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning one sequence
    into the other (chapter: Sequence transcription)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i]
        for j, h in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def error_rate(references, hypotheses) -> float:
    """Total edit distance over total reference length: the word/character/digit error rate
    (chapter: Sequence transcription)."""
    errors = sum(edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True))
    return errors / max(1, sum(len(r) for r in references))


def _targets(y) -> list[list[int]]:
    """Labels ``[N]`` (one symbol each) or ``[N, S]`` padded with -1 -> lists of symbols."""
    y = torch.as_tensor(y).cpu()
    if y.dim() == 1:
        return [[int(v)] for v in y]
    return [[int(v) for v in row if v >= 0] for row in y]


# ----------------------------------------------------------------------------- one score


def score(metric: str, outputs, y) -> float:
    """A metric by name from model outputs: ``"accuracy"``, ``"balanced_accuracy"``,
    ``"macro_f1"``, ``"roc_auc"``, ``"pr_auc"``; for a :class:`CTCOutput` ``"accuracy"`` is the
    fraction of exactly right transcriptions and ``"error_rate"`` the edit-distance rate."""
    if isinstance(outputs, CTCOutput):
        blank = outputs.log_probs.shape[-1] - 1
        hyps = ctc_greedy_decode(outputs.log_probs, outputs.lengths, blank=blank)
        refs = _targets(y)
        if metric == "accuracy":
            return sum(h == r for h, r in zip(hyps, refs, strict=True)) / max(1, len(refs))
        if metric == "error_rate":
            return error_rate(refs, hyps)
        raise ValueError(
            f"metric {metric!r} is not defined for CTC outputs; use accuracy or error_rate"
        )
    if metric in ("roc_auc", "pr_auc"):
        return classification_metrics(outputs, y).get(metric, float("nan"))
    functions = {"accuracy": accuracy, "balanced_accuracy": balanced_accuracy, "macro_f1": macro_f1}
    if metric not in functions:
        raise ValueError(
            f"unknown metric {metric!r}; choose one of {[*functions, 'roc_auc', 'pr_auc']}"
        )
    return functions[metric](y, outputs.argmax(dim=1))


def evaluate_model(model, split, *, batch_size: int = 256, device=None) -> dict[str, float]:
    """Predict ``split`` and return :func:`classification_metrics` (or CTC accuracy and error
    rate) plus the parameter count (chapter: Evaluating models)."""
    from utils.train import predict

    outputs = predict(model, split, batch_size=batch_size, device=device)
    if isinstance(outputs, CTCOutput):
        result = {m: score(m, outputs, split.y) for m in ("accuracy", "error_rate")}
    else:
        result = classification_metrics(outputs, split.y)
    return result | {"parameters": count_parameters(model)}


# ----------------------------------------------------------------------------- speed


@torch.inference_mode()
def measure_inference(
    model, x, lengths=None, *, batch_sizes=(1, 256), warmup: int = 3, repeats: int = 10, device=None
) -> dict[int, dict[str, float]]:
    """Inference latency and throughput at each batch size (chapter: Evaluating models).

    ``x`` is a batch of inputs (repeated if smaller than a batch size). Runs ``warmup`` untimed
    calls first (allocation, lazy initialisation), then ``repeats`` timed calls, and reports the
    median: ``{batch_size: {"latency_ms": ..., "examples_per_second": ...}}``.
    """
    from utils.config import get_device

    device = get_device(device) if device is None or isinstance(device, str) else device
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
