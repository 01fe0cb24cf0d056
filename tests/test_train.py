"""The training loop: determinism, History and checkpoint round-trips, early stopping, CTC."""

import pytest
import torch

from utils.config import seed_everything
from utils.data.spec import Split, TaskSpec
from utils.evaluate import predict
from utils.models import CTCOutput, RNNTagger, build_model
from utils.train import (
    History,
    Recipe,
    batch_indices,
    fit,
    load_checkpoint,
    save_checkpoint,
)

SPEC = TaskSpec("toy", "sequence", (12, 5), 3, ("a", "b", "c"))


def toy_split(n, seed):
    """Sequences whose class is which feature carries a bump somewhere in the real steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    lengths = torch.randint(6, 13, (n,), generator=g)
    x = 0.5 * torch.randn(n, 12, 5, generator=g)
    x[torch.arange(n), lengths - 2, y] += 3.0
    x = x * (torch.arange(12)[None, :, None] < lengths[:, None, None])
    return Split(x, y, lengths)


TRAIN, VAL = toy_split(96, 0), toy_split(48, 1)
TIMINGS = {"epoch_seconds", "examples_per_second"}


def run(arch="gru", **kwargs):
    seed_everything(0)
    model = build_model(arch, SPEC)
    settings = {"epochs": 3, "batch_size": 16, "quiet": True, "device": "cpu"} | kwargs
    return model, fit(model, TRAIN, VAL, **settings)


def test_fit_learns_and_restores_the_best_epoch():
    model, history = run(epochs=8, lr=1e-2)
    assert history.epochs == 8 and len(history.val_metric) == 8
    assert history.val_metric[history.best_epoch] == max(history.val_metric) > 0.6
    again = predict(model, VAL)
    accuracy = (again.argmax(1) == VAL.y).float().mean().item()
    # the model holds the best weights
    assert accuracy == pytest.approx(history.best_val_metric)
    assert history.train_loss[-1] < history.train_loss[0]
    assert (
        history.lr[0] > 0 and history.parameters > 0 and history.info["device"] == "cpu"
    )


@pytest.mark.parametrize("arch", ["gru", "crnn"])
def test_fit_is_deterministic_on_cpu(arch):
    _, first = run(arch)
    _, second = run(arch)
    a, b = first.to_dict(), second.to_dict()
    for key in TIMINGS:
        a.pop(key), b.pop(key)
    assert a == b


def test_history_json_round_trip(tmp_path):
    _, history = run()
    history.info["test_accuracy"] = 0.5
    loaded = History.load(history.save(tmp_path / "results" / "gru.json"))
    assert loaded == history and loaded.loss == "cross-entropy"
    assert "3 epochs" in repr(loaded) and loaded.train_seconds == pytest.approx(
        history.train_seconds
    )


def test_checkpoint_round_trip(tmp_path):
    model, _ = run(checkpoint=tmp_path / "best.pt")
    fresh = build_model("gru", SPEC)
    load_checkpoint(fresh, tmp_path / "best.pt")
    assert torch.equal(predict(fresh, VAL), predict(model, VAL))
    save_checkpoint(model, tmp_path / "again.pt")
    state = torch.load(tmp_path / "again.pt", weights_only=True)
    assert set(state) == set(model.state_dict())


def test_early_stopping_and_schedules():
    _, history = run(epochs=10, lr=1e-9, patience=2, schedule=None, metric="loss")
    # a learning rate this small cannot keep improving the loss
    assert history.epochs < 10
    for schedule in ("cosine", None):
        _, h = run(epochs=2, schedule=schedule)
        assert h.epochs == 2
    with pytest.raises(ValueError, match="schedule must be"):
        run(schedule="linear")
    with pytest.raises(ValueError, match="unknown metric"):
        run(metric="precision")


def test_fit_trains_a_ctc_model():
    seed_everything(0)
    model = build_model("ctc_crnn", SPEC)
    targets = torch.stack([TRAIN.y, (TRAIN.y + 1) % 3], dim=1)  # two symbols each
    targets[::2, 1] = -1  # half of them only one
    split = Split(TRAIN.x, targets, TRAIN.lengths)
    history = fit(
        model, split, split, epochs=2, metric="error_rate", quiet=True, device="cpu"
    )
    assert history.epochs == 2 and history.best_epoch is not None
    assert isinstance(predict(model, TRAIN[:4]), CTCOutput)
    assert history.loss == "CTC"  # the learning curves label the loss axis with it


def test_fit_trains_a_tagger_one_label_per_step():
    """A new kind of output (per-step logits) trains with the same fit: each step's label is
    whether its first feature is positive; padded steps are labelled -1 and ignored."""
    seed_everything(0)
    x = torch.randn(128, 12, 5)
    y = (x[:, :, 0] > 0).long()
    y[:, 9:] = -1
    split = Split(x, y, torch.full((128,), 12))
    model = RNNTagger(5, 2, hidden_size=16)
    history = fit(
        model, split, split, epochs=8, lr=1e-2, batch_size=16, quiet=True, device="cpu"
    )
    assert history.best_val_metric > 0.9


def test_recipe_is_one_object_and_settings_change_it():
    recipe = Recipe(epochs=2, batch_size=16, lr=1e-2)
    model = build_model("gru", SPEC)
    history = fit(model, TRAIN, VAL, recipe, quiet=True, device="cpu", seed=3)
    assert history.epochs == 2 and history.info["settings"]["seed"] == 3
    assert history.info["settings"]["lr"] == 1e-2
    with pytest.raises(TypeError, match=r"unknown settings \['epoch'\]"):
        fit(model, TRAIN, VAL, epoch=2)


def test_progress_bar_and_live_plot_run(capsys):
    import matplotlib

    matplotlib.use("Agg")
    _, history = run(epochs=1, quiet=False, live_plot=True)
    assert history.epochs == 1


def test_batch_indices_plain_is_the_old_random_permutation():
    batches = batch_indices(10, 4, torch.Generator().manual_seed(5))
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(5)).split(4)
    assert [b.tolist() for b in batches] == [e.tolist() for e in expected]


def test_batch_indices_bucketed_cover_every_example_with_similar_lengths():
    lengths = torch.randperm(64, generator=torch.Generator().manual_seed(0)) + 10
    generator = torch.Generator().manual_seed(1)
    first = batch_indices(64, 8, generator, lengths=lengths, pool=8)  # one pool: all 64
    assert sorted(torch.cat(first).tolist()) == list(range(64))
    # one sorted pool cut into batches of 8: each batch spans 8 consecutive lengths
    assert all(int(lengths[b].max() - lengths[b].min()) == 7 for b in first)
    second = batch_indices(64, 8, generator, lengths=lengths, pool=2)  # pools of 16
    assert sorted(torch.cat(second).tolist()) == list(range(64))
    spans = [int(lengths[b].max() - lengths[b].min()) for b in second]
    assert max(spans) < 40 and {tuple(b.tolist()) for b in second} != {
        tuple(b.tolist()) for b in first
    }
    with pytest.raises(ValueError, match="lengths has 3 entries for 64 examples"):
        batch_indices(64, 8, generator, lengths=torch.ones(3))


class LengthSpy(torch.nn.Module):
    """Wraps a model and records the padded length of every batch it sees in training."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, x, lengths=None):
        if self.training:
            self.seen.append((x.shape[1], int(lengths.max())))
        return self.model(x, lengths)


def test_fit_bucketed_crops_each_batch_to_its_longest_sequence():
    seed_everything(0)
    spy = LengthSpy(build_model("gru", SPEC))
    history = fit(
        spy, TRAIN, VAL, epochs=2, batch_size=16, bucket_by_length=True, quiet=True
    )
    assert history.epochs == 2 and len(spy.seen) == 2 * 6
    assert all(padded == longest for padded, longest in spy.seen)
    assert min(padded for padded, _ in spy.seen) < TRAIN.x.shape[1]  # some were cropped
    no_lengths = Split(TRAIN.x, TRAIN.y)
    with pytest.raises(
        ValueError, match="bucket_by_length needs sequences with lengths"
    ):
        fit(spy, no_lengths, VAL, epochs=1, bucket_by_length=True, quiet=True)


def test_fit_bucketed_ctc_model_concatenates_batches_of_different_lengths():
    seed_everything(0)
    model = build_model("ctc_rnn", SPEC, downsample=1)
    targets = torch.stack([TRAIN.y, (TRAIN.y + 1) % 3], dim=1)
    split = Split(TRAIN.x, targets, TRAIN.lengths)
    history = fit(
        model,
        split,
        split,
        epochs=2,
        batch_size=16,
        metric="error_rate",
        bucket_by_length=True,
        quiet=True,
        device="cpu",
    )
    assert history.epochs == 2 and 0 <= history.train_metric[-1] <= 1
