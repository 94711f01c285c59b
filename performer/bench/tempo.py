"""How well the audio beat tracker follows sound at a known tempo: tempo error, phase error, time to lock, bar.

Each signal (:mod:`performer.tempo.signals`) is written into an
:class:`~performer.audio.AudioRing` 10 ms at a time and the live tracker
(:class:`~performer.tempo.listener.AudioBeat`) polled after each block, with
the audio's own time as the clock, so the run is faster than real time and
exactly repeatable. Five times a second the tracker's grid is compared with the
truth: its tempo, when it says the next beat and the next bar come, against the
true beats. Module interface of ``performer bench``: :func:`add_arguments` and
:func:`run` (``performer bench tempo``).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np

from performer.audio.ring import AudioRing
from performer.tempo.listener import AudioBeat
from performer.tempo.signals import STYLE_FOR_TEMPO, STYLES, clicks, drum_loop

DEFAULT_TEMPI = "80,90,100,110,120,124,128,130,140,150,160,170,180"
SETTLED_AFTER = 10.0
"""Seconds after which the tracker counts as settled: the errors are measured from then on."""
LOCKED_BPM = 0.02
LOCKED_MS = 40.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tempi", default=DEFAULT_TEMPI,
                   help=f"tempi to test, BPM, comma-separated (default {DEFAULT_TEMPI})")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each signal (default 30)")
    p.add_argument("--rate", type=int, default=48000, help="sample rate (default 48000)")
    p.add_argument("--styles", default="house", help="drum styles to test at every tempo, comma-separated (default: "
                   "house, four on the floor with a snare on two and four; empty: the one each tempo suggests: "
                   f"{STYLE_FOR_TEMPO}); all: {', '.join(STYLES)}")
    p.add_argument("--seeds", default="0", help="seeds of the drum loops' variations (default 0)")


def measure(audio: np.ndarray, beats: np.ndarray, bpm: float, rate: int) -> dict[str, Any]:
    """Run the tracker over ``audio`` (true beat times ``beats``, the bar's first beat first) and score it."""
    ring = AudioRing(rate, seconds=len(audio) / rate + 1.0)
    tracker = AudioBeat(ring)
    block = rate // 100
    downbeats = beats[::4]
    samples = []
    cpu = time.process_time()
    next_look = 0.0
    for start in range(0, len(audio) - block + 1, block):
        ring.write(audio[start:start + block])
        now = (start + block) / rate
        tracker.poll(now)
        grid = tracker.grid
        if now < next_look or grid is None or now > downbeats[-1] - 0.1:
            continue
        next_look = now + 0.2
        b = grid.beat_at(now)
        next_beat = grid.time_at(math.ceil(b))
        next_bar = grid.time_at(4 * math.ceil(b / 4))
        beat_err = next_beat - beats[np.argmin(np.abs(beats - next_beat))]
        bar_err = next_bar - downbeats[np.argmin(np.abs(downbeats - next_bar))]
        samples.append((now, grid.bpm, 1000.0 * beat_err, 1000.0 * bar_err))
    cpu = time.process_time() - cpu
    if not samples:
        return {"first_estimate_s": None}
    t, est, beat_ms, bar_ms = (np.array(x) for x in zip(*samples))
    good = (np.abs(est / bpm - 1.0) < LOCKED_BPM) & (np.abs(beat_ms) < LOCKED_MS)
    bad_after = np.nonzero(~good)[0]
    lock = None if not good[-1] else float(t[bad_after[-1] + 1] if len(bad_after) else t[0])
    settled = t >= SETTLED_AFTER
    ratio = float(np.median(est[settled]) / bpm) if settled.any() else math.nan
    return {
        "first_estimate_s": round(float(t[0]), 2),
        "lock_s": None if lock is None else round(lock, 2),
        "bpm": round(float(np.median(est[settled])), 3) if settled.any() else None,
        "bpm_error_pct": round(float(np.median(np.abs(est[settled] / bpm - 1.0))) * 100, 3) if settled.any() else None,
        "bpm_error_pct_max": round(float(np.max(np.abs(est[settled] / bpm - 1.0))) * 100, 3) if settled.any() else None,
        "octave": "double" if abs(ratio - 2) < 0.05 else "half" if abs(ratio - 0.5) < 0.03 else "",
        "beat_error_ms_median_abs": round(float(np.median(np.abs(beat_ms[settled]))), 1) if settled.any() else None,
        "beat_error_ms_mean": round(float(np.mean(beat_ms[settled])), 1) if settled.any() else None,
        "bar_right": round(float(np.mean(np.abs(bar_ms[settled]) < LOCKED_MS)), 2) if settled.any() else None,
        "cpu_s_per_audio_s": round(cpu / (len(audio) / rate), 4),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    tempi = [float(x) for x in str(args.tempi).split(",") if x.strip()]
    styles = [s.strip() for s in str(args.styles).split(",") if s.strip()]
    seeds = [int(x) for x in str(args.seeds).split(",") if x.strip()]
    results: list[dict[str, Any]] = []
    for bpm in tempi:
        audio, beats = clicks(bpm, args.seconds, args.rate)
        results.append({"signal": "clicks", "tempo": bpm, **measure(audio, beats, bpm, args.rate)})
        for style in styles or [STYLE_FOR_TEMPO.get(bpm, "rock")]:
            for seed in seeds:
                audio, beats = drum_loop(bpm, args.seconds, args.rate, style=style, seed=seed)
                results.append({"signal": f"drums:{style}", "seed": seed, "tempo": bpm,
                                **measure(audio, beats, bpm, args.rate)})
    return {"seconds": args.seconds, "rate": args.rate, "settled_after_s": SETTLED_AFTER, "cases": results}
