"""``performer bench osc``: does a flood of OSC slow the renderer, lose messages or delay a change?

Runs the live engine (demo input, the shipped classifier, the dream at ``--size``) with OSC in, and one client
process that floods the server with ``--rate`` OSC messages a second when told to (parameter sets, normalised
sets, queries, an unknown address and garbage, as a busy fader bank plus a broken client would). Quiet and
flooded phases of ``--seconds`` alternate, ``--phases`` flooded ones each between two quiet ones, and each
flooded phase is compared with the mean of its two neighbours, so a drift in the machine's load cancels. The
preset's routes onto the frame's cost (steps, octaves) are dropped unless ``--sound-sets-cost``: with them the
frame rate follows what the demo plays. ``--intake`` reads OSC in a child process (the default) or on the
server's thread; ``--sink`` floods a socket nobody reads instead, which measures what the flooding client alone
costs the renderer. In every phase a probe sends a change of ``classifier.hysteresis`` (which nothing in the
flood touches) every ``--probe-every`` seconds and times it from ``sendto`` to the store's change callback.
Reported: the renderer's fps and CPU time per frame per phase, the change per pair and its median, the
datagrams the server received out of those sent (the rest were lost in the kernel), the probe latencies, the
CPU spent reading OSC per datagram (the intake child's, or the server thread's), the share of a core the client
and the server's storing thread took (Linux), and the server's counters.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

FLOODER = r"""
import random, socket, sys, threading, time
from performer.control.osc import build_message
port, rate = int(sys.argv[1]), int(sys.argv[2])
if sys.argv[3:] == ['sink']:  # a socket of our own that nobody reads: the client's cost alone
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(('127.0.0.1', 0))
    port = sink.getsockname()[1]
msgs = [build_message('/dream/jitter', [i % 64]) for i in range(64)]
msgs += [build_message('/dream/lr/normalized', [i / 63]) for i in range(64)]
msgs += [build_message('/dream/iterations', []), build_message('/no/such/address', [1.0]), b'garbage!']
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(0)
batch = max(1, rate // 100)
on = threading.Event()
sent = 0
def flood():  # sends while "on"; sleeps otherwise
    global sent
    while True:
        on.wait()
        n, t0 = 0, time.monotonic()
        while on.is_set():
            for _ in range(batch):
                s.sendto(rng.choice(msgs), ('127.0.0.1', port))
            n += batch
            sent += batch
            delay = t0 + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
threading.Thread(target=flood, daemon=True).start()
print('ready', flush=True)
for line in sys.stdin:  # "on", "off" (answers the datagrams sent since the last "off"), anything else ends it
    if line.strip() == 'on':
        on.set()
    elif line.strip() == 'off':
        on.clear()
        time.sleep(0.05)
        print(sent, flush=True)
        sent = 0
    else:
        break
"""

PROBE = "classifier.hysteresis"

COST = ("dream.iterations", "dream.octaves", "dream.width", "dream.height", "dream.octave_scale")
"""Parameters that set how long a frame takes: a route from the sound onto one (the default preset's confidence
route adds a step per frame) makes the frame rate follow what the demo plays, by up to half, whatever OSC does."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=int, default=10_000, help="OSC messages per second in a flood (default 10000)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    p.add_argument("--phases", type=int, default=6,
                   help="flooded phases, each between two quiet ones (default 6)")
    p.add_argument("--probe-every", type=float, default=0.1, help="seconds between probe changes (default 0.1)")
    p.add_argument("--size", type=int, default=224, help="dream width and height (default 224)")
    p.add_argument("--intake", choices=("child", "thread"), default="child",
                   help="read OSC in a child process (the default on POSIX) or on the server's thread")
    p.add_argument("--sink", action="store_true",
                   help="flood a socket nobody reads instead of the server (what the flooding client alone costs)")
    p.add_argument("--sound-sets-cost", action="store_true",
                   help="keep the preset's routes onto the frame's cost (steps, octaves); by default they are "
                        "dropped so every frame costs the same and only the flood can change the frame rate")
    p.add_argument("--model", type=Path, help="classifier checkpoint (default: the shipped model)")
    p.add_argument("--device", default="auto", help="torch device: auto, cuda, mps or cpu (default auto)")


class Probe:
    """Sends changes of one parameter over OSC and times each until the store reports it."""

    def __init__(self, store, port: int, every: float) -> None:
        self.port = port
        self.every = every
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._pending: dict[float, float] = {}
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self.sent = 0
        self._k = 0
        self._unsubscribe = store.subscribe(self._on_change)

    def _on_change(self, change) -> None:
        if change.name != PROBE:
            return
        t = time.perf_counter()
        with self._lock:
            t0 = self._pending.pop(change.value, None)
        if t0 is not None:
            self.latencies.append(t - t0)

    def run(self, seconds: float) -> tuple[list[float], int, int]:
        """Probe for ``seconds``; returns the latencies (s), probes sent and probes never seen."""
        from performer.control.osc import build_message

        n0, sent0 = len(self.latencies), self.sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._k += 1
            value = struct.unpack(">f", struct.pack(">f", 0.1 + (self._k % 200) * 0.001))[0]  # as OSC carries it
            data = build_message("/" + PROBE.replace(".", "/"), [value])
            with self._lock:
                self._pending[value] = time.perf_counter()
            self.sock.sendto(data, ("127.0.0.1", self.port))
            self.sent += 1
            time.sleep(self.every)
        time.sleep(0.5)  # let the last ones land
        with self._lock:
            lost = len(self._pending)
            self._pending.clear()
        return self.latencies[n0:], self.sent - sent0, lost

    def close(self) -> None:
        self._unsubscribe()
        self.sock.close()


def _cpu_seconds(path: str | None) -> float | None:
    """User plus system CPU seconds of a process or thread from its ``/proc/.../stat`` (Linux), or None."""
    try:
        assert path is not None
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (AssertionError, OSError, ValueError, IndexError):
        return None


def _intake_path(osc) -> str | None:
    """Where the CPU time spent reading OSC is counted: the intake child, or the server's OSC thread."""
    thread = osc.thread
    return (f"/proc/{osc.intake_pid}/stat" if osc.intake_pid is not None
            else f"/proc/self/task/{thread.native_id}/stat" if thread is not None else None)


def _apply_path(osc) -> str | None:
    """With the intake in a child: the server's thread that stores what the child sends (it takes the GIL)."""
    thread = osc.thread
    if osc.intake_pid is None or thread is None:
        return None
    return f"/proc/self/task/{thread.native_id}/stat"


def _thread_path(name: str) -> str | None:
    for t in threading.enumerate():
        if t.name == name and t.native_id is not None:
            return f"/proc/self/task/{t.native_id}/stat"
    return None


def _diff(a: float | None, b: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def _median_of(phases: list[dict[str, Any]], key: str) -> float | None:
    xs = [p[key] for p in phases if p[key] is not None]
    return round(statistics.median(xs), 2) if xs else None


def _ms(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2)


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
    preset.params.update({"dream.width": args.size, "dream.height": args.size})
    if not args.sound_sets_cost:
        preset.routes = [r for r in preset.routes if r.target not in COST]
    engine = Engine(source=demo_source(), classifier=Classifier.from_checkpoint(args.model or default_checkpoint(),
                                                                                device=args.device),
                    renderer=DreamRenderer(device=args.device), outputs=[NullOutput()], preset=preset)
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=0))
    assert controls.osc is not None and controls.sender is not None  # an OSC port was given
    osc = controls.osc
    osc.use_child = args.intake == "child"
    engine.start()
    controls.start()
    probe = Probe(engine.store, osc.port, args.probe_every)
    flood = subprocess.Popen([sys.executable, "-c", FLOODER, str(osc.port), str(args.rate)]
                             + (["sink"] if args.sink else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert flood.stdin is not None and flood.stdout is not None
    flood.stdout.readline()  # "ready"
    render_path = _thread_path("render")
    phases: list[dict[str, Any]] = []
    try:
        time.sleep(5.0)  # warm up
        for i in range(2 * args.phases + 1):  # quiet first and last: every flooded phase has quiet either side
            flooded = i % 2 == 1
            received0, cpu0 = osc.received, _cpu_seconds(_intake_path(osc))
            client0 = _cpu_seconds(f"/proc/{flood.pid}/stat")
            render0 = _cpu_seconds(render_path)
            apply_path = _apply_path(osc)
            apply0 = _cpu_seconds(apply_path)
            if flooded:
                flood.stdin.write("on\n")
                flood.stdin.flush()
            f0, t0 = engine.render_stats.frames, time.monotonic()
            latencies, probes, lost = probe.run(args.seconds)
            frames, wall = engine.render_stats.frames - f0, time.monotonic() - t0
            render_cpu = _diff(render0, _cpu_seconds(render_path))
            sent = 0
            if flooded:
                flood.stdin.write("off\n")
                flood.stdin.flush()
                sent = int(flood.stdout.readline().strip() or 0)
            time.sleep(0.3)  # let the server drain what is left
            received = osc.received - received0 - probes
            cpu = _diff(cpu0, _cpu_seconds(_intake_path(osc)))
            client = _diff(client0, _cpu_seconds(f"/proc/{flood.pid}/stat"))
            applied = _diff(apply0, _cpu_seconds(apply_path))
            phases.append({"phase": "flooded" if flooded else "quiet", "fps": round(frames / wall, 2),
                           "render_cpu_ms_per_frame": round(1000 * render_cpu / frames, 1)
                           if render_cpu is not None and frames else None,
                           "client_cpu_share": round(client / wall, 2) if client is not None else None,
                           "flood_sent": sent, "flood_received": received,
                           "intake_cpu_s": round(cpu, 2) if cpu is not None else None,
                           "apply_cpu_share": round(applied / wall, 3) if applied is not None else None,
                           "lost_pct": round(100.0 * (sent - received) / sent, 2) if sent else None,
                           "probes": probes, "probes_lost": lost, "latency_ms_median": _ms(latencies, 0.5),
                           "latency_ms_p95": _ms(latencies, 0.95), "latency_ms_max": _ms(latencies, 1.0),
                           "_latencies": latencies})
        status = engine.status()
    finally:
        flood.stdin.close()
        try:
            flood.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            flood.kill()
        probe.close()
        controls.stop()
        engine.stop()
    quiet = [p for p in phases if p["phase"] == "quiet"]
    loud = [p for p in phases if p["phase"] == "flooded"]
    fps_quiet = statistics.median(p["fps"] for p in quiet)
    fps_flooded = statistics.median(p["fps"] for p in loud)
    # Each flooded phase against the mean of the quiet phases either side of it: a slow drift in the machine's
    # load cancels, where medians over the whole run keep it.
    changes = []
    for i in range(1, len(phases), 2):
        around = [phases[j]["fps"] for j in (i - 1, i + 1) if j < len(phases)]
        base = statistics.fmean(around)
        changes.append(100.0 * (phases[i]["fps"] - base) / base if base else 0.0)
    sent = sum(p["flood_sent"] for p in loud)
    received = sum(p["flood_received"] for p in loud)
    cpus = [p["intake_cpu_s"] for p in loud]
    cpu_us = 1e6 * sum(cpus) / received if received and None not in cpus else None
    flood_latencies = [x for p in loud for x in p["_latencies"]]
    quiet_latencies = [x for p in quiet for x in p["_latencies"]]
    for p in phases:
        del p["_latencies"]
    return {
        "dream_size": args.size, "steady_cost": not args.sound_sets_cost, "rate_asked": args.rate, "sink": args.sink,
        "seconds_per_phase": args.seconds,
        "phases": phases,
        "fps_quiet_median": round(fps_quiet, 2), "fps_flooded_median": round(fps_flooded, 2),
        "fps_change_pct": round(100.0 * (fps_flooded - fps_quiet) / fps_quiet, 1) if fps_quiet else None,
        "fps_change_pct_by_pair": [round(c, 1) for c in changes],
        "fps_change_pct_pair_median": round(statistics.median(changes), 1),
        "render_cpu_ms_per_frame": {kind: _median_of(group, "render_cpu_ms_per_frame")
                                    for kind, group in (("quiet", quiet), ("flooded", loud))},
        "client_cpu_share_flooded": _median_of(loud, "client_cpu_share"),
        "apply_cpu_share": {kind: _median_of(group, "apply_cpu_share")
                            for kind, group in (("quiet", quiet), ("flooded", loud))},
        "flood_sent": sent, "flood_received": received,
        "flood_lost_pct": round(100.0 * (sent - received) / sent, 2) if sent else None,
        "intake_cpu_us_per_datagram": round(cpu_us, 1) if cpu_us is not None else None,
        "probe_ms_quiet": {"median": _ms(quiet_latencies, 0.5), "p95": _ms(quiet_latencies, 0.95),
                           "max": _ms(quiet_latencies, 1.0)},
        "probe_ms_flooded": {"median": _ms(flood_latencies, 0.5), "p95": _ms(flood_latencies, 0.95),
                             "max": _ms(flood_latencies, 1.0)},
        "probes_lost": sum(p["probes_lost"] for p in phases),
        "intake": "child process" if osc.intake_pid is not None else "thread",
        "server": {"errors_by_kind": dict(osc.errors), "coalesced": osc.coalesced,
                   "error_replies_refused": osc.replies_refused,
                   "receive_buffer_bytes": osc.receive_buffer},
        "echoes_coalesced": controls.sender.coalesced, "skipped_hops": status["skipped_hops"],
        "classify_ms": status["classify_ms"],
    }
