"""Metrics against hand-computed values, CTC decoding on hand-made paths, timing sanity."""

import math

import pytest
import torch

from utils.data.spec import Split, TaskSpec
from utils.evaluate import (
    FrameLogits,
    Logits,
    Transcript,
    accuracy,
    balanced_accuracy,
    classification_metrics,
    classification_report,
    confusion_matrix,
    ctc_beam_decode,
    ctc_greedy_decode,
    default_loss,
    edit_distance,
    error_rate,
    evaluate_model,
    macro_f1,
    measure_inference,
    output_kind,
    pr_auc,
    roc_auc,
    score,
)
from utils.interpret import filter_pfms, information_content, saliency
from utils.models import CTCOutput, DanQ, RNNClassifier, build_model

# y_true = 0 0 0 1 1 2 ; y_pred = 0 0 1 1 2 2
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_confusion_matrix_and_accuracy():
    assert confusion_matrix(Y_TRUE, Y_PRED).tolist() == [
        [2, 1, 0],
        [0, 1, 1],
        [0, 0, 1],
    ]
    assert confusion_matrix([0], [0], num_classes=3).shape == (3, 3)
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)


def test_balanced_accuracy_and_macro_f1_by_hand():
    # recalls: 2/3, 1/2, 1 -> mean 13/18
    assert balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # precisions: 1, 1/2, 1/2; F1 = 2PR/(P+R): 0.8, 0.5, 2/3
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # a class never predicted has F1 0; a class absent from both is ignored
    assert macro_f1([0, 1], [0, 0], num_classes=5) == pytest.approx((2 / 3 + 0) / 2)
    report = classification_report(Y_TRUE, Y_PRED, ["zero", "one", "two"])
    assert "zero" in report and "0.800" in report and "accuracy" in report


def test_roc_auc_by_hand():
    # positives 0.8, 0.4; negatives 0.6, 0.2, 0.4 -> pairs won: 0.8 beats 3, 0.4 beats 1, ties 1
    y, s = [1, 0, 1, 0, 0], [0.8, 0.6, 0.4, 0.2, 0.4]
    assert roc_auc(y, s) == pytest.approx((3 + 1.5) / 6)
    assert roc_auc([0, 1], [0.1, 0.9]) == 1.0
    assert roc_auc([1, 0], [0.1, 0.9]) == 0.0
    with pytest.raises(ValueError, match="one positive and one negative"):
        roc_auc([1, 1], [0.1, 0.2])


def test_pr_auc_by_hand():
    # ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg): AP = 1/2 * 1 + 1/2 * 2/3
    assert pr_auc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 1 / 3)
    # ties form one threshold: both at 0.5 -> precision 1/2 at recall 1
    assert pr_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert pr_auc([1, 1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)


def test_classification_metrics_adds_aucs_for_binary_tasks():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0]])
    result = classification_metrics(logits, torch.tensor([0, 1, 1, 1]))
    assert (
        result["accuracy"] == 0.75
        and result["roc_auc"] == 1.0
        and result["pr_auc"] == 1.0
    )
    assert "roc_auc" not in classification_metrics(
        torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    )
    assert score("macro_f1", logits, torch.tensor([0, 1, 1, 1])) == pytest.approx(
        (2 / 3 + 0.8) / 2
    )


def path(symbols, num_classes=3, p=0.9):
    """Log-probabilities ``[T, C]`` whose most likely path is ``symbols``."""
    rest = (1 - p) / (num_classes - 1)
    probs = torch.full((len(symbols), num_classes), rest)
    probs[torch.arange(len(symbols)), torch.tensor(symbols)] = p
    return probs.log()


def test_ctc_greedy_decoding_by_hand():
    blank = 0
    assert ctc_greedy_decode(path([0, 0, 0, 0]), blank=blank) == [
        []
    ]  # all blank -> empty
    assert ctc_greedy_decode(path([1, 1, 2, 2]), blank=blank) == [
        [1, 2]
    ]  # repeats collapse
    assert ctc_greedy_decode(path([1, 0, 1, 1]), blank=blank) == [
        [1, 1]
    ]  # a blank separates
    assert ctc_greedy_decode(path([0, 1, 1, 0, 2, 0]), blank=blank) == [[1, 2]]
    # lengths cut each sequence; the blank may be any index
    batch = torch.stack([path([1, 2, 2, 1]), path([2, 2, 1, 1])])
    assert ctc_greedy_decode(batch, torch.tensor([2, 4]), blank=0) == [[1, 2], [2, 1]]
    assert ctc_greedy_decode(path([2, 1, 2]), blank=2) == [[1]]


def test_ctc_beam_search_sums_over_paths():
    """Greedy picks the single best path; beam search the best *labelling*.

    Two steps, symbols {blank=0, a=1}: p(blank) = 0.6 each step, p(a) = 0.4. The best path is
    blank-blank (0.36, decodes to empty), but 'a' has three paths: a-a, a-blank, blank-a,
    0.16 + 0.24 + 0.24 = 0.64 > 0.36.
    """
    log_probs = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()
    assert ctc_greedy_decode(log_probs, blank=0) == [[]]
    assert ctc_beam_decode(log_probs, blank=0) == [[1]]
    # on confident paths it agrees with greedy, including repeats separated by a blank
    for symbols in ([0, 0, 0], [1, 1, 2, 2], [1, 0, 1, 1], [0, 1, 1, 0, 2, 0]):
        assert ctc_beam_decode(path(symbols), blank=0) == ctc_greedy_decode(
            path(symbols), blank=0
        )


def test_ctc_beam_matches_brute_force():
    """On a tiny random case the beam finds the labelling with the highest total probability."""
    import itertools

    torch.manual_seed(0)
    log_probs = torch.randn(4, 3).log_softmax(-1)
    totals = {}
    for steps in itertools.product(range(3), repeat=4):
        labels = tuple(ctc_greedy_decode(path(list(steps)), blank=0)[0])
        p = sum(log_probs[t, s].item() for t, s in enumerate(steps))
        totals[labels] = totals.get(labels, 0.0) + math.exp(p)
    best = max(totals, key=totals.get)
    assert ctc_beam_decode(log_probs, beam_width=16, blank=0) == [list(best)]


def test_edit_distance_and_error_rate():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], [1, 2]) == 2 and edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert error_rate([[1, 2, 3], [4]], [[1, 3], [4, 4]]) == pytest.approx(2 / 4)


def test_ctc_scores_from_outputs():
    # decode to [1, 2] and [2]; blank = 2?
    log_probs = torch.stack([path([1, 0, 2]), path([2, 2, 0])])
    out = CTCOutput(log_probs, torch.tensor([3, 3]))  # blank is the last index (2)
    # blank=2: [1, 0, 2] -> [1, 0]; [2, 2, 0] -> [0]
    assert score("accuracy", out, torch.tensor([[1, 0], [1, -1]])) == 0.5
    assert score("error_rate", out, torch.tensor([[1, 0], [1, -1]])) == pytest.approx(
        1 / 3
    )


def test_the_blank_is_last_by_default_everywhere():
    """A decoder called without ``blank`` reads a CTC model's output the way its loss does."""
    torch.manual_seed(0)
    model = build_model(
        "ctc_crnn", TaskSpec("t", "sequence", (16, 8), 3, ("a", "b", "c"))
    )
    out = model(torch.randn(2, 16, 8))
    # the blank is last
    assert out.log_probs.shape[-1] == 3 + 1 and model.model.blank == 3
    last = out.log_probs.shape[-1] - 1
    assert ctc_greedy_decode(out.log_probs, out.lengths) == ctc_greedy_decode(
        out.log_probs, out.lengths, blank=last
    )
    assert ctc_beam_decode(path([0, 2, 2, 1]), blank=-1) == [
        [0, 1]
    ]  # 2 is the blank here
    assert ctc_greedy_decode(path([0, 2, 2, 1])) == [[0, 1]]
    with pytest.raises(ValueError, match="blank=5 is not one of the 3 classes"):
        ctc_greedy_decode(path([0, 1]), blank=5)


def test_every_output_kind_in_one_place():
    logits, frames = torch.randn(4, 3), torch.randn(4, 5, 3)
    transcript = CTCOutput(torch.randn(4, 5, 4).log_softmax(-1), torch.full((4,), 5))
    assert isinstance(output_kind(logits), Logits)
    assert isinstance(output_kind(frames), FrameLogits)
    assert isinstance(output_kind(transcript), Transcript)
    with pytest.raises(TypeError, match="no kind of output the course knows"):
        output_kind(torch.randn(2, 3, 4, 5))
    # per-step labels: unlabelled steps (-1) count neither in the loss nor in the accuracy
    y = frames.argmax(-1)
    y[:, 3:] = -1
    assert score("accuracy", frames, y) == 1.0
    flipped = y.clone()
    flipped[:, :3] = (flipped[:, :3] + 1) % 3
    assert score("accuracy", frames, flipped) == 0.0
    assert default_loss(frames, y) < default_loss(frames, flipped)


def test_evaluate_model_and_inference_timing():
    torch.manual_seed(0)
    model = RNNClassifier(4, 3, hidden_size=8)
    split = Split(
        torch.randn(10, 6, 4), torch.randint(0, 3, (10,)), torch.randint(1, 7, (10,))
    )
    result = evaluate_model(model, split, device="cpu")
    assert set(result) == {"accuracy", "balanced_accuracy", "macro_f1", "parameters"}
    timing = measure_inference(
        model,
        split.x,
        split.lengths,
        batch_sizes=(1, 32),
        warmup=1,
        repeats=3,
        device="cpu",
    )
    assert set(timing) == {1, 32}
    assert timing[32]["examples_per_second"] == pytest.approx(
        32 / (timing[32]["latency_ms"] / 1000)
    )


def test_information_content_matches_logomaker():
    import logomaker
    import pandas as pd

    pfm = torch.tensor(
        [[0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]]
    )
    ours = information_content(pfm)
    reference = logomaker.transform_matrix(
        pd.DataFrame(pfm.double().numpy(), columns=list("ACGT")),
        from_type="probability",
        to_type="information",
    )
    assert torch.allclose(ours, torch.tensor(reference.values), atol=1e-6)
    assert ours[2].sum() == pytest.approx(1.0)  # two equally likely bases: 1 bit


def test_filter_pfms_recover_a_planted_motif():
    conv = torch.nn.Conv1d(4, 1, 3)
    with torch.no_grad():  # a filter that matches "ACG" exactly
        conv.weight.zero_()
        conv.weight[0, [0, 1, 2], [0, 1, 2]] = 1.0
        conv.bias.fill_(-2.5)
    bases = torch.randint(0, 4, (20, 30))
    bases[:, 10:13] = torch.tensor([0, 1, 2])
    x = torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float()
    pfm = filter_pfms(conv, x)
    assert pfm.shape == (1, 3, 4)
    assert (
        pfm[0].argmax(dim=1).tolist() == [0, 1, 2]
        and pfm[0].max(dim=1).values.min() > 0.99
    )


def test_saliency_is_gradient_times_input():
    torch.manual_seed(0)
    model = DanQ(2, conv_channels=4, hidden_size=3, kernel_size=5, pool=4)
    x = (
        torch.nn.functional.one_hot(torch.randint(0, 4, (2, 40)), 4)
        .transpose(1, 2)
        .float()
    )
    s = saliency(model, x)
    assert s.shape == x.shape and (s[x == 0] == 0).all()


def test_transcripts_of_different_lengths_concatenate_and_decode_as_before():
    """Batches cropped to their longest string (bucketing) give CTC outputs with different
    numbers of steps; joined, each string still decodes to what its own batch said."""
    g = torch.Generator().manual_seed(0)
    short = CTCOutput(
        torch.randn(2, 3, 4, generator=g).log_softmax(-1), torch.tensor([3, 2])
    )
    long = CTCOutput(
        torch.randn(1, 6, 4, generator=g).log_softmax(-1), torch.tensor([5])
    )
    joined = output_kind(short).concat([short, long])
    assert joined.log_probs.shape == (3, 6, 4) and joined.lengths.tolist() == [3, 2, 5]
    expected = ctc_greedy_decode(short.log_probs, short.lengths) + ctc_greedy_decode(
        long.log_probs, long.lengths
    )
    assert ctc_greedy_decode(joined.log_probs, joined.lengths) == expected
