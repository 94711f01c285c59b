"""``performer serve`` (the main job) and ``performer devices``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

from performer.cli.log import STATUS
from performer.cli.status import live_status, stats_document, status_line, terminal_width, write_json
from performer.cli.types import (
    existing_file,
    host,
    host_port,
    ip_address,
    nonempty,
    path_kind,
    port_or_any,
    port_or_off,
    positive_float,
    positive_int,
    sound_file,
    writable_dir,
    writable_file,
)
from performer.device import DEVICE_CHOICES

log = logging.getLogger("performer.serve")


PREVIEW_PORT = 8765
"""The port of ``serve --preview`` without a PORT, the preset preview's default too."""

STATUS_HELP = """\
The status line (on a terminal; otherwise a log line every 5 s):
  out N fps           frames the outputs get a second (output.fps: the output
                      clock fades between dreamed frames)
  dream N fps         pictures the network finishes a second (on a CPU far
                      fewer than go out)
  last dream N s ago  in place of the dream's rate while one frame takes long
  CLASS P             the sound's top class and its smoothed probability
  N dB                the input level
  classify N ms       the time one classification takes
  skipped hops N      analysis steps (one every classifier.hop) skipped
                      because the analysis fell behind; it goes on with the
                      newest sound
  dropped blocks N    audio blocks lost at the input (once it happens)
  frame errors N      dreamed frames that failed; the last good one stays
  INPUT LOST          the input stopped delivering
  glove fist F        how closed the glove's hand is, 0 open .. 1 fist
On a narrow terminal the least important fields go first. --stats FILE holds
these and more (dream_frame_age_s: seconds since the newest dreamed frame)."""


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "serve", help="run the live engine: listen, classify, dream, send frames",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's table of the status line
        description=textwrap.fill(
            "Listen to an input, classify the sound continuously, let it drive the Deep Dream and send the frames "
            "out. Stops cleanly on Ctrl-C or SIGTERM (also while it loads), or when a file input ends.", 78),
        epilog=textwrap.fill(
            "Inputs: 'demo' (built-in synthetic soundscape, needs no sound card), a sound file, or an audio device "
            "by index or name (see `performer devices`). Without --input the system's default input is used.", 78)
        + "\n\n" + STATUS_HELP)
    s.set_defaults(log_level=logging.INFO)  # a live run reports what it does; -q quietens it
    s.add_argument("--preset", default="default", type=nonempty,
                   help="preset file or shipped preset name (default: default)")
    s.add_argument("--input", dest="input", metavar="DEVICE|FILE|demo", type=sound_file,
                   help="audio input: 'demo', a sound file, or a device index or name (default: the default input)")
    s.add_argument("--loop", action="store_true", help="loop a file input")
    s.add_argument("--fast", action="store_true", help="read a file input as fast as possible instead of in real time")
    s.add_argument("--device", choices=DEVICE_CHOICES, default="auto",
                   help="torch device: auto picks cuda, then mps, then cpu (default: auto)")
    s.add_argument("--model", type=existing_file, metavar="CKPT",
                   help="classifier checkpoint (default: the shipped real-time model)")
    s.add_argument("--fast-model", type=existing_file, metavar="CKPT",
                   help="classifier for the fast path, trained on short windows, same classes as --model "
                   "(default: the shipped short-window model with the shipped model, else --model itself)")
    s.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch CPU threads (default: cores - 1, at least 1); numpy's BLAS gets one unless "
                        "OPENBLAS_NUM_THREADS says otherwise")
    s.add_argument("--preset-dir", type=Path, metavar="DIR",
                   help="your preset folder: /preset/save writes here, /preset/load looks here first "
                   "(default: the user config folder, e.g. ~/.config/performer/presets)")
    s.add_argument("--frames", type=writable_dir, metavar="DIR",
                   help="also write every output frame into DIR (1280x720 JPEG files numbered without gaps, with "
                   "index.csv; frames the writers could not keep up with are counted there and at the end); "
                   "a DIR that already holds frames is refused unless --overwrite is given")
    s.add_argument("--preview", nargs="?", const=PREVIEW_PORT, type=port_or_any, metavar="PORT",
                   help="also show the picture in a browser: the frame, class probabilities, spectrogram and status "
                   f"at http://127.0.0.1:PORT/ and the control page at /control (PORT default {PREVIEW_PORT}; "
                   "0: any free port)")
    s.add_argument("--overwrite", action="store_true",
                   help="let --frames (and the preset's frames outputs) delete the frame files and index.csv an "
                   "earlier run left in their folder, instead of refusing it")
    s.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    s.add_argument("--stats", type=writable_file, metavar="FILE",
                   help="keep a JSON file of engine and controller statistics, updated each second")
    s.add_argument("--no-status", action="store_true", help="no status line on the terminal")
    s.add_argument("--video", metavar="SPEC", type=video_spec,
                   help="live video the dream works on with video.weight (overrides the preset's [video] source): "
                   "ndi:NAME, camera:INDEX, camera:/dev/videoN or a video file")
    c = s.add_argument_group("control")
    c.add_argument("--osc-host", default=None, type=host, metavar="HOST",
                   help="address OSC listens on (default: the preset's, else 127.0.0.1)")
    c.add_argument("--osc-port", type=port_or_any, default=None, metavar="PORT",
                   help="OSC port, 0 for any free port (default: the preset's, else 9000)")
    c.add_argument("--no-osc", action="store_true", help="no OSC in, out or OSCQuery")
    c.add_argument("--osc-out", action="append", default=[], type=host_port, metavar="HOST:PORT",
                   help="send analysis, frames, parameter changes and status here (repeatable)")
    c.add_argument("--oscquery-port", type=port_or_off, default=None, metavar="PORT",
                   help="OSCQuery HTTP port (default: OSC port + 1; 0: off)")
    c.add_argument("--allow", action="append", default=[], type=ip_address, metavar="IP",
                   help="when OSC listens beyond loopback, accept only these client addresses (repeatable)")
    c.add_argument("--midi", metavar="NAME", type=nonempty,
                   help="MIDI input port name substring (overrides the preset's midi.input)")
    c.add_argument("--glove", metavar="PORT", type=nonempty,
                   help="glove serial port (overrides the preset's glove.port)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("devices", help="list audio input devices (index, name, host API, channels, rate)")
    d.add_argument("--json", action="store_true", help="print the list as JSON")
    d.set_defaults(func=cmd_devices)


def video_spec(text: str) -> str:
    """``--video``: a video source's spec of the right form (a file must exist)."""
    from performer.video import VideoError, parse_spec

    try:
        kind, target = parse_spec(text)
    except VideoError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    allowed = "allowed: ndi:NAME, camera:INDEX, camera:/dev/videoN or a video file"
    path = Path(str(target)).expanduser()
    if kind == "file" and not path.is_file():
        if os.path.lexists(path):
            raise argparse.ArgumentTypeError(f"video file {text!r}: {path_kind(path)}, not a video file; {allowed}")
        raise argparse.ArgumentTypeError(f"video file {text!r}: no such file; {allowed}")
    return text


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


def build_engine(args: argparse.Namespace, checkpoint: Callable[[], None] = lambda: None):
    """Load the preset, the classifier and the renderer, open the input; errors name what failed. ``checkpoint``
    is called between the slow steps (``serve`` stops there when a stop signal came and was not raised)."""
    from performer.outputs.folder import refuse_used_folder

    if args.frames and not args.overwrite:  # before anything slow is loaded
        refuse_used_folder(args.frames, "--frames")
    from performer.audio import open_source
    from performer.classifier import Classifier, default_checkpoint, fast_classifier_for
    from performer.device import choose_device, configure_threads
    from performer.dream import DreamRenderer
    from performer.engine import Engine
    from performer.errors import PerformerError
    from performer.outputs import FolderOutput, Layout, build_outputs
    from performer.outputs.layout import DEFAULT_SIZE
    from performer.presets import PresetFolders, checkpoint_classes, find_preset, load_preset
    from performer.video import video_from_preset

    # Cheap checks first: a typo in a preset or a device name should not wait for a model to load.
    classes = checkpoint_classes(args.model) if args.model else None  # a custom model's presets name its classes
    preset = load_preset(find_preset(args.preset, PresetFolders.default(args.preset_dir)), classes=classes)
    if args.preview:
        refuse_used_port(args.preview, preset)
    video = video_from_preset(preset, args.video) if args.video else None  # else the engine builds the preset's
    try:
        device = choose_device(args.device)
    except (RuntimeError, ValueError) as e:
        raise PerformerError(f"--device {args.device}: {e}") from None
    configure_threads(args.threads)
    values = preset.values()
    # A file shorter than one analysis window would never be analysed (nor end): it is followed by silence.
    min_seconds = max(float(values["classifier.window"]), float(values["classifier.hop"]))
    source = open_source(args.input, loop=args.loop, realtime=not args.fast, min_seconds=min_seconds)
    try:  # an error, or a stop signal (StopWhileLoading), while the models load: the input is stopped
        clf = Classifier.from_checkpoint(args.model or default_checkpoint(), device=str(device))
        checkpoint()
        fast = fast_classifier_for(clf, args.fast_model, device=str(device))
        checkpoint()
        renderer = DreamRenderer(device=str(device))
        checkpoint()
        frames = [FolderOutput(args.frames, name="--frames", layout=Layout("dream", *DEFAULT_SIZE, follow=True))
                  ] if args.frames else []
        outputs = build_outputs(preset) + frames
        if args.preview is not None:
            outputs.append(preview_output(args.preview, float(values["output.fps"])))
        for out in outputs:
            if isinstance(out, FolderOutput):  # --frames, and the preset's frames and record outputs
                out.overwrite = bool(args.overwrite)
        return Engine(source=source, classifier=clf, renderer=renderer, outputs=outputs, preset=preset,
                      fast_classifier=fast, video=video)
    except BaseException:
        source.stop()
        raise


def refuse_used_port(port: int, preset, host: str = "127.0.0.1") -> None:
    """``--preview PORT`` on a port a preview output of the preset or another program has: refused before the
    models load."""
    import socket

    from performer.errors import PerformerError
    from performer.outputs.factory import output_section

    for key, spec in (getattr(preset, "outputs", {}) or {}).items():
        s = output_section(key, spec)
        if s.type == "preview" and s.enabled and s.port == port:
            raise PerformerError(f"--preview {port}: the preset's preview output {key!r} has port {port} already; "
                                 "leave --preview out, or choose another port")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the preview's server does
        try:
            probe.bind((host, port))
        except OSError as e:
            raise PerformerError(f"--preview {port}: port {port} on {host} is in use ({e.strerror or e}); choose "
                                 "another port, or 0 for any free one") from None


def preview_output(port: int, fps: float):
    """The browser preview of ``serve --preview``, at the outputs' size (1280x720, following output.layout)."""
    from performer.outputs.layout import DEFAULT_SIZE, Layout
    from performer.outputs.preview import PreviewOutput

    return PreviewOutput("--preview", port=port, fps=fps, layout=Layout("dream", *DEFAULT_SIZE, follow=True))


def build_controls(engine, args: argparse.Namespace):
    """OSC, OSCQuery, MIDI and the glove, as the preset and the options ask."""
    from performer.control import ControlOptions, Controls
    from performer.presets.sections import osc_section

    osc_cfg = osc_section(engine.preset.osc)
    options = ControlOptions(
        osc_host=args.osc_host or osc_cfg.host,
        osc_port=None if args.no_osc else (args.osc_port if args.osc_port is not None else osc_cfg.port),
        osc_out=list(args.osc_out), oscquery_port=args.oscquery_port, allow=args.allow, midi=args.midi,
        glove=args.glove, preset_dir=args.preset_dir)
    return Controls(engine, options)


class StopWhileLoading(BaseException):
    """SIGTERM or SIGINT while ``serve`` loads and warms up: unwinds the loading (like KeyboardInterrupt, which no
    ``except Exception`` catches), so what was opened is stopped and ``serve`` exits 0."""


def cmd_serve(args: argparse.Namespace) -> int:
    from performer.errors import PerformerError

    if args.input is None:
        log.info("no --input given: using the default audio input (try --input demo without a sound card)")
    stop = threading.Event()
    loading = True
    received: list[str] = []

    def on_signal(signum, frame):
        nonlocal loading
        name = signal.Signals(signum).name
        if stop.is_set():
            return  # already stopping
        received.append(name)
        stop.set()
        if loading:  # the models load on this (the main) thread: leave them at the next Python line
            loading = False
            log.info("%s received while warming up: stopping", name)
            raise StopWhileLoading(name)
        log.info("%s received: stopping", name)

    def checkpoint() -> None:
        """Between the slow steps: an exception raised inside C code that calls back into Python (a dict lookup,
        a hasattr) can be swallowed there, so the signal's flag is read again."""
        if stop.is_set() and received:
            log.debug("%s had not stopped the loading; stopping between two steps", received[0])
            raise StopWhileLoading(received[0])

    # Before anything loads: without a handler, SIGTERM during the warm-up killed the process (exit -15) with
    # nothing stopped.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = controls = None
    try:
        try:
            engine = build_engine(args, checkpoint)
            checkpoint()
            controls = build_controls(engine, args)
            from performer.outputs.preview.controls_link import attach_control_pages

            attach_control_pages(engine, controls)  # the preview's /control page: the store, presets, MIDI learn
            if sys.stderr.isatty() and not args.no_status:
                STATUS.show("warming up: loading the network, the classifier and the portraits...", terminal_width())
            else:
                log.info("warming up: loading the network, the classifier and the portraits")
            checkpoint()
            engine.start()
            checkpoint()
            controls.start()
            checkpoint()
        except PerformerError as e:
            loading = False
            STATUS.close()
            log.error("%s", e)
            _stop_parts(controls, engine)  # e.g. the OSC port is taken: stop the input and threads already going
            return 1
        loading = False
    except StopWhileLoading as e:  # also one that landed while an error above was being handled
        loading = False
        STATUS.close()
        _stop_parts(controls, engine)
        log.info("stopped before the engine ran (%s while warming up)", e)
        return 0

    tty = sys.stderr.isatty() and not args.no_status
    started = time.monotonic()
    last_log = 0.0
    ending = FileEnd()
    stats = StatsWriter(args.stats)
    try:
        if tty:  # the running status at once, in place of "warming up"
            STATUS.show(status_line(live_status(engine, controls), terminal_width()), terminal_width())
        while not stop.wait(0.25):
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                log.info("duration of %.1f s reached", args.duration)
                break
            if ending.done(engine, now):
                log.info("input %s finished", engine.source.describe())
                break
            stats.write(engine, controls)
            if tty:
                width = terminal_width()
                STATUS.show(status_line(live_status(engine, controls), width), width)
            elif not args.no_status and now - last_log >= 5.0:
                log.info("%s", status_line(live_status(engine, controls)))
                last_log = now
    finally:
        STATUS.close()
    controls.stop()
    engine.stop()
    stats.write(engine, controls)
    log.info("stopped after %.1f s: %d frames out, %d dreamed, %d class changes", time.monotonic() - started,
             engine.presenter.stats.frames, engine.render_stats.frames, engine.analyzer.stats.class_changes)
    return 0


def _stop_parts(controls, engine) -> None:
    """Stop what a failed or interrupted start left going; a part that cannot stop is only logged (debug)."""
    for part in (controls, engine):
        try:
            if part is not None:
                part.stop()
        except Exception as stop_error:
            log.debug("stopping %s: %s", type(part).__name__, stop_error)


class StatsWriter:
    """Writes the ``--stats`` file; a file that cannot be written is reported once and never stops the show."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.failed = False

    def write(self, engine, controls) -> None:
        if self.path is None:
            return
        try:
            write_json(self.path, stats_document(engine, controls))
            self.failed = False
        except OSError as e:
            if not self.failed:
                log.error("--stats %s cannot be written (%s); the engine goes on", self.path, e.strerror or e)
            self.failed = True


class FileEnd:
    """Decides when a finite input is over: delivered and analysed to its end.

    The analysis covers the end when less than a hop of the input is left unanalysed. Should the analysis stop
    advancing after the input has ended (it waits for a position that will never come, e.g. when the hop was
    shortened live after the analyser planned its next look past the end), the input also counts as over once
    :attr:`patience` seconds (plus two hops) pass without a new analysis.
    """

    def __init__(self, patience: float = 3.0) -> None:
        self.patience = patience
        self._position: int | None = None
        self._since = 0.0

    def done(self, engine, now: float) -> bool:
        if not engine.source.finished.is_set():
            return False
        hop = int(engine.store.get("classifier.hop") * engine.ring.rate)
        last = engine.analysis.peek()
        position = last.position if last is not None else None
        if position is not None and engine.ring.total - position < hop:
            return True
        if position != self._position or not self._since:
            self._position, self._since = position, now
            return False
        if now - self._since >= self.patience + 2 * engine.store.get("classifier.hop"):
            log.warning("the analysis stopped %.2f s before the end of %s; ending", (
                engine.ring.total - (position or 0)) / engine.ring.rate, engine.source.describe())
            return True
        return False
