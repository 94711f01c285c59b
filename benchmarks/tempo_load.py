"""MIDI clock and taps under load: the figures of benchmarks/tempo.md, tables 3 and 4.

    JACK_DEFAULT_SERVER=bench jackd -n bench -d dummy -r 48000 -p 1024 &
    JACK_DEFAULT_SERVER=bench JACK_NO_START_SERVER=1 python benchmarks/tempo_load.py clock 110 20
    python benchmarks/tempo_load.py taps 0        # plain /tempo/tap messages, on time
    python benchmarks/tempo_load.py taps 0.12     # time-tagged bundles sent up to 120 ms late

The clock: a JACK clock source in its own process plays SECONDS at BPM into a Tempo following it while two
threads of this process hold the GIL (tests/tempo/load.py); prints the clocks sent and counted, and the grid's
error against the source's beat sampled every 0.25 s. The taps: eight taps at 100 BPM from a process of their
own to an OscServer under the same load, three runs; prints the tempo read and how late the first tap is put.
Run it with PYTHONPATH set to another checkout to measure that code (the figures "before").
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent.parent / "tests" / "tempo"
sys.path.insert(0, str(TESTS))

from jack_clock import JackClock  # noqa: E402
from load import gil_load  # noqa: E402

from performer.params import ParamStore  # noqa: E402
from performer.tempo import Tempo  # noqa: E402
from performer.tempo.grid import wrap  # noqa: E402


def clock(bpm: float, seconds: float) -> None:
    store = ParamStore()
    store.set("tempo.midi_input", "clocksrc")
    store.set("tempo.source", "midi")
    tempo = Tempo(store, {}, midi_poll=0.5)
    tempo.start()
    source = JackClock("clocksrc", bpm, int(seconds * bpm / 60 * 24))
    seen: list[tuple[float, float, float]] = []
    with gil_load():
        while source.proc.poll() is None:
            time.sleep(0.25)
            now = time.monotonic()
            g = tempo.grid(now)
            if g is not None and tempo.running():
                seen.append((now, g.beat_at(now), g.bpm))
        result = source.result(20)
    time.sleep(0.5)
    late = [wrap(b - (t - result["start"]) * bpm / 60) * 60000 / bpm for t, b, _ in seen if t > result["start"] + 2.5]
    bpms = [x for _, _, x in seen]
    print(f"clock {bpm:g} BPM: {tempo.midi.clocks} of {result['sent']} clocks; tempo median {np.median(bpms):.2f} "
          f"({min(bpms):.2f}-{max(bpms):.2f}); beat error median {np.median(late):+.1f} ms, "
          f"p95 of its size {np.percentile(np.abs(late), 95):.1f} ms")
    tempo.stop()
    source.stop()


def taps(late: float, runs: int = 3) -> None:
    from performer.control.osc import OscServer

    for _ in range(runs):
        store = ParamStore()
        store.set("tempo.source", "tap")
        tempo = Tempo(store, {})
        server = OscServer(store, port=0)
        server.start()
        tempo.start()
        with gil_load():
            sender = subprocess.Popen([sys.executable, str(TESTS / "tap_sender.py"), str(server.port), "100", "8",
                                       str(late)], stdout=subprocess.PIPE, text=True)
            first = float(sender.communicate(timeout=20)[0])
            deadline = time.monotonic() + 5
            while store.get("tempo.tap") < 8 and time.monotonic() < deadline:
                time.sleep(0.05)
        g = tempo.taps.grid
        print(f"taps sent up to {late * 1000:.0f} ms late: {store.get('tempo.tap')} taps, "
              f"{g.bpm if g else float('nan'):.2f} BPM, first tap {-wrap(g.beat_at(first)) * 600 if g else 0:+.1f} ms")
        tempo.stop()
        server.stop()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    if sys.argv[1] == "clock":
        clock(float(sys.argv[2]), float(sys.argv[3]))
    else:
        taps(float(sys.argv[2]))
