"""Sound at a known tempo, made here: click tracks and drum loops, for the tracker's tests and benchmark.

:func:`clicks` is a metronome (the first beat of each bar higher and louder).
:func:`drum_loop` is a music-like signal: kick, snare and hi-hats in a style's
pattern, a bass line and a chord pad, with the timing of each hit moved by a few
milliseconds and its loudness varied, over a little noise. Both return the
audio and the true beat times (seconds), the first beat of each bar first.
"""

from __future__ import annotations

import numpy as np

STYLES: dict[str, dict[str, tuple[float, ...]]] = {
    # positions in beats within a 4-beat bar
    "house": {"kick": (0, 1, 2, 3), "snare": (1, 3), "hat": (0.5, 1.5, 2.5, 3.5), "bass": (0.5, 1.5, 2.5, 3.5)},
    "hiphop": {"kick": (0, 0.75, 2.5), "snare": (1, 3), "hat": tuple(i / 2 for i in range(8)), "bass": (0, 2.5)},
    "dnb": {"kick": (0, 2.5), "snare": (1, 3), "hat": tuple(i / 2 for i in range(8)), "bass": (0, 1.5, 2.5)},
    "rock": {"kick": (0, 2, 2.5), "snare": (1, 3), "hat": tuple(i / 2 for i in range(8)), "bass": (0, 1, 2, 3)},
}
STYLE_FOR_TEMPO = {90.0: "hiphop", 120.0: "house", 174.0: "dnb"}


def beat_times(bpm: float, seconds: float, start: float = 0.0) -> np.ndarray:
    period = 60.0 / bpm
    return np.arange(start, seconds - 1e-9, period)


def _place(out: np.ndarray, sound: np.ndarray, t: float, rate: int, gain: float = 1.0) -> None:
    i = int(round(t * rate))
    if i < 0 or i >= len(out):
        return
    n = min(len(sound), len(out) - i)
    out[i:i + n] += gain * sound[:n]


def clicks(bpm: float, seconds: float, rate: int = 48000, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A metronome at ``bpm``: 20 ms sine blips, the bar's first beat at 1.5 kHz, the others at 1 kHz."""
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    t = np.arange(int(0.02 * rate)) / rate
    env = np.exp(-t / 0.005)
    high = (0.8 * env * np.sin(2 * np.pi * 1500 * t)).astype(np.float32)
    low = (0.5 * env * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    beats = beat_times(bpm, seconds, start)
    for i, b in enumerate(beats):
        _place(out, high if i % 4 == 0 else low, b, rate)
    return out, beats


def _kick(rate: int) -> np.ndarray:
    t = np.arange(int(0.3 * rate)) / rate
    freq = 50 + 90 * np.exp(-t / 0.03)
    return (np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / 0.12)).astype(np.float32)


def _snare(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * rate)) / rate
    noise = rng.standard_normal(len(t)) * np.exp(-t / 0.05)
    noise = noise - np.concatenate([[0.0], noise[:-1]])  # brighter
    return (0.35 * noise + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04)).astype(np.float32)


def _hat(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.05 * rate)) / rate
    noise = rng.standard_normal(len(t))
    noise = noise - np.concatenate([[0.0], noise[:-1]])
    return (0.12 * noise * np.exp(-t / 0.012)).astype(np.float32)


def _note(freq: float, seconds: float, rate: int, decay: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    saw = 2 * ((freq * t) % 1.0) - 1.0
    lowpassed = np.convolve(saw, np.ones(8) / 8, mode="same")
    return (lowpassed * np.exp(-t / decay) * np.minimum(1.0, t / 0.005)).astype(np.float32)


def drum_loop(bpm: float, seconds: float, rate: int = 48000, style: str | None = None, seed: int = 0,
              humanise: float = 0.004, noise_db: float = -45.0) -> tuple[np.ndarray, np.ndarray]:
    """A drum loop at ``bpm`` in ``style`` (:data:`STYLES`; by default the one :data:`STYLE_FOR_TEMPO` gives,
    else rock), with hits moved by up to ``humanise`` seconds (normal, sd ``humanise / 2``)."""
    if style is None:
        style = STYLE_FOR_TEMPO.get(float(bpm), "rock")
    if style not in STYLES:
        raise ValueError(f"drum style {style!r} is not one of {', '.join(STYLES)}")
    pattern = STYLES[style]
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    period = 60.0 / bpm
    beats = beat_times(bpm, seconds)
    kick, snare, hat = _kick(rate), _snare(rate, rng), _hat(rate, rng)
    roots = (55.0, 55.0, 43.65, 49.0)  # A, A, F, G: one root per bar
    bars = int(np.ceil(len(beats) / 4))
    for bar in range(bars):
        t0 = bar * 4 * period
        root = roots[bar % len(roots)]
        for name, sound, gain in (("kick", kick, 0.9), ("snare", snare, 0.7), ("hat", hat, 0.6)):
            for pos in pattern[name]:
                jitter = float(np.clip(rng.normal(0.0, humanise / 2), -humanise, humanise))
                _place(out, sound, t0 + pos * period + jitter, rate, gain * float(rng.uniform(0.75, 1.0)))
        for pos in pattern["bass"]:
            _place(out, _note(root, 0.9 * period, rate, 0.4 * period), t0 + pos * period, rate, 0.25)
        pad = np.sum([_note(root * 4 * r, 4 * period, rate, 8 * period) for r in (1.0, 1.26, 1.5)], axis=0)
        _place(out, pad * np.hanning(len(pad)).astype(np.float32), t0, rate, 0.03)
    out += (10 ** (noise_db / 20) * rng.standard_normal(len(out))).astype(np.float32)
    peak = float(np.max(np.abs(out)))
    return (0.8 * out / peak if peak > 0 else out).astype(np.float32), beats
