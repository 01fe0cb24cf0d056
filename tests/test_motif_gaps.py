"""The DNA chapter's motif-grammar machinery: controlled spacing between the two sites, fresh
test sets at new lengths, and a 1-D CNN whose flattening head keeps positions."""

import pytest
import torch

from utils.data import motifs
from utils.data.tasks import load_task
from utils.models import build_model
from utils.models.cnn import CNN1d

WIDTH = 15  # CTCF, the wider of the two default motifs (TAL1::TCF3 is 10 bp)


def test_exact_gap_puts_the_right_site_width_plus_gap_after_the_left():
    data = motifs.make_motif_sequences("order", n=200, length=120, gap=7, seed=0)
    starts = data["starts"]
    assert (starts[:, 1] - starts[:, 0] == WIDTH + 7).all()
    assert (starts[:, 0] >= 0).all() and (starts[:, 1] + WIDTH <= 120).all()
    # the left site is placed anywhere it fits: both ends of its range are reached
    assert starts[:, 0].min() == 0 and starts[:, 0].max() == 120 - 2 * WIDTH - 7


def test_gap_range_is_inclusive_and_every_value_occurs():
    data = motifs.make_motif_sequences(
        "presence", n=2000, length=200, gap=(10, 14), seed=1
    )
    gaps = data["starts"][:, 1] - data["starts"][:, 0] - WIDTH
    assert set(gaps.tolist()) == {10, 11, 12, 13, 14}


def test_planted_sites_are_where_starts_say():
    """Every planted CTCF site scores far above background under the CTCF matrix."""
    data = motifs.make_motif_sequences("order", n=100, length=100, gap=(0, 20), seed=2)
    ctcf = motifs.load_motifs()["CTCF"].probabilities()  # [4, 15]
    log_p = torch.log(ctcf.clamp(min=1e-3))
    for row in range(20):
        slot = 0 if data["labels"][row] == 1 else 1  # A (CTCF) is left in positives
        start = data["starts"][row, slot]
        site = data["tokens"][row, start : start + WIDTH]
        planted = log_p[site, torch.arange(WIDTH)].sum()
        background = WIDTH * torch.log(torch.tensor(0.25))
        assert planted > background + 5  # a real site is far likelier under the matrix


def test_gap_none_keeps_the_old_draws():
    """Without a gap the generator is unchanged: the same seed gives the same data as before
    the gap option existed (random positions at least min_gap apart)."""
    data = motifs.make_motif_sequences("order", n=300, length=150, seed=5)
    distance = data["starts"][:, 1] - data["starts"][:, 0]
    assert (distance >= WIDTH + 10).all() and distance.max() > WIDTH + 60


@pytest.mark.parametrize(
    ("gap", "message"),
    [
        (-1, "gap must be a number of bases >= 0"),
        ((30, 10), "0 <= low <= high"),
        (200, r"use a gap of at most 90 bp or a length of at least 230"),
    ],
)
def test_impossible_gaps_say_how_to_fix_the_call(gap, message):
    with pytest.raises(ValueError, match=message):
        motifs.make_motif_sequences("order", n=10, length=120, gap=gap)


def test_load_task_passes_the_gap_and_records_it():
    task = load_task(
        "motif_grammar", variant="order", n=400, length=100, gap=5, quick=False
    )
    starts = task.spec.extra["site_starts"]["train"]
    assert (starts[:, 1] - starts[:, 0] == WIDTH + 5).all()
    assert task.spec.extra["gap"] == 5


def test_make_motif_split_reads_a_new_length_with_the_same_rules():
    split = motifs.make_motif_split("order", n=50, length=400, gap=(10, 60), seed=3)
    assert split.x.shape == (50, 4, 400) and torch.equal(
        split.x.sum(dim=1), torch.ones(50, 400)
    )
    same = motifs.make_motif_sequences("order", n=50, length=400, gap=(10, 60), seed=3)
    assert torch.equal(split.y, same["labels"])


def test_flattening_head_sizes_from_the_pooled_length():
    model = CNN1d(
        4,
        2,
        channels=(8, 8),
        kernel_size=5,
        pool=(4, 2),
        head="flatten",
        input_length=201,
    )
    # 201 -> ceil(201 / 4) = 51 -> ceil(51 / 2) = 26 positions of 8 channels
    assert model.head.in_features == 8 * 26
    assert model(torch.zeros(3, 4, 201)).shape == (3, 2)


def test_flattening_head_keeps_position_and_global_pool_does_not():
    """Moving a pattern changes a flattening head's input, never a global max-pool's."""
    torch.manual_seed(0)
    x = torch.zeros(1, 4, 64)
    x[0, 0, 10:20] = 1
    moved = torch.roll(x, 30, dims=2)
    pooled = CNN1d(4, 2, channels=(4,), kernel_size=3, pool=1, dropout=0.0).eval()
    flat = CNN1d(
        4,
        2,
        channels=(4,),
        kernel_size=3,
        pool=1,
        dropout=0.0,
        head="flatten",
        input_length=64,
    ).eval()
    flat.features.load_state_dict(pooled.features.state_dict())
    with torch.no_grad():
        assert torch.allclose(
            pooled.features(x).amax(2), pooled.features(moved).amax(2)
        )
        assert not torch.allclose(
            flat.features(x).flatten(1), flat.features(moved).flatten(1)
        )


def test_cnn1d_flat_family_refuses_another_length_with_a_fix():
    task = load_task("motif_grammar", variant="order", n=200, length=120, quick=True)
    model = build_model("cnn1d_flat", task.spec)
    assert model(task.train.x[:2]).shape == (2, 2)
    with pytest.raises(
        ValueError, match=r"\[batch, 4 channels, 120 positions\].*build one for 400"
    ):
        model(torch.zeros(2, 4, 400))
    assert build_model("cnn1d", task.spec)(torch.zeros(2, 4, 400)).shape == (2, 2)


def test_flatten_without_a_length_is_an_error():
    with pytest.raises(ValueError, match="pass input_length"):
        CNN1d(4, 2, head="flatten")
