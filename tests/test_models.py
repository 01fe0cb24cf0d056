"""The model zoo: shapes on every task layout, gradients, overfitting a tiny batch, clear errors."""

import pytest
import torch

from utils.data.spec import TaskSpec
from utils.evaluate import default_loss
from utils.models import (
    ARCHITECTURES,
    CNN2d,
    CTCOutput,
    RNNClassifier,
    RNNEncoder,
    RNNTagger,
    SequencePool,
    build_model,
    count_parameters,
    match_parameters,
    receptive_field,
)

SPECS = {
    "speech": TaskSpec("speech", "sequence", (48, 20), 10, tuple("0123456789")),
    "images": TaskSpec("images", "image", (1, 28, 28), 10, tuple("abcdefghij")),
    "promoters": TaskSpec(
        "promoters", "dna", (4, 251), 2, ("non-promoter", "promoter")
    ),
    "motif_grammar": TaskSpec(
        "motif_grammar", "dna", (4, 120), 2, ("absent", "present")
    ),
}


def random_batch(spec, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    if spec.layout == "dna":
        bases = torch.randint(0, 4, (n, spec.input_shape[1]), generator=g)
        x = torch.nn.functional.one_hot(bases, 4).transpose(1, 2).float()  # (B, 4, L)
        return x, None
    x = torch.randn(n, *spec.input_shape, generator=g)
    lengths = None
    if spec.layout == "sequence":
        T = spec.input_shape[0]
        lengths = torch.randint(T // 2, T + 1, (n,), generator=g)
        lengths[0] = T
        # zero the padding
        x = x * (torch.arange(T)[None, :, None] < lengths[:, None, None])
    return x, lengths


def logits_of(out):
    return out.log_probs if isinstance(out, CTCOutput) else out


@pytest.mark.parametrize("task", SPECS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_shapes_and_gradients(arch, task):
    torch.manual_seed(0)
    spec = SPECS[task]
    model = build_model(arch, spec)
    x, lengths = random_batch(spec)
    out = model(x, lengths)
    if arch.startswith("ctc_"):
        assert (
            out.log_probs.shape[0] == len(x)
            and out.log_probs.shape[2] == spec.num_classes + 1
        )
        assert torch.allclose(out.log_probs.exp().sum(-1), torch.ones(()), atol=1e-5)
        assert int(out.lengths.max()) <= out.log_probs.shape[1]
    else:
        assert out.shape == (len(x), spec.num_classes)
    default_loss(out, torch.arange(len(x)) % spec.num_classes).backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not missing, f"no gradient reached {missing}"


# architectures that should fit 16 random examples of each task quickly; one task per layout
OVERFIT = [
    (a, t)
    for a in ARCHITECTURES
    if not a.startswith("ctc_")
    for t in ("speech", "images", "promoters")
]


@pytest.mark.parametrize(("arch", "task"), OVERFIT)
def test_overfits_a_tiny_batch(arch, task):
    torch.manual_seed(0)
    spec = SPECS[task]
    if arch in ("rnn", "lstm", "gru", "bilstm", "bigru") and task == "promoters":
        spec = SPECS["motif_grammar"]  # 120 steps instead of 251 keeps the test fast
    model = build_model(arch, spec, dropout=0.0)
    x, lengths = random_batch(spec, n=16, seed=1)
    y = torch.arange(16) % spec.num_classes
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = default_loss(model(x, lengths), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (
            loss.item() < 0.02 and _ >= 50
        ):  # 50 steps also settle batch-norm running statistics
            break
    model.eval()
    accuracy = (model(x, lengths).argmax(1) == y).float().mean().item()
    assert accuracy == 1.0, (
        f"{arch} on {task}: {accuracy:.2f} after {_ + 1} steps (loss {loss.item():.3f})"
    )


def test_ctc_model_learns_to_transcribe():
    """A CTC CRNN learns to read two-symbol sequences from 'spectrograms' built from them."""
    torch.manual_seed(0)
    spec = TaskSpec("digits", "sequence", (24, 8), 3, ("a", "b", "c"))
    targets = torch.tensor([[0, 1], [1, 2], [2, 0], [0, 2], [1, 0], [2, 1]])  # (B, 2)
    x = torch.zeros(6, 24, 8)
    for i, (first, second) in enumerate(targets.tolist()):
        x[i, 2:10, first * 2 : first * 2 + 2] = (
            1.0  # symbol 1 lights two bands for 8 frames
        )
        x[i, 14:22, second * 2 : second * 2 + 2] = 1.0
    model = build_model("ctc_crnn", spec, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = default_loss(model(x), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    from utils.evaluate import ctc_greedy_decode

    model.eval()
    out = model(x)
    assert ctc_greedy_decode(out.log_probs, out.lengths, blank=3) == targets.tolist()


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            SPECS["promoters"],
            (8, 251, 4),
            r"expected \[batch, 4, length\] one-hot DNA .*got \[8, 251, 4\]",
        ),
        (
            SPECS["images"],
            (8, 28, 28),
            r"expected \[batch, channels, height, width\] images .*got \[8, 28, 28\]",
        ),
        (
            SPECS["speech"],
            (8, 48, 13),
            r"expected \[batch, time, features\] sequences .*got \[8, 48, 13\]",
        ),
    ],
)
def test_wrong_shapes_raise_clear_errors(spec, shape, message):
    for arch in ("gru", "cnn1d", "crnn", "danq", "transformer"):
        with pytest.raises(ValueError, match=message):
            build_model(arch, spec)(torch.zeros(shape))


def test_plain_classes_check_their_inputs():
    with pytest.raises(
        ValueError, match=r"expected \[batch, time, 20\] features, got \[2, 5, 7\]"
    ):
        RNNClassifier(20, 3)(torch.zeros(2, 5, 7))
    with pytest.raises(
        ValueError, match=r"expected \[batch, 1, 40, 64\] images, got \[2, 40, 64\]"
    ):
        CNN2d(1, 3, input_size=(40, 64))(torch.zeros(2, 40, 64))
    with pytest.raises(ValueError, match="unknown architecture 'mamba'"):
        build_model("mamba", SPECS["speech"])


def test_packed_rnn_ignores_padding():
    """With lengths, what lies beyond each sequence's end cannot change the output."""
    torch.manual_seed(0)
    for pooling in SequencePool.MODES:
        for bidirectional in (False, True):
            model = RNNClassifier(
                5, 3, bidirectional=bidirectional, pooling=pooling
            ).eval()
            x, lengths = torch.randn(4, 10, 5), torch.tensor([10, 7, 3, 1])
            noisy = x.clone()
            for i, n in enumerate(lengths):
                noisy[i, n:] = torch.randn(10 - n, 5)
            assert torch.allclose(
                model(x, lengths), model(noisy, lengths), atol=1e-6
            ), pooling
            # and a sequence alone, unpadded, gives the same answer as inside the padded batch
            alone = model(x[1:2, :7])
            assert torch.allclose(alone, model(x, lengths)[1:2], atol=1e-5), pooling


def test_rnn_encoder_final_state_matches_outputs():
    """The forward direction's final state is its output at the last real step."""
    encoder = RNNEncoder(
        3, cell="lstm", hidden_size=4, num_layers=2, bidirectional=True
    )
    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 4])
    out, final = encoder(x, lengths)
    assert out.shape == (2, 6, 8) and final.shape == (2, 8)
    assert torch.allclose(final[1, :4], out[1, 3, :4]) and torch.allclose(
        final[1, 4:], out[1, 0, 4:]
    )
    assert out[1, 4:].abs().sum() == 0  # padding stays zero


@pytest.mark.parametrize(
    "arch", ["cnn1d", "tcn", "danq", "bigru", "cnn2d", "crnn", "transformer"]
)
def test_dna_models_read_any_length(arch):
    """Trained at 120 bp, a model reads 400 bp: no DNA architecture here needs a fixed length."""
    spec = SPECS["motif_grammar"]  # 120 bp
    model = build_model(arch, spec).eval()
    longer = TaskSpec("longer", "dna", (4, 400), 2, spec.class_names)
    x, _ = random_batch(longer, n=3)
    assert model(x).shape == (3, 2)


def test_only_a_flattening_head_fixes_the_length():
    spec = SPECS["motif_grammar"]
    flat = build_model("cnn2d", spec, head="flatten")
    x, _ = random_batch(spec, n=2)
    assert flat(x).shape == (2, 2)
    with pytest.raises(
        ValueError, match=r"expected \[batch, 1, 4, 120\] images, got \[2, 1, 4, 400\]"
    ):
        flat(torch.zeros(2, 4, 400))


def test_rnn_tagger_labels_every_step():
    assert RNNTagger(5, 7)(torch.randn(2, 9, 5), torch.tensor([9, 4])).shape == (
        2,
        9,
        7,
    )


def test_cnn2d_heads_keep_or_drop_frequency():
    spec = SPECS["speech"]
    sizes = {
        h: count_parameters(build_model("cnn2d", spec, head=h)) for h in CNN2d.HEADS
    }
    assert sizes["global_pool"] < sizes["width_pool"] < sizes["flatten"]


def test_receptive_field_and_tcn_sizing():
    assert receptive_field([3, 3]) == 5
    assert receptive_field([3, 3], dilations=[1, 2]) == 7
    assert receptive_field([3, 2, 3], strides=[1, 2, 1]) == 3 + 1 + 2 * 2
    tcn = build_model("tcn", SPECS["speech"]).model
    assert tcn.receptive_field >= SPECS["speech"].input_shape[0]
    blocks = [
        (3, 2**i) for i in range(len(tcn.blocks)) for _ in range(2)
    ]  # two convs per level
    assert (
        receptive_field([k for k, _ in blocks], [d for _, d in blocks])
        == tcn.receptive_field
    )


@pytest.mark.parametrize("arch", ["bigru", "cnn2d", "crnn", "tcn", "transformer"])
def test_match_parameters_hits_the_budget(arch):
    model = match_parameters(arch, SPECS["speech"], 30_000)
    assert abs(count_parameters(model) - 30_000) <= 0.05 * 30_000


def test_width_scales_and_overrides_win():
    spec = SPECS["speech"]
    assert count_parameters(build_model("gru", spec, width=2)) > count_parameters(
        build_model("gru", spec)
    )
    assert build_model("bigru", spec, hidden_size=8).model.encoder.hidden_size == 8
    assert "reads='image'" in repr(build_model("crnn", spec))


def test_compact_dtypes_are_accepted():
    """Loaders may store images as float16 or uint8; the adapter converts them."""
    model = build_model("gru", SPECS["images"]).eval()
    x = torch.rand(2, 1, 28, 28)
    expected = model(x.half().float())
    assert torch.allclose(model(x.half()), expected)


def test_long_frame_sequences_are_averaged_in_pairs_first():
    spec = TaskSpec("speech", "sequence", (101, 40), 10, tuple("0123456789"))
    x, lengths = torch.randn(3, 101, 40), torch.tensor([101, 50, 7])
    for arch in ("bigru", "cnn2d", "crnn"):
        model = build_model(arch, spec)
        assert model.model.downsample == 2, arch
        assert model(x, lengths).shape == (3, 10)
    crnn = build_model("crnn", spec).model
    assert crnn.time_stride == 2 * 2 * 2  # pairs of frames, then the two time pools
    short = TaskSpec("speech", "sequence", (48, 20), 10, tuple("0123456789"))
    assert build_model("cnn2d", short).model.downsample == 1
