"""``performer bench pages``: what control pages flooding sets cost the renderer and the store.

Runs the live engine (demo input, the shipped classifier, the dream at ``--size``) with a preview output
serving the control page, and one client process that opens ``--pages`` page WebSockets on loopback (eight from
each of 127.0.0.2, .3, …: one address may hold half the sessions) and, when told to, has each send ``--rate``
sets a second (the per-page limit is 200) round three parameters that do not change a frame's cost
(``dream.jitter``, ``dream.lr``, ``classifier.hysteresis``). Quiet and flooded phases of ``--seconds`` alternate,
``--phases`` flooded ones each between two quiet ones, and each flooded phase is compared with the mean of its two
neighbours, so a drift in the machine's load cancels. The preset's routes onto the frame's cost are dropped, as
in ``bench osc``. ``--unbounded`` gives the hub an apply rate and an intake rate so high that every set
is written at once and each page may send its own limit whatever the others do: the code before issue #24
item 5, in the same run's conditions.

Reported per phase: the renderer's fps and CPU time per frame, the sets the client sent and the hub took, the
store writes and changes the pages made, the times a page's session waited for its share of the pages' intake,
and the share of a core the client process took (Linux).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from performer.bench.osc import COST, _cpu_seconds, _diff, _median_of, _thread_path

FLOODER = r"""
import json, sys, threading, time
from websockets.sync.client import connect
url, pages, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
names = [('dream.jitter', 0, 64), ('dream.lr', 0.001, 0.2), ('classifier.hysteresis', 0.0, 0.5)]
on = threading.Event()
sent = [0] * pages
socks = []
for k in range(pages):  # one at a time, and again after a refusal (the server's request rate)
    for attempt in range(50):
        try:  # 8 pages an address (one address may hold half the server's sessions), replies left unread
            ws = connect(url, open_timeout=10, max_queue=None, source_address=(f'127.0.0.{2 + k // 8}', 0))
            ws.recv(timeout=10)
            socks.append(ws)
            break
        except Exception:
            time.sleep(0.2)
    else:
        raise SystemExit(f'page {k} could not connect')
def page(k):
    ws, i = socks[k], 0
    while True:
        on.wait()
        n, t0 = 0, time.monotonic()
        while on.is_set():
            name, lo, hi = names[i % 3]
            v = lo + (hi - lo) * ((i * 7 + k) % 101) / 100
            ws.send(json.dumps({'type': 'set', 'name': name, 'value': round(v) if name == 'dream.jitter' else v}))
            i += 1; n += 1; sent[k] += 1
            delay = t0 + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
for k in range(pages):
    threading.Thread(target=page, args=(k,), daemon=True).start()
print('ready', flush=True)
for line in sys.stdin:  # "on", "off" (answers the sets sent since the last "off"), anything else ends it
    if line.strip() == 'on':
        on.set()
    elif line.strip() == 'off':
        on.clear()
        time.sleep(0.05)
        print(sum(sent), flush=True)
        sent[:] = [0] * pages
    else:
        break
for ws in socks:
    ws.close()
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pages", type=int, default=20, help="page WebSockets the client opens (default 20)")
    p.add_argument("--rate", type=float, default=200.0,
                   help="sets a second each page sends in a flood (default 200, the per-page limit)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    p.add_argument("--phases", type=int, default=3, help="flooded phases, each between two quiet ones (default 3)")
    p.add_argument("--size", type=int, default=128, help="dream width and height (default 128)")
    p.add_argument("--unbounded", action="store_true",
                   help="every set written at once, each page held only to its own limit (before issue #24 item 5)")
    p.add_argument("--model", type=Path, help="classifier checkpoint (default: the shipped model)")
    p.add_argument("--device", default="auto", help="torch device: auto, cuda, mps or cpu (default auto)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from performer.audio import demo_source
    from performer.classifier import Classifier, default_checkpoint
    from performer.device import configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import NullOutput
    from performer.outputs.preview import PreviewOutput
    from performer.outputs.preview.hub import ControlHub
    from performer.presets import find_preset, load_preset

    configure_threads(None)
    preset = load_preset(find_preset("default"))
    preset.params.update({"dream.width": args.size, "dream.height": args.size})
    preset.routes = [r for r in preset.routes if r.target not in COST]
    web = PreviewOutput("pages", port=0, max_sessions=max(16, args.pages))
    engine = Engine(source=demo_source(), classifier=Classifier.from_checkpoint(args.model or default_checkpoint(),
                                                                                device=args.device),
                    renderer=DreamRenderer(device=args.device), outputs=[NullOutput(), web], preset=preset)
    engine.start()
    big = 1e9
    hub = ControlHub(engine.store, apply_rate=big, intake_rate=big) if args.unbounded \
        else ControlHub(engine.store)
    web.hub = hub
    changes = [0]
    unsubscribe = engine.store.subscribe(lambda c: changes.__setitem__(0, changes[0] + 1)
                                         if c.source == "page" else None)
    url = web.url.replace("http://", "ws://") + "control/ws"
    flood = subprocess.Popen([sys.executable, "-c", FLOODER, url, str(args.pages), str(args.rate)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert flood.stdin is not None and flood.stdout is not None
    phases: list[dict[str, Any]] = []
    try:
        if flood.stdout.readline().strip() != "ready":
            raise RuntimeError("the page client did not connect its pages")
        render_path = _thread_path("render")
        time.sleep(5.0)  # warm up
        for i in range(2 * args.phases + 1):  # quiet first and last: every flooded phase has quiet either side
            flooded = i % 2 == 1
            offered0, writes0, changes0, held0 = hub.sets.offered, hub.sets.writes, changes[0], hub.held
            messages0 = hub.messages
            client0, render0 = _cpu_seconds(f"/proc/{flood.pid}/stat"), _cpu_seconds(render_path)
            if flooded:
                flood.stdin.write("on\n")
                flood.stdin.flush()
            f0, t0 = engine.render_stats.frames, time.monotonic()
            time.sleep(args.seconds)
            frames, wall = engine.render_stats.frames - f0, time.monotonic() - t0
            render_cpu = _diff(render0, _cpu_seconds(render_path))
            client = _diff(client0, _cpu_seconds(f"/proc/{flood.pid}/stat"))
            sent = 0
            if flooded:
                flood.stdin.write("off\n")
                flood.stdin.flush()
                sent = int(flood.stdout.readline().strip() or 0)
            handled = hub.messages - messages0
            phases.append({"phase": "flooded" if flooded else "quiet", "fps": round(frames / wall, 2),
                           "render_cpu_ms_per_frame": round(1000 * render_cpu / frames, 1)
                           if render_cpu is not None and frames else None,
                           "client_cpu_share": round(client / wall, 2) if client is not None else None,
                           "sets_sent": sent, "messages_taken_per_s": round(handled / wall),
                           "sets_offered": hub.sets.offered - offered0,
                           "store_writes_per_s": round((hub.sets.writes - writes0) / wall, 1),
                           "store_changes_per_s": round((changes[0] - changes0) / wall, 1),
                           "held": hub.held - held0})
            drain = 0.0
            if flooded:  # what the pages sent and the sessions have not read yet is read before the next phase
                t1, last, still = time.monotonic(), hub.messages, 0.0
                while still < 3.0 and time.monotonic() - t1 < 120:  # a session past its share waits ~1.5 s
                    time.sleep(0.5)
                    still = still + 0.5 if hub.messages == last else 0.0
                    last = hub.messages
                drain = time.monotonic() - t1 - still
            phases[-1]["drain_s"] = round(drain, 1)
        status = engine.status()
    finally:
        flood.stdin.close()
        try:
            flood.wait(timeout=20.0)
        except subprocess.TimeoutExpired:
            flood.kill()
        unsubscribe()
        engine.stop()
    quiet = [p for p in phases if p["phase"] == "quiet"]
    loud = [p for p in phases if p["phase"] == "flooded"]
    fps_quiet = statistics.median(p["fps"] for p in quiet)
    fps_flooded = statistics.median(p["fps"] for p in loud)
    changes_pct = []
    for i in range(1, len(phases), 2):
        base = statistics.fmean(phases[j]["fps"] for j in (i - 1, i + 1) if j < len(phases))
        changes_pct.append(100.0 * (phases[i]["fps"] - base) / base if base else 0.0)
    return {
        "dream_size": args.size, "pages": args.pages, "rate_per_page": args.rate, "unbounded": args.unbounded,
        "seconds_per_phase": args.seconds, "phases": phases,
        "fps_quiet_median": round(fps_quiet, 2), "fps_flooded_median": round(fps_flooded, 2),
        "fps_change_pct_by_pair": [round(c, 1) for c in changes_pct],
        "fps_change_pct_pair_median": round(statistics.median(changes_pct), 1),
        "render_cpu_ms_per_frame": {kind: _median_of(group, "render_cpu_ms_per_frame")
                                    for kind, group in (("quiet", quiet), ("flooded", loud))},
        "client_cpu_share_flooded": _median_of(loud, "client_cpu_share"),
        "sets_sent": sum(p["sets_sent"] for p in loud),
        "hub": {"messages": hub.messages, "rejected": hub.rejected, "sets_offered": hub.sets.offered,
                "store_writes": hub.sets.writes, "coalesced": hub.sets.coalesced, "held": hub.held},
        "skipped_hops": status["skipped_hops"],
    }
