"""Log-mel and MFCC features against the formulas and a NumPy reference."""

import math

import numpy as np
import pytest
import torch

from utils.data import audio


def test_mel_scale_is_htk_and_invertible():
    assert float(audio.hz_to_mel(700.0)) == pytest.approx(2595 * math.log10(2))
    # ~1000 mel at 1 kHz
    assert float(audio.hz_to_mel(1000.0)) == pytest.approx(999.99, abs=0.1)
    hz = torch.tensor([0.0, 125.0, 1000.0, 4000.0])
    assert torch.allclose(audio.mel_to_hz(audio.hz_to_mel(hz)), hz.double())


def test_filter_bank_hand_computed_small_case():
    # n_fft=8 at 8 kHz: bins at 0, 1000, 2000, 3000, 4000 Hz; one filter from f_min to f_max
    # with its centre at the mel midpoint of 1000 and 3000 Hz (about 1809 Hz), so the 2000 Hz
    # bin sits on the falling side of the triangle.
    bank = audio.mel_filter_bank(
        n_fft=8, n_mels=1, sample_rate=8000, f_min=1000, f_max=3000
    )
    centre = float(
        audio.mel_to_hz((audio.hz_to_mel(1000.0) + audio.hz_to_mel(3000.0)) / 2)
    )
    assert 1800 < centre < 1820
    expected = [
        0,
        0,
        (3000 - 2000) / (3000 - centre),
        0,
        0,
    ]  # only the 2000 Hz bin is inside
    assert torch.allclose(
        bank[0].double(), torch.tensor(expected, dtype=torch.float64), atol=1e-6
    )


def test_filter_bank_centres_and_partition_of_unity():
    n_fft, sr, n_mels = 512, 8000, 40
    bank = audio.mel_filter_bank(n_fft=n_fft, n_mels=n_mels, sample_rate=sr)
    assert bank.shape == (n_mels, n_fft // 2 + 1)
    edges = audio.mel_to_hz(
        torch.linspace(0, float(audio.hz_to_mel(sr / 2)), n_mels + 2)
    )
    bins = torch.linspace(0, sr / 2, n_fft // 2 + 1)
    # each filter peaks at the FFT bin nearest its mel-spaced centre frequency
    nearest = torch.argmin((bins[None, :] - edges[1:-1, None].float()).abs(), dim=1)
    assert torch.equal(bank.argmax(dim=1), nearest)
    # HTK triangles (peak 1, no area normalisation) sum to 1 between the first and last centre
    inside = (bins >= edges[1]) & (bins <= edges[-2])
    assert torch.allclose(
        bank.sum(dim=0)[inside], torch.ones(int(inside.sum())), atol=1e-5
    )


def test_too_many_mel_bands_is_a_clear_error():
    with pytest.raises(ValueError, match="too many"):
        audio.mel_filter_bank(n_fft=64, n_mels=64, sample_rate=8000)


def _reference_log_mel(wave, *, sr, n_fft, win, hop, n_mels):
    """Straight from the definition, one frame at a time in NumPy."""
    padded = np.pad(wave, n_fft // 2, mode="reflect")
    window = np.zeros(n_fft)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    window[(n_fft - win) // 2 : (n_fft - win) // 2 + win] = hann
    bank = (
        audio.mel_filter_bank(n_fft=n_fft, n_mels=n_mels, sample_rate=sr)
        .double()
        .numpy()
    )
    frames = []
    for t in range(1 + len(wave) // hop):
        spectrum = np.fft.rfft(padded[t * hop : t * hop + n_fft] * window)
        frames.append(np.log(bank @ np.abs(spectrum) ** 2 + 1e-6))
    return np.array(frames)


def test_log_mel_matches_numpy_reference():
    rng = np.random.default_rng(0)
    wave = rng.normal(scale=0.1, size=1000)
    expected = _reference_log_mel(wave, sr=8000, n_fft=256, win=200, hop=80, n_mels=40)
    got = audio.log_mel_spectrogram(
        torch.tensor(wave)[None],
        sample_rate=8000,
        n_fft=256,
        win_length=200,
        hop_length=80,
    )
    assert got.shape == (1, 1 + 1000 // 80, 40)
    assert np.allclose(got[0].numpy(), expected, atol=1e-4)


def test_pure_tone_lands_in_its_mel_band():
    t = torch.arange(8000) / 8000
    tone = 0.5 * torch.sin(2 * math.pi * 1000 * t)
    mel = audio.log_mel_spectrogram(tone, sample_rate=8000, n_mels=40)  # [T, 40]
    edges = audio.mel_to_hz(torch.linspace(0, float(audio.hz_to_mel(4000)), 42))
    assert int(mel[50].argmax()) == int(torch.argmin((edges[1:-1] - 1000).abs()))


def test_dct_is_orthonormal_and_matches_formula():
    assert torch.allclose(
        audio.dct_matrix(2, 2), torch.tensor([[1, 1], [1, -1]]) / math.sqrt(2)
    )
    d = audio.dct_matrix(40, 40)
    assert torch.allclose(d.T @ d, torch.eye(40), atol=1e-5)
    x = torch.randn(3, 7, 40)  # the first coefficient is the scaled mean
    assert torch.allclose(
        audio.mfcc(x, 13)[..., 0], x.sum(-1) / math.sqrt(40), atol=1e-4
    )


def test_normalise_per_utterance_ignores_padding():
    x = torch.randn(2, 10, 3) * 5 + 2
    lengths = torch.tensor([10, 4])
    y = audio.normalise_per_utterance(x, lengths)  # one mean and sd over all bands
    assert abs(float(y[1, :4].mean())) < 1e-5
    assert abs(float(y[1, :4].std(unbiased=False)) - 1) < 1e-3
    assert torch.equal(y[1, 4:], torch.zeros(6, 3))
    # the shape of the spectrum survives: band differences are only rescaled
    d = x[1, :4, 0] - x[1, :4, 1]
    assert torch.allclose(
        y[1, :4, 0] - y[1, :4, 1], d / x[1, :4].std(unbiased=False), atol=1e-4
    )
    with pytest.raises(ValueError, match=r"\[B, T, F\]"):
        audio.normalise_per_utterance(x[0], lengths)


def test_normalise_per_speaker_pools_each_speakers_frames():
    # two voices, three bands
    offsets = torch.tensor([[0.0, 10.0, 20.0], [5.0, -5.0, 0.0]])
    speakers = torch.tensor([0, 1, 0, 1])
    x = torch.randn(4, 10, 3) + offsets[speakers][:, None, :]
    lengths = torch.tensor([10, 6, 3, 10])
    y = audio.normalise_per_speaker(x, lengths, speakers)
    for s in (0, 1):
        frames = torch.cat([y[i, : lengths[i]] for i in range(4) if speakers[i] == s])
        assert torch.allclose(frames.mean(0), torch.zeros(3), atol=1e-5)
        assert torch.allclose(frames.std(0, unbiased=False), torch.ones(3), atol=1e-3)
    # one utterance's own band averages are not forced to zero: words keep their spectrum
    assert not torch.allclose(y[2, :3].mean(0), torch.zeros(3), atol=1e-2)
    assert torch.equal(y[1, 6:], torch.zeros(4, 3))
    with pytest.raises(ValueError, match="speakers"):
        audio.normalise_per_speaker(x, lengths, speakers[:3])


def test_normalise_per_band_removes_each_bands_average():
    x = torch.randn(2, 10, 3) * 5 + torch.tensor([1.0, 5.0, 9.0])
    lengths = torch.tensor([10, 4])
    y = audio.normalise_per_utterance(x, lengths, per_band=True)
    assert torch.allclose(y[1, :4].mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y[1, :4].std(0, unbiased=False), torch.ones(3), atol=1e-3)
    assert torch.equal(y[1, 4:], torch.zeros(6, 3))


def test_add_noise_reaches_the_requested_snr():
    from utils.data.audio import add_noise

    t = torch.arange(8000) / 8000
    clean = (0.5 * torch.sin(2 * math.pi * 440 * t)).repeat(2, 1)  # [2, 8000]
    lengths = torch.tensor([8000, 4000])
    noisy = add_noise(clean, lengths, snr_db=10, seed=1)
    noise = noisy - clean
    signal_power = (clean[0] ** 2).mean()
    assert 10 * torch.log10(signal_power / (noise[0] ** 2).mean()) == pytest.approx(
        10, abs=0.3
    )
    assert torch.equal(noise[1, 4000:], torch.zeros(4000))  # padding stays silent
    assert torch.equal(noisy, add_noise(clean, lengths, snr_db=10, seed=1))  # seeded


def test_time_shift_delays_and_crops():
    from utils.data.audio import time_shift

    x = torch.arange(1, 11, dtype=torch.float32)[None]  # [1, 10]
    shifted, lengths = time_shift(x, torch.tensor([8]), 3)
    assert shifted.tolist() == [[0, 0, 0, 1, 2, 3, 4, 5, 6, 7]]
    assert lengths.tolist() == [10]


def test_spec_augment_masks_bands_and_stretches_repeatably():
    from utils.data.audio import spec_augment
    from utils.data.spec import Split

    batch = Split(
        torch.ones(4, 50, 20), torch.zeros(4, dtype=torch.long), torch.full((4,), 50)
    )
    out = spec_augment(
        batch, torch.Generator().manual_seed(0), time_width=10, freq_width=5
    )
    again = spec_augment(
        batch, torch.Generator().manual_seed(0), time_width=10, freq_width=5
    )
    assert torch.equal(out.x, again.x) and torch.equal(batch.x, torch.ones(4, 50, 20))
    zero = out.x == 0
    whole_frames = zero.all(dim=2).sum(dim=1)  # masked time steps per example
    whole_bands = zero.all(dim=1).sum(dim=1)  # masked features per example
    assert (whole_frames <= 20).all() and (whole_bands <= 10).all()
    assert (whole_frames + whole_bands > 0).any()
    # everything zeroed lies in a masked frame or a masked band
    assert torch.equal(zero, zero.all(2, keepdim=True) | zero.all(1, keepdim=True))


# ----------------------------------------------------------------------------- resampling


def _tone(hz: float, rate: int, seconds: float = 1.0) -> torch.Tensor:
    return torch.sin(2 * math.pi * hz * torch.arange(round(rate * seconds)) / rate)


def _amplitude_at(x: torch.Tensor, hz: float, rate: int) -> float:
    """Amplitude of the ``hz`` component of ``x`` (whole cycles), by NumPy's FFT."""
    spectrum = np.abs(np.fft.rfft(x.double().numpy())) * 2 / len(x)
    return float(spectrum[round(hz * len(x) / rate)])


def test_resample_keeps_a_band_limited_signal():
    # reference: the same tones sampled at 8 kHz directly
    tones = [(300, 0.5), (1000, 0.3), (3000, 0.2)]
    at_48k = sum(a * _tone(hz, 48000) for hz, a in tones)
    at_8k = sum(a * _tone(hz, 8000) for hz, a in tones)
    out = audio.resample(at_48k, 48000, 8000)
    assert out.shape == (8000,)
    inner = slice(400, -400)  # the ends see zeros outside the signal
    assert torch.allclose(out[inner], at_8k[inner], atol=5e-3)
    # 8 kHz -> 16 kHz and 44.1 kHz -> 8 kHz stay on the tones too
    up = audio.resample(at_8k, 8000, 16000)
    at_16k = sum(a * _tone(hz, 16000) for hz, a in tones)
    assert torch.allclose(up[800:-800], at_16k[800:-800], atol=5e-3)
    from_44k = audio.resample(sum(a * _tone(hz, 44100) for hz, a in tones), 44100, 8000)
    assert len(from_44k) == 8000
    assert torch.allclose(from_44k[inner], at_8k[inner], atol=5e-3)


def test_resample_removes_what_would_alias():
    # a 6 kHz tone at 48 kHz has no place at 8 kHz (Nyquist 4 kHz): it must vanish,
    # not come back as a 2 kHz tone, as it does with linear interpolation
    tone = _tone(6000, 48000)
    linear = torch.nn.functional.interpolate(
        tone[None, None], size=8000, mode="linear"
    )[0, 0]
    assert _amplitude_at(linear, 2000, 8000) > 0.5  # the trap the resampler avoids
    out = audio.resample(tone, 48000, 8000)
    assert _amplitude_at(out, 2000, 8000) < 0.01
    assert out[400:-400].abs().max() < 0.01


def test_resample_shapes_and_errors():
    x = torch.randn(2, 3, 1000)
    assert audio.resample(x, 8000, 16000).shape == (2, 3, 2000)
    # ceil(1000 * 8000 / 44100) = 182
    assert audio.resample(x, 44100, 8000).shape == (2, 3, 182)
    assert torch.equal(audio.resample(x, 8000, 8000), x)
    with pytest.raises(ValueError, match="must be float"):
        audio.resample(torch.zeros(10, dtype=torch.int16), 16000, 8000)
    with pytest.raises(ValueError, match="positive integers"):
        audio.resample(x, 44100.0, 8000)


def test_statistics_can_leave_leading_frames_out():
    x = torch.randn(2, 10, 4)
    x[:, :3] = -14.0  # inserted "silence" in front of each utterance
    lengths = torch.tensor([10, 8])
    starts = torch.tensor([3, 3])
    out = audio.normalise_per_utterance(x, lengths, stats_from=starts)
    for b, n in enumerate(lengths.tolist()):
        kept = x[b, 3:n]  # statistics from these frames only
        expected = (x[b, :n] - kept.mean()) / torch.sqrt(
            kept.var(unbiased=False) + 1e-5
        )
        assert torch.allclose(out[b, :n], expected, atol=1e-5)
        assert torch.all(out[b, n:] == 0)
    plain = audio.normalise_per_utterance(x, lengths)
    assert not torch.allclose(plain, out)  # the silence moves the plain statistics
    with pytest.raises(ValueError, match="stats_from"):
        audio.normalise_per_utterance(x, lengths, stats_from=torch.tensor([3, 8]))
