"""Control from the stage: OSC in and out, OSCQuery, MIDI with learn, the flex-sensor glove, the A/B crossfader.

Every controller writes into the engine's one :class:`~performer.params.ParamStore`. :class:`Controls` builds the
controllers a preset (and the command line) asks for around a running engine and wires the commands they share:
preset recall (``/preset/load NAME [SECONDS]``: a morph time) and save, MIDI learn, glove input, status queries,
and the crossfader between two presets (:mod:`performer.presets.crossfader`, driven by its parameters).

Preset commands name presets, never paths: a name is looked up in the user's preset folder, then the shipped
presets, and saved only into the user's folder (:class:`~performer.presets.PresetFolders`). Recalls and saves run
one at a time on a worker thread, so the OSC thread answers the next message at once; each one's outcome goes back
to its sender (``/preset/loaded``, ``/preset/saved`` or ``/performer/error <address> <message>``, while the reply
budget lasts). A failure is counted in ``preset_errors`` and logged in one line at most once a second with the
count so far, so a client repeating a bad command cannot flood the log.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.control.commands import CLASSES_ADDRESS, COMMANDS, TABLE
from performer.control.osc import ERROR_ADDRESS, Handler
from performer.errors import ControlError, PerformerError, PresetError
from performer.tempo.events import send_beats
from performer.throttle import Budget, KindLog

log = logging.getLogger(__name__)

@dataclass
class ControlOptions:
    osc_host: str = "127.0.0.1"
    osc_port: int | None = 9000
    """None disables OSC in (and OSCQuery)."""
    osc_out: list[tuple[str, int]] = field(default_factory=list)
    oscquery_port: int | None = None
    """None: OSC port + 1; 0: off."""
    allow: list[str] = field(default_factory=list)
    midi: str | None = None
    """Input port name substring; overrides the preset's midi.input."""
    glove: str | None = None
    """Serial port; overrides the preset's glove.port."""
    preset_dir: Path | None = None
    """Your preset folder: /preset/save writes there, /preset/load looks there first (None: platformdirs' user
    config folder, see :func:`performer.resources.user_presets_dir`)."""


MAX_PENDING_PRESET_COMMANDS = 8
"""Preset commands waiting for the worker; more are refused (answered with an error) until it catches up."""
MAX_REPLY_CHARS = 1000
PRESET_REPLIES_PER_SECOND = 200.0
"""Error replies to failed preset commands a second (the OSC intake's budget for its own error replies)."""


class Controls:
    """The controllers around one engine; ``start()`` after the engine, ``stop()`` before it."""

    def __init__(self, engine: Any, options: ControlOptions) -> None:
        from performer.control.glove import Calibration, Glove
        from performer.presets import PresetFolders, load_preset
        from performer.presets.crossfader import Crossfader
        from performer.presets.sections import glove_section, osc_section

        self.folders = PresetFolders.default(options.preset_dir)
        self.preset_errors = 0
        """Preset commands that failed (bad name, bad file, full queue, a save that could not be written)."""
        self.refusals = KindLog(log, limit=MAX_REPLY_CHARS)
        """The one rate-limited, counted log line of failed preset commands."""
        self._preset_replies = Budget(PRESET_REPLIES_PER_SECOND, PRESET_REPLIES_PER_SECOND)
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preset-commands")
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.engine = engine
        self.store = engine.store
        preset = engine.preset
        osc_cfg = osc_section(preset.osc)
        self.osc = None
        self.sender = None
        self.oscquery = None
        self.midi = None
        self.serial_glove = None
        glove_cfg = glove_section(preset.glove)
        fingers = int(glove_cfg.fingers)
        calibration = None
        if glove_cfg.calibration is not None:
            try:
                calibration = Calibration.load(preset.resolve(glove_cfg.calibration))
            except ValueError as e:
                log.error("%s; using the uncalibrated 0..1023 range", e)
        self.glove = Glove(engine.extra_sources, fingers=fingers, calibration=calibration,
                           smoothing=float(glove_cfg.smoothing))
        self.options = options
        port = options.osc_port
        if port is not None:
            from performer.control.osc import OscSender, OscServer

            host = options.osc_host
            allow = options.allow or osc_cfg.allow
            self.osc = OscServer(self.store, host=host, port=port, allow=allow, handlers=self._handlers())
            destinations = [(d.host, int(d.port)) for d in osc_cfg.destinations] + options.osc_out
            self.sender = OscSender(self.store, destinations, analysis=self._analysis_messages,
                                    status=self._status_messages, announce=self._class_messages, allow=allow)
            engine.frame_listeners.append(self._on_frame)
            engine.error_listeners.append(self._engine_error)
            send_beats(getattr(engine, "tempo", None), self.sender.event)  # /performer/beat i, /performer/bar i
            self.thumbnail = int(osc_cfg.thumbnail)
            qport = (options.oscquery_port if options.oscquery_port is not None
                     else osc_cfg.oscquery_port if osc_cfg.oscquery_port is not None else self.osc.port + 1)
            if qport:
                from performer.control.oscquery import OscQueryServer

                try:
                    self.oscquery = OscQueryServer(self.store, osc_port=self.osc.port, host=host, port=qport,
                                                   commands=COMMANDS,
                                                   analysis=lambda: self._class_messages() + self._analysis_messages())
                except ControlError as e:
                    log.error("%s; going on without OSCQuery", e)
        midi_cfg = dict(preset.midi)
        if options.midi is not None:
            midi_cfg["input"] = options.midi
        if "input" in midi_cfg:
            from performer.control.midi import MidiController

            self.midi = MidiController(self.store, midi_cfg, on_preset=self._recall, on_learned=self._learned)
        glove_port = options.glove or glove_cfg.port
        if glove_port and glove_cfg.source == "serial":
            from performer.control.glove import SerialGlove

            self.serial_glove = SerialGlove(self.glove, glove_port, int(glove_cfg.baud))
        classes = list(getattr(getattr(engine, "classifier", None), "classes", ())) or None
        self.crossfader = Crossfader(self.store, self.folders.find, lambda p: load_preset(p, classes=classes),
                                     on_error=self._engine_error)

    # --- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        for part in (self.osc, self.sender, self.oscquery, self.midi, self.serial_glove):
            if part is not None:
                part.start()

    def stop(self) -> None:
        self._jobs.shutdown(wait=False, cancel_futures=True)
        for part in (self.crossfader, self.serial_glove, self.midi, self.oscquery, self.sender, self.osc):
            if part is not None:
                try:
                    part.stop()
                except Exception as e:  # the others are stopped whatever one of them raises
                    log.warning("stopping %s: %s", type(part).__name__, e)

    # --- commands ------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Handler]:
        return TABLE.bind(self)

    def _submit(self, address: str, job: Callable[[], str], reply: Any, done: str) -> None:
        """Run a preset command on the worker; its sender hears ``done <result>`` or the error."""
        with self._pending_lock:
            full = self._pending >= MAX_PENDING_PRESET_COMMANDS
            if full:
                self.preset_errors += 1
            else:
                self._pending += 1
        if full:  # the OSC intake counts it too and logs it in its own rate-limited line
            raise ControlError(f"{address}: {MAX_PENDING_PRESET_COMMANDS} preset commands are still waiting; "
                               "this one was dropped, send it again")

        def run() -> None:
            try:
                result = job()
            except Exception as e:  # PerformerError, OSError, and whatever else a file could provoke
                expected = isinstance(e, (PerformerError, OSError))
                message = _one_line(e) if expected else f"{type(e).__name__}: {_one_line(e)}"
                self._preset_failed(f"{address} failed: {message}", exc_info=not expected)
                if reply is not None and self._preset_replies.take():
                    reply(ERROR_ADDRESS, [address, message])
            else:
                if reply is not None:
                    reply(done, [result])
            finally:
                with self._pending_lock:
                    self._pending -= 1

        try:
            self._jobs.submit(run)
        except RuntimeError:  # stopped
            with self._pending_lock:
                self._pending -= 1
            raise ControlError(f"{address}: the server is stopping") from None

    def _preset_failed(self, message: str, exc_info: bool = False) -> None:
        """Count a failed preset command and log it: one line, at most once a second, with the count so far."""
        with self._pending_lock:
            self.preset_errors += 1
            count = self.preset_errors
        self.refusals("preset_error", message, count, logging.ERROR, exc_info=exc_info)

    def _recall(self, name: str) -> None:
        """Queue a recall by preset name; ``next`` and ``prev`` step through the current preset's folder
        (what a MIDI note or program change naming a preset does). Failures are logged."""
        try:
            if name in ("next", "prev"):
                delta = 1 if name == "next" else -1
                self._submit(f"/preset/{name}", lambda: self.recall_path(self._neighbour(delta)), None, "")
            else:
                self._submit("/preset/load", lambda: self.recall(name), None, "")
        except ControlError as e:  # the queue is full (counted by _submit); no OSC intake logs this one
            self.refusals("preset_error", f"preset {name[:80]!r} not recalled: {e}", self.preset_errors,
                          logging.ERROR)

    def recall(self, name: str, morph: float | None = None) -> str:
        """Recall the preset called ``name`` (your folder, else the shipped ones) now, over ``morph`` s; its name."""
        return self.recall_path(self.folders.find(name), morph)

    def recall_path(self, path: Path, morph: float | None = None) -> str:
        """Recall a preset file, now; PresetError with every problem (and the current state kept) if it has any."""
        from performer.presets import load_preset

        load_preset(path)  # for the reasons a bad preset is refused; the engine reads the checked file again
        if not (self.engine.load_preset(path) if morph is None else self.engine.load_preset(path, morph=morph)):
            raise ControlError(f"preset {path} was refused by the engine (see the server log); "
                               f"keeping {self.engine.preset.name!r}")
        return str(self.engine.preset.name)

    def _neighbour(self, delta: int) -> Path:
        current = self.engine.preset.path
        folder = current.parent if current is not None else self.folders.shipped
        paths = sorted(p for p in folder.glob("*.toml") if p.is_file())
        if not paths:
            raise ControlError(f"no presets in {folder}")
        try:
            i = [p.resolve() for p in paths].index(current.resolve()) if current else -1
        except ValueError:
            i = -1
        return paths[(i + delta) % len(paths)]

    def save_preset(self, name: str, *, overwrite: bool = False) -> Path:
        """Save the current state as preset ``name`` in your preset folder; replaces one only with ``overwrite``."""
        from performer.presets import preset_from_store, save_preset

        try:
            path = self.folders.save_path(name, overwrite=overwrite)
        except PresetError as e:
            hint = " (send /preset/save/overwrite NAME)" if "overwrite" in str(e) else ""
            raise PresetError(f"{e}{hint}") from None
        preset = preset_from_store(self.store, path.stem, base=self.engine.preset)
        if self.midi is not None:
            preset.midi = {**preset.midi, "cc": [m.to_dict() for m in self.midi.maps]}
        save_preset(preset, path, overwrite=overwrite)
        log.info("preset saved to %s", path)
        return path

    def _learned(self, maps: list[dict[str, Any]]) -> None:
        """Keep learned MIDI mappings in the live preset (saved with /preset/save)."""
        self.engine.preset.midi = {**self.engine.preset.midi, "cc": maps}
        if self.sender is not None:
            m = maps[-1]
            self.sender.event("/midi/learned", [m["param"], m["cc"], m.get("channel", 0)])

    # --- OSC out -------------------------------------------------------------------------
    def _class_messages(self) -> list[tuple[str, list[Any]]]:
        """``/performer/classes`` and the class names, in the order ``/performer/probs`` uses (the latest
        analysis's; the classifier's before the first one)."""
        a = self.engine.analysis.peek()
        names = a.classes if a is not None else getattr(getattr(self.engine, "classifier", None), "classes", ())
        return [(CLASSES_ADDRESS, [str(c) for c in names])] if names else []

    def _analysis_messages(self) -> list[tuple[str, list[Any]]]:
        a = self.engine.analysis.peek()
        out: list[tuple[str, list[Any]]] = []
        if a is not None:
            out += [("/performer/class", [a.top_name, int(a.top), float(a.confidence)]),
                    ("/performer/probs", [float(p) for p in a.probs]),
                    ("/performer/level", [float(a.level_db)]), ("/performer/peak", [float(a.peak_db)]),
                    ("/performer/onset", [float(a.onset)]), ("/performer/centroid", [float(a.centroid)]),
                    ("/performer/bands", [float(v) for v in (*a.low_mid_high, *a.bands)])]
        tempo = getattr(self.engine, "tempo", None)
        if tempo is not None:
            t = tempo.values()
            if t.get("bpm"):
                out += [("/performer/tempo/bpm", [float(t["bpm"])]),
                        ("/performer/tempo/beat_phase", [float(t["beat_phase"])]),
                        ("/performer/tempo/bar_phase", [float(t["bar_phase"])])]
        if self.glove.samples:
            values = self.glove.values()
            out.append(("/performer/glove/fist", [float(values.get("glove.fist", 0.0))]))
            out.append(("/performer/glove", [float(values[f"glove.{i}"])
                                             for i in range(1, self.glove.fingers + 1) if f"glove.{i}" in values]))
            out.append(("/performer/glove/raw", [float(r) for r in self.glove.raw]))
        return out

    def _status_messages(self) -> list[tuple[str, list[Any]]]:
        s = self.engine.status()
        dropped_frames = sum(o["dropped"] for o in s["outputs"].values())
        return [("/performer/status/fps", [float(s["fps"])]),
                ("/performer/status/classify_ms", [float(s["classify_ms"])]),
                ("/performer/status/latency_ms", [float(s["analysis_latency_ms"])]),
                ("/performer/status/drops",
                 [int(s["dropped_audio_blocks"]), int(s["skipped_hops"]), int(dropped_frames)]),
                ("/performer/status/input_lost", [bool(s["input_lost"])]),
                ("/performer/status/osc_errors",
                 [int(sum(self.osc.errors.values())) + self.preset_errors if self.osc else self.preset_errors]),
                ("/performer/status/glove", [int(self.glove.samples), int(self.glove.bad_lines)])]

    def _engine_error(self, name: str, value: Any, why: str) -> None:
        """A live change the engine set back (a network without weights, a bad layer string): told over OSC."""
        if self.sender is not None:
            address = self.store.registry.get(name).address
            message = f"{name} {str(value)[:60]!r} did not take effect: {why}"
            self.sender.event(ERROR_ADDRESS, [address, message[:300]])

    def _on_frame(self, frame, info) -> None:
        if self.sender is None:
            return
        outputs = ",".join(o.name for o in self.engine.outputs)
        self.sender.event("/performer/frame", [int(info.number), float(info.time), outputs])
        if self.thumbnail and info.number % 5 == 0:
            from PIL import Image

            im = Image.fromarray(frame)
            im.thumbnail((self.thumbnail, self.thumbnail))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=70)
            self.sender.event("/performer/thumbnail", [buf.getvalue()])


def _one_line(e: BaseException) -> str:
    """An error as one line for an OSC reply: a preset's problems joined, cut to MAX_REPLY_CHARS."""
    problems = getattr(e, "problems", None)
    if problems and "\n" in str(e):  # load_preset's "preset X has N problem(s):" and one line each
        head = str(e).splitlines()[0].rstrip(":")
        text = f"{head}: " + "; ".join(str(p) for p in problems)
    else:
        text = " ".join(str(e).split())
    return text if len(text) <= MAX_REPLY_CHARS else text[:MAX_REPLY_CHARS - 3] + "..."
