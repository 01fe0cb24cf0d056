"""Speech features in plain torch: log-mel spectrograms and MFCCs (chapter: Speech).

A log-mel spectrogram is computed in four steps, each one line below:

1. frame the waveform and take the short-time Fourier transform (``torch.stft``, Hann window);
2. keep the power ``|X|^2`` of each frequency bin;
3. sum the bins into ``n_mels`` overlapping triangular bands spaced evenly on the mel scale
   (the *mel filter bank*), which is roughly how pitch resolution falls with frequency in
   human hearing;
4. take the logarithm, which turns loudness ratios into differences.

MFCCs are the first coefficients of a DCT-II of the log-mel frame: a compact, decorrelated
summary of the spectral envelope.

**Mel formula: HTK.** We use ``mel = 2595 log10(1 + f / 700)`` (the HTK toolkit's formula,
torchaudio's default) and triangles that peak at 1 without area normalisation, so that
neighbouring triangles add up to exactly 1 between the first and last centre. The other
common choice, Slaney's (librosa's default), is linear below 1 kHz, logarithmic above, and
scales each triangle to unit area; for 8 kHz speech the two give very similar features.
"""

from __future__ import annotations

import math

import torch

# ----------------------------------------------------------------------------- mel scale


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """Frequency in Hz to mels, HTK formula ``2595 log10(1 + f / 700)`` (chapter: Speech)."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    """Mels to Hz, the inverse of :func:`hz_to_mel` (chapter: Speech)."""
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filter_bank(
    *,
    n_fft: int,
    n_mels: int,
    sample_rate: int,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> torch.Tensor:
    """Triangular mel filters, ``[n_mels, n_fft // 2 + 1]`` (chapter: Speech).

    Filter ``m`` rises from 0 at ``edges[m]`` to 1 at ``edges[m + 1]`` and falls back to 0 at
    ``edges[m + 2]``, where the ``n_mels + 2`` edges are evenly spaced in mels from ``f_min``
    to ``f_max`` (default: the Nyquist frequency). Row ``m`` weights the STFT bins.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"need 0 <= f_min < f_max <= {sample_rate / 2} Hz, got {f_min}, {f_max}"
        )
    # [F]
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    # [M+2]
    edges = mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    # [M, 1] each
    left, centre, right = (
        edges[:-2, None],
        edges[1:-1, None],
        edges[2:, None],
    )
    rising = (bins - left) / (centre - left)  # [M, F]
    falling = (right - bins) / (right - centre)
    bank = torch.clamp(torch.minimum(rising, falling), min=0.0)
    empty = torch.nonzero(bank.sum(dim=1) == 0).flatten().tolist()
    if empty:
        raise ValueError(
            f"mel filters {empty} fall between two FFT bins and would always be zero: "
            f"{n_mels} mel bands are too many for n_fft={n_fft} at {sample_rate} Hz. "
            "Use fewer mel bands or a larger n_fft."
        )
    return bank.float()


# ----------------------------------------------------------------------------- features


def num_frames(num_samples: torch.Tensor | int, hop_length: int) -> torch.Tensor:
    """Frames that ``torch.stft(center=True)`` makes from ``num_samples``: ``1 + n // hop``."""
    return 1 + torch.as_tensor(num_samples) // hop_length


def log_mel_spectrogram(
    waveforms: torch.Tensor,
    *,
    sample_rate: int,
    n_fft: int = 256,
    win_length: int | None = None,
    hop_length: int = 80,
    n_mels: int = 40,
    f_min: float = 0.0,
    f_max: float | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Log-mel spectrogram of a batch of waveforms (chapter: Speech).

    ``waveforms`` is ``[B, N]`` (or ``[N]``) float in [-1, 1]; returns ``[B, T, n_mels]`` with
    ``T = 1 + N // hop_length`` (frames centred on every ``hop_length``-th sample), i.e. time
    first, the ``[batch, time, features]`` layout that RNNs read.
    """
    single = waveforms.ndim == 1
    if single:
        waveforms = waveforms[None]  # [1, N]
    if waveforms.ndim != 2:
        raise ValueError(
            f"waveforms must be [batch, samples], got shape {list(waveforms.shape)}"
        )
    win_length = win_length or n_fft
    window = torch.hann_window(
        win_length, dtype=waveforms.dtype, device=waveforms.device
    )
    # [B, n_fft // 2 + 1, T] complex
    spectrum = torch.stft(
        waveforms,
        n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=True,
        return_complex=True,
    )
    power = spectrum.real**2 + spectrum.imag**2  # [B, F, T]
    bank = mel_filter_bank(
        n_fft=n_fft, n_mels=n_mels, sample_rate=sample_rate, f_min=f_min, f_max=f_max
    ).to(power)  # [M, F]
    mel = torch.einsum("mf,bft->btm", bank, power)  # [B, T, M]
    log_mel = torch.log(mel + eps)
    return log_mel[0] if single else log_mel


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """Orthonormal DCT-II as a matrix ``[n_mels, n_mfcc]``, ``mfcc = log_mel @ D`` (chapter:
    Speech).

    ``D[m, k] = s_k cos(pi k (m + 1/2) / n_mels)`` with ``s_0 = sqrt(1/n_mels)`` and
    ``s_k = sqrt(2/n_mels)`` otherwise (the same transform as ``scipy.fft.dct(norm="ortho")``).
    """
    if not 0 < n_mfcc <= n_mels:
        raise ValueError(
            f"need 0 < n_mfcc <= n_mels, got n_mfcc={n_mfcc}, n_mels={n_mels}"
        )
    m = torch.arange(n_mels, dtype=torch.float64)[:, None]
    k = torch.arange(n_mfcc, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * k * (m + 0.5) / n_mels)  # [M, K]
    scale = torch.full((n_mfcc,), math.sqrt(2.0 / n_mels), dtype=torch.float64)
    scale[0] = math.sqrt(1.0 / n_mels)
    return (basis * scale).float()


def mfcc(log_mel: torch.Tensor, n_mfcc: int = 13) -> torch.Tensor:
    """MFCCs of a log-mel spectrogram: ``[..., T, n_mels] -> [..., T, n_mfcc]`` (chapter: Speech)"""
    return log_mel @ dct_matrix(n_mfcc, log_mel.shape[-1]).to(log_mel)


def _real_frames(
    features: torch.Tensor, lengths: torch.Tensor, starts: torch.Tensor | None = None
) -> torch.Tensor:
    """``[B, T, 1]`` mask, True on each utterance's frames ``starts`` (default 0) to
    ``lengths``."""
    steps = torch.arange(features.shape[1])[None, :]  # [1, T]
    mask = steps < lengths[:, None]  # [B, T]
    if starts is not None:
        mask = mask & (steps >= starts[:, None])
    return mask[..., None]


def _standardise(
    x: torch.Tensor,
    mask: torch.Tensor,
    axes: tuple[int, ...],
    *,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(x - mean) / sd`` with mean and sd over ``axes``, counting only where ``mask`` is True;
    entries outside ``keep`` (default: ``mask``) become exact zeros."""
    weight = mask.expand_as(x).to(x.dtype)
    count = weight.sum(dim=axes, keepdim=True).clamp(min=1)
    mean = (x * weight).sum(dim=axes, keepdim=True) / count
    var = (((x - mean) * weight) ** 2).sum(dim=axes, keepdim=True) / count
    keep = mask if keep is None else keep
    return torch.where(keep, (x - mean) / torch.sqrt(var + 1e-5), 0.0)


def normalise_per_utterance(
    features: torch.Tensor,
    lengths: torch.Tensor,
    *,
    per_band: bool = False,
    stats_from: torch.Tensor | None = None,
) -> torch.Tensor:
    """Zero mean and unit variance per utterance, over its real frames only (chapter: Speech).

    ``features`` is ``[B, T, F]``, ``lengths`` ``[B]`` counts each utterance's real frames;
    padding frames come back as exact zeros.

    - ``per_band=False``: one mean and one standard deviation per utterance, over all its bands.
      This removes loudness (how far the speaker was from the microphone) and keeps the shape of
      the spectrum.
    - ``per_band=True``: a mean and standard deviation per utterance *and band* (cepstral mean and
      variance normalisation). Over minutes of speech a band's average is the speaker's and the
      microphone's colouring; over one short word it is mostly the word itself, which this
      removes (the Speech chapter measures the cost).

    ``stats_from`` ``[B]``: compute the statistics from frame ``stats_from`` onwards only (for
    example, to leave silence inserted in front out of them); every real frame is still
    normalised with them. The Speech chapter's late-start experiment uses it.
    """
    if features.ndim != 3 or lengths.shape != features.shape[:1]:
        raise ValueError(
            f"expected features [B, T, F] and lengths [B], got {list(features.shape)} "
            f"and {list(lengths.shape)}"
        )
    if stats_from is not None and (
        stats_from.shape != lengths.shape or bool((stats_from >= lengths).any())
    ):
        raise ValueError(
            f"stats_from must be [B] with every value below its length, got "
            f"{list(stats_from.shape)} for lengths {list(lengths.shape)}"
        )
    axes = (1,) if per_band else (1, 2)  # time, or time and bands
    real = _real_frames(features, lengths)  # [B, T, 1]: the frames normalised
    counted = (
        real if stats_from is None else _real_frames(features, lengths, stats_from)
    )
    return _standardise(features, counted, axes, keep=real)


def normalise_per_speaker(
    features: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor
) -> torch.Tensor:
    """Zero mean and unit variance per speaker and band, over all real frames of all that
    speaker's utterances (chapter: Speech).

    ``features`` is ``[B, T, F]``, ``lengths`` ``[B]`` in frames and ``speakers`` ``[B]`` any
    integer ids. Averaged over many words, a band's mean is the speaker's voice and microphone
    rather than any one word, so removing it (speaker-level cepstral mean and variance
    normalisation, as speech recognisers do) keeps the words apart and brings voices closer.
    It needs a few unlabelled recordings of each speaker, including a new one. Padding frames
    come back as exact zeros.
    """
    batch = features.shape[:1]
    if features.ndim != 3 or lengths.shape != batch or speakers.shape != batch:
        raise ValueError(
            f"expected features [B, T, F], lengths [B] and speakers [B], got "
            f"{list(features.shape)}, {list(lengths.shape)} and {list(speakers.shape)}"
        )
    out = torch.zeros_like(features)
    for speaker in speakers.unique():
        rows = speakers == speaker
        x = features[rows]  # [b, T, F]: this speaker's utterances
        # all their frames
        out[rows] = _standardise(x, _real_frames(x, lengths[rows]), (0, 1))
    return out


# ----------------------------------------------------------------------------- resampling


def resample(
    waveforms: torch.Tensor,
    orig_rate: int,
    new_rate: int,
    *,
    zero_crossings: int = 16,
    rolloff: float = 0.945,
) -> torch.Tensor:
    """Band-limited resampling of ``waveforms`` ``[..., N]`` from ``orig_rate`` to ``new_rate``
    Hz by windowed-sinc interpolation; returns ``[..., ceil(N * new_rate / orig_rate)]``
    (chapter: Speech, exercise "Classify your own voice").

    Output sample ``n`` lies at ``t = n * orig_rate / new_rate`` input samples, and is a
    weighted sum of the input samples around it, ``y[n] = sum_k x[k] h(t - k)``, where ``h`` is
    an ideal low-pass filter (a sinc) cut off at ``rolloff`` times the lower of the two Nyquist
    frequencies and tapered by a Hann window ``zero_crossings`` sinc lobes wide on each side.
    The low-pass is what linear interpolation lacks: without it, anything above the new
    Nyquist frequency folds back into the band (*aliasing*: at 8 kHz, a 6 kHz tone would come
    back as a 2 kHz one). The input is taken as zero outside its ends.
    """
    if not waveforms.is_floating_point():
        raise ValueError(
            f"waveforms must be float (e.g. int16 / 32768), got {waveforms.dtype}"
        )
    rates = (orig_rate, new_rate)
    if not all(isinstance(r, int) and r > 0 for r in rates):
        raise ValueError(f"sample rates must be positive integers in Hz, got {rates}")
    if not 0 < rolloff <= 1 or zero_crossings < 1:
        raise ValueError(
            f"need 0 < rolloff <= 1 and zero_crossings >= 1, got {rolloff}, {zero_crossings}"
        )
    if orig_rate == new_rate:
        return waveforms.clone()
    n_in = waveforms.shape[-1]
    n_out = -(-n_in * new_rate // orig_rate)  # ceil
    cutoff = rolloff * min(1.0, new_rate / orig_rate)  # in cycles per 2 input samples
    half = zero_crossings / cutoff  # the window's half-width, in input samples
    taps = torch.arange(-math.ceil(half), math.ceil(half) + 1)  # [K]
    t = torch.arange(n_out, dtype=torch.float64) * orig_rate / new_rate  # [M]
    # [M, K]: the input samples each output reads
    k = torch.floor(t).long()[:, None] + taps
    d = t[:, None] - k  # [M, K]: their distance from it
    window = torch.where(d.abs() < half, torch.cos(math.pi * d / (2 * half)) ** 2, 0.0)
    weights = (cutoff * torch.sinc(cutoff * d) * window).to(waveforms.dtype)  # [M, K]
    inside = (k >= 0) & (k < n_in)  # [M, K]
    x = waveforms[..., k.clamp(0, n_in - 1)]  # [..., M, K]
    return (x * (weights * inside)).sum(-1)  # [..., M]


# ----------------------------------------------------------------------------- perturbations


def add_noise(
    waveforms: torch.Tensor, lengths: torch.Tensor, snr_db: float, *, seed: int = 0
) -> torch.Tensor:
    """Add white Gaussian noise at a signal-to-noise ratio of ``snr_db`` decibels to each
    waveform ``[B, N]``, over its real samples only (chapter: Speech).

    The noise power is the signal's mean power over its ``lengths`` samples divided by
    ``10 ** (snr_db / 10)``: 20 dB is faint hiss, 0 dB noise as loud as the speech.
    """
    generator = torch.Generator().manual_seed(seed)
    mask = torch.arange(waveforms.shape[1])[None, :] < lengths[:, None]  # [B, N]
    power = (waveforms**2 * mask).sum(1) / lengths.clamp(min=1)  # [B]
    noise_std = torch.sqrt(power / 10 ** (snr_db / 10))  # [B]
    noise = torch.randn(waveforms.shape, generator=generator) * noise_std[:, None]
    return (waveforms + noise * mask).clamp(-1, 1)


def time_shift(waveforms: torch.Tensor, lengths: torch.Tensor, shift: int):
    """Delay each waveform ``[B, N]`` by ``shift`` samples (silence in front; the end is cropped
    at ``N``); returns the shifted waveforms and their new lengths (chapter: Speech)."""
    shifted = torch.zeros_like(waveforms)
    shifted[:, shift:] = waveforms[:, : waveforms.shape[1] - shift]
    return shifted, (lengths + shift).clamp(max=waveforms.shape[1])


def spec_augment(
    batch,
    generator: torch.Generator,
    *,
    time_masks: int = 2,
    time_width: int = 12,
    freq_masks: int = 2,
    freq_width: int = 6,
):
    """SpecAugment-style masking of a training batch of features ``[B, T, F]``: each example
    loses ``time_masks`` random stretches of up to ``time_width`` frames and ``freq_masks``
    bands of up to ``freq_width`` features, set to zero (the per-utterance mean). Returns a new
    :class:`~utils.data.spec.Split`; pass it to ``fit(augment=spec_augment)`` (chapter: Speech).
    """
    x = batch.x.clone()
    B = len(x)  # x: [B, T, F]
    for axis, count, width in (
        (1, time_masks, time_width),
        (2, freq_masks, freq_width),
    ):
        size = x.shape[axis]
        positions = torch.arange(size)[None, :]  # [1, size]
        for _ in range(count):
            w = torch.randint(0, width + 1, (B, 1), generator=generator)  # [B, 1]
            start = (
                torch.rand(B, 1, generator=generator) * (size - w + 1)
            ).long()  # [B, 1]
            mask = (positions >= start) & (positions < start + w)  # [B, size]
            # [B, T, 1] or [B, 1, F]
            mask = mask[:, :, None] if axis == 1 else mask[:, None, :]
            x = x.masked_fill(mask.to(x.device), 0.0)
    return type(batch)(x, batch.y, batch.lengths)
