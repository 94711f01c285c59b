"""Control from the stage: OSC in and out, OSCQuery, MIDI with learn, the flex-sensor glove.

Every controller writes into the engine's one :class:`~performer.params.ParamStore`.
:class:`Controls` builds the controllers a preset (and the command line) asks
for around a running engine and wires the commands they share: preset
recall and save, MIDI learn, glove input, status queries.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.errors import ControlError, PerformerError

log = logging.getLogger(__name__)

# (address, OSC type tags, description) of the commands, for OSCQuery and the docs.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("/preset/load", "s", "Recall a preset by shipped name or file path."),
    ("/preset/save", "s", "Save the current state as a preset (a name saves into the presets folder)."),
    ("/preset/next", "", "Recall the next preset in the current preset's folder."),
    ("/preset/prev", "", "Recall the previous preset in the current preset's folder."),
    ("/midi/learn", "s", "Arm MIDI learn for a parameter (name or address); the next control moved is mapped."),
    ("/midi/learn/cancel", "", "Cancel MIDI learn."),
    ("/glove/flex", "fffff", "Raw flex-sensor readings, one per finger (an OSC glove)."),
    ("/performer/status", "", "Ask for the engine status; answered to the sender."),
    ("/osc/destination/add", "si", "Send OSC out to this host and port too."),
    ("/osc/destination/remove", "si", "Stop sending OSC out to this host and port."),
)


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


class Controls:
    """The controllers around one engine; ``start()`` after the engine, ``stop()`` before it."""

    def __init__(self, engine: Any, options: ControlOptions) -> None:
        from performer.control.glove import Calibration, Glove

        self.engine = engine
        self.store = engine.store
        preset = engine.preset
        osc_cfg = dict(preset.osc)
        self.osc = None
        self.sender = None
        self.oscquery = None
        self.midi = None
        self.serial_glove = None
        glove_cfg = dict(preset.glove)
        fingers = int(glove_cfg.get("fingers", 5))
        calibration = None
        if "calibration" in glove_cfg:
            try:
                calibration = Calibration.load(preset.resolve(glove_cfg["calibration"]))
            except ValueError as e:
                log.error("%s; using the uncalibrated 0..1023 range", e)
        self.glove = Glove(engine.extra_sources, fingers=fingers, calibration=calibration,
                           smoothing=float(glove_cfg.get("smoothing", 0.05)))
        self.options = options
        port = options.osc_port
        if port is not None:
            from performer.control.osc import OscSender, OscServer

            host = options.osc_host
            self.osc = OscServer(self.store, host=host, port=port, allow=options.allow or osc_cfg.get("allow", []),
                                 handlers=self._handlers())
            destinations = [(d["host"], int(d["port"])) for d in osc_cfg.get("destinations", [])] + options.osc_out
            self.sender = OscSender(self.store, destinations, analysis=self._analysis_messages,
                                    status=self._status_messages)
            engine.frame_listeners.append(self._on_frame)
            self.thumbnail = int(osc_cfg.get("thumbnail", 0))
            qport = (options.oscquery_port if options.oscquery_port is not None
                     else osc_cfg.get("oscquery_port", self.osc.port + 1))
            if qport:
                from performer.control.oscquery import OscQueryServer

                try:
                    self.oscquery = OscQueryServer(self.store, osc_port=self.osc.port, host=host, port=qport,
                                                   commands=COMMANDS)
                except ControlError as e:
                    log.error("%s; going on without OSCQuery", e)
        midi_cfg = dict(preset.midi)
        if options.midi is not None:
            midi_cfg["input"] = options.midi
        if "input" in midi_cfg:
            from performer.control.midi import MidiController

            self.midi = MidiController(self.store, midi_cfg, on_preset=self._recall, on_learned=self._learned)
        glove_port = options.glove or glove_cfg.get("port")
        if glove_port and glove_cfg.get("source", "serial") == "serial":
            from performer.control.glove import SerialGlove

            self.serial_glove = SerialGlove(self.glove, glove_port, int(glove_cfg.get("baud", 115200)))

    # --- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        for part in (self.osc, self.sender, self.oscquery, self.midi, self.serial_glove):
            if part is not None:
                part.start()

    def stop(self) -> None:
        for part in (self.serial_glove, self.midi, self.oscquery, self.sender, self.osc):
            if part is not None:
                try:
                    part.stop()
                except Exception as e:
                    log.warning("stopping %s: %s", type(part).__name__, e)

    # --- commands ------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Any]:
        def need(args, types: str, address: str) -> None:
            ok = len(args) == len(types) and all(
                (t == "s" and isinstance(a, str)) or (t == "i" and isinstance(a, int) and not isinstance(a, bool))
                for t, a in zip(types, args))
            if not ok:
                words = {"s": "a string", "i": "an int"}
                raise ControlError(f"{address} takes {', '.join(words[t] for t in types) or 'no arguments'}, "
                                   f"got {args!r}")

        def load(args, reply):
            need(args, "s", "/preset/load")
            self._recall(args[0], reply)

        def save(args, reply):
            need(args, "s", "/preset/save")
            path = self.save_preset(args[0])
            reply("/preset/saved", [str(path)])

        def step(delta):
            def handler(args, reply):
                self._recall(str(self._neighbour(delta)), reply)
            return handler

        def learn(args, reply):
            need(args, "s", "/midi/learn")
            if self.midi is None:
                raise ControlError("MIDI learn needs a MIDI input: "
                                   "start with --midi NAME or set midi.input in the preset")
            self.midi.arm(args[0])

        def cancel(args, reply):
            if self.midi is not None:
                self.midi.cancel()

        def flex(args, reply):
            if len(args) != self.glove.fingers or not all(
                    isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
                raise ControlError(f"/glove/flex takes {self.glove.fingers} numbers (one per finger), got {args!r}")
            self.glove.feed([float(a) for a in args])

        def status(args, reply):
            for address, values in self._status_messages():
                reply(address, values)

        def dest(add: bool):
            def handler(args, reply):
                need(args, "si", "/osc/destination/add" if add else "/osc/destination/remove")
                assert self.sender is not None
                (self.sender.add_destination if add else self.sender.remove_destination)(args[0], args[1])
            return handler

        return {"/preset/load": load, "/preset/save": save, "/preset/next": step(1), "/preset/prev": step(-1),
                "/midi/learn": learn, "/midi/learn/cancel": cancel, "/glove/flex": flex,
                "/performer/status": status, "/osc/destination/add": dest(True), "/osc/destination/remove": dest(False)}

    def _recall(self, name: str, reply=None) -> None:
        """Recall a preset by name or path; ``next`` and ``prev`` step through the current preset's folder."""
        from performer.presets import find_preset

        try:
            path = self._neighbour(1 if name == "next" else -1) if name in ("next", "prev") else find_preset(name)
        except PerformerError as e:
            raise ControlError(str(e)) from None
        if not self.engine.load_preset(path):
            raise ControlError(f"preset {name!r} was not loaded (see the server log); the current state is kept")
        if reply is not None:
            reply("/preset/loaded", [self.engine.preset.name])

    def _neighbour(self, delta: int) -> Path:
        from performer.resources import presets_dir

        current = self.engine.preset.path
        folder = current.parent if current is not None else presets_dir()
        paths = sorted(folder.glob("*.toml"))
        if not paths:
            raise ControlError(f"no presets in {folder}")
        try:
            i = [p.resolve() for p in paths].index(current.resolve()) if current else -1
        except ValueError:
            i = -1
        return paths[(i + delta) % len(paths)]

    def save_preset(self, name_or_path: str) -> Path:
        from performer.presets import preset_from_store, save_preset
        from performer.resources import presets_dir

        path = Path(name_or_path)
        if path.suffix != ".toml":
            path = presets_dir() / f"{name_or_path}.toml"
        preset = preset_from_store(self.store, path.stem, base=self.engine.preset)
        if self.midi is not None:
            preset.midi = {**preset.midi, "cc": [m.to_dict() for m in self.midi.maps]}
        save_preset(preset, path)
        log.info("preset saved to %s", path)
        return path

    def _learned(self, maps: list[dict[str, Any]]) -> None:
        """Keep learned MIDI mappings in the live preset (saved with /preset/save)."""
        self.engine.preset.midi = {**self.engine.preset.midi, "cc": maps}
        if self.sender is not None:
            m = maps[-1]
            self.sender.event("/midi/learned", [m["param"], m["cc"], m.get("channel", 0)])

    # --- OSC out -------------------------------------------------------------------------
    def _analysis_messages(self) -> list[tuple[str, list[Any]]]:
        a = self.engine.analysis.peek()
        out: list[tuple[str, list[Any]]] = []
        if a is not None:
            out += [("/performer/class", [a.top_name, int(a.top), float(a.confidence)]),
                    ("/performer/probs", [float(p) for p in a.probs]),
                    ("/performer/level", [float(a.level_db)]), ("/performer/peak", [float(a.peak_db)]),
                    ("/performer/onset", [float(a.onset)]), ("/performer/centroid", [float(a.centroid)])]
        if self.glove.samples:
            out.append(("/performer/glove/fist", [float(self.engine.extra_sources.get("glove.fist", 0.0))]))
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
                ("/performer/status/osc_errors", [int(sum(self.osc.errors.values())) if self.osc else 0])]

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
