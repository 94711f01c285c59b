"""The built-in demo input: a synthetic soundscape whose scene changes every few seconds."""

from __future__ import annotations

import numpy as np

from performer.audio.source import ArraySource

DEMO_RATE = 22_050
DEMO_SCENE_SECONDS = 6.0


def demo_signal(rate: int = DEMO_RATE, scene_seconds: float = DEMO_SCENE_SECONDS, seed: int = 7) -> np.ndarray:
    """A synthetic soundscape that changes character every ``scene_seconds``.

    Scenes: a two-tone siren sweep, drill-like buzzing bursts, a steady
    air-conditioner hum, and horn blasts. The built-in demo input and the
    tests use it; what the classifier makes of synthetic sound is its own
    business, but each scene sounds different, so the picture changes.
    """
    rng = np.random.default_rng(seed)
    n = int(rate * scene_seconds)
    t = np.arange(n) / rate
    # siren: a tone sweeping 700-1400 Hz twice a second, with harmonics
    f = 1050 + 350 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f) / rate
    siren = 0.35 * (np.sin(phase) + 0.3 * np.sin(2 * phase))
    # drilling: a 180 Hz buzz amplitude-modulated at 25 Hz, in bursts
    buzz = np.sign(np.sin(2 * np.pi * 180 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 25 * t))
    bursts = (np.sin(2 * np.pi * 0.4 * t) > -0.3).astype(np.float32)
    drill = 0.25 * buzz * bursts + 0.05 * rng.standard_normal(n) * bursts
    # air conditioner: low-passed noise and mains hum
    noise = np.convolve(rng.standard_normal(n), np.ones(32) / 32, mode="same")
    hum = 0.6 * noise + 0.1 * np.sin(2 * np.pi * 60 * t) + 0.05 * np.sin(2 * np.pi * 120 * t)
    # horn: two detuned square-ish tones in blasts
    horn_env = (np.sin(2 * np.pi * 0.7 * t) > 0).astype(np.float32)
    horn = 0.2 * horn_env * np.tanh(4 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 554 * t)))
    out = np.concatenate([siren, drill, hum, horn]).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


def demo_source(realtime: bool = True) -> ArraySource:
    """The demo soundscape, looped, as a source at :data:`DEMO_RATE`."""
    return ArraySource(demo_signal(), DEMO_RATE, name="demo", loop=True, realtime=realtime)
