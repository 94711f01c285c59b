"""Sounds the tests make themselves: tones, sweeps, noise bursts, silence."""

from __future__ import annotations

import numpy as np


def tone(freq: float, seconds: float, rate: int = 22050, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, rate: int = 22050) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def noise(seconds: float, rate: int = 22050, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


class ToneClassifier:
    """A real (if tiny) classifier for engine tests: 'low' below 1 kHz spectral centroid, 'high' above.

    Deterministic, so tests can check exactly when the analyser's smoothing,
    hysteresis and hold let the top class change.
    """

    classes = ["low", "high"]
    sample_rate = 22050
    window_seconds = 1.0

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, audio: np.ndarray) -> np.ndarray:
        self.calls += 1
        x = np.asarray(audio, dtype=np.float64)[-4096:]
        mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1.0 / self.sample_rate)
        centroid = (freqs * mag).sum() / max(mag.sum(), 1e-12)
        high = 1.0 / (1.0 + np.exp(-(centroid - 1000.0) / 100.0))
        return np.array([1.0 - high, high], dtype=np.float32)
