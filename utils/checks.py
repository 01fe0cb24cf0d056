"""Automatic checks for the exercises: specific feedback that never gives the answer away.

A student calls a check in the notebook, right after their answer::

    from utils import checks
    checks.check_num_frames(my_answer)

Each check prints one line of feedback (``✅`` or ``❌`` with a hint) and returns a
:class:`CheckResult`. In a notebook it also attaches a machine-readable copy of the result to
the output's metadata (key ``course_check``), which ``python -m utils.course.grade`` collects
when it executes a folder of submitted notebooks (chapter: Instructor guide).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

METADATA_KEY = "course_check"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, whether it passed, and the feedback shown."""

    name: str
    passed: bool
    feedback: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.name}: {self.feedback}"

    def _ipython_display_(self):
        """Show nothing when a check is a cell's last line: :func:`report` already showed it."""


def report(name: str, passed: bool, feedback: str) -> CheckResult:
    """Show a result to the student (and to the grader) and return it."""
    result = CheckResult(name, bool(passed), feedback)
    try:
        from IPython import get_ipython
        from IPython.display import display

        in_notebook = get_ipython() is not None
    except ImportError:
        in_notebook = False
    if in_notebook:
        display(
            {"text/plain": str(result)},
            raw=True,
            metadata={METADATA_KEY: asdict(result)},
        )
    else:
        print(result)
    return result


def _is_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ----------------------------------------------------------------------------- generic checks


def check_shape(
    name: str, actual, expected: tuple[int, ...], *, axes: tuple[str, ...] = ()
):
    """Compare a tensor's (or a shape's) dimensions, saying which axis differs, not its value."""
    shape = tuple(getattr(actual, "shape", actual))
    if shape == tuple(expected):
        return report(name, True, f"shape {list(shape)} is right.")
    if len(shape) != len(expected):
        return report(
            name,
            False,
            f"got {len(shape)} dimensions, expected {len(expected)}: check the layout.",
        )
    wrong = [i for i, (a, e) in enumerate(zip(shape, expected, strict=True)) if a != e]
    where = ", ".join(axes[i] if i < len(axes) else f"axis {i}" for i in wrong)
    return report(name, False, f"shape {list(shape)} differs in {where}.")


def check_model_output_shape(model, x, num_classes: int, *, name: str = "model output"):
    """Run ``model`` on a batch ``x`` and check it returns ``[batch, num_classes]`` logits."""
    import torch

    try:
        with torch.no_grad():
            out = model(x)
    except (
        Exception
    ) as error:  # the student's model may fail in any way; report, don't crash
        return report(name, False, f"the model raised {type(error).__name__}: {error}")
    out = getattr(out, "logits", out)
    return check_shape(name, out, (len(x), num_classes), axes=("batch", "classes"))


def check_receptive_field(answer, kernel_sizes, dilations=None, strides=None):
    """Check a receptive-field calculation for a stack of convolutions (chapter: Speech)."""
    name = "receptive field"
    if not _is_number(answer) or float(answer) != int(float(answer)):
        return report(
            name, False, "the answer should be a whole number of input steps."
        )
    from utils.models.cnn import receptive_field

    n = len(kernel_sizes)
    dilations, strides = list(dilations or [1] * n), list(strides or [1] * n)
    field = receptive_field(kernel_sizes, dilations, strides)
    answer = int(float(answer))
    if answer == field:
        return report(
            name, True, "right: each layer adds (kernel - 1) × dilation × jump."
        )
    if answer == sum(kernel_sizes):
        hint = "you added the kernel sizes; neighbouring windows overlap, so a layer adds k - 1."
    elif any(d != 1 for d in dilations) and answer == 1 + sum(
        k - 1 for k in kernel_sizes
    ):
        hint = "dilation spreads each kernel out: a layer adds (k - 1) × dilation."
    elif any(s != 1 for s in strides) and answer < field:
        hint = "strides compound: after a stride-s layer, every later step covers s inputs."
    else:
        hint = "too small." if answer < field else "too large."
    return report(name, False, hint)


def check_receptive_field_ms(
    answer_ms, *, field: int, hop_length: int, win_length: int, sample_rate: int
):
    """Check a receptive field of ``field`` STFT frames converted to milliseconds of audio
    (chapter: Speech): ``field - 1`` hops between the first and last frame's starts, plus
    one window."""
    name = "receptive field in ms"
    if not _is_number(answer_ms):
        return report(name, False, "give the duration as a number of milliseconds.")
    ms = 1000 / sample_rate
    expected, answer = ((field - 1) * hop_length + win_length) * ms, float(answer_ms)
    if abs(answer - expected) <= 0.5:
        return report(name, True, "right: (field - 1) hops plus one window.")
    hints = {
        field
        * hop_length
        * ms: "each frame is a window longer than a hop: (field - 1) hops "
        "plus one window.",
        (field - 1)
        * hop_length
        * ms: "that spans the frames' starts; add the window the last frame covers.",
        field
        * win_length
        * ms: "neighbouring frames overlap: they are one hop apart, not one window.",
    }
    for value, hint in hints.items():
        if abs(answer - value) <= 0.5:
            return report(name, False, hint)
    return report(name, False, "too short." if answer < expected else "too long.")


def check_resampler(to_8k):
    """Check a function ``to_8k(waveform, rate)`` (float ``[N]`` at ``rate`` Hz to 8 kHz) on
    tones: one it must keep, and one above 4 kHz it must remove rather than fold back
    (chapter: Speech)."""
    import torch

    name = "resampling to 8 kHz"
    if not callable(to_8k):
        return report(
            name, False, "to_8k should be a function of a waveform and its rate."
        )

    def tone(hz: float, rate: int) -> torch.Tensor:
        return torch.sin(2 * math.pi * hz * torch.arange(rate) / rate)  # one second

    def amplitude(x, hz: float) -> float:  # of the hz component of one second at 8 kHz
        x = torch.as_tensor(x, dtype=torch.float64).flatten()[400:-400]
        n = len(x)
        phase = 2 * math.pi * hz * torch.arange(n) / 8000
        return float(
            2 * torch.hypot((x * phase.cos()).mean(), (x * phase.sin()).mean())
        )

    try:
        kept = {rate: to_8k(tone(1000, rate), rate) for rate in (44100, 48000)}
        folded = to_8k(tone(6000, 48000), 48000)
    except Exception as error:  # the student's code: report, do not crash
        return report(name, False, f"to_8k raised {type(error).__name__}: {error}")
    for rate, out in kept.items():
        if not isinstance(out, torch.Tensor) or abs(out.numel() - 8000) > 1:
            size = out.numel() if isinstance(out, torch.Tensor) else type(out).__name__
            return report(
                name,
                False,
                f"one second at {rate} Hz should give 8,000 samples as a tensor, got {size}.",
            )
        if amplitude(out, 1000) < 0.9:
            return report(
                name,
                False,
                f"a 1 kHz tone at {rate} Hz lost its amplitude: "
                "keep everything below about 3.8 kHz.",
            )
    alias = amplitude(folded, 2000)
    if alias > 0.05:
        return report(
            name,
            False,
            f"a 6 kHz tone came back as a 2 kHz one at {alias:.2f} of "
            "its amplitude: low-pass below 4 kHz before downsampling.",
        )
    return report(
        name, True, "right: the band is kept and nothing above 4 kHz folds back."
    )


def check_between(
    name: str, value, low: float, high: float, *, what: str = "the value"
):
    """Check that a measured number (an accuracy, a loss) lies in an expected range."""
    if not _is_number(value):
        return report(
            name, False, f"{what} should be a number, got {type(value).__name__}."
        )
    value = float(value)
    if low <= value <= high:
        return report(name, True, f"{what} is in the expected range.")
    return report(name, False, f"{what} is {'too low' if value < low else 'too high'}.")


# ------------------------------------------------------------------------ chapter: Getting started


def check_file_sha256(answer, path):
    """Check a hand-computed SHA-256 digest of a file (chapter: Getting started)."""
    import hashlib
    from pathlib import Path

    name = f"sha256 of {Path(path).name}"
    data = Path(path).read_bytes()
    expected = hashlib.sha256(data).hexdigest()
    answer = str(answer).strip().lower()
    if answer == expected:
        return report(
            name, True, "right: this is the digest fetch compares with the manifest."
        )
    if len(answer) != 64:
        return report(
            name, False, "a SHA-256 digest is 64 hexadecimal characters: .hexdigest()."
        )
    if answer == hashlib.sha256(data[44:]).hexdigest():
        return report(
            name, False, "you hashed the samples only: hash every byte of the file."
        )
    return report(
        name, False, "not this file's digest: hash its raw bytes (open it with 'rb')."
    )


def check_longest_recording(answer_seconds, recordings_folder):
    """Check the duration, in seconds, of the longest FSDD recording (chapter: Getting started)."""
    import wave
    from pathlib import Path

    name = "longest recording"
    if not _is_number(answer_seconds):
        return report(name, False, "give the duration as a number of seconds.")
    longest = 0.0
    for path in Path(recordings_folder).glob("*.wav"):
        with wave.open(str(path)) as f:
            longest = max(longest, f.getnframes() / f.getframerate())
    answer = float(answer_seconds)
    if (
        abs(answer - longest) <= 0.005 + 1e-9
    ):  # exact, or rounded to hundredths of a second
        return report(name, True, "right: samples divided by the sample rate.")
    if math.isclose(answer, longest * 8000, rel_tol=1e-3):
        return report(
            name, False, "that is a number of samples: divide by the sample rate."
        )
    if math.isclose(answer, longest * 1000, rel_tol=1e-3):
        return report(
            name, False, "that looks like milliseconds: the answer is in seconds."
        )
    if answer > longest:
        return report(
            name, False, "longer than any recording: count samples, not bytes."
        )
    return report(
        name, False, "a longer recording exists: did you look at all 3,000 files?"
    )


def check_tata_window(has_tata, *, start: int = 160, end: int = 185):
    """Check a function ``has_tata(sequence)`` that says whether ``TATAWAW`` lies wholly inside
    ``sequence[start:end]``, on made-up sequences, whatever the data (chapter: Getting
    started)."""
    name = "TATA-box window"
    if not callable(has_tata):
        return report(name, False, "has_tata should be a function of one sequence.")
    background, length = "G" * 251, 7

    def planted(motif: str, at: int) -> str:
        return background[:at] + motif + background[at + len(motif) :]

    try:
        found = {at: bool(has_tata(planted("TATAAAT", at))) for at in range(130, 200)}
        spelled = [
            bool(has_tata(planted(m, 170))) for m in ("TATAAAA", "TATATAT", "TATAGAA")
        ]
    except Exception as error:  # the student's code: report, do not crash
        return report(name, False, f"has_tata raised {type(error).__name__}: {error}")
    if spelled[:2] != [True, True]:
        return report(
            name, False, "W stands for A or T: TATAAAA and TATATAT both match."
        )
    if spelled[2]:
        return report(name, False, "TATAGAA is no match: W is A or T, never G.")
    inside = [at for at, hit in found.items() if hit]
    if inside == list(range(start, end - length + 1)):
        return report(
            name, True, "right: a match must start and end inside the window."
        )
    if not inside:
        return report(name, False, "no planted TATAWAW was found at any position.")
    first, last_end = inside[0], inside[-1] + length
    hints = []
    if first != start:
        hints.append(f"your window starts at {first}, not {start}")
    if last_end != end:
        hints.append(f"it ends at {last_end} (exclusive), not {end}")
    return report(
        name, False, "; ".join(hints) + ": slice sequence[160:185] and search in it."
    )


def check_tata_fraction(answer, sequences, *, start: int = 160, end: int = 185):
    """Check the fraction of sequences holding ``TATAWAW`` in a window
    (chapter: Getting started)."""
    import re

    name = "TATA-box fraction"
    if not _is_number(answer):
        return report(name, False, "give a fraction between 0 and 1.")
    pattern = re.compile("TATA[AT]A[AT]")
    hits = sum(bool(pattern.search(s[start:end].upper())) for s in sequences)
    expected, answer = hits / len(sequences), float(answer)
    if math.isclose(
        answer, expected, abs_tol=0.5 / len(sequences)
    ):  # exactly this count
        return report(name, True, "right.")
    if math.isclose(answer, hits, abs_tol=0.5):
        return report(
            name, False, "that is a count: divide by the number of sequences."
        )
    if answer > 1:
        return report(
            name, False, "a fraction lies between 0 and 1 (not a percentage)."
        )
    return report(
        name, False, "not quite: W stands for A or T; use the slice [160:185]."
    )


# ----------------------------------------------------------------------------- chapter: Speech


def check_num_frames(answer, *, num_samples: int, hop_length: int, n_fft: int):
    """Check the number of STFT frames of a recording (``torch.stft(center=True)``)."""
    name = "number of frames"
    if not _is_number(answer) or float(answer) != int(float(answer)):
        return report(name, False, "a number of frames is a whole number.")
    expected, answer = 1 + num_samples // hop_length, int(float(answer))
    if answer == expected:
        return report(
            name, True, "right: with center=True there is a frame on every hop."
        )
    if answer == expected - 1:
        return report(
            name, False, "off by one: count the frame centred on sample 0 too."
        )
    if answer == 1 + (num_samples - n_fft) // hop_length:
        return report(
            name, False, "that is center=False; the course pads so frames are centred."
        )
    return report(name, False, "one frame every hop_length samples: how many hops fit?")


# ----------------------------------------------------------------------------- chapter: Images


def check_gru_parameters(
    answer, *, input_size: int, hidden_size: int, num_classes: int = 10
):
    """Check a hand count of the parameters of one ``nn.GRU`` layer (chapter: Images)."""
    name = "GRU parameters"
    if not _is_number(answer) or float(answer) != int(float(answer)):
        return report(name, False, "a number of parameters is a whole number.")
    F, H, answer = input_size, hidden_size, int(float(answer))
    # input weights, recurrent weights, two bias vectors
    per_gate = H * F + H * H + 2 * H
    expected = 3 * per_gate
    if answer == expected:
        return report(
            name, True, "right: three gates, each with W_i, W_h and two bias vectors."
        )
    hints = {
        expected
        + H * num_classes
        + num_classes: "that includes the classifier head: count the GRU layer only.",
        3
        * (
            H * F + H * H + H
        ): "PyTorch gives each gate two bias vectors (b_i and b_h).",
        3 * (H * F + H * H): "the biases are parameters too.",
        4 * per_gate: "four blocks of weights is an LSTM; a GRU has three.",
        per_gate: "a GRU has more than one block of weights: one per gate and the candidate.",
        2 * expected: "the chapter's GRU reads in one direction only.",
        3
        * (
            H * F + 2 * H
        ): "each gate also has recurrent weights, from the hidden state to itself.",
    }
    if answer in hints:
        return report(name, False, hints[answer])
    return report(name, False, "too small." if answer < expected else "too large.")


def check_unpermuted(answer, original, permutation):
    """Check that permuted images were put back in their original pixel order (chapter: Images).

    ``original`` ``[B, ..., H, W]`` are the images before
    :func:`utils.data.images.permute_pixels` shuffled them with ``permutation``."""
    import torch

    from utils.data.images import permute_pixels

    name = "undo the permutation"
    if not isinstance(answer, torch.Tensor):
        return report(
            name, False, f"expected a tensor of images, got {type(answer).__name__}."
        )
    if answer.shape != original.shape:
        return report(
            name,
            False,
            f"shape {list(answer.shape)}, expected {list(original.shape)}: reshape the flat pixels "
            "back into rows and columns.",
        )
    answer, original = answer.float(), original.float()
    if torch.allclose(answer, original, atol=1e-3):
        return report(
            name, True, "right: the inverse permutation puts every pixel back."
        )
    shuffled = permute_pixels(original, permutation).float()
    if torch.allclose(answer, shuffled, atol=1e-3):
        return report(name, False, "these are still the permuted images.")
    if torch.allclose(answer, permute_pixels(shuffled, permutation).float(), atol=1e-3):
        return report(
            name,
            False,
            "you applied the permutation a second time; you need its inverse: position "
            "permutation[i] must receive pixel i.",
        )
    return report(
        name, False, "not the original images: compare one image before and after."
    )


def check_nearest_mean_accuracy(answer, train_x, train_y, test_x, test_y):
    """Check the test accuracy of a nearest-class-mean classifier: each test image gets the class
    whose mean training image is closest in Euclidean distance (chapter: Images)."""
    import torch

    from utils.data.images import class_means

    name = "nearest class mean"
    if not _is_number(answer):
        return report(name, False, "give the accuracy as a number between 0 and 1.")
    num_classes = int(train_y.max()) + 1
    flat = test_x.reshape(len(test_x), -1).float()  # (N, pixels)

    def accuracy_with(means, similarity=False):
        m = means.reshape(num_classes, -1)  # (classes, pixels)
        scores = flat @ m.T if similarity else -torch.cdist(flat, m)  # (N, classes)
        return (scores.argmax(dim=1) == test_y).float().mean().item()

    train_means = class_means(train_x, train_y, num_classes)
    expected, answer = accuracy_with(train_means), float(answer)
    # a tie or two may fall either way in float16 or float32
    tolerance = 2 / len(test_y)
    if math.isclose(answer, expected, abs_tol=tolerance):
        return report(
            name, True, "right: a linear classifier with one template per class."
        )
    if answer > 1 and math.isclose(answer / 100, expected, abs_tol=tolerance):
        return report(
            name, False, "that is a percentage: give a fraction between 0 and 1."
        )
    if math.isclose(
        answer,
        accuracy_with(class_means(test_x, test_y, num_classes)),
        abs_tol=tolerance,
    ):
        return report(
            name,
            False,
            "those class means come from the test images: use the training images.",
        )
    if math.isclose(
        answer, accuracy_with(train_means, similarity=True), abs_tol=tolerance
    ):
        return report(
            name,
            False,
            "the largest dot product favours bright, large classes; take the smallest distance.",
        )
    return report(
        name, False, "not quite: means over training images, then the closest mean."
    )


# ------------------------------------------------------------------ chapters: Foundations (Part I)


def _whole(answer) -> int | None:
    """``answer`` as an int if it is a whole number, else None."""
    if not _is_number(answer) or float(answer) != int(float(answer)):
        return None
    return int(float(answer))


def check_flattened_size(answer, *, channels: int, length: int, pools):
    """Check how many numbers a 1-D CNN hands its dense head after "same" convolutions and
    max-pools (ceil mode) of the given sizes (chapter: Choosing between RNNs and CNNs)."""
    name = "flattened size"
    answer = _whole(answer)
    if answer is None:
        return report(
            name, False, "a number of inputs to a dense layer is a whole number."
        )
    remaining = length
    for pool in pools:
        # ceil: a pool of 2 halves the length, rounding up
        remaining = -(-remaining // pool)
    expected = channels * remaining
    if answer == expected:
        return report(name, True, "right: channels × the length left after pooling.")
    hints = {
        channels
        * length: "the pools shrink the length before the dense layer: divide by each.",
        remaining: "every channel keeps its own value at each position: multiply by channels.",
        length: "the dense layer sees every channel at every remaining position.",
    }
    if len(pools) > 1:
        hints[channels * -(-length // pools[0])] = (
            "every pool divides the length, not only one."
        )
    if answer in hints:
        return report(name, False, hints[answer])
    return report(name, False, "too small." if answer < expected else "too large.")


def check_lstm_parameters(answer, *, input_size: int, hidden_size: int):
    """Check a hand count of the parameters of one ``nn.LSTM`` layer (chapter: Recurrent
    networks)."""
    name = "LSTM parameters"
    answer = _whole(answer)
    if answer is None:
        return report(name, False, "a number of parameters is a whole number.")
    F, H = input_size, hidden_size
    # input weights, recurrent weights, two bias vectors
    per_gate = H * F + H * H + 2 * H
    expected = 4 * per_gate
    if answer == expected:
        return report(
            name,
            True,
            "right: four blocks (three gates and the candidate), each with "
            "input weights, recurrent weights and two bias vectors.",
        )
    hints = {
        4
        * (
            H * F + H * H + H
        ): "PyTorch gives each block two bias vectors (b_i and b_h).",
        4 * (H * F + H * H): "the biases are parameters too.",
        3 * per_gate: "three blocks of weights is a GRU; an LSTM has four.",
        per_gate: "an LSTM has one block of weights per gate, plus one for the candidate.",
        2
        * expected: "one direction only: a bidirectional LSTM would have twice as many.",
        4 * (H * F + 2 * H): "each block also has recurrent weights, from h to itself.",
    }
    if answer in hints:
        return report(name, False, hints[answer])
    return report(name, False, "too small." if answer < expected else "too large.")


def check_adding_baseline(answer, *, high: float = 1.0):
    """Check the mean squared error of always answering the mean, ``high``, on the adding
    problem, whose target is the sum of two independent uniform numbers on [0, ``high``)
    (chapter: Recurrent networks)."""
    name = "adding-problem baseline"
    if not _is_number(answer):
        return report(name, False, "give the mean squared error as a number.")
    answer, one = float(answer), high**2 / 12  # the variance of one U(0, high)
    tol = 2e-3 * high**2
    if math.isclose(answer, 2 * one, abs_tol=tol):
        return report(
            name, True, "right: the variance of a sum of two independent uniforms."
        )
    if math.isclose(answer, one, abs_tol=tol):
        return report(
            name,
            False,
            "that is the variance of one uniform number; the target adds two.",
        )
    if math.isclose(answer, (2 * one) ** 0.5, abs_tol=tol):
        return report(
            name,
            False,
            "that is a standard deviation; the mean *squared* error is a variance.",
        )
    if math.isclose(answer, 4 * one, abs_tol=tol):
        return report(
            name, False, "variances of independent numbers add; they do not double."
        )
    if high != 1 and math.isclose(answer, 2 / 12, abs_tol=2e-3):
        return report(
            name,
            False,
            "that is the [0, 1) task: a uniform on [0, h) has variance h²/12.",
        )
    return report(
        name,
        False,
        "the best constant is the mean: its error is the variance of the target.",
    )


def check_conv_output_length(
    answer,
    *,
    length: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
):
    """Check the output length of a 1-D convolution (chapter: Convolutional networks)."""
    name = "output length"
    answer = _whole(answer)
    if answer is None:
        return report(name, False, "a length is a whole number of steps.")
    # how far the first and last tap of a kernel are apart
    span = dilation * (kernel_size - 1)
    expected = (length + 2 * padding - span - 1) // stride + 1
    if answer == expected:
        return report(name, True, "right: floor((L + 2p - d(k - 1) - 1) / s) + 1.")
    hints = {
        (length + 2 * padding - span - 1)
        // stride: "off by one: the first window counts too.",
        (length - span - 1) // stride + 1: "padding adds p steps at each end.",
        (length + 2 * padding - (kernel_size - 1) - 1) // stride
        + 1: "dilation spreads the kernel: its taps span d(k - 1) + 1 steps.",
        length
        + 2 * padding
        - span: "the stride moves the window s steps at a time: divide.",
        -(
            -(length + 2 * padding - span) // stride
        ): "a window that would run past the end is "
        "dropped: round down, then add the first window.",
    }
    hints.pop(expected, None)
    if answer in hints:
        return report(name, False, hints[answer])
    return report(name, False, "too small." if answer < expected else "too large.")


def check_conv_parameters(
    answer, *, in_channels: int, out_channels: int, kernel_size: int, dims: int = 2
):
    """Check a hand count of the parameters of an ``nn.Conv1d``/``nn.Conv2d`` with bias
    (chapter: Convolutional networks)."""
    name = "convolution parameters"
    answer = _whole(answer)
    if answer is None:
        return report(name, False, "a number of parameters is a whole number.")
    taps = kernel_size**dims
    expected = out_channels * in_channels * taps + out_channels
    if answer == expected:
        return report(
            name,
            True,
            "right: one k×k kernel per input and output channel, plus one bias per output channel.",
        )
    hints = {
        out_channels * in_channels * taps: "each output channel has a bias too.",
        out_channels * taps + out_channels: "each filter spans every input channel.",
        out_channels * in_channels * kernel_size
        + out_channels: "a 2-D kernel has k × k taps.",
        in_channels * taps
        + 1: "that is one filter; the layer has one per output channel.",
    }
    hints.pop(expected, None)
    if answer in hints:
        return report(name, False, hints[answer])
    return report(name, False, "too small." if answer < expected else "too large.")


# ----------------------------------------------------------------------------- chapter: DNA


def check_reverse_complement(answer, sequence: str):
    """Check the reverse complement of a DNA ``sequence``, written as a string (chapter: DNA)."""
    name = "reverse complement"
    if not isinstance(answer, str):
        return report(
            name, False, "write the answer as a string of letters, e.g. 'ACGT'."
        )
    pairs = str.maketrans("ACGT", "TGCA")
    sequence, answer = sequence.upper(), answer.strip().upper()
    expected = sequence.translate(pairs)[::-1]
    if answer == expected:
        return report(name, True, "right: read the other strand from its own 5' end.")
    if len(answer) != len(sequence):
        return report(name, False, f"the other strand has {len(sequence)} bases too.")
    if answer == sequence[::-1]:
        return report(
            name, False, "reversed, but not complemented: swap A<->T and C<->G."
        )
    if answer == sequence.translate(pairs):
        return report(
            name,
            False,
            "complemented, but not reversed: the other strand runs the other way.",
        )
    return report(
        name, False, "not quite: complement every base (A<->T, C<->G), then reverse."
    )


def check_pooled_steps(answer, *, length: int, pool: int):
    """Check how many steps a recurrent layer reads after a max-pool of size and stride
    ``pool`` with ``ceil_mode=True`` over ``length`` bases (chapter: DNA)."""
    name = "steps after pooling"
    if not _is_number(answer) or float(answer) != int(float(answer)):
        return report(name, False, "a number of steps is a whole number.")
    expected, answer = -(-length // pool), int(float(answer))
    if answer == expected:
        return report(
            name, True, "right: one step per window, the last one partly filled."
        )
    if answer == length // pool:
        return report(
            name, False, "ceil_mode=True keeps the last, partly filled window."
        )
    if answer == length:
        return report(name, False, "that is the number of bases: pooling comes first.")
    return report(name, False, "divide the length by the pool size, rounding up.")


# ----------------------------------------------------------------------------- chapter: Hybrids


def check_ctc_collapse(answer):
    """Check a function ``answer(path, blank)`` that reads a CTC path: merge repeats, then drop
    blanks (chapter: Hybrids)."""
    name = "collapse_path"
    if not callable(answer):
        return report(name, False, "define a function collapse_path(path, blank).")
    cases = [  # (path, blank, expected)
        ([1, 1, 10, 1, 2, 2], 10, [1, 1, 2]),
        ([10, 3, 3, 3, 10, 10], 10, [3]),
        ([5, 10, 5, 5, 10, 5], 10, [5, 5, 5]),
        ([10, 10, 10], 10, []),
        ([0, 2, 2, 1, 1, 0], 2, [0, 1, 0]),
        ([4, 7, 4], 9, [4, 7, 4]),
    ]
    for path, blank, expected in cases:
        try:
            got = [int(s) for s in answer(list(path), blank)]
        except Exception as error:
            return report(
                name, False, f"collapse_path({path}, {blank}) raised {error!r}."
            )
        if got == expected:
            continue
        kept = [s for s in path if s != blank]
        if blank in got:
            feedback = "blanks must not appear in the label: drop them."
        elif got == kept:
            feedback = "merge repeated symbols too: 3 3 3 is one 3."
        elif got == [s for i, s in enumerate(kept) if i == 0 or s != kept[i - 1]]:
            feedback = "merge repeats before dropping blanks: 5 – 5 reads 5 5, not 5."
        else:
            feedback = f"expected {expected}, got {got}."
        return report(name, False, f"collapse_path({path}, blank={blank}): {feedback}")
    return report(
        name, True, "right: repeats merge, then blanks go, so a blank separates 5 5."
    )


def _pin_log_probs(steps: list[dict], classes: int = 11):
    """Per-step log-probabilities ``[T, classes]`` from ``{symbol: probability}`` per step
    (``None`` for a blank); the mass left over is shared by the other symbols."""
    import torch

    rows = []
    for probs in steps:
        probs = probs or {classes - 1: 0.9}
        rest = (1 - sum(probs.values())) / (classes - len(probs))
        rows.append([probs.get(s, rest) for s in range(classes)])
    return torch.tensor(rows).log()


def _likeliest_pin(log_probs, steps: int) -> list[int]:
    """The reference: among the beam's best and its one-digit deletions and insertions, the
    four-digit candidate with the highest CTC probability."""
    import torch

    from utils.ctc import ctc_beam_decode, ctc_loss

    best = ctc_beam_decode(log_probs[None, :steps], beam_width=8)[0]
    candidates = {tuple(best)} | {
        tuple(best[:i] + best[i + 1 :]) for i in range(len(best))
    }
    for i in range(len(best) + 1):
        candidates |= {(*best[:i], d, *best[i:]) for d in range(10)}
    pins = sorted(c for c in candidates if len(c) == 4)
    lengths = torch.tensor([steps])
    scores = [
        -float(ctc_loss(log_probs[None, :steps], lengths, torch.tensor([c])))
        for c in pins
    ]
    return list(pins[max(range(len(pins)), key=scores.__getitem__)])


def check_pin_decoder(answer):
    """Check ``answer(log_probs, steps)`` for the PIN exercise: it reads the first ``steps``
    rows of ``log_probs`` ``[T, 11]`` (blank last) and returns the likeliest four-digit
    candidate (chapter: Hybrids)."""
    name = "best_pin"
    if not callable(answer):
        return report(name, False, "define a function best_pin(log_probs, steps).")
    blank = None
    clear = [{1: 0.9}, blank, {2: 0.9}, blank, {3: 0.9}, blank, {4: 0.9}, blank]
    cases = {  # what the beam reads -> (per-step probabilities, steps to read)
        "four clear digits": (clear, 8),
        "three clear digits and a faint seven": (
            [*clear[:6], {7: 0.4, 10: 0.55}, blank],
            8,
        ),
        "five digits, one of them faint": (
            [*clear[:4], {5: 0.55, 10: 0.43}, blank, *clear[4:]],
            10,
        ),
        "four digits, then padding that looks like a nine": (
            [*clear, {9: 0.95}, blank, {9: 0.95}],
            8,
        ),
    }
    for case, (steps, n) in cases.items():
        log_probs = _pin_log_probs(steps)
        expected = _likeliest_pin(log_probs, n)
        try:
            got = [int(d) for d in answer(log_probs, n)]
        except Exception as error:
            return report(name, False, f"{case}: best_pin raised {error!r}.")
        if got == expected:
            continue
        if len(got) != 4:
            feedback = f"a PIN has exactly four digits, got {got}."
        elif 9 in got and "padding" in case:
            feedback = "read only the first `steps` steps: the rest is padding."
        else:
            feedback = (
                f"{got} has four digits but is not the likeliest candidate: score each by "
                "its CTC probability and keep the highest."
            )
        return report(name, False, f"{case}: {feedback}")
    return report(
        name, True, "right: the likeliest four-digit reading, padding ignored."
    )


# ------------------------------------------------------- chapter: Choosing in practice


def check_winner_rule(answer):
    """Check ``answer(means, sds, lower_is_better)``, the comparison chapter's rule: the
    best family wins when the gap between its mean and every other family's is larger than
    the sum of the two standard deviations; otherwise ``None`` (chapter: Choosing in
    practice)."""
    name = "winner"
    if not callable(answer):
        return report(
            name, False, "define a function winner(means, sds, lower_is_better)."
        )
    nan = float("nan")
    cases = [  # (means, sds, lower_is_better, expected, feedback when wrong)
        ({"a": 0.90, "b": 0.85}, {"a": 0.01, "b": 0.01}, False, "a",
         "a gap of 0.05 against spreads of 0.01 + 0.01 separates them."),
        ({"a": 0.90, "b": 0.89}, {"a": 0.01, "b": 0.01}, False, None,
         "a gap of 0.01 is smaller than the spreads' sum, 0.02: no winner."),
        ({"a": 0.20, "b": 0.10}, {"a": 0.02, "b": 0.02}, True, "b",
         "for an error rate the smaller mean is the better one."),
        ({"a": 0.90, "b": 0.88, "c": 0.87}, {"a": 0.001, "b": 0.001, "c": 0.05}, False,
         None, "compare the best with every family, not only the runner-up: c's spread "
         "reaches a."),
        ({"a": 0.95, "b": 0.80, "c": 0.70}, {"a": 0.02, "b": 0.02, "c": 0.02}, False, "a",
         "the best is separated from both others here."),
        ({"a": 0.90, "b": 0.80}, {"a": nan, "b": nan}, False, None,
         "with one seed there is no spread (NaN): one seed never makes a winner."),
        ({"a": 0.95, "b": 0.80, "c": 0.79}, {"a": 0.01, "b": 0.02, "c": 0.02}, False, "a",
         "only the best must be separated from each other family; b and c may tie."),
        ({"a": 0.5, "b": 0.0}, {"a": 0.25, "b": 0.25}, False, None,
         "a gap exactly equal to the spreads' sum does not separate: it must be larger."),
        ({"a": 0.9, "b": 0.8}, {"a": 0.06, "b": 0.06}, False, None,
         "add the two standard deviations (0.12 here), do not pool them."),
    ]  # fmt: skip
    for means, sds, low, expected, hint in cases:
        try:
            got = answer(dict(means), dict(sds), low)
        except Exception as error:
            return report(
                name, False, f"winner({means}, {sds}, {low}) raised {error!r}."
            )
        if got != expected:
            return report(
                name,
                False,
                f"winner({means}, ...) gave {got!r}, expected {expected!r}: {hint}",
            )
    return report(name, True, "right: a winner is separated from every other family.")


def check_hybrid_cost(answer, summary):
    """Check ``answer``, ``{task: the hybrid's training time / the convolutional family's}``
    (median ``train_seconds`` over seeds), against ``summary``, the chapter's
    :func:`utils.comparison.summary_table` (chapter: Choosing in practice)."""
    name = "hybrid_cost"
    tasks = [
        t
        for t in dict.fromkeys(summary.index.get_level_values("task"))
        if {"hybrid", "cnn"} <= set(summary.loc[t].index)
    ]
    if not isinstance(answer, dict):
        return report(name, False, "make a dict {task: ratio}, one entry per task.")
    missing = [t for t in tasks if t not in answer]
    if missing:
        return report(name, False, f"missing tasks: {', '.join(missing)}.")
    for task in tasks:
        rows = summary.loc[task]
        expected = (
            rows.loc["hybrid", "train_seconds"] / rows.loc["cnn", "train_seconds"]
        )
        try:
            got = float(answer[task])
        except (TypeError, ValueError):
            return report(name, False, f"{task}: {answer[task]!r} is not a number.")
        if math.isclose(got, expected, rel_tol=0.02):
            continue
        if math.isclose(got, 1 / expected, rel_tol=0.02):
            hint = (
                "that is the convolutional family's time over the hybrid's: invert it."
            )
        else:
            per_epoch = (
                rows.loc["hybrid", "seconds_per_epoch"]
                / rows.loc["cnn", "seconds_per_epoch"]
            )
            hint = (
                "use the training time (train_seconds), not the time per epoch."
                if math.isclose(got, per_epoch, rel_tol=0.02)
                else "divide the hybrid's train_seconds in `summary` (the median over "
                "seeds, not the mean) by the convolutional family's."
            )
        return report(name, False, f"{task}: {got:.3g} is not the ratio; {hint}")
    return report(name, True, "right: now set each ratio beside what the hybrid gains.")
