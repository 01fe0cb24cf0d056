"""utils.checks: right answers pass, wrong ones get a hint that does not give the answer."""

import torch

from utils import checks


def test_receptive_field_right_and_common_mistakes(capsys):
    assert checks.check_receptive_field(7, [3, 3, 3])
    assert "✅ receptive field" in capsys.readouterr().out
    added = checks.check_receptive_field(9, [3, 3, 3])  # summed the kernel sizes
    assert not added and "k - 1" in added.feedback and "7" not in added.feedback
    dilated = checks.check_receptive_field(7, [3, 3, 3], dilations=[1, 2, 4])  # ignored dilation
    assert not dilated and "dilation" in dilated.feedback and "15" not in dilated.feedback
    assert checks.check_receptive_field(15, [3, 3, 3], dilations=[1, 2, 4])
    strided = checks.check_receptive_field(5, [3, 3], strides=[2, 1])
    assert not strided and "strides compound" in strided.feedback
    assert checks.check_receptive_field(7, [3, 3], strides=[2, 1])
    assert not checks.check_receptive_field("seven", [3, 3, 3])


def test_shape_check_names_the_wrong_axis():
    result = checks.check_shape("logits", torch.zeros(8, 9), (8, 10), axes=("batch", "classes"))
    assert not result and "classes" in result.feedback and "10" not in result.feedback
    assert checks.check_shape("logits", torch.zeros(8, 10), (8, 10))
    assert "dimensions" in checks.check_shape("x", torch.zeros(8), (8, 10)).feedback


def test_model_output_shape_reports_a_crashing_model():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    result = checks.check_model_output_shape(Broken(), torch.zeros(4, 3), 10)
    assert not result and "RuntimeError" in result.feedback
    assert checks.check_model_output_shape(torch.nn.Linear(3, 10), torch.zeros(4, 3), 10)


def test_between():
    assert checks.check_between("acc", 0.9, 0.5, 1.0)
    assert checks.check_between("acc", 0.1, 0.5, 1.0).feedback.endswith("too low.")
    assert not checks.check_between("acc", None, 0.5, 1.0)


def test_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "x.wav"
    path.write_bytes(b"R" * 44 + b"samples")
    assert checks.check_file_sha256(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    samples_only = checks.check_file_sha256(hashlib.sha256(b"samples").hexdigest(), path)
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
    assert result._ipython_display_() is None  # IPython shows nothing for the returned value


def test_num_frames_names_the_usual_mistakes():
    kw = {"num_samples": 4000, "hop_length": 80, "n_fft": 256}
    assert checks.check_num_frames(51, **kw)
    assert "off by one" in checks.check_num_frames(50, **kw).feedback
    assert "center=False" in checks.check_num_frames(1 + (4000 - 256) // 80, **kw).feedback
    assert not checks.check_num_frames(50.5, **kw)
