"""utils.checks: right answers pass, wrong ones get a hint that does not give the answer."""

import torch

from utils import checks


def test_receptive_field_right_and_common_mistakes(capsys):
    assert checks.check_receptive_field(7, [3, 3, 3])
    assert "✅ receptive field" in capsys.readouterr().out
    added = checks.check_receptive_field(9, [3, 3, 3])  # summed the kernel sizes
    assert not added and "k - 1" in added.feedback and "7" not in added.feedback
    # ignored dilation
    dilated = checks.check_receptive_field(7, [3, 3, 3], dilations=[1, 2, 4])
    assert (
        not dilated and "dilation" in dilated.feedback and "15" not in dilated.feedback
    )
    assert checks.check_receptive_field(15, [3, 3, 3], dilations=[1, 2, 4])
    strided = checks.check_receptive_field(5, [3, 3], strides=[2, 1])
    assert not strided and "strides compound" in strided.feedback
    assert checks.check_receptive_field(7, [3, 3], strides=[2, 1])
    assert not checks.check_receptive_field("seven", [3, 3, 3])


def test_shape_check_names_the_wrong_axis():
    result = checks.check_shape(
        "logits", torch.zeros(8, 9), (8, 10), axes=("batch", "classes")
    )
    assert not result and "classes" in result.feedback and "10" not in result.feedback
    assert checks.check_shape("logits", torch.zeros(8, 10), (8, 10))
    assert "dimensions" in checks.check_shape("x", torch.zeros(8), (8, 10)).feedback


def test_model_output_shape_reports_a_crashing_model():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    result = checks.check_model_output_shape(Broken(), torch.zeros(4, 3), 10)
    assert not result and "RuntimeError" in result.feedback
    assert checks.check_model_output_shape(
        torch.nn.Linear(3, 10), torch.zeros(4, 3), 10
    )


def test_between():
    assert checks.check_between("acc", 0.9, 0.5, 1.0)
    assert checks.check_between("acc", 0.1, 0.5, 1.0).feedback.endswith("too low.")
    assert not checks.check_between("acc", None, 0.5, 1.0)


def test_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "x.wav"
    path.write_bytes(b"R" * 44 + b"samples")
    assert checks.check_file_sha256(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    samples_only = checks.check_file_sha256(
        hashlib.sha256(b"samples").hexdigest(), path
    )
    assert not samples_only and "every byte" in samples_only.feedback
    assert "64 hexadecimal" in checks.check_file_sha256("abc", path).feedback


def test_tata_fraction_needs_the_exact_window():
    hit, miss = "C" * 170 + "TATAAAA" + "C" * 74, "C" * 251
    sequences = [hit, miss, miss, miss]
    assert checks.check_tata_fraction(0.25, sequences)
    assert not checks.check_tata_fraction(0.25 + 0.6 / 4, sequences)
    assert "count" in checks.check_tata_fraction(1, sequences).feedback


def test_check_result_is_not_displayed_twice():
    result = checks.check_between("acc", 0.9, 0.5, 1.0)
    # IPython shows nothing for the returned value
    assert result._ipython_display_() is None


def test_num_frames_names_the_usual_mistakes():
    kw = {"num_samples": 4000, "hop_length": 80, "n_fft": 256}
    assert checks.check_num_frames(51, **kw)
    assert "off by one" in checks.check_num_frames(50, **kw).feedback
    assert (
        "center=False" in checks.check_num_frames(1 + (4000 - 256) // 80, **kw).feedback
    )
    assert not checks.check_num_frames(50.5, **kw)


def test_gru_parameters_against_pytorch_and_common_mistakes():
    gru = torch.nn.GRU(28, 100, batch_first=True)
    # the reference: PyTorch's own count
    right = sum(p.numel() for p in gru.parameters())
    assert checks.check_gru_parameters(right, input_size=28, hidden_size=100)
    one_bias = checks.check_gru_parameters(
        3 * (100 * 28 + 100 * 100 + 100), input_size=28, hidden_size=100
    )
    assert not one_bias and "two bias" in one_bias.feedback
    lstm = sum(p.numel() for p in torch.nn.LSTM(28, 100).parameters())
    as_lstm = checks.check_gru_parameters(lstm, input_size=28, hidden_size=100)
    assert not as_lstm and "LSTM" in as_lstm.feedback
    with_head = checks.check_gru_parameters(
        right + 100 * 10 + 10, input_size=28, hidden_size=100
    )
    assert not with_head and "head" in with_head.feedback
    for wrong in (right - 1, right + 1, "many", 1.5):
        result = checks.check_gru_parameters(wrong, input_size=28, hidden_size=100)
        assert not result and str(right) not in result.feedback


def test_unpermuted_images_must_be_the_originals():
    from utils.data.images import permute_pixels, pixel_permutation

    original = torch.randn(3, 1, 28, 28)
    permutation = pixel_permutation(784, seed=0)
    shuffled = permute_pixels(original, permutation)
    assert checks.check_unpermuted(
        permute_pixels(shuffled, permutation.argsort()), original, permutation
    )
    twice = checks.check_unpermuted(
        permute_pixels(shuffled, permutation), original, permutation
    )
    assert not twice and "inverse" in twice.feedback
    assert (
        "still the permuted"
        in checks.check_unpermuted(shuffled, original, permutation).feedback
    )
    flat = checks.check_unpermuted(original.flatten(1), original, permutation)
    assert not flat and "reshape" in flat.feedback
    assert not checks.check_unpermuted(original.numpy(), original, permutation)


def test_nearest_mean_accuracy_against_a_numpy_reference():
    import numpy as np

    rng = np.random.default_rng(0)
    # three brightnesses
    centres = rng.normal(size=(3, 16)) + np.array([[0.0], [1.5], [3.0]])
    train_y, test_y = rng.integers(0, 3, 300), rng.integers(0, 3, 200)
    train_x = centres[train_y] + rng.normal(size=(300, 16)) * 2
    test_x = centres[test_y] + rng.normal(size=(200, 16)) * 2
    means = np.stack([train_x[train_y == c].mean(axis=0) for c in range(3)])
    distances = ((test_x[:, None, :] - means[None]) ** 2).sum(axis=2)
    expected = float((distances.argmin(axis=1) == test_y).mean())
    data = [torch.tensor(a, dtype=torch.float32) for a in (train_x, test_x)]
    args = (data[0], torch.tensor(train_y), data[1], torch.tensor(test_y))
    assert checks.check_nearest_mean_accuracy(expected, *args)
    percent = checks.check_nearest_mean_accuracy(100 * expected, *args)
    assert not percent and "percentage" in percent.feedback
    dot = float(((test_x @ means.T).argmax(axis=1) == test_y).mean())
    assert abs(dot - expected) > 2 / 200  # the mistake is detectable on this data
    result = checks.check_nearest_mean_accuracy(dot, *args)
    assert not result and "distance" in result.feedback
    test_means = np.stack([test_x[test_y == c].mean(axis=0) for c in range(3)])
    leak = float(
        (((test_x[:, None] - test_means[None]) ** 2).sum(2).argmin(1) == test_y).mean()
    )
    if abs(leak - expected) > 2 / 200:
        result = checks.check_nearest_mean_accuracy(leak, *args)
        assert not result and "test images" in result.feedback
    assert not checks.check_nearest_mean_accuracy(expected + 0.05, *args)


def test_tata_window_is_checked_whatever_the_data():
    import re

    tata = re.compile("TATA[AT]A[AT]")

    def window(start, end, pattern=tata):
        return lambda s: bool(pattern.search(s[start:end]))

    assert checks.check_tata_window(window(160, 185))
    # windows one base off that the real data cannot tell apart: each named
    assert "ends at 186" in checks.check_tata_window(window(160, 186)).feedback
    assert "starts at 159" in checks.check_tata_window(window(159, 185)).feedback
    assert (
        "W stands"
        in checks.check_tata_window(window(160, 185, re.compile("TATAAAA"))).feedback
    )
    assert (
        "never G"
        in checks.check_tata_window(window(160, 185, re.compile("TATA.A."))).feedback
    )
    assert not checks.check_tata_window(0.25)


def test_longest_recording_accepts_a_rounded_answer(tmp_path):
    import wave

    with wave.open(str(tmp_path / "0_x_0.wav"), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(8000)
        f.writeframes(b"\0\0" * 18265)  # 2.283125 s
    assert checks.check_longest_recording(2.28, tmp_path)  # correctly rounded
    assert checks.check_longest_recording(2.283125, tmp_path)
    assert not checks.check_longest_recording(2.29, tmp_path)
    assert "longer than any" in checks.check_longest_recording(2.5, tmp_path).feedback
    assert (
        "a longer recording" in checks.check_longest_recording(2.0, tmp_path).feedback
    )
    assert "samples" in checks.check_longest_recording(18265, tmp_path).feedback


def test_receptive_field_in_milliseconds():
    settings = {"field": 36, "hop_length": 80, "win_length": 200, "sample_rate": 8000}
    assert checks.check_receptive_field_ms(375, **settings)  # 35 hops of 10 ms + 25 ms
    assert (
        "longer than a hop" in checks.check_receptive_field_ms(360, **settings).feedback
    )
    assert "add the window" in checks.check_receptive_field_ms(350, **settings).feedback
    assert "overlap" in checks.check_receptive_field_ms(900, **settings).feedback


def test_resampler_check_catches_aliasing():
    import torch

    from utils.data import audio

    assert checks.check_resampler(lambda x, rate: audio.resample(x, rate, 8000))

    def linear(x, rate):
        n = round(len(x) * 8000 / rate)
        return torch.nn.functional.interpolate(x[None, None], size=n, mode="linear")[
            0, 0
        ]

    assert "2 kHz" in checks.check_resampler(linear).feedback
    assert "8,000 samples" in checks.check_resampler(lambda x, rate: x).feedback
    assert not checks.check_resampler("not a function")
