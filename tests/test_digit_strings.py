"""Spoken digit strings (utils/data/digit_strings.py) and the CTC families that read them."""

import pytest
import torch

from utils.data import load_task
from utils.data.digit_strings import (
    TAKES,
    _pools,
    plan_strings,
    render,
    string_features,
    trim_silence,
)
from utils.data.speech import SAMPLE_RATE, list_recordings, read_wav

SMALL = {"train": 24, "val": 8, "test": 8, "new_voice": 8}
SPLITS = ("train", "val", "test", "new_voice")


@pytest.fixture(scope="module")
def data():
    return load_task("digit_strings", sizes=SMALL)


@pytest.fixture(scope="module")
def pools():
    recordings = list_recordings()
    return _pools(recordings, ["george", "lucas"], TAKES["train"]), recordings


def _part(data, name):
    return data.extra_tests[name] if name == "new_voice" else getattr(data, name)


def test_same_seed_gives_identical_plans_and_tensors(pools):
    pool, recordings = pools
    a, b = plan_strings(pool, 6, seed=3), plan_strings(pool, 6, seed=3)
    assert a == b and plan_strings(pool, 6, seed=4) != a
    by_stem = {r.stem: r for r in recordings}
    stems = {s for p in a for s in p.stems}
    waves = {
        s: trim_silence(read_wav(by_stem[s].path).float() / 32768.0) for s in stems
    }
    xa, la = string_features(a, waves)
    xb, lb = string_features(b, waves)
    assert torch.equal(la, lb) and all(
        torch.equal(u, v) for u, v in zip(xa, xb, strict=True)
    )


def test_load_task_is_deterministic(data):
    again = load_task("digit_strings", sizes=SMALL)
    for name in SPLITS:
        first, second = _part(data, name), _part(again, name)
        assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y)
        assert torch.equal(first.lengths, second.lengths)
    other = load_task("digit_strings", sizes=SMALL, seed=1)
    assert not torch.equal(other.train.y, data.train.y)


def test_labels_are_the_digits_of_the_recordings_used(data):
    spec = data.spec
    for name in SPLITS:
        part, plans = _part(data, name), spec.extra["plans"][name]
        assert len(plans) == len(part) == SMALL[name]
        for row, plan in zip(part.y.tolist(), plans, strict=True):
            spoken = [int(stem.split("_")[0]) for stem in plan.stems]
            assert [d for d in row if d >= 0] == spoken == list(plan.digits)
            assert row[len(spoken) :] == [-1] * (len(row) - len(spoken))
            speakers = {stem.split("_")[1] for stem in plan.stems}
            assert len(speakers) == 1  # one voice per string
            takes = {int(stem.split("_")[2]) for stem in plan.stems}
            if name == "new_voice":
                assert speakers == {spec.extra["holdout_speaker"]}
            else:
                assert speakers <= set(spec.extra["speakers"])
                assert takes <= set(TAKES[name])


def test_lengths_and_gaps_stay_within_bounds(data, pools):
    T = data.spec.input_shape[0]
    for name in SPLITS:
        part, plans = _part(data, name), data.spec.extra["plans"][name]
        assert part.y.shape[1] == 7 and part.lengths.dtype == torch.int64
        assert bool((part.lengths > 0).all()) and int(part.lengths.max()) <= T
        for i, plan in enumerate(plans):
            assert 3 <= len(plan.digits) <= 7
            assert all(0.05 * SAMPLE_RATE <= g <= 0.25 * SAMPLE_RATE for g in plan.gaps)
            assert all(abs(g) <= 3.0 for g in plan.gains_db) and 25 <= plan.snr_db <= 40
            # padding is zero
            assert float(part.x[i, part.lengths[i] :].abs().sum()) == 0
    # the frame count is the rendered audio's: 1 + samples // hop
    pool, recordings = pools
    plans = plan_strings(pool, 3, seed=0, digits=5, gap=0.1)
    by_stem = {r.stem: r for r in recordings}
    waves = {
        s: trim_silence(read_wav(by_stem[s].path).float() / 32768.0)
        for p in plans
        for s in p.stems
    }
    _, lengths = string_features(plans, waves)
    for plan, frames in zip(plans, lengths.tolist(), strict=True):
        samples = len(render(plan, waves))
        assert samples == sum(plan.gaps) + sum(len(waves[s]) for s in plan.stems)
        assert frames == 1 + samples // 80 and len(plan.digits) == 5


def test_no_recording_is_shared_between_sets(data):
    used = {
        name: {s for p in data.spec.extra["plans"][name] for s in p.stems}
        for name in SPLITS
    }
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not used[a] & used[b], (a, b)


def test_every_split_meets_the_task_contract(data):
    spec = data.spec
    assert spec.layout == "sequence" and spec.num_classes == 10
    for name in SPLITS:
        part = _part(data, name)
        assert tuple(part.x.shape[1:]) == spec.input_shape
        assert part.batch(torch.arange(2)).x.dtype == torch.float32
    assert "new_voice=8" in repr(data)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"digits": (0, 3)}, "digits needs"),
        ({"digits": (5, 3)}, "digits needs"),
        ({"digits": (2.5, 4)}, "whole numbers"),
        ({"gap": (-0.1, 0.2)}, "gap needs"),
        ({"gap": "wide"}, "gap must be"),
        ({"gain_db": 50}, "gain_db"),
        ({"sizes": {"training": 10}}, "sizes may only set"),
        ({"sizes": {"train": -1}}, "whole number >= 0"),
        ({"holdout_speaker": "bob"}, "unknown speaker 'bob'"),
        ({"split": "official"}, "one split, 'speaker'"),
    ],
)
def test_bad_arguments_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        load_task("digit_strings", **options)


def test_extra_tests_are_checked():
    from utils.data.spec import TaskData

    data = load_task("digit_strings", sizes=SMALL)
    with pytest.raises(ValueError, match="extra_tests"):
        TaskData(
            data.spec, data.train, data.val, data.test, extra_tests={"test": data.test}
        )


# ----------------------------------------------------------------------------- CTC families

CTC_ARCHS = ("ctc_cnn", "ctc_rnn", "ctc_crnn")


def _spec(T=60, F=40):
    from utils.data.spec import TaskSpec

    return TaskSpec("strings", "sequence", (T, F), 10, tuple("0123456789"))


@pytest.mark.parametrize("arch", CTC_ARCHS)
def test_ctc_families_return_per_step_log_probs_with_the_blank_last(arch):
    from utils.models import CTCOutput, build_model

    torch.manual_seed(0)
    model = build_model(arch, _spec()).eval()
    assert model.model.blank == 10  # the 11th of 11 classes: BLANK = -1
    x, lengths = torch.randn(3, 60, 40), torch.tensor([60, 41, 20])
    out = model(x, lengths)
    assert isinstance(out, CTCOutput)
    B, steps, classes = out.log_probs.shape
    assert (B, steps, classes) == (3, 30, 11)  # every family halves the frame rate
    assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(()), atol=1e-5)
    assert out.lengths.tolist() == [30, 21, 10]  # ceil(length / 2)
    assert model(x).lengths.tolist() == [30, 30, 30]  # no lengths: every step counts


def test_the_recurrent_family_ignores_padding():
    from utils.models import build_model

    torch.manual_seed(0)
    model = build_model("ctc_rnn", _spec()).eval()
    x, lengths = torch.randn(2, 60, 40), torch.tensor([60, 40])
    noisy = x.clone()
    noisy[1, 40:] = torch.randn(20, 40)
    a, b = model(x, lengths), model(noisy, lengths)
    assert torch.allclose(a.log_probs[1, :20], b.log_probs[1, :20], atol=1e-5)


def test_the_1d_crnn_pools_time_by_four_and_counts_the_pooled_steps():
    from utils.models import CTCOutput, build_model

    torch.manual_seed(0)
    model = build_model("ctc_crnn_1d", _spec()).eval()
    assert model.model.blank == 10
    x, lengths = torch.randn(3, 60, 40), torch.tensor([60, 41, 20])
    out = model(x, lengths)
    assert isinstance(out, CTCOutput)
    assert tuple(out.log_probs.shape) == (3, 15, 11)  # time_pool (2, 2): 60 / 4 steps
    assert out.lengths.tolist() == [15, 11, 5]  # ceil(length / 4)
    assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(()), atol=1e-5)
    two_blocks = build_model("ctc_crnn_1d", _spec(), time_pool=(2, 1)).eval()
    assert two_blocks(x, lengths).lengths.tolist() == [30, 21, 10]


def test_the_1d_crnn_reads_a_string_the_same_in_a_longer_padded_batch():
    """Bucketing crops batches to their longest string: more zero padding after a string
    must not change any of its valid steps (same-padding convolutions see zeros either way,
    pooling windows start at frame 0 and the GRU is packed)."""
    from utils.models import build_model

    torch.manual_seed(0)
    model = build_model("ctc_crnn_1d", _spec(T=80)).eval()
    x = torch.zeros(1, 80, 40)
    x[0, :41] = torch.randn(41, 40)
    short, long = model(x[:, :60], torch.tensor([41])), model(x, torch.tensor([41]))
    steps = int(short.lengths[0])
    assert steps == int(long.lengths[0]) == 11
    assert torch.allclose(
        short.log_probs[0, :steps], long.log_probs[0, :steps], atol=1e-5
    )
    noisy = x.clone()
    # non-zero padding reaches the last steps' windows
    noisy[0, 41:] = torch.randn(39, 40)
    assert not torch.allclose(
        model(noisy, torch.tensor([41])).log_probs[0, :steps], long.log_probs[0, :steps]
    )


def test_the_1d_crnn_matches_a_budget_and_rejects_mismatched_blocks():
    from utils.models import CTCConvBiGRU, count_parameters, match_parameters

    for budget in (20_000, 60_000):
        model = match_parameters("ctc_crnn_1d", _spec(), budget)
        assert abs(count_parameters(model) - budget) <= 0.05 * budget
    with pytest.raises(ValueError, match="one entry per block"):
        CTCConvBiGRU(40, 10, channels=(64, 64), dilation=(1,), time_pool=(2, 2))
    with pytest.raises(ValueError, match=r"\[batch, 40, time\]"):
        CTCConvBiGRU(40, 10)(torch.randn(2, 39, 60))


@pytest.mark.parametrize("arch", ("ctc_cnn", "ctc_rnn", "ctc_crnn_1d"))
def test_new_families_train_and_the_decoders_read_them(arch):
    from utils.ctc import ctc_beam_decode, ctc_greedy_decode
    from utils.evaluate import default_loss, score
    from utils.models import build_model

    torch.manual_seed(0)
    spec = _spec(T=32, F=8)
    targets = torch.tensor([[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [2, 1]])
    x = torch.zeros(6, 32, 8)
    for i, (first, second) in enumerate(targets.tolist()):
        x[i, 2:12, first * 2 : first * 2 + 2] = 1.0  # symbol k lights bands 2k, 2k+1
        x[i, 18:28, second * 2 : second * 2 + 2] = 1.0
    model = build_model(arch, spec, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = default_loss(model(x), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    model.eval()
    out = model(x)
    greedy = ctc_greedy_decode(out.log_probs, out.lengths)
    beam = ctc_beam_decode(out.log_probs, out.lengths, beam_width=4)
    assert len(greedy) == len(beam) == 6
    assert all(0 <= d < 10 for seq in greedy + beam for d in seq)
    assert 0 <= score("error_rate", out, targets) <= 2


def test_collapse_check_passes_the_rule_and_names_each_mistake():
    from utils import checks

    def right(path, blank):
        return [
            s for i, s in enumerate(path) if (i == 0 or s != path[i - 1]) and s != blank
        ]

    def no_merge(path, blank):
        return [s for s in path if s != blank]

    def drop_first(path, blank):
        kept = [s for s in path if s != blank]
        return [s for i, s in enumerate(kept) if i == 0 or s != kept[i - 1]]

    assert checks.check_ctc_collapse(right)
    assert not checks.check_ctc_collapse(no_merge)
    assert "merge repeated" in checks.check_ctc_collapse(no_merge).feedback
    assert "before dropping blanks" in checks.check_ctc_collapse(drop_first).feedback
    assert not checks.check_ctc_collapse(lambda path, blank: path)
    assert not checks.check_ctc_collapse(42)


def test_pin_check_passes_the_likeliest_four_digits_and_names_each_mistake():
    from utils import checks
    from utils.ctc import ctc_beam_decode, ctc_loss

    def right(log_probs, steps):
        best = ctc_beam_decode(log_probs[None, :steps], beam_width=8)[0]
        candidates = {tuple(best[:i] + best[i + 1 :]) for i in range(len(best))}
        candidates |= {(*best[:i], d, *best[i:]) for i in range(5) for d in range(10)}
        pins = [list(c) for c in candidates | {tuple(best)} if len(c) == 4]
        n = torch.tensor([steps])
        return max(
            pins,
            key=lambda c: (
                -float(ctc_loss(log_probs[None, :steps], n, torch.tensor([c])))
            ),
        )

    def beam_only(log_probs, steps):
        return ctc_beam_decode(log_probs[None, :steps], beam_width=8)[0]

    def first_four(log_probs, steps):
        return (beam_only(log_probs, steps) + [0] * 4)[:4]

    def all_steps(log_probs, steps):
        return right(log_probs, len(log_probs))

    assert checks.check_pin_decoder(right)
    assert "exactly four digits" in checks.check_pin_decoder(beam_only).feedback
    assert "not the likeliest" in checks.check_pin_decoder(first_four).feedback
    assert "padding" in checks.check_pin_decoder(all_steps).feedback
    assert not checks.check_pin_decoder(lambda log_probs, steps: 1 / 0)
    assert not checks.check_pin_decoder("1234")


def test_plot_ctc_alignment_draws_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils import plots

    log_probs = torch.randn(30, 11).log_softmax(-1)
    fig = plots.plot_ctc_alignment(
        torch.randn(120, 40),
        log_probs,
        frame_seconds=0.01,
        class_names=tuple("0123456789"),
        decoded=[1, 2],
    )
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert "decoded: 1 2" in fig.axes[1].get_title() and fig.get_label()
    plt.close(fig)
