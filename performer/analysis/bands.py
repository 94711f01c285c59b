"""Spectrum bands: how loud the input is below 250 Hz, between 250 Hz and 4 kHz, above 4 kHz, and in N bands.

Every band reads in dBFS on the same scale as the analyser's ``level``: the RMS level of the part of the sound
that lies in the band, so a full-scale sine of 100 Hz reads -3 dBFS in ``band.low`` and the powers of the bands
add up to the power of the input. They are measured on the input at its own rate (after ``audio.gain``, before
the classifier's resampling, so ``band.high`` reaches the input's Nyquist frequency) over the latest hop, with
one dedicated FFT per 50 %-overlapping Hann frame (Welch's average): about 85 ms per frame, which resolves
12 Hz at 48 kHz.

:class:`BandEnvelopes` turns the levels into what a performer maps: 0..1 envelopes (``env.low`` ...) with
``analysis.attack`` and ``analysis.release``, and a hit on each onset of a band (``hit.low``: the kick).

The fixed three bands are low 20-250 Hz, mid 250-4000 Hz and high 4000 Hz up to Nyquist. The N bands
(``analysis.bands``, 1..32) split 30 Hz .. min(16 kHz, Nyquist) into log-spaced bands; a band narrower than an
FFT bin (the lowest of many bands) gets its share of the bins it overlaps, so neighbours there read alike.
"""

from __future__ import annotations

import math

import numpy as np

LOW_MID_HIGH: tuple[tuple[str, float, float], ...] = (("low", 20.0, 250.0), ("mid", 250.0, 4000.0),
                                                      ("high", 4000.0, math.inf))
"""The fixed bands: name, lowest and highest frequency (Hz); the last reaches Nyquist."""
N_BANDS_LOW = 30.0
N_BANDS_HIGH = 16000.0
"""Hz the N log-spaced bands span (the top is cut at Nyquist)."""
MAX_BANDS = 32
FLOOR_DB = -120.0
"""What a band with nothing in it reads (the analyser's level floor)."""


def fft_size(rate: int) -> int:
    """Frames of about 85 ms: a power of two with bins no wider than 12 Hz (4096 at 48 kHz, 2048 at 22.05 kHz)."""
    return 1 << max(8, math.ceil(math.log2(rate / 12.0)))


def log_edges(n: int, rate: int) -> np.ndarray:
    """``n + 1`` log-spaced band edges (Hz) from :data:`N_BANDS_LOW` to min(:data:`N_BANDS_HIGH`, Nyquist)."""
    top = min(N_BANDS_HIGH, rate / 2.0)
    return np.geomspace(N_BANDS_LOW, top, n + 1)


def _weights(edges: list[tuple[float, float]], n_fft: int, rate: int) -> np.ndarray:
    """bands x bins: the share of each FFT bin (spanning its centre +- half a bin) that lies in each band."""
    df = rate / n_fft
    centres = np.arange(n_fft // 2 + 1) * df
    lo_bin, hi_bin = centres - df / 2, centres + df / 2
    w = np.zeros((len(edges), len(centres)), dtype=np.float64)
    for i, (lo, hi) in enumerate(edges):
        overlap = np.minimum(hi_bin, hi) - np.maximum(lo_bin, lo)
        w[i] = np.clip(overlap / df, 0.0, 1.0)
    return w


class BandMeter:
    """Band levels of the latest hop; keeps its FFT window and band weights between hops (rebuilt on a change)."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._window = np.ones(1)
        self._scale = 1.0
        self._fixed = np.zeros((3, 1))
        self._n_key: tuple[int, int, int] | None = None
        self._n = np.zeros((1, 1))

    def _prepare(self, rate: int, n: int) -> int:
        n_fft = fft_size(rate)
        if self._key != (rate, n_fft):
            self._key = (rate, n_fft)
            self._window = np.hanning(n_fft)
            # one-sided power scaled so that the bins add up to the mean square of the frame (Parseval)
            self._scale = 2.0 / (n_fft * float(np.sum(self._window ** 2)))
            self._fixed = _weights([(lo, min(hi, rate / 2.0)) for _, lo, hi in LOW_MID_HIGH], n_fft, rate)
        if self._n_key != (rate, n_fft, n):
            e = log_edges(n, rate)
            self._n_key = (rate, n_fft, n)
            self._n = _weights(list(zip(e[:-1], e[1:])), n_fft, rate)
        return n_fft

    def measure(self, audio: np.ndarray, rate: int, n: int,
                hop: int) -> tuple[tuple[float, float, float], tuple[float, ...]]:
        """((low, mid, high), N bands) of the last ``hop`` samples of ``audio`` at ``rate``, each in dBFS.

        A hop shorter than one FFT frame is measured over the frame's length (the audio before it fills it)."""
        n = max(1, min(MAX_BANDS, int(n)))
        n_fft = self._prepare(rate, n)
        x = np.asarray(audio[-max(hop, n_fft):], dtype=np.float64)
        if len(x) < n_fft:  # less audio than one frame: pad it with silence
            x = np.pad(x, (n_fft - len(x), 0))
        starts = range(len(x) - n_fft, -1, -(n_fft // 2))
        frames = np.stack([x[s:s + n_fft] for s in starts]) * self._window
        p = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0) * self._scale
        p[0] *= 0.5  # DC and Nyquist appear once in a one-sided spectrum, not twice
        p[-1] *= 0.5
        low, mid, high = _db(self._fixed @ p)
        return (low, mid, high), tuple(_db(self._n @ p))


def _db(power: np.ndarray) -> list[float]:
    return [max(FLOOR_DB, 10.0 * math.log10(float(v))) if v > 0 else FLOOR_DB for v in power]


RANGE_DB = 30.0
"""dB below its band's running peak at which an envelope reads 0 (the peak reads 1)."""
PEAK_FALL_DB = 2.0
"""dB a second a band's running peak falls while the band is quieter: a quiet passage is re-ranged in seconds."""
PEAK_MIN_DB = -40.0
"""The lowest running peak: a band never louder than this reads against it (quieter than -70 dBFS reads 0; raise
audio.gain for a quiet input)."""
HIT_LEVEL = 0.5
"""The least normalised level (before the envelope) a band must reach for a rise to count as a hit."""


class BandEnvelopes:
    """The bands as a performer uses them: 0..1 envelopes with attack and release, and a hit on each onset.

    Each band's level (dBFS) is read against its own running peak (which follows a rise at once and falls
    :data:`PEAK_FALL_DB` a second, never below :data:`PEAK_MIN_DB`): the peak reads 1, :data:`RANGE_DB` below it
    reads 0. The envelope follows that with a one-pole ``attack`` time constant while rising and ``release`` while
    falling. A *hit* is a rise of at least ``threshold`` dB from one hop to the next that reaches the top half
    (:data:`HIT_LEVEL`): the band's hit value jumps to 1 and falls with the release (so a frame drawn a little
    later still sees it); a band fires again only after a hop that did not rise by ``threshold`` (a kick spread
    over two hops is one hit). ``hit.low`` is the kick. Updated once per analysis hop, in audio time.
    """

    def __init__(self) -> None:
        self._t: float | None = None
        self._peak = np.zeros(0)
        self._prev = np.zeros(0)
        self._env = np.zeros(0)
        self._hit = np.zeros(0)
        self._armed = np.zeros(0, dtype=bool)
        self.hits = 0
        """Hits so far, all bands together."""

    def update(self, levels_db: tuple[float, ...] | list[float], t: float, attack: float, release: float,
               threshold: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(envelopes, hits) of the bands whose levels are ``levels_db`` at audio time ``t`` (seconds), each 0..1,
        in the order given. A change in the number of bands (``analysis.bands``) starts them afresh."""
        x = np.asarray(levels_db, dtype=np.float64)
        if len(x) != len(self._env) or self._t is None or t < self._t:
            self._t = t
            self._peak = np.maximum(x, PEAK_MIN_DB)
            self._prev = x.copy()
            self._env = np.zeros(len(x))
            self._hit = np.zeros(len(x))
            self._armed = np.ones(len(x), dtype=bool)
        dt = t - self._t
        self._t = t
        self._peak = np.maximum(np.maximum(x, self._peak - PEAK_FALL_DB * dt), PEAK_MIN_DB)
        level = np.clip((x - (self._peak - RANGE_DB)) / RANGE_DB, 0.0, 1.0)
        tau = np.where(level > self._env, attack, release)
        k = np.where(tau > 0, 1.0 - np.exp(-dt / np.maximum(tau, 1e-9)), 1.0)
        self._env += k * (level - self._env)
        fall = math.exp(-dt / release) if release > 0 else 0.0
        self._hit *= fall
        rise = x - self._prev
        self._prev = x
        hit = self._armed & (rise >= threshold) & (level >= HIT_LEVEL)
        self._hit[hit] = 1.0
        self.hits += int(hit.sum())
        self._armed = (rise < threshold) | (self._armed & ~hit)  # one hit a rise; a rise too quiet keeps it armed
        return tuple(float(v) for v in self._env), tuple(float(v) for v in self._hit)
