"""Spoken digit strings: FSDD recordings strung together like a PIN or a phone number, for
transcription with CTC (chapter: Hybrids).

Each string holds 3-7 digits (``digits=(3, 7)``) spoken by one speaker: one FSDD recording per
digit, its silent ends trimmed, scaled by a small random gain (``gain_db``), with a random
silence before, between and after the digits (``gap``, in seconds), and white noise over the
whole string at a random signal-to-noise ratio (``snr_db``). Everything is drawn from one seeded
generator per split, so the same arguments give the same strings, bit for bit.

**Which recordings go where.** Five speakers speak the training strings; the sixth
(``holdout_speaker``, default ``"theo"``) is kept for a new-voice test. Of the five speakers'
recordings, takes 10-49 make the training strings, takes 5-9 the validation strings and takes
0-4 (FSDD's own test takes) the known-voice test strings, so no recording is heard in two sets.

- ``data.test``                       known voices, held-out takes
- ``data.extra_tests["new_voice"]``   the sixth speaker, all 500 of their takes

A plan (:class:`StringPlan`: which recordings, gaps, gains, noise) is cheap and is drawn first;
the audio and log-mel features (:func:`utils.data.speech.waveform_features`) are computed from
it once and cached on disk. ``spec.extra["plans"]`` keeps every split's plans, so each label
sequence can be checked against the recordings that made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from utils.config import config
from utils.data.cache import cached
from utils.data.download import MANIFEST
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.speech import (
    CLASS_NAMES,
    HOP_LENGTH,
    N_FFT,
    SAMPLE_RATE,
    SPEAKERS,
    WIN_LENGTH,
    Recording,
    list_recordings,
    read_wav,
    waveform_features,
)

# takes (FSDD file index) of the five training speakers that each split may use
TAKES = {"train": range(10, 50), "val": range(5, 10), "test": range(0, 5)}
SIZES = {  # strings per split: full settings, quick mode
    "full": {"train": 2000, "val": 200, "test": 300, "new_voice": 300},
    "quick": {"train": 400, "val": 100, "test": 100, "new_voice": 100},
}
TRIM_DB = (
    35.0  # trim a recording's ends quieter than this many dB below its loudest 10 ms
)
SPLIT_SEEDS = {
    "train": 0,
    "val": 1,
    "test": 2,
    "new_voice": 3,
}  # one generator per split


@dataclass(frozen=True)
class StringPlan:
    """One digit string before it is rendered: the recordings (file stems, in order), their
    digits, the silences (samples) before, between and after them (``len(stems) + 1``), each
    recording's gain in dB, the noise level (SNR in dB) and the noise's seed."""

    stems: tuple[str, ...]
    digits: tuple[int, ...]
    gaps: tuple[int, ...]
    gains_db: tuple[float, ...]
    snr_db: float
    noise_seed: int

    def __post_init__(self):
        if len(self.digits) != len(self.stems) or len(self.gains_db) != len(self.stems):
            raise ValueError("a plan needs one digit and one gain per recording")
        if len(self.gaps) != len(self.stems) + 1:
            raise ValueError(
                "a plan needs len(stems) + 1 gaps (before, between, after)"
            )

    @property
    def speaker(self) -> str:
        return self.stems[0].split("_")[1]


def _check_range(name: str, value, *, minimum: float, integer: bool = False) -> tuple:
    """``value`` as a ``(low, high)`` pair, or a clear ValueError."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, float)) for v in pair):
        raise ValueError(
            f"{name} must be a number or a (low, high) pair, got {value!r}"
        )
    if integer and not all(float(v).is_integer() for v in pair):
        raise ValueError(f"{name} must be whole numbers, got {value!r}")
    low, high = pair
    if not minimum <= low <= high:
        raise ValueError(f"{name} needs {minimum} <= low <= high, got {value!r}")
    return (int(low), int(high)) if integer else (float(low), float(high))


def plan_strings(
    pools: dict[str, dict[int, list[Recording]]],
    n: int,
    *,
    seed: int = 0,
    digits=(3, 7),
    gap=(0.05, 0.25),
    gain_db: float = 3.0,
    snr_db=(25.0, 40.0),
) -> list[StringPlan]:
    """Draw ``n`` string plans from ``pools`` (speaker -> digit -> recordings) with one seeded
    generator: a speaker, a length in ``digits``, the digits, one recording of each, gaps
    (seconds, uniform in ``gap``), gains (uniform in ±``gain_db``) and an SNR (chapter: Hybrids).
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(
            f"the number of strings must be a whole number >= 0, got {n!r}"
        )
    lo_digits, hi_digits = _check_range("digits", digits, minimum=1, integer=True)
    lo_gap, hi_gap = _check_range("gap", gap, minimum=0.0)
    lo_snr, hi_snr = _check_range("snr_db", snr_db, minimum=-20.0)
    if not 0 <= gain_db <= 20:
        raise ValueError(f"gain_db must be between 0 and 20 dB, got {gain_db!r}")
    speakers = sorted(pools)
    if not speakers:
        raise ValueError("no speakers to draw strings from")
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(n):
        speaker = speakers[rng.integers(len(speakers))]
        length = int(rng.integers(lo_digits, hi_digits + 1))
        chosen = []
        for digit in rng.integers(0, 10, size=length):
            takes = pools[speaker][int(digit)]
            chosen.append(takes[rng.integers(len(takes))])
        gaps = rng.uniform(lo_gap, hi_gap, size=length + 1) * SAMPLE_RATE
        plans.append(
            StringPlan(
                stems=tuple(r.stem for r in chosen),
                digits=tuple(r.digit for r in chosen),
                gaps=tuple(int(g) for g in np.round(gaps)),
                gains_db=tuple(
                    float(g) for g in rng.uniform(-gain_db, gain_db, size=length)
                ),
                snr_db=float(rng.uniform(lo_snr, hi_snr)),
                noise_seed=int(rng.integers(2**31)),
            )
        )
    return plans


def trim_silence(wave: torch.Tensor, *, top_db: float = TRIM_DB) -> torch.Tensor:
    """A float waveform without its quiet ends: keeps the 10 ms frames from the first to the
    last one within ``top_db`` dB of the loudest (chapter: Hybrids)."""
    hop = SAMPLE_RATE // 100
    frames = wave[: len(wave) // hop * hop].view(-1, hop)
    if len(frames) == 0:
        return wave
    energy = 10 * torch.log10((frames**2).mean(dim=1) + 1e-10)
    loud = torch.nonzero(energy >= energy.max() - top_db).flatten()
    return wave[int(loud[0]) * hop : (int(loud[-1]) + 1) * hop]


def render(plan: StringPlan, waves: dict[str, torch.Tensor]) -> torch.Tensor:
    """The waveform of one plan, float ``[N]``: gaps, trimmed recordings with their gains, and
    white noise at the plan's SNR over the whole string (chapter: Hybrids)."""
    pieces = [torch.zeros(plan.gaps[0])]
    for stem, gain, gap in zip(plan.stems, plan.gains_db, plan.gaps[1:], strict=True):
        pieces += [waves[stem] * 10 ** (gain / 20), torch.zeros(gap)]
    signal = torch.cat(pieces)
    speech = torch.cat([waves[s] for s in plan.stems])
    noise_std = float(torch.sqrt((speech**2).mean() / 10 ** (plan.snr_db / 10)))
    generator = torch.Generator().manual_seed(plan.noise_seed)
    noise = torch.randn(len(signal), generator=generator) * noise_std
    return (signal + noise).clamp(-1, 1)


def string_features(
    plans: list[StringPlan],
    waves: dict[str, torch.Tensor],
    *,
    n_mels: int = 40,
    batch_size=128,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Log-mel features of rendered plans, normalised per string: a list of ``[T_i, n_mels]``
    tensors and their lengths ``[N]`` in frames (chapter: Hybrids)."""
    out, lengths = [], []
    for start in range(0, len(plans), batch_size):
        signals = [render(p, waves) for p in plans[start : start + batch_size]]
        n = torch.tensor([len(s) for s in signals])
        batch = torch.zeros(len(signals), int(n.max()))
        for i, s in enumerate(signals):
            batch[i, : len(s)] = s
        x, frames = waveform_features(batch, n, features="logmel", n_mels=n_mels)
        out += [x[i, :f] for i, f in enumerate(frames.tolist())]
        lengths.append(frames)
    return out, torch.cat(lengths) if lengths else torch.zeros(0, dtype=torch.long)


def _pools(recordings, speakers, takes) -> dict[str, dict[int, list[Recording]]]:
    pools = {s: {d: [] for d in range(10)} for s in speakers}
    for r in recordings:
        if r.speaker in pools and r.index in takes:
            pools[r.speaker][r.digit].append(r)
    return pools


def load_digit_strings(
    *,
    split: str = "speaker",
    holdout_speaker: str | None = None,
    sizes: dict[str, int] | None = None,
    digits=(3, 7),
    gap=(0.05, 0.25),
    gain_db: float = 3.0,
    snr_db=(25.0, 40.0),
    n_mels: int = 40,
    quick: bool | None = None,
    seed: int = 0,
) -> TaskData:
    """Spoken digit strings as a ``"sequence"`` task for CTC (chapter: Hybrids).

    ``x`` ``[N, T, n_mels]`` log-mel frames (100 per second, padded to the longest string of
    any split), ``lengths`` in frames, ``y`` ``[N, digits[1]]`` the digits padded with -1.
    ``data.test`` holds the known voices' held-out takes, ``data.extra_tests["new_voice"]``
    the held-out speaker. ``sizes`` overrides the number of strings per split (keys ``train``,
    ``val``, ``test``, ``new_voice``); the defaults follow quick mode (``SIZES``).
    """
    quick = config.quick if quick is None else quick
    if split != "speaker":
        raise ValueError(f"digit_strings has one split, 'speaker', got {split!r}")
    holdout_speaker = holdout_speaker or "theo"
    if holdout_speaker not in SPEAKERS:
        raise ValueError(
            f"unknown speaker {holdout_speaker!r}; FSDD's speakers are {', '.join(SPEAKERS)}"
        )
    counts = dict(SIZES["quick" if quick else "full"])
    unknown = set(sizes or {}) - set(counts)
    if unknown:
        raise ValueError(f"sizes may only set {sorted(counts)}, got {sorted(unknown)}")
    counts |= sizes or {}
    options = {"digits": digits, "gap": gap, "gain_db": gain_db, "snr_db": snr_db}

    recordings = list_recordings()
    known = [s for s in SPEAKERS if s != holdout_speaker]
    pools = {name: _pools(recordings, known, takes) for name, takes in TAKES.items()}
    pools["new_voice"] = _pools(recordings, [holdout_speaker], range(50))
    plans = {
        name: plan_strings(
            pools[name], counts[name], seed=seed * 10 + offset, **options
        )
        for name, offset in SPLIT_SEEDS.items()
    }

    key = {
        "plans": hashlib.sha256(repr(plans).encode()).hexdigest(),
        "dataset": MANIFEST["fsdd"].resources[0].sha256,
        "stft": [N_FFT, WIN_LENGTH, HOP_LENGTH, SAMPLE_RATE],
        "n_mels": n_mels,
        "trim_db": TRIM_DB,
    }

    def compute() -> dict[str, torch.Tensor]:
        used = {r.stem: r for r in recordings}
        stems = sorted({s for ps in plans.values() for p in ps for s in p.stems})
        waves = {
            s: trim_silence(read_wav(used[s].path).float() / 32768.0) for s in stems
        }
        feats = {
            name: string_features(ps, waves, n_mels=n_mels)
            for name, ps in plans.items()
        }
        T = max([1, *(int(f[1].max()) for f in feats.values() if len(f[1]))])
        tensors = {}
        for name, (xs, lengths) in feats.items():
            x = torch.zeros(len(xs), T, n_mels)
            for i, xi in enumerate(xs):
                x[i, : len(xi)] = xi
            tensors[f"{name}_x"], tensors[f"{name}_lengths"] = x.half(), lengths
        return tensors

    tensors = cached("digit_strings", key, compute)
    max_digits = _check_range("digits", digits, minimum=1, integer=True)[1]

    def make(name: str) -> Split:
        y = torch.full((len(plans[name]), max_digits), -1, dtype=torch.long)
        for i, p in enumerate(plans[name]):
            y[i, : len(p.digits)] = torch.tensor(p.digits)
        return Split(tensors[f"{name}_x"], y, tensors[f"{name}_lengths"])

    spec = TaskSpec(
        name="digit_strings",
        layout="sequence",
        input_shape=tuple(tensors["train_x"].shape[1:]),
        num_classes=10,
        class_names=CLASS_NAMES,
        extra={
            "target": "sequence",  # y is [N, S] padded with -1: train with CTC
            "max_digits": max_digits,
            "sample_rate": SAMPLE_RATE,
            "hop_length": HOP_LENGTH,
            "frame_rate": SAMPLE_RATE / HOP_LENGTH,
            "n_mels": n_mels,
            "split": split,
            "speakers": tuple(known),
            "holdout_speaker": holdout_speaker,
            "quick": quick,
            "options": options,
            "plans": plans,
        },
    )
    return TaskData(
        spec,
        make("train"),
        make("val"),
        make("test"),
        extra_tests={"new_voice": make("new_voice")},
    )
