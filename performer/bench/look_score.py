"""The static score of a frame: how much of it is TV static rather than a picture.

The share of the spectral power of the frame's grey image (mean removed) above a quarter of the Nyquist
frequency, the radius measured in units of Nyquist along each axis. TV static ~0.85-0.9, a classic Deep Dream
~0.35-0.55, a photo ~0.01. The same definition as the reference ``look_score.py`` the live frames are judged by
(a test checks the two agree).
"""

from __future__ import annotations

import numpy as np


def static_score(grey: np.ndarray) -> float:
    """Static score of an HxW grey image (any numeric type)."""
    g = np.asarray(grey, dtype=np.float64)
    g = g - g.mean()
    power = np.abs(np.fft.fft2(g)) ** 2  # unshifted: frequencies in fftfreq order
    h, w = g.shape
    fy = np.fft.fftfreq(h).reshape(-1, 1) * 2.0  # in units of Nyquist
    fx = np.fft.fftfreq(w).reshape(1, -1) * 2.0
    radius = np.sqrt(fy ** 2 + fx ** 2)
    return float(power[radius > 0.25].sum() / max(power.sum(), 1e-12))
