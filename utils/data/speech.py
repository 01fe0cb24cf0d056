"""The Free Spoken Digit Dataset as tensors: recordings, splits and features (chapter: Speech).

FSDD v1.0.10 holds 3,000 recordings of the digits 0-9, six speakers × ten digits × fifty takes,
as 8 kHz mono 16-bit WAV files named ``{digit}_{speaker}_{index}.wav``. Two splits:

- **official**: takes 0-4 of every speaker and digit are the test set (300), takes 5-49 train
  (2,700). Test speakers are also training speakers, which flatters every model.
- **speaker held out**: all 500 recordings of one speaker are the test set, the other five
  speakers train. This asks the harder question: does the model work for a new voice?

Either way the validation set is carved from the training part, stratified by digit and
speaker and seeded. Features (log-mel or MFCC, normalised per utterance) are padded or cropped
to a fixed length, with the true number of frames in ``lengths`` for packed RNNs and CTC.
"""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from utils.config import config
from utils.data import audio
from utils.data.cache import cached
from utils.data.download import MANIFEST, fetch
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.splits import quick_subsets, stratified_split

SAMPLE_RATE = 8000
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
CLASS_NAMES = tuple(str(d) for d in range(10))
RECORDINGS = "free-spoken-digit-dataset-1.0.10/recordings"

# STFT settings: 25 ms Hann window, 10 ms hop (100 frames per second), 32 ms FFT at 8 kHz
N_FFT, WIN_LENGTH, HOP_LENGTH = 256, 200, 80
# how each recording's features are normalised (see waveform_features)
NORMALISATIONS = ("utterance", "band", None)

# ----------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class Recording:
    """One FSDD file and what its name says: digit, speaker and take index."""

    path: Path
    digit: int
    speaker: str
    index: int

    @property
    def stem(self) -> str:
        return self.path.stem


def parse_name(path: Path) -> Recording:
    """``7_theo_12.wav`` -> ``Recording(digit=7, speaker='theo', index=12)`` (chapter: Speech)."""
    parts = Path(path).stem.split("_")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        raise ValueError(f"{Path(path).name}: expected a name like '7_theo_12.wav'")
    return Recording(Path(path), int(parts[0]), parts[1], int(parts[2]))


def list_recordings(folder: Path | None = None) -> list[Recording]:
    """All recordings, sorted by speaker, digit and take (fetches the dataset if needed)."""
    folder = (
        Path(folder)
        if folder is not None
        else fetch("fsdd", progress=False) / RECORDINGS
    )
    recordings = [parse_name(p) for p in folder.glob("*.wav")]
    if not recordings:
        raise ValueError(f"no .wav files in {folder}")
    return sorted(recordings, key=lambda r: (r.speaker, r.digit, r.index))


def read_wav(path: Path, *, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """A mono 16-bit PCM WAV file as an int16 tensor ``[N]`` (chapter: Speech).

    Refuses, with the file's name and what to do, anything else: another sample rate, stereo,
    8- or 24-bit samples, compressed data, or a file shorter than its header promises.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate, frames = (
                f.getnchannels(),
                f.getsampwidth(),
                f.getframerate(),
                f.getnframes(),
            )
            data = f.readframes(frames)
    except (wave.Error, EOFError) as error:
        raise ValueError(
            f"{path.name}: not a readable PCM WAV file ({error or 'truncated'})"
        ) from None
    if rate != sample_rate:
        raise ValueError(
            f"{path.name}: sample rate {rate} Hz, expected {sample_rate} Hz; resample it first "
            f"(e.g. `sox in.wav -r {sample_rate} out.wav`)"
        )
    if channels != 1:
        raise ValueError(f"{path.name}: {channels} channels, expected mono")
    if width != 2:
        raise ValueError(f"{path.name}: {8 * width}-bit samples, expected 16-bit PCM")
    if frames == 0:
        raise ValueError(f"{path.name}: the file holds no samples")
    if len(data) != 2 * frames:
        raise ValueError(
            f"{path.name}: truncated: the header promises {frames} samples, "
            f"the file holds {len(data) // 2}"
        )
    return torch.from_numpy(np.frombuffer(data, dtype="<i2").astype(np.int16))


def pad_or_crop(
    waveforms: list[torch.Tensor], length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack int16 waveforms into ``[B, length]`` float in [-1, 1), zero-padded or cropped at the
    end, and return their kept lengths ``[B]`` in samples (chapter: Speech)."""
    batch = torch.zeros(len(waveforms), length)
    lengths = torch.zeros(len(waveforms), dtype=torch.long)
    for i, w in enumerate(waveforms):
        n = min(len(w), length)
        batch[i, :n] = w[:n].float() / 32768.0
        lengths[i] = n
    return batch, lengths


# ----------------------------------------------------------------------------- splits


def official_split(recordings: list[Recording]) -> tuple[torch.Tensor, torch.Tensor]:
    """FSDD's own rule: takes 0-4 are test, 5-49 train; returns (train, test) indices
    (chapter: Speech)."""
    test = torch.tensor([r.index <= 4 for r in recordings])
    return torch.nonzero(~test).flatten(), torch.nonzero(test).flatten()


def speaker_holdout_split(
    recordings: list[Recording], speaker: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """All of ``speaker``'s recordings are test, everyone else's train; returns (train, test)
    indices (chapter: Speech)."""
    speakers = sorted({r.speaker for r in recordings})
    if speaker not in speakers:
        raise ValueError(
            f"unknown speaker {speaker!r}; FSDD's speakers are {', '.join(speakers)}"
        )
    test = torch.tensor([r.speaker == speaker for r in recordings])
    return torch.nonzero(~test).flatten(), torch.nonzero(test).flatten()


# ----------------------------------------------------------------------------- features


def load_waveforms(
    recordings: list[Recording], max_samples: int = SAMPLE_RATE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveforms ``[B, max_samples]`` float in [-1, 1), padded or cropped at the end, and their
    kept lengths ``[B]`` in samples (chapter: Speech)."""
    return pad_or_crop([read_wav(r.path) for r in recordings], max_samples)


def waveform_features(
    waveforms: torch.Tensor,
    lengths: torch.Tensor,
    *,
    features: str = "logmel",
    n_mels: int = 40,
    n_mfcc: int = 13,
    normalise: str | None = "utterance",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of padded waveforms ``[B, N]`` with lengths ``[B]`` in samples: ``x``
    ``[B, T, F]`` and ``lengths`` ``[B]`` in frames, ``T = 1 + N // 80`` at 100 frames per
    second, ``F = n_mels`` (log-mel) or ``n_mfcc`` (MFCC) (chapter: Speech).

    ``normalise`` (see :func:`~utils.data.audio.normalise_per_utterance`): ``"utterance"``, one
    mean and standard deviation per recording (removes loudness, keeps the spectrum's shape;
    applied to the log-mels, before the DCT of MFCCs); ``"band"``, one per recording and band
    (cepstral mean and variance normalisation); ``None``, raw log power.
    """
    if features not in ("logmel", "mfcc"):
        raise ValueError(f"features must be 'logmel' or 'mfcc', got {features!r}")
    if normalise not in NORMALISATIONS:
        raise ValueError(
            f"normalise must be one of {NORMALISATIONS}, got {normalise!r}"
        )
    # [B, T, n_mels]
    x = audio.log_mel_spectrogram(
        waveforms,
        sample_rate=SAMPLE_RATE,
        n_fft=N_FFT,
        win_length=WIN_LENGTH,
        hop_length=HOP_LENGTH,
        n_mels=n_mels,
    )
    frames = audio.num_frames(lengths, HOP_LENGTH)  # [B]
    if normalise == "utterance":
        x = audio.normalise_per_utterance(x, frames)
    if features == "mfcc":
        x = audio.mfcc(x, n_mfcc)  # [B, T, n_mfcc]; padding frames stay zero
    if normalise == "band":
        x = audio.normalise_per_utterance(x, frames, per_band=True)
    return x, frames


def compute_features(
    recordings: list[Recording],
    *,
    max_samples: int = SAMPLE_RATE,
    batch_size: int = 256,
    **options,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`waveform_features` of ``recordings``, read and transformed ``batch_size`` at a
    time (one ``torch.stft`` call each) (chapter: Speech)."""
    chunks, frame_lengths = [], []
    for start in range(0, len(recordings), batch_size):
        waves, lengths = load_waveforms(
            recordings[start : start + batch_size], max_samples
        )
        x, frames = waveform_features(waves, lengths, **options)
        chunks.append(x)
        frame_lengths.append(frames)
    return torch.cat(chunks), torch.cat(frame_lengths)


def _cached_features(
    recordings: list[Recording], **params
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`compute_features`, cached on disk under a hash of the file list and ``params``."""
    names = "\n".join(r.stem for r in recordings).encode()
    key = {
        "files": hashlib.sha256(names).hexdigest(),
        "dataset": MANIFEST["fsdd"].resources[0].sha256,
        "stft": [N_FFT, WIN_LENGTH, HOP_LENGTH, SAMPLE_RATE],
        **params,
    }

    def compute() -> dict[str, torch.Tensor]:
        x, lengths = compute_features(recordings, **params)
        return {"x": x, "lengths": lengths}

    tensors = cached("fsdd", key, compute)
    return tensors["x"], tensors["lengths"]


def load_speech(
    *,
    split: str = "official",
    holdout_speaker: str | None = None,
    val_speaker: str | None = None,
    features: str = "logmel",
    n_mels: int = 40,
    n_mfcc: int = 13,
    max_seconds: float = 1.0,
    normalise: str | None = "utterance",
    val_fraction: float = 0.1,
    quick: bool | None = None,
    seed: int = 0,
) -> TaskData:
    """FSDD as a ``"sequence"`` task: ``x`` ``[B, T, F]``, digit labels, lengths in frames
    (chapter: Speech).

    ``split="official"`` (takes 0-4 test) or ``"speaker"`` (``holdout_speaker``'s recordings are
    test; default ``"theo"``). One second (``max_seconds=1.0``, 101 frames) holds 99 % of the
    recordings whole; longer ones are cropped at the end. ``normalise``: ``"utterance"``,
    ``"band"`` or ``None``, as in :func:`waveform_features`, or ``"speaker"``: per recording,
    then per speaker and band over each split's recordings of that speaker
    (:func:`~utils.data.audio.normalise_per_speaker`). A held-out speaker is normalised with
    statistics of their own test recordings: their audio, never their labels.

    ``val_speaker`` (speaker split only): all of that training speaker's recordings become the
    validation set and the other four speakers train, so that the best epoch is chosen on a
    voice the model has not heard, as the test speaker will be. Default: a validation set of
    ``val_fraction`` carved from every training speaker (voices the model knows).
    """
    quick = config.quick if quick is None else quick
    if normalise not in (*NORMALISATIONS, "speaker"):
        raise ValueError(
            f"normalise must be one of {(*NORMALISATIONS, 'speaker')}, got {normalise!r}"
        )
    recordings = list_recordings()
    if split == "official":
        if holdout_speaker is not None:
            raise ValueError("holdout_speaker needs split='speaker'")
        train, test = official_split(recordings)
    elif split == "speaker":
        holdout_speaker = holdout_speaker or "theo"
        train, test = speaker_holdout_split(recordings, holdout_speaker)
    else:
        raise ValueError(f"speech splits are 'official' and 'speaker', got {split!r}")
    digits = torch.tensor([r.digit for r in recordings])
    speaker_ids = torch.tensor([SPEAKERS.index(r.speaker) for r in recordings])
    strata = digits * len(SPEAKERS) + speaker_ids  # digit × speaker
    if val_speaker is not None:
        if split != "speaker" or val_speaker == holdout_speaker:
            raise ValueError(
                f"val_speaker needs split='speaker' and a training speaker other than the "
                f"held-out {holdout_speaker!r}, got {val_speaker!r}"
            )
        rest, val = speaker_holdout_split([recordings[i] for i in train], val_speaker)
        parts = {
            "train": train[rest],
            "val": train[val],
            "test": test,
        }  # indices into train
    else:
        kept, held = stratified_split(strata[train], (1 - val_fraction,), seed=seed)
        parts = {"train": train[kept], "val": train[held], "test": test}
    if quick:
        parts = quick_subsets(parts, digits, seed=seed)  # balanced digits

    # compute features once for every recording any split uses, in a fixed order
    used = torch.sort(torch.cat(list(parts.values()))).values
    max_samples = round(max_seconds * SAMPLE_RATE)
    x, lengths = _cached_features(
        [recordings[i] for i in used],
        features=features,
        n_mels=n_mels,
        n_mfcc=n_mfcc,
        max_samples=max_samples,
        normalise="utterance" if normalise == "speaker" else normalise,
    )
    row = torch.full((len(recordings),), -1, dtype=torch.long)
    row[used] = torch.arange(len(used))  # recording index -> row of x

    def make(idx: torch.Tensor) -> Split:
        features, frames = x[row[idx]], lengths[row[idx]]
        if (
            normalise == "speaker"
        ):  # statistics from this split's recordings of each speaker
            features = audio.normalise_per_speaker(features, frames, speaker_ids[idx])
        return Split(features, digits[idx], frames)

    spec = TaskSpec(
        name="speech",
        layout="sequence",
        input_shape=tuple(x.shape[1:]),
        num_classes=10,
        class_names=CLASS_NAMES,
        extra={
            "features": features,
            "sample_rate": SAMPLE_RATE,
            "n_fft": N_FFT,
            "win_length": WIN_LENGTH,
            "hop_length": HOP_LENGTH,
            "frame_rate": SAMPLE_RATE / HOP_LENGTH,
            "n_mels": n_mels,
            "n_mfcc": n_mfcc if features == "mfcc" else None,
            "max_samples": max_samples,
            "padded_frames": x.shape[1],
            "normalise": normalise,
            "split": split,
            "holdout_speaker": holdout_speaker,
            "val_speaker": val_speaker,
            "quick": quick,
            "ids": {k: tuple(recordings[i].stem for i in v) for k, v in parts.items()},
        },
    )
    return TaskData(spec, make(parts["train"]), make(parts["val"]), make(parts["test"]))
