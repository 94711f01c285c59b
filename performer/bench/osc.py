"""``performer bench osc``: does a flood of OSC slow the renderer?

Runs the live engine (demo input, the shipped classifier, the dream at
``--size``) with OSC in, measures the renderer's frames per second for
``--seconds``, then again while a separate process sends ``--rate`` OSC
messages per second (parameter sets, queries, normalised values, garbage) at
the server, and reports both with the messages received and rejected.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FLOODER = r"""
import random, socket, sys, time
from performer.control.osc import build_message
port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
msgs = [build_message('/dream/jitter', [i % 64]) for i in range(64)]
msgs += [build_message('/dream/lr/normalized', [i / 63]) for i in range(64)]
msgs += [build_message('/dream/iterations', []), build_message('/no/such/address', [1.0]), b'garbage!']
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(0)
sent, t0, batch = 0, time.monotonic(), max(1, rate // 100)
while time.monotonic() - t0 < seconds:
    for _ in range(batch):
        s.sendto(rng.choice(msgs), ('127.0.0.1', port))
    sent += batch
    delay = t0 + sent / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(sent)
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=int, default=10_000, help="OSC messages per second (default 10000)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each phase (default 20)")
    p.add_argument("--size", type=int, default=224, help="dream width and height (default 224)")
    p.add_argument("--model", type=Path)
    p.add_argument("--device", default="auto")


def _fps(engine, seconds: float) -> float:
    f0, t0 = engine.render_stats.frames, time.monotonic()
    time.sleep(seconds)
    return (engine.render_stats.frames - f0) / (time.monotonic() - t0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from performer.audio import demo_source
    from performer.classifier import Classifier, default_checkpoint
    from performer.control import ControlOptions, Controls
    from performer.device import configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import NullOutput
    from performer.presets import find_preset, load_preset

    configure_threads(None)
    preset = load_preset(find_preset("default"))
    preset.params.update({"dream.width": args.size, "dream.height": args.size, "output.fps": 120.0})
    engine = Engine(source=demo_source(), classifier=Classifier.from_checkpoint(args.model or default_checkpoint(),
                                                                                device=args.device),
                    renderer=DreamRenderer(device=args.device), outputs=[NullOutput()], preset=preset)
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=0))
    assert controls.osc is not None and controls.sender is not None  # an OSC port was given
    engine.start()
    controls.start()
    try:
        time.sleep(5.0)  # warm up
        quiet = _fps(engine, args.seconds)
        received0 = controls.osc.received
        flood = subprocess.Popen([sys.executable, "-c", FLOODER, str(controls.osc.port), str(args.rate),
                                  str(args.seconds)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        flooded = _fps(engine, args.seconds - 1.0)
        sent = int(flood.communicate(timeout=args.seconds + 30)[0].strip() or 0)
        time.sleep(0.5)
        received = controls.osc.received - received0
        errors = dict(controls.osc.errors)
        coalesced = controls.sender.coalesced
        status = engine.status()
    finally:
        controls.stop()
        engine.stop()
    return {
        "dream_size": args.size, "rate_asked": args.rate, "seconds": args.seconds,
        "fps_quiet": round(quiet, 2), "fps_flooded": round(flooded, 2),
        "fps_change_pct": round(100.0 * (flooded - quiet) / quiet, 1) if quiet else None,
        "messages_sent": sent, "messages_received": received,
        "received_pct": round(100.0 * received / sent, 1) if sent else None,
        "errors_by_kind": errors, "echoes_coalesced": coalesced, "skipped_hops": status["skipped_hops"],
        "classify_ms": status["classify_ms"],
    }
