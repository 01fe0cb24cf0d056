"""FSDD on the real recordings: WAV checks, splits, features and the feature cache."""

import wave

import pytest
import torch

from utils.data import cache, speech
from utils.data.tasks import load_task

pytestmark = pytest.mark.usefixtures("quick_mode")  # see conftest.py


@pytest.fixture(scope="module")
def recordings():
    return speech.list_recordings()


def _write_wav(path, *, rate=8000, channels=1, width=2, frames=800):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(b"\x01\x00" * (frames * channels * width // 2))
    return path


def test_real_recordings(recordings):
    assert len(recordings) == 3000
    assert sorted({r.speaker for r in recordings}) == list(speech.SPEAKERS)
    first = next(r for r in recordings if r.stem == "0_george_0")
    audio = speech.read_wav(first.path)
    # its header says 2,384 samples
    assert audio.dtype == torch.int16 and audio.shape == (2384,)


def test_read_wav_errors(tmp_path):
    good = _write_wav(tmp_path / "good.wav")
    assert speech.read_wav(good).shape == (800,)
    with pytest.raises(ValueError, match="16000 Hz, expected 8000"):
        speech.read_wav(_write_wav(tmp_path / "fast.wav", rate=16000))
    with pytest.raises(ValueError, match="2 channels"):
        speech.read_wav(_write_wav(tmp_path / "stereo.wav", channels=2))
    with pytest.raises(ValueError, match="8-bit"):
        speech.read_wav(_write_wav(tmp_path / "byte.wav", width=1))
    truncated = tmp_path / "truncated.wav"
    # the header still promises 800 samples
    truncated.write_bytes(good.read_bytes()[:-300])
    with pytest.raises(ValueError, match="truncated"):
        speech.read_wav(truncated)
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(good.read_bytes()[:20])
    with pytest.raises(ValueError, match="not a readable PCM WAV"):
        speech.read_wav(header_only)
    with pytest.raises(ValueError, match="no samples"):
        speech.read_wav(_write_wav(tmp_path / "empty.wav", frames=0))


def test_official_split_rule(recordings):
    train, test = speech.official_split(recordings)
    assert (len(train), len(test)) == (2700, 300)
    assert all(recordings[i].index <= 4 for i in test)
    assert all(recordings[i].index >= 5 for i in train)


def test_speaker_holdout_split(recordings):
    train, test = speech.speaker_holdout_split(recordings, "lucas")
    assert {recordings[i].speaker for i in test} == {"lucas"}
    assert "lucas" not in {recordings[i].speaker for i in train}
    with pytest.raises(ValueError, match="unknown speaker 'bob'"):
        speech.speaker_holdout_split(recordings, "bob")


def _speakers(ids):
    return {stem.split("_")[1] for stem in ids}


def test_load_speech_quick_official():
    data = load_task("speech")
    assert (len(data.train), len(data.val), len(data.test)) == (400, 100, 100)
    assert data.spec.layout == "sequence" and data.spec.input_shape == (101, 40)
    for part in (data.train, data.val, data.test):
        assert part.x.dtype == torch.float32 and part.x.shape[1:] == (101, 40)
        assert part.lengths.dtype == torch.int64
        assert int(part.lengths.min()) >= 1 and int(part.lengths.max()) <= 101
    assert torch.bincount(data.test.y, minlength=10).tolist() == [10] * 10  # stratified
    ids = data.spec.extra["ids"]
    assert all(int(s.split("_")[2]) <= 4 for s in ids["test"])
    assert all(int(s.split("_")[2]) >= 5 for s in ids["train"] + ids["val"])
    assert not set(ids["train"]) & set(ids["val"])
    # padding frames are exact zeros after per-utterance normalisation
    i = int(torch.argmin(data.train.lengths))
    assert torch.equal(
        data.train.x[i, data.train.lengths[i] :],
        torch.zeros(101 - data.train.lengths[i], 40),
    )


def test_load_speech_speaker_holdout_has_no_overlap():
    data = load_task("speech", holdout_speaker="theo")
    ids = data.spec.extra["ids"]
    assert _speakers(ids["test"]) == {"theo"}
    assert "theo" not in _speakers(ids["train"]) | _speakers(ids["val"])
    assert data.spec.extra["split"] == "speaker"


def test_validation_speaker_is_a_voice_the_model_does_not_train_on():
    data = load_task("speech", holdout_speaker="theo", val_speaker="george")
    ids = data.spec.extra["ids"]
    assert _speakers(ids["test"]) == {"theo"} and _speakers(ids["val"]) == {"george"}
    assert _speakers(ids["train"]) == {"jackson", "lucas", "nicolas", "yweweler"}
    assert data.spec.extra["val_speaker"] == "george"
    with pytest.raises(ValueError, match="val_speaker needs"):
        load_task("speech", holdout_speaker="theo", val_speaker="theo")
    with pytest.raises(ValueError, match="val_speaker needs"):
        load_task("speech", split="official", val_speaker="george")


def test_mfcc_features():
    data = load_task("speech", features="mfcc", n_mfcc=13)
    assert data.spec.input_shape == (101, 13) and data.spec.extra["n_mfcc"] == 13


def test_normalisation_modes(recordings):
    waves, lengths = speech.load_waveforms(recordings[:4])
    raw, frames = speech.waveform_features(waves, lengths, normalise=None)
    real = torch.arange(raw.shape[1])[None, :] < frames[:, None]  # [B, T]
    per_utterance, _ = speech.waveform_features(waves, lengths, normalise="utterance")
    per_band, _ = speech.waveform_features(waves, lengths, normalise="band")
    # [frames, 40]
    r, u, b = (
        raw[0][real[0]],
        per_utterance[0][real[0]],
        per_band[0][real[0]],
    )
    # "utterance" is one affine map of the raw log-mels: band averages keep their order
    assert torch.equal(r.mean(0).argsort(), u.mean(0).argsort())
    assert abs(float(u.mean())) < 1e-4
    # "band" makes every band's average zero: the spectrum's shape is gone
    assert torch.allclose(b.mean(0), torch.zeros(40), atol=1e-4)
    with pytest.raises(ValueError, match="normalise must be one of"):
        speech.waveform_features(waves, lengths, normalise=True)


def test_speaker_normalisation_uses_each_splits_own_statistics():
    data = load_task("speech", holdout_speaker="theo", normalise="speaker")
    assert data.spec.extra["normalise"] == "speaker"
    test = data.test  # theo only: his frames, pooled, have zero mean in every band
    real = torch.arange(test.x.shape[1])[None, :] < test.lengths[:, None]  # [B, T]
    assert torch.allclose(test.x[real].mean(0), torch.zeros(40), atol=1e-4)
    with pytest.raises(ValueError, match="normalise must be one of"):
        load_task("speech", normalise="global")


def test_feature_cache_keys_and_corruption(recordings, tmp_path, monkeypatch, capsys):
    few = recordings[:6]
    # a private cache; recordings stay put
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    # and no other cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))

    def cached(n_mels):  # the features of `few`, through the cache
        return speech._cached_features(
            few,
            features="logmel",
            n_mels=n_mels,
            n_mfcc=13,
            max_samples=8000,
            normalise="utterance",
        )[0]

    x40, x20 = cached(40), cached(20)
    # a new n_mels never reuses a stale file
    assert x40.shape[-1] == 40 and x20.shape[-1] == 20
    files = sorted((tmp_path / "features").glob("fsdd-*.pt"))
    assert len(files) == 2
    for f in files:
        f.write_bytes(f.read_bytes()[:100])  # corrupt both
    again = cached(40)
    assert "unreadable" in capsys.readouterr().out
    assert torch.equal(again, x40)
    # no temporary files left behind
    assert not list((tmp_path / "features").glob(".*"))
    assert cache.clear_cache("fsdd") == 2
