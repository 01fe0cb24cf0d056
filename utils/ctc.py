"""Connectionist temporal classification: train a network to emit a sequence of symbols of
unknown length and alignment, and read that sequence back (chapter: Hybrids).

**The blank convention.** A CTC model scores ``C`` symbols plus one *blank*, and in this course
the blank is always the **last** class, index ``C`` of ``C + 1`` (``BLANK = -1``, counted from the
end as Python indexes). Every CTC model (:class:`~utils.models.hybrid.CTCRecognizer`), the loss
and both decoders follow it, so a decoder called without ``blank`` is right for every model.

- :func:`ctc_loss`          minus the log-probability of the target, summed over alignments
- :func:`ctc_greedy_decode` best path: most likely class per step, merge repeats, drop blanks
- :func:`ctc_beam_decode`   prefix beam search: sums over the paths that spell each prefix
- :func:`error_rate`        edit distance per reference symbol (word/character/digit error rate)
"""

from __future__ import annotations

import math

import torch
from torch import nn

BLANK = -1  # the blank is the last class: see the module docstring

# ----------------------------------------------------------------------------- loss


def ctc_loss(
    log_probs: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Mean CTC loss of per-step ``log_probs`` ``[B, T, C + 1]`` with ``lengths`` ``[B]`` valid
    steps, against targets ``y``: ``[B]`` (one symbol each) or ``[B, S]`` padded with -1."""
    targets = y.unsqueeze(1) if y.dim() == 1 else y  # (B, S)
    target_lengths = (targets >= 0).sum(dim=1)
    return nn.functional.ctc_loss(
        log_probs.transpose(0, 1).float(),  # (T, B, C + 1): the layout ctc_loss wants
        targets.clamp(min=0),
        lengths,
        target_lengths,
        blank=log_probs.shape[-1] - 1,  # BLANK
        zero_infinity=True,
    )


# ----------------------------------------------------------------------------- decoding


def _ctc_inputs(log_probs, lengths, blank: int):
    """``[T, C]`` or ``[B, T, C]`` (+ lengths) -> ``[B, T, C]`` on CPU, a list of lengths and the
    blank as a non-negative index (``-1`` -> ``C - 1``)."""
    log_probs = torch.as_tensor(log_probs).detach().float().cpu()
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)  # (T, C) -> (1, T, C)
    if log_probs.dim() != 3:
        raise ValueError(
            f"expected log-probabilities [batch, time, classes], got {list(log_probs.shape)}"
        )
    B, T, C = log_probs.shape
    if not -C <= blank < C:
        raise ValueError(
            f"blank={blank} is not one of the {C} classes; the course's blank is -1"
        )
    lengths = (
        [T] * B
        if lengths is None
        else [int(n) for n in torch.as_tensor(lengths).flatten()]
    )
    return log_probs, lengths, blank % C


def ctc_greedy_decode(
    log_probs, lengths=None, *, blank: int = BLANK
) -> list[list[int]]:
    """Best path decoding: take the most likely symbol at each step, merge repeats, drop blanks
    (chapter: Hybrids). ``a a - a`` decodes to ``a a``; ``a a a`` to ``a``."""
    log_probs, lengths, blank = _ctc_inputs(log_probs, lengths, blank)
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
    log_probs, lengths=None, *, beam_width: int = 8, blank: int = BLANK
) -> list[list[int]]:
    """Prefix beam search: keep the ``beam_width`` most likely label prefixes, summing over all
    the paths (with blanks and repeats) that spell each one (chapter: Hybrids).

    Each prefix tracks two log-probabilities: of the paths ending in a blank and of those ending
    in its last symbol, because only after a blank does a repeated symbol start a new label.
    """
    log_probs, lengths, blank = _ctc_inputs(log_probs, lengths, blank)
    decoded = []
    for seq, n in zip(log_probs.tolist(), lengths, strict=True):
        beams = {
            (): (0.0, -math.inf)
        }  # prefix -> (log p ending in blank, log p ending in symbol)
        for step in seq[:n]:
            new: dict[tuple, list[float]] = {}

            def add(prefix, p_blank=-math.inf, p_symbol=-math.inf, new=new):
                b, s = new.get(prefix, (-math.inf, -math.inf))
                new[prefix] = (_logsumexp(b, p_blank), _logsumexp(s, p_symbol))

            for prefix, (p_b, p_s) in beams.items():
                p_total = _logsumexp(p_b, p_s)
                # emit blank: prefix unchanged
                add(prefix, p_blank=p_total + step[blank])
                for c, p_c in enumerate(step):
                    if c == blank:
                        continue
                    if prefix and prefix[-1] == c:
                        add(prefix, p_symbol=p_s + p_c)  # repeat without blank: merged
                        # after a blank: a new label
                        add((*prefix, c), p_symbol=p_b + p_c)
                    else:
                        add((*prefix, c), p_symbol=p_total + p_c)
            ranked = sorted(
                new.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True
            )
            beams = dict(ranked[:beam_width])
        best = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))[0]
        decoded.append(list(best))
    return decoded


# ----------------------------------------------------------------------------- errors


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning one sequence
    into the other (chapter: Hybrids)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i]
        for j, h in enumerate(hypothesis, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
            )
        previous = current
    return previous[-1]


def error_rate(references, hypotheses) -> float:
    """Total edit distance over total reference length: the word/character/digit error rate
    (chapter: Hybrids)."""
    errors = sum(
        edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True)
    )
    return errors / max(1, sum(len(r) for r in references))


def label_sequences(y) -> list[list[int]]:
    """Targets ``[N]`` (one symbol each) or ``[N, S]`` padded with -1 -> lists of symbols."""
    y = torch.as_tensor(y).cpu()
    if y.dim() == 1:
        return [[int(v)] for v in y]
    return [[int(v) for v in row if v >= 0] for row in y]
