"""Novelty: how different the latest moment sounds from the second before, and where the new sound began.

The fast path's trigger: a short-frame mel spectrogram, each band measured in units of its own variation.
"""

from __future__ import annotations

import numpy as np

from performer.sound.features import mel_filter_bank

NOVELTY_FFT = 512
"""Frame length of the novelty spectrogram (23 ms at 22,050 Hz): short, so a new sound shows within a hop."""
NOVELTY_HOP = 128
NOVELTY_BANDS = 40
_NOVELTY_WINDOW = np.hanning(NOVELTY_FFT).astype(np.float32)
_novelty_filters: dict[int, np.ndarray] = {}


def _novelty_spectrogram(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mel power in dB ``(bands, frames)`` of ``audio`` in whole frames of :data:`NOVELTY_FFT` samples."""
    if sr not in _novelty_filters:  # librosa.filters.mel's numbers, without importing librosa and scipy
        _novelty_filters[sr] = mel_filter_bank(sr, NOVELTY_FFT, NOVELTY_BANDS)
    frames = np.lib.stride_tricks.sliding_window_view(audio, NOVELTY_FFT)[::NOVELTY_HOP]
    power = np.abs(np.fft.rfft(frames * _NOVELTY_WINDOW, axis=1)) ** 2
    return 10.0 * np.log10(_novelty_filters[sr] @ power.T.astype(np.float32) + 1e-10)


def novelty(audio: np.ndarray, sr: int, recent: float) -> tuple[float, float]:
    """How new the latest ``recent`` seconds of ``audio`` sound, and where the new sound began (seconds
    before the end).

    Per band of a short-frame mel spectrogram (:data:`NOVELTY_FFT`), the difference between the mean power
    of the frames in the recent part and that of the frames before it, in units of that band's own variation
    over the frames before (its standard deviation in dB, plus 3 dB); the mean over bands. A steady sound
    changing reads high; a bursty sound going on (barks, hammering) reads low, since its bands vary anyway.
    The onset is the start of the earliest recent frame that on its own reads at least half as new (else
    ``recent``). ``(0.0, recent)`` when there is too little audio before the recent part to tell.
    """
    n_recent = int(recent * sr)
    if len(audio) < n_recent + 4 * NOVELTY_FFT:
        return 0.0, recent
    db = _novelty_spectrogram(np.asarray(audio, dtype=np.float32), sr).astype(np.float64)
    starts = np.arange(db.shape[1]) * NOVELTY_HOP
    first_recent = len(audio) - n_recent
    now_mask = starts + NOVELTY_FFT // 2 >= first_recent
    before_mask = starts + NOVELTY_FFT <= first_recent
    before_db = db[:, before_mask]
    before = 10.0 * np.log10(np.power(10.0, before_db / 10.0).mean(axis=1))
    scale = before_db.std(axis=1) + 3.0
    def newness(mask: np.ndarray) -> float:
        now = 10.0 * np.log10(np.power(10.0, db[:, mask] / 10.0).mean(axis=1))
        return float(np.mean(np.abs(now - before) / scale))

    # the whole recent part, or its last quarter (a sound that began just before the end)
    value = max(newness(now_mask), newness(starts + NOVELTY_FFT // 2 >= len(audio) - n_recent // 4))
    onset = recent
    frame_scores = np.mean(np.abs(db - before[:, None]) / scale[:, None], axis=0)
    for i in np.flatnonzero(starts + NOVELTY_FFT > first_recent - NOVELTY_FFT):
        if frame_scores[i] >= 0.5 * value:
            onset = min(recent + NOVELTY_FFT / sr, (len(audio) - starts[i]) / sr)
            break
    return value, onset
