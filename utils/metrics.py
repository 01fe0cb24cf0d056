"""Classification metrics: how often, and how, a classifier is right (chapter:
Speech).

Every metric takes true labels and predicted labels (or scores) as 1-D tensors, arrays or lists,
and is small enough to read; the tests check each one against a hand-computed example and, for
ROC-AUC and PR-AUC, against the definitions scikit-learn uses.
"""

from __future__ import annotations

import torch

# ----------------------------------------------------------------------------- counts


def _labels(values) -> torch.Tensor:
    return torch.as_tensor(values).long().flatten().cpu()


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> torch.Tensor:
    """``[classes, classes]`` counts; row ``i``, column ``j`` = examples of class ``i`` predicted
    as ``j`` (chapter: Speech)."""
    y_true, y_pred = _labels(y_true), _labels(y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1 if len(y_true) else 0
    index = y_true * num_classes + y_pred
    return torch.bincount(index, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions that are right (chapter: Speech)."""
    y_true, y_pred = _labels(y_true), _labels(y_pred)
    return (y_true == y_pred).float().mean().item()


def _per_class(y_true, y_pred, num_classes=None):
    """Precision, recall, F1 and support per class, from the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, num_classes).double()
    tp = cm.diag()
    support, predicted = cm.sum(dim=1), cm.sum(dim=0)
    precision = torch.where(
        predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp)
    )
    recall = torch.where(support > 0, tp / support.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(
        denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp)
    )
    return precision, recall, f1, support, predicted


def balanced_accuracy(y_true, y_pred, num_classes: int | None = None) -> float:
    """Mean over classes of the recall (fraction of each class found); immune to class imbalance
    (chapter: Speech). Classes absent from ``y_true`` are skipped."""
    _, recall, _, support, _ = _per_class(y_true, y_pred, num_classes)
    return recall[support > 0].mean().item()


def macro_f1(y_true, y_pred, num_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over classes that occur in ``y_true`` or ``y_pred``
    (as scikit-learn's ``f1_score(average="macro")``) (chapter: Speech)."""
    _, _, f1, support, predicted = _per_class(y_true, y_pred, num_classes)
    return f1[(support + predicted) > 0].mean().item()


def classification_report(y_true, y_pred, class_names) -> str:
    """Per-class precision, recall, F1 and support as a text table (chapter: Speech)."""
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
    higher than a random negative, ties counting half (chapter: Speech)."""
    y = _labels(y_true).bool()
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten().cpu()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs at least one positive and one negative example")
    ranks = _average_ranks(scores)
    return (
        (ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    ).item()  # Mann-Whitney U


def pr_auc(y_true, scores) -> float:
    """Area under the precision-recall curve as average precision, ``sum_k (R_k - R_{k-1}) P_k``
    over score thresholds (as scikit-learn's ``average_precision_score``) (chapter:
    Speech). A random classifier scores about the fraction of positives."""
    y = _labels(y_true).double()
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten().cpu()
    if y.sum() == 0:
        raise ValueError("PR-AUC needs at least one positive example")
    order = torch.argsort(scores, descending=True, stable=True)
    scores, y = scores[order], y[order]
    # one threshold per distinct score
    last_of_tie = torch.ones(len(y), dtype=torch.bool)
    last_of_tie[:-1] = scores[1:] != scores[:-1]
    tp = torch.cumsum(y, 0)[last_of_tie]
    predicted = (torch.arange(len(y)) + 1.0)[last_of_tie]
    precision, recall = tp / predicted, tp / y.sum()
    recall_step = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return (recall_step * precision).sum().item()


def classification_metrics(logits: torch.Tensor, y_true) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 from logits ``[N, classes]``, plus ROC-AUC and
    PR-AUC when there are two classes (chapter: Speech)."""
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
