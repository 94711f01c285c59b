"""Audio features: the log-mel spectrogram the classifier sees.

The reference implementation is the paper's: ``librosa.feature.melspectrogram`` with its defaults
(22,050 Hz after resampling, ``n_fft`` 2048, hop 512, 128 mels, Hann window, centred frames with
zero padding, power 2) followed by ``librosa.power_to_db`` (``ref=1.0``, ``amin=1e-10``, ``top_db=80``).
:class:`TorchLogMel` computes the same thing in torch (STFT plus librosa's mel filter matrix, rebuilt bit for bit
in numpy by :func:`mel_filter_bank`) and runs on the GPU when there is one; ``tests/sound/test_features.py`` checks
that the two agree within :data:`PARITY_TOLERANCE_DB`.

Input policy, for every function here:

* any sample rate is resampled to :data:`SAMPLE_RATE` (librosa's ``soxr_hq``), any channel count is
  down-mixed by averaging channels (a 2-D array is read as ``(samples, channels)`` when it has more rows than
  columns, else ``(channels, samples)``);
* NaN or infinite samples raise :class:`performer.errors.FeatureError`; so does empty input;
* input shorter than one FFT window (2048 samples, 93 ms) is zero-padded to 2048 samples, so it gives
  5 frames rather than an error;
* silence is not an error: all-zero input gives a spectrogram that is the floor value
  (``10*log10(amin)`` = -100 dB) everywhere. :func:`is_silent` tells callers when input is below
  :data:`SILENCE_DBFS`; the classifier answers a uniform distribution for such input.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from performer.errors import FeatureError

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
AMIN = 1e-10
TOP_DB = 80.0
FLOOR_DB = 10.0 * np.log10(AMIN)  # -100 dB: the value of digital silence
SILENCE_DBFS = -90.0  # RMS below this counts as silence
IMAGE_SIZE = 224
#: Largest absolute difference (dB) allowed between :func:`log_mel` and :class:`TorchLogMel` in float32.
PARITY_TOLERANCE_DB = 0.05
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FeatureSettings:
    """Everything needed to recompute a model's input; stored in checkpoints."""

    sample_rate: int = SAMPLE_RATE
    n_fft: int = N_FFT
    hop_length: int = HOP_LENGTH
    n_mels: int = N_MELS
    amin: float = AMIN
    top_db: float = TOP_DB
    #: Highest frequency of the mel bands in Hz; None: half the sample rate. A model that hears only up to
    #: 8 kHz cannot tell a full-band recording from a 16-kHz one by its empty top bands.
    fmax: float | None = None

    def __post_init__(self) -> None:
        if self.fmax is not None and not 0.0 < float(self.fmax) <= self.sample_rate / 2.0:
            raise FeatureError(f"mel fmax {self.fmax!r} Hz is outside the allowed (0, {self.sample_rate / 2.0:g}] Hz "
                               f"(half the sample rate {self.sample_rate})")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["fmax"] is None:  # the settings of every model before fmax, and the cache files named by them
            del d["fmax"]
        return d

    @property
    def top_hz(self) -> float:
        """The highest frequency the mel bands cover (Hz)."""
        return float(self.fmax) if self.fmax is not None else self.sample_rate / 2.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSettings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def frames(self, seconds: float) -> int:
        """Number of (centred) frames in ``seconds`` of audio."""
        return 1 + int(round(seconds * self.sample_rate)) // self.hop_length


DEFAULT_SETTINGS = FeatureSettings()


def to_mono(audio: Any) -> np.ndarray:
    """Return ``audio`` as a 1-D float32 array, averaging channels; reject NaN/inf and empty input."""
    a = np.asarray(audio)
    if a.dtype.kind not in "fiu":
        raise FeatureError(f"audio must be a numeric array, got dtype {a.dtype}")
    if a.dtype.kind in "iu":  # integer PCM: scale to [-1, 1)
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    a = a.astype(np.float32, copy=False)
    if a.ndim == 2:
        a = a.mean(axis=1) if a.shape[0] > a.shape[1] else a.mean(axis=0)
    elif a.ndim != 1:
        raise FeatureError(f"audio must be 1-D (mono) or 2-D (multichannel), got shape {a.shape}")
    if a.size == 0:
        raise FeatureError("audio is empty (0 samples); at least one sample is needed")
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise FeatureError(f"audio contains {bad} NaN or infinite sample(s); only finite samples are allowed")
    return a


def prepare_audio(audio: Any, sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Down-mix, check and resample ``audio`` at ``sr`` Hz to mono float32 at ``target_sr`` Hz."""
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise FeatureError(f"sample rate must be a positive integer, got {sr!r}")
    a = to_mono(audio)
    if int(sr) != int(target_sr):
        import librosa

        a = librosa.resample(a, orig_sr=int(sr), target_sr=int(target_sr)).astype(np.float32)
    return a


def is_silent(audio: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True when the RMS of ``audio`` is below ``threshold_dbfs``."""
    a = np.asarray(audio, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) if a.size else 0.0
    return rms <= 10.0 ** (threshold_dbfs / 20.0)


def _pad_short(a: np.ndarray, n_fft: int) -> np.ndarray:
    if a.shape[-1] < n_fft:
        pad = [(0, 0)] * (a.ndim - 1) + [(0, n_fft - a.shape[-1])]
        a = np.pad(a, pad)
    return a


def log_mel(audio: Any, sr: int = SAMPLE_RATE, settings: FeatureSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """The paper's log-mel spectrogram: ``(n_mels, frames)`` float32 in dB.

    ``audio`` may have any rate and channel count (see the module's input policy).
    """
    import librosa

    a = _pad_short(prepare_audio(audio, sr, settings.sample_rate), settings.n_fft)
    mel = librosa.feature.melspectrogram(
        y=a, sr=settings.sample_rate, n_fft=settings.n_fft, hop_length=settings.hop_length, n_mels=settings.n_mels,
        fmax=settings.fmax,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=settings.amin, top_db=settings.top_db).astype(np.float32)


def log_mel_numpy(audio: Any, sr: int = SAMPLE_RATE, settings: FeatureSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """:func:`log_mel` computed with numpy's FFT: the same numbers, without librosa's STFT.

    The live analyser uses this one: librosa's STFT is compiled by numba on first use, which takes half a
    minute on a fresh install -- too long for a show to wait for its first class."""
    a = _pad_short(prepare_audio(audio, sr, settings.sample_rate), settings.n_fft).astype(np.float32, copy=False)
    n_fft, hop = settings.n_fft, settings.hop_length
    a = np.pad(a, n_fft // 2)  # centred frames, zero padding (librosa's default)
    frames = np.lib.stride_tricks.sliding_window_view(a, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * _hann(n_fft), axis=1)) ** 2
    mel = mel_filters(settings) @ power.T.astype(np.float32)
    db = 10.0 * np.log10(np.maximum(settings.amin, mel))
    return np.maximum(db, db.max() - settings.top_db).astype(np.float32)


_HANN: dict[int, np.ndarray] = {}


def _hann(n: int) -> np.ndarray:
    """The periodic Hann window librosa's STFT uses."""
    if n not in _HANN:
        _HANN[n] = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    return _HANN[n]


_MEL_STEP = 200.0 / 3.0
"""Hz per mel below 1 kHz on Slaney's mel scale."""
_LOG_HZ = 1000.0
_LOG_MEL = _LOG_HZ / _MEL_STEP
_LOG_STEP = float(np.log(6.4) / 27.0)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(hz, dtype=np.float64)
    log_part = _LOG_MEL + np.log(np.maximum(f, _LOG_HZ) / _LOG_HZ) / _LOG_STEP
    return np.where(f >= _LOG_HZ, log_part, f / _MEL_STEP)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """The inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    return np.where(m >= _LOG_MEL, _LOG_HZ * np.exp(_LOG_STEP * (m - _LOG_MEL)), _MEL_STEP * m)


def mel_frequencies(n: int, fmin: float = 0.0, fmax: float = SAMPLE_RATE / 2) -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced in mels from ``fmin`` to ``fmax``: ``librosa.mel_frequencies``."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n))


def mel_filter_bank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None, *,
                    norm: str | None = "slaney") -> np.ndarray:
    """Triangular mel filters ``(n_mels, 1 + n_fft // 2)`` float32: ``librosa.filters.mel`` to the last bit.

    ``norm="slaney"`` scales each filter to a constant area (librosa's default); ``None`` leaves peaks at 1.
    numpy alone, because librosa's ``norm=None`` imports ``librosa.util``, whose numba kernels compile when
    imported: 11 to 18 s on a fresh install (an empty numba cache), which held back a show's first frame; and
    ``librosa.filters`` itself imports scipy.signal (a second or two at start-up).
    """
    if norm not in ("slaney", None):
        raise ValueError(f"mel filter norm {norm!r} is not one of 'slaney', None")
    fmax = sr / 2.0 if fmax is None else fmax
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_hz = mel_frequencies(n_mels + 2, fmin, fmax)
    fdiff = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    if norm == "slaney":  # scaled in float32, as librosa does
        weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights


_MEL_CACHE: dict[tuple, np.ndarray] = {}


def mel_filters(settings: FeatureSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """librosa's mel filter matrix ``(n_mels, 1 + n_fft // 2)`` for ``settings`` (cached;
    :func:`mel_filter_bank`)."""
    key = (settings.sample_rate, settings.n_fft, settings.n_mels, settings.fmax)
    if key not in _MEL_CACHE:
        _MEL_CACHE[key] = mel_filter_bank(settings.sample_rate, settings.n_fft, settings.n_mels, fmax=settings.fmax)
    return _MEL_CACHE[key]


def _torch_module_class():
    import torch

    class _TorchLogMel(torch.nn.Module):
        """Log-mel in torch: ``forward(wave)`` with wave ``(samples,)`` or ``(batch, samples)``
        at the settings' rate."""

        window: torch.Tensor  # buffers, registered in __init__
        mel: torch.Tensor

        def __init__(self, settings: FeatureSettings = DEFAULT_SETTINGS) -> None:
            super().__init__()
            self.settings = settings
            self.register_buffer("window", torch.hann_window(settings.n_fft, periodic=True), persistent=False)
            self.register_buffer("mel", torch.from_numpy(mel_filters(settings)).float(), persistent=False)

        def forward(self, wave: torch.Tensor) -> torch.Tensor:
            s = self.settings
            squeeze = wave.dim() == 1
            if squeeze:
                wave = wave.unsqueeze(0)
            if wave.shape[-1] < s.n_fft:
                wave = torch.nn.functional.pad(wave, (0, s.n_fft - wave.shape[-1]))
            spec = torch.stft(
                wave, n_fft=s.n_fft, hop_length=s.hop_length, window=self.window, center=True,
                pad_mode="constant", return_complex=True,
            )
            power = spec.real.square() + spec.imag.square()
            mel = torch.matmul(self.mel, power)
            db = 10.0 * torch.log10(torch.clamp(mel, min=s.amin))
            if s.top_db is not None:
                peak = db.amax(dim=(-2, -1), keepdim=True)
                db = torch.maximum(db, peak - s.top_db)
            return db.squeeze(0) if squeeze else db

    return _TorchLogMel


_TORCH_CLASS = None


def TorchLogMel(settings: FeatureSettings = DEFAULT_SETTINGS, device: Any = None):  # noqa: N802 (factory)
    """A ``torch.nn.Module`` computing :func:`log_mel` in torch, on ``device`` (default: ``choose_device('auto')``).

    Input: float tensor ``(samples,)`` or ``(batch, samples)``, mono, already at ``settings.sample_rate``.
    Output: ``(n_mels, frames)`` or ``(batch, n_mels, frames)`` in dB. ``top_db`` is applied per example.
    """
    global _TORCH_CLASS
    if _TORCH_CLASS is None:
        _TORCH_CLASS = _torch_module_class()
    from performer.device import choose_device

    dev = choose_device("auto") if device is None else device
    return _TORCH_CLASS(settings).to(dev)


def log_mel_torch(audio: Any, sr: int = SAMPLE_RATE, settings: FeatureSettings = DEFAULT_SETTINGS, device: Any = None):
    """Convenience wrapper: :func:`log_mel` computed with :class:`TorchLogMel`; returns a numpy array."""
    import torch

    a = prepare_audio(audio, sr, settings.sample_rate)
    module = TorchLogMel(settings, device)
    with torch.inference_mode():
        out = module(torch.from_numpy(a).to(module.window.device))
    return out.cpu().numpy()


def to_image(db: Any, size: int = IMAGE_SIZE, normalize: bool = True):
    """Turn a log-mel ``(n_mels, frames)`` (or a batch ``(B, n_mels, frames)``) into ImageNet input.

    The dB values are scaled to [0, 1] over the top-db range of each example (its peak minus ``TOP_DB`` maps
    to 0, the peak to 1), flipped so that low frequencies are at the bottom, resized bilinearly to
    ``size`` x ``size``, repeated to 3 channels and, with ``normalize``, standardised with ImageNet's mean
    and std. Returns a float32 torch tensor ``(3, size, size)`` or ``(B, 3, size, size)``.
    """
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(db, dtype=torch.float32)
    single = x.dim() == 2
    if single:
        x = x.unsqueeze(0)
    if x.dim() != 3:
        raise FeatureError(f"log-mel must be (n_mels, frames) or (batch, n_mels, frames), got shape {tuple(x.shape)}")
    peak = x.amax(dim=(-2, -1), keepdim=True)
    x = ((x - (peak - TOP_DB)) / TOP_DB).clamp(0.0, 1.0)
    x = torch.flip(x, dims=[-2]).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = x.expand(-1, 3, -1, -1)
    if normalize:
        mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
    else:
        x = x.contiguous()
    return x[0] if single else x


def mel_image(audio: Any, sr: int = SAMPLE_RATE, size: int = IMAGE_SIZE):
    """The paper's input: the log-mel of ``audio`` as a ``(3, size, size)`` ImageNet-normalised tensor."""
    return to_image(log_mel(audio, sr), size=size)


def load_audio(path: Any, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read a sound file (WAV, FLAC, OGG, ... via soundfile) as mono float32 at ``target_sr`` Hz.

    Raises :class:`performer.errors.AudioError` when the file cannot be read and
    :class:`FeatureError` when it holds NaN/inf samples or no samples.
    """
    import soundfile as sf

    from performer.errors import AudioError

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, OSError...
        raise AudioError(f"cannot read audio file {path}: {e}") from e
    try:
        return prepare_audio(data.mean(axis=1), int(sr), target_sr)
    except FeatureError as e:
        raise FeatureError(f"{path}: {e}") from e
