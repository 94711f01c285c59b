"""Helpers for the tests of the "none of these" class: a classifier that has it, and a renderer that records.

:class:`NoneToneClassifier` is :class:`sounds.ToneClassifier` with a third class, ``none``: a tone is ``low`` or
``high`` by its spectral centroid, broadband noise (a flat spectrum, like a room or a crowd) is none of these.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from performer.sound.labels import NONE_CLASS
from sounds import ToneClassifier

RATE = 22050


class NoneToneClassifier(ToneClassifier):
    """A real (if tiny) classifier with a ``none`` class, deterministic: 'low' and 'high' tones, noise is 'none'.

    The share of ``none`` follows the spectral flatness of the latest 4096 samples (a tone is near 0, white noise
    near 0.56); the rest is split between 'low' and 'high' by the spectral centroid, as ToneClassifier does.
    """

    classes = ["low", "high", NONE_CLASS]
    sample_rate = RATE

    def predict(self, audio: np.ndarray) -> np.ndarray:
        low, high = super().predict(audio)  # counts the call
        x = np.asarray(audio, dtype=np.float64)[-4096:]
        power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2 + 1e-20
        flatness = float(np.exp(np.mean(np.log(power))) / np.mean(power))
        none = 1.0 / (1.0 + np.exp(-(flatness - 0.1) / 0.02))
        return np.array([(1.0 - none) * low, (1.0 - none) * high, none], dtype=np.float32)


class RecordingRenderer:
    """A renderer for engine tests that dreams nothing: it records each frame's scene and returns a grey frame."""

    def __init__(self) -> None:
        self.scenes: list[Any] = []
        self.lock = threading.Lock()

    def prepare(self, params: Any) -> None:
        pass

    def frame(self, params: Any, scene: Any) -> np.ndarray:
        with self.lock:
            self.scenes.append(scene)
        return np.full((int(params["dream.height"]), int(params["dream.width"]), 3), 128, np.uint8)

    def keys(self) -> list[str | None]:
        with self.lock:
            return [s.key for s in self.scenes]
