"""A JACK MIDI clock source in a process of its own, the way a drum machine sends clock: Start, then 24 clocks a
beat written at their exact frames inside JACK's cycles, then Stop.

Run as ``python tests/tempo/jack_clock.py NAME BPM CLOCKS [NOTE]``: it registers ``NAME:out``, prints ``ready``, waits
until something connects to it, waits 0.3 s more (shared/TESTING.md), plays, and prints one JSON line: the clocks
written, the monotonic time of Start (the first clock falls with it: beat 0) and the monotonic times of the xruns the
JACK server reported meanwhile (a cycle it could not complete: the MIDI of that cycle may be lost on the way). Frames
become monotonic seconds through the least delayed observation of ``time - frames since the cycle began``. With
``NOTE`` it plays that note once a beat instead (a drummer's pad mapped to tap tempo), CLOCKS times, with no Start or
Stop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path


def main(name: str, bpm: float, clocks: int, note: int | None = None) -> None:
    import jack

    client = jack.Client(name, no_start_server=True)
    port = client.midi_outports.register("out")
    rate = client.samplerate
    per_clock = rate * 60.0 / (bpm * (24 if note is None else 1))
    state = {"start": None, "next": 0.0, "sent": 0, "offset": None, "stopped": False}
    done = threading.Event()

    def process(frames: int) -> None:
        now = time.monotonic()
        base = client.last_frame_time
        seen = now - client.frames_since_cycle_start / rate - base / rate
        if state["offset"] is None or seen < state["offset"]:
            state["offset"] = seen
        port.clear_buffer()
        start = state["start"]
        if start is None or state["stopped"]:
            return
        if state["sent"] == 0 and state["next"] == 0.0:
            state["next"] = float(start)
        end = base + frames
        while state["next"] < end:
            offset = max(0, int(state["next"]) - base)
            if state["sent"] == 0 and note is None:
                port.write_midi_event(offset, b"\xfa")  # Start, then the first clock
            if state["sent"] < clocks:
                port.write_midi_event(offset, b"\xf8" if note is None else bytes((0x90, note, 100)))
                state["sent"] += 1
                state["next"] += per_clock
            else:
                if note is None:
                    port.write_midi_event(offset, b"\xfc")  # Stop where the next clock would have been
                state["stopped"] = True
                done.set()
                return

    xruns: list[float] = []
    client.set_xrun_callback(lambda delayed_usecs: xruns.append(time.monotonic()))
    client.set_process_callback(process)
    client.activate()
    print("ready", flush=True)
    while not client.get_all_connections(port):
        time.sleep(0.05)
    time.sleep(0.3)
    state["start"] = client.frame_time + int(0.1 * rate)
    done.wait()
    time.sleep(0.2)
    start_time = state["offset"] + state["start"] / rate
    print(json.dumps({"sent": state["sent"], "start": start_time, "xruns": xruns}), flush=True)
    client.deactivate()
    client.close()


class JackClock:
    """Starts the source above; :meth:`result` waits for its JSON line."""

    def __init__(self, name: str, bpm: float, clocks: int, note: int | None = None) -> None:
        extra = [] if note is None else [str(note)]
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__)), name, str(bpm), str(clocks), *extra],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"the JACK clock source did not start: {line!r}")

    def result(self, timeout: float) -> dict:
        assert self.proc.stdout is not None
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not out or not out[0].strip():
            raise TimeoutError(f"the JACK clock source gave no result within {timeout} s")
        return json.loads(out[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
