"""``performer serve`` (the main job) and ``performer devices``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from performer.device import DEVICE_CHOICES

log = logging.getLogger("performer.serve")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "serve", help="run the live engine: listen, classify, dream, send frames",
        description="Listen to an input, classify the sound continuously, let it drive the Deep Dream and send "
        "the frames out. Stops cleanly on Ctrl-C or SIGTERM.",
        epilog="Inputs: 'demo' (built-in synthetic soundscape, needs no sound card), a sound file, or an audio "
        "device by index or name (see `performer devices`). Without --input the system's default input is used.")
    s.add_argument("--preset", default="default", help="preset file or shipped preset name (default: default)")
    s.add_argument("--input", dest="input", metavar="DEVICE|FILE|demo",
                   help="audio input: 'demo', a sound file, or a device index or name (default: the default input)")
    s.add_argument("--loop", action="store_true", help="loop a file input")
    s.add_argument("--fast", action="store_true", help="read a file input as fast as possible instead of in real time")
    s.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device (default: auto)")
    s.add_argument("--model", type=Path, help="classifier checkpoint (default: the shipped real-time model)")
    s.add_argument("--fast-model", type=Path, metavar="CKPT",
                   help="classifier for the fast path, trained on short windows, same classes as --model "
                   "(default: the shipped short-window model with the shipped model, else --model itself)")
    s.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: cores - 1, at least 1)")
    s.add_argument("--frames", type=Path, metavar="DIR", help="also write every frame as a JPEG into DIR")
    s.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    s.add_argument("--stats", type=Path, metavar="FILE",
                   help="keep a JSON file of engine statistics, updated each second")
    s.add_argument("--no-status", action="store_true", help="no status line on the terminal")
    c = s.add_argument_group("control")
    c.add_argument("--osc-host", default=None, help="address OSC listens on (default: the preset's, else 127.0.0.1)")
    c.add_argument("--osc-port", type=int, default=None, help="OSC port (default: the preset's, else 9000)")
    c.add_argument("--no-osc", action="store_true", help="no OSC in, out or OSCQuery")
    c.add_argument("--osc-out", action="append", default=[], metavar="HOST:PORT",
                   help="send analysis, frames, parameter changes and status here (repeatable)")
    c.add_argument("--oscquery-port", type=int, default=None, help="OSCQuery HTTP port (default: OSC port + 1; 0: off)")
    c.add_argument("--allow", action="append", default=[], metavar="IP",
                   help="when OSC listens beyond loopback, accept only these client addresses (repeatable)")
    c.add_argument("--midi", metavar="NAME", help="MIDI input port name substring (overrides the preset's midi.input)")
    c.add_argument("--glove", metavar="PORT", help="glove serial port (overrides the preset's glove.port)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("devices", help="list audio input devices (index, name, host API, channels, rate)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_devices)


def cmd_devices(args: argparse.Namespace) -> int:
    from performer.audio import list_input_devices
    from performer.errors import AudioError

    try:
        devices = list_input_devices()
    except AudioError as e:
        print(e, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(devices, indent=2))
        return 0
    if not devices:
        print("no audio input devices; `performer serve --input demo` runs without one")
        return 0
    print(f"{'index':>5}  {'name':<40} {'host API':<28} {'ch':>3} {'rate':>8}")
    for d in devices:
        print(f"{d['index']:>5}  {d['name']:<40} {d['hostapi']:<28} {d['channels']:>3} {d['rate']:>8.0f}")
    return 0


def build_engine(args: argparse.Namespace):
    """Load the preset, the classifier and the renderer, open the input; errors name what failed."""
    from performer.audio import open_source
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.device import choose_device, configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.outputs import FolderOutput, build_outputs
    from performer.presets import find_preset, load_preset

    # Cheap checks first: a typo in a preset or a device name should not wait for a model to load.
    preset = load_preset(find_preset(args.preset))
    device = choose_device(args.device)
    configure_threads(args.threads)
    source = open_source(args.input, loop=args.loop, realtime=not args.fast)
    try:
        clf = Classifier.from_checkpoint(args.model or default_checkpoint(), device=str(device))
        fast = fast_classifier_for(clf, args.fast_model, device=str(device))
    except BaseException:
        source.stop()
        raise
    renderer = DreamRenderer(device=str(device))
    outputs = build_outputs(preset) + ([FolderOutput(args.frames, name="--frames")] if args.frames else [])
    return Engine(source=source, classifier=clf, renderer=renderer, outputs=outputs, preset=preset,
                  fast_classifier=fast)


def build_controls(engine, args: argparse.Namespace):
    """OSC, OSCQuery, MIDI and the glove, as the preset and the options ask."""
    from performer.control import ControlOptions, Controls
    from performer.errors import ControlError

    osc_cfg = engine.preset.osc
    outs = []
    for spec in args.osc_out:
        host, _, port = spec.rpartition(":")
        if not host or not port.isdigit():
            raise ControlError(f"--osc-out {spec!r} is not HOST:PORT (e.g. 127.0.0.1:7000)")
        outs.append((host, int(port)))
    options = ControlOptions(
        osc_host=args.osc_host or osc_cfg.get("host", "127.0.0.1"),
        osc_port=None if args.no_osc else (args.osc_port if args.osc_port is not None else osc_cfg.get("port", 9000)),
        osc_out=outs, oscquery_port=args.oscquery_port, allow=args.allow, midi=args.midi, glove=args.glove)
    return Controls(engine, options)


def cmd_serve(args: argparse.Namespace) -> int:
    from performer.errors import PerformerError

    if args.input is None:
        log.info("no --input given: using the default audio input (try --input demo without a sound card)")
    try:
        engine = build_engine(args)
        controls = build_controls(engine, args)
        engine.start()
        controls.start()
    except PerformerError as e:
        log.error("%s", e)
        return 1

    stop = threading.Event()

    def on_signal(signum, frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tty = sys.stderr.isatty() and not args.no_status
    started = time.monotonic()
    last_log = 0.0
    while not stop.wait(0.25):
        now = time.monotonic()
        if args.duration is not None and now - started >= args.duration:
            log.info("duration of %.1f s reached", args.duration)
            break
        if _file_done(engine):
            log.info("input %s finished", engine.source.describe())
            break
        if args.stats:
            engine.write_stats(args.stats)
        if tty:
            sys.stderr.write("\r" + engine.status_line()[:150].ljust(150))
            sys.stderr.flush()
        elif not args.no_status and now - last_log >= 5.0:
            log.info("%s", engine.status_line())
            last_log = now
    if tty:
        sys.stderr.write("\n")
    controls.stop()
    engine.stop()
    if args.stats:
        engine.write_stats(args.stats)
    log.info("stopped after %.1f s: %d frames, %d class changes", time.monotonic() - started,
             engine.render_stats.frames, engine.analyzer.stats.class_changes)
    return 0


def _file_done(engine) -> bool:
    """A finite input has been delivered and analysed to its end."""
    if not engine.source.finished.is_set():
        return False
    hop = int(engine.store.get("classifier.hop") * engine.ring.rate)
    last = engine.analysis.peek()
    return last is not None and engine.ring.total - last.position < hop
