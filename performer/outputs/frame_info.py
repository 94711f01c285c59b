"""What the engine knows about one rendered frame.

:class:`FrameInfo` travels with every frame handed to an output: its number and time, the classifier's top
class and smoothed probabilities, the latest log-mel spectrogram and level, the engine's status and the live
``output.layout`` parameter. Layouts draw from it and the recorder and folder outputs index by it; it holds
data only, so every module of the outputs package can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FrameInfo:
    """What is known about one rendered frame."""

    number: int
    time: float
    """Seconds since the engine started."""
    top_class: str | None = None
    confidence: float = 0.0
    classes: tuple[str, ...] = ()
    probs: np.ndarray | None = None
    """Smoothed class probabilities, in the order of ``classes``."""
    spectrogram: np.ndarray | None = None
    """Log-mel spectrogram of the latest analysis window, dB (mels x frames)."""
    level_db: float | None = None
    status: dict[str, Any] = field(default_factory=dict)
    """The engine's status (fps, latency, drops), refreshed about twice a second."""
    layout: str | None = None
    """The live ``output.layout`` parameter (dream/composite); outputs whose layout follows it use this."""
