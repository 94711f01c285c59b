"""Where a quantised change's picture lands against the bar: the engine's own delay made up, or not.

    python benchmarks/tempo_landing.py [--trials 15] [--size 320x180] [--fps 30]

A real engine (the dream renderer on this machine's CPU, a looping tone as input, tap tempo at 120 BPM,
tempo.quantize = bar) is asked for a restart (``dream.restart``) at random moments. The change is let through at
the start of a render frame; its picture is shown from the output clock's first tick after that frame is
dreamed, on average half an output frame later. The landing is that moment, against the nearest bar line. Each
trial is run with the delay made up (``tempo.lead`` as ``attach`` sets it) and without (``tempo.lead = None``,
the code before issue #23 item 5), interleaved. Prints the median, the spread and every landing, in ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from performer.audio import ArraySource
from performer.engine import Engine
from performer.outputs import NullOutput
from small import small_preset
from sounds import ToneClassifier, tone


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=15)
    p.add_argument("--size", default="320x180")
    p.add_argument("--fps", type=float, default=30.0)
    args = p.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    from performer.dream import DreamRenderer

    renderer = DreamRenderer(device="cpu")
    preset = small_preset(**{"dream.width": w, "dream.height": h, "output.fps": args.fps,
                             "tempo.source": "tap", "tempo.quantize": "bar", "tempo.bpm": 120.0})
    engine = Engine(source=ArraySource(tone(300, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                    renderer=renderer, outputs=[NullOutput()], preset=preset)
    released: list[float] = []
    landed: list[float] = []
    quantised, frame = engine._quantised, renderer.frame

    def watch_release(params, scene, now):
        shown = engine._shown_restart
        out = quantised(params, scene, now)
        if shown is not engine._shown_restart and shown != engine._shown_restart and shown is not None:
            released.append(now)  # this frame carries the change
        return out

    def watch_frame(params, scene):
        n = len(released)
        result = frame(params, scene)
        if n > len(landed):
            landed.append(time.monotonic() + 0.5 / args.fps)  # shown from the next output tick
        return result

    engine._quantised = watch_release  # type: ignore[method-assign]
    renderer.frame = watch_frame  # type: ignore[method-assign]
    engine.start()
    lead = engine.tempo.lead
    results: dict[str, list[float]] = {"made up": [], "not made up": []}
    rng = random.Random(23)
    try:
        time.sleep(3.0)
        engine.tempo.taps.tap(time.monotonic())  # the downbeat: bars every 2 s from here
        for trial in range(args.trials):
            for mode in ("made up", "not made up"):
                engine.tempo.lead = lead if mode == "made up" else None
                time.sleep(rng.uniform(0.3, 2.0))
                n = len(landed)
                engine.store.fire("dream.restart")
                deadline = time.monotonic() + 6.0
                while len(landed) == n and time.monotonic() < deadline:
                    time.sleep(0.01)
                if len(landed) == n:
                    print(f"{mode}: trial {trial} never landed")
                    continue
                g = engine.tempo.grid()
                b = g.beat_at(landed[-1]) / 4
                results[mode].append((b - round(b)) * 4 * g.period * 1000.0)
    finally:
        engine.stop()
    print(f"frame {engine.render_stats.frame_ms:.0f} ms (the last), output {args.fps:g} fps, size {w}x{h}; "
          f"pipeline delay now {lead() * 1000 if lead else 0:.0f} ms")
    for mode, ms in results.items():
        a = np.array(ms)
        print(f"{mode}: landing after the bar, median {np.median(a):+.0f} ms, {np.min(a):+.0f} to {np.max(a):+.0f} "
              f"ms, |error| median {np.median(np.abs(a)):.0f} ms ({len(a)} trials): "
              + " ".join(f"{x:+.0f}" for x in ms))


if __name__ == "__main__":
    main()
