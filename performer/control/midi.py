"""MIDI control through mido and python-rtmidi.

Input ports are chosen by a name substring and opened as they appear (hot plug); they are read in a process of
their own by the :class:`~performer.midi.scanner.InputScanner`, which stamps every message with the time it
arrived (a note mapped to ``tempo.tap`` is a beat then, however late the engine's load lets it be applied).
Control changes drive parameters through the mappings in the preset's ``[[midi.cc]]`` (7-bit, or 14-bit as an
MSB/LSB pair ``cc`` / ``cc + 32``), with soft takeover: a mapped fader only takes hold of its parameter once it
reaches the parameter's current value, so nothing jumps. MIDI learn arms a parameter; the next control moved is
mapped to it. Notes and program changes recall presets. Parameter changes from elsewhere are echoed as CCs on
the output port for controllers with LEDs or motor faders.

The MIDI system is chosen by :mod:`~performer.midi.backend`: the ALSA
sequencer, else JACK MIDI when a JACK server runs, or what ``MIDO_BACKEND``
names (e.g. ``mido.backends.rtmidi/UNIX_JACK``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from performer.errors import ControlError
from performer.params import Change, ParamStore

if TYPE_CHECKING:
    from performer.midi.scanner import InputScanner

log = logging.getLogger(__name__)

PICKUP = 2.0 / 127.0
"""How close (normalised) a fader must come to the parameter's value to take it over."""


@dataclass
class CCMap:
    param: str
    cc: int
    channel: int | None = None
    """1..16, or None for any channel."""
    bits: int = 7
    takeover: bool = True
    picked_up: bool = False
    last: float | None = None
    msb: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CCMap:
        return cls(d["param"], int(d["cc"]), d.get("channel"), int(d.get("bits", 7)), bool(d.get("takeover", True)))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"param": self.param, "cc": self.cc, "bits": self.bits, "takeover": self.takeover}
        if self.channel is not None:
            d["channel"] = self.channel
        return d

    def matches(self, channel: int, control: int) -> bool:
        if self.channel is not None and self.channel != channel:
            return False
        return control == self.cc or (self.bits == 14 and control == self.cc + 32)


@dataclass
class MidiStats:
    messages: int = 0
    applied: int = 0
    waiting_for_pickup: int = 0
    unmapped: int = 0
    errors: int = 0
    ports: list[str] = field(default_factory=list)
    backend: str = ""
    """The MIDI system in use (e.g. "ALSA sequencer"); empty while there is none."""


class MidiController:
    """Maps MIDI input onto the store; see the module docstring."""

    def __init__(self, store: ParamStore, config: dict[str, Any], *,
                 on_preset: Callable[[str], None] | None = None,
                 on_learned: Callable[[list[dict[str, Any]]], None] | None = None,
                 poll: float = 1.0) -> None:
        from performer.presets.sections import midi_section

        self.store = store
        section = midi_section(config)
        self.input_match = section.input or ""
        self.output_match = section.output
        self.feedback = bool(section.feedback)
        self.maps = [CCMap(c.param, int(c.cc), c.channel, int(c.bits), bool(c.takeover)) for c in section.cc]
        self.notes = {(n.channel, int(n.note)): n for n in section.notes}
        self.programs = {int(p.program): p.preset for p in section.programs}
        self.on_preset = on_preset
        self.on_learned = on_learned
        self.poll = poll
        self.stats = MidiStats()
        self.armed: str | None = None
        self._lock = threading.Lock()
        self._inputs: InputScanner | None = None
        self._output = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = store.subscribe(self._on_change)
        self._reported_backend = False

    # --- ports ----------------------------------------------------------------------
    def start(self) -> None:
        from performer.midi.scanner import InputScanner
        from performer.tempo.midi_child import ReaderProcess

        self._inputs = InputScanner(self.input_match, self.handle_from, what="MIDI input",
                                    client_name="performer-midi", scan_every=self.poll, exclude=self._is_ours,
                                    process=ReaderProcess, on_ports=self._ports, on_bad=self._bad, logger=log)
        self._inputs.start()
        self._thread = threading.Thread(target=self._run, name="midi-ports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        self._stop.set()
        if self._inputs is not None:
            self._inputs.stop()
        if self._thread is not None:
            self._thread.join(timeout=1.5)
        with self._lock:
            output, self._output = self._output, None
        if output is not None:
            from performer.midi.ports import midi_errors

            try:
                output.close()
            except midi_errors() as e:  # the port went away first: nothing left to close
                log.debug("MIDI feedback output: closing: %s", e)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            self._stop.wait(self.poll)

    def scan(self) -> None:
        """Open the feedback output when it appears; report the MIDI system and the inputs the reader has open.

        Inputs are opened and read by the :class:`~performer.midi.scanner.InputScanner` in a process of its own
        (:mod:`~performer.tempo.midi_child`; on a thread here if it cannot start): rtmidi's queue polled (never
        Python on the MIDI driver's thread), every message stamped on arrival.
        """
        import mido

        from performer.midi.backend import choose_backend
        from performer.midi.ports import matches, midi_errors

        ready = self._inputs.ready() if self._inputs is not None else None
        if ready is not None:
            self.stats.ports = ready
        try:
            backend = choose_backend()  # before rtmidi is asked: a missing MIDI system is named, not spilled
            out_names = mido.get_output_names() if self.output_match and self._output is None else []
        except midi_errors() as e:  # no MIDI system (e.g. JACK not running): report once, keep trying
            if not self._reported_backend:
                log.error("%s; retrying every %.0f s", e if isinstance(e, ControlError) else
                          f"MIDI is unavailable ({e})", self.poll)
                self._reported_backend = True
            self.stats.backend = ""
            return
        if self._reported_backend or backend.description != self.stats.backend:
            log.info("MIDI through %s", backend.description)
        self._reported_backend = False
        self.stats.backend = backend.description
        if self.output_match and self._output is None:
            for name in out_names:
                if matches(self.output_match, name):
                    try:
                        self._output = mido.open_output(name)
                        log.info("MIDI feedback output open: %s", name)
                    except midi_errors() as e:
                        log.error("MIDI output %r cannot be opened: %s", name, e)
                    break

    def _is_ours(self, name: str) -> bool:
        return self._output is not None and name == getattr(self._output, "name", None)

    # --- messages -------------------------------------------------------------------
    def _ports(self, ports: list[str], error: str) -> None:
        self.stats.ports = ports

    def _bad(self) -> None:
        self.stats.errors += 1

    def handle_from(self, port: str, msg: Any, t: float) -> None:
        """A message from input ``port`` that arrived at ``t`` (what the scanner hands over)."""
        self.handle(msg, t)

    def handle(self, msg: Any, t: float | None = None) -> None:
        """Handle one mido message that arrived at ``t`` (monotonic seconds; None: now); must not raise.

        What it sets off is applied as arriving at ``t`` (:mod:`~performer.tempo.stamps`): a tap is a beat then.
        """
        from performer.tempo.stamps import arrived

        with arrived(t):
            self._handle(msg)

    def _handle(self, msg: Any) -> None:
        try:
            self.stats.messages += 1
            if msg.type == "control_change":
                self._control(msg.channel + 1, msg.control, msg.value)
            elif msg.type == "note_on" and msg.velocity > 0:
                spec = self.notes.get((msg.channel + 1, msg.note)) or self.notes.get((None, msg.note))
                if spec is None:
                    self.stats.unmapped += 1
                elif spec.preset is not None and self.on_preset:
                    self.on_preset(spec.preset)
                elif spec.param is not None:
                    if self.store.registry.get(spec.param).type == "trigger":
                        self.store.fire(spec.param, source="midi")
                    else:
                        self.store.set_normalized(spec.param, 1.0, source="midi")
            elif msg.type == "program_change":
                preset = self.programs.get(msg.program)
                if preset and self.on_preset:
                    self.on_preset(preset)
                else:
                    self.stats.unmapped += 1
        except Exception:  # one message must not stop the reading: counted, and its traceback logged
            self.stats.errors += 1
            log.exception("MIDI message %s could not be applied", msg)

    def _control(self, channel: int, control: int, value: int) -> None:
        if self.armed is not None:
            self._learn(channel, control)
            return
        hit = False
        for m in self.maps:
            if not m.matches(channel, control):
                continue
            hit = True
            if m.bits == 14:
                if control == m.cc:
                    m.msb = value
                    continue  # wait for the LSB, which completes the value
                x = ((m.msb << 7) | value) / 16383.0
            else:
                x = value / 127.0
            self._apply(m, x)
        if not hit:
            self.stats.unmapped += 1

    def _apply(self, m: CCMap, x: float) -> None:
        p = self.store.registry.get(m.param)
        if p.type == "trigger":
            if x >= 0.5 and (m.last is None or m.last < 0.5):
                self.store.fire(m.param, source="midi")
            m.last = x
            return
        if m.takeover and not m.picked_up:
            target = self.store.get_normalized(m.param)
            crossed = m.last is not None and (m.last - target) * (x - target) <= 0
            m.last = x
            if abs(x - target) > PICKUP and not crossed:
                self.stats.waiting_for_pickup += 1
                return
            m.picked_up = True
        m.last = x
        self.store.set_normalized(m.param, x, source="midi")
        self.stats.applied += 1

    # --- learn ----------------------------------------------------------------------
    def arm(self, param: str) -> None:
        """The next control moved is mapped to ``param`` (a name or OSC address)."""
        reg = self.store.registry
        name = reg.by_address(param).name if param.startswith("/") else reg.get(param).name
        self.armed = name
        log.info("MIDI learn armed for %s: move a control", name)

    def cancel(self) -> None:
        if self.armed:
            log.info("MIDI learn for %s cancelled", self.armed)
        self.armed = None

    def _learn(self, channel: int, control: int) -> None:
        param, self.armed = self.armed, None
        assert param is not None
        self.maps = [m for m in self.maps if m.param != param and not m.matches(channel, control)]
        self.maps.append(CCMap(param, control, channel, 7, True, picked_up=False))
        log.info("MIDI learn: CC %d on channel %d now drives %s", control, channel, param)
        if self.on_learned:
            self.on_learned([m.to_dict() for m in self.maps])

    # --- feedback -------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        if change.source == "midi":
            return
        for m in self.maps:
            if m.param == change.name:
                m.picked_up = False  # the parameter moved elsewhere: the fader must pick it up again
        out = self._output
        if out is None or not self.feedback:
            return
        p = self.store.registry.get(change.name)
        if p.type == "trigger" or p.type == "string":
            return
        import mido

        from performer.midi.ports import midi_errors

        x = p.normalize(self.store.target(change.name))
        for m in self.maps:
            if m.param != change.name:
                continue
            ch = (m.channel or 1) - 1
            try:
                if m.bits == 14:
                    v = int(round(x * 16383))
                    out.send(mido.Message("control_change", channel=ch, control=m.cc, value=v >> 7))
                    out.send(mido.Message("control_change", channel=ch, control=m.cc + 32, value=v & 127))
                else:
                    out.send(mido.Message("control_change", channel=ch, control=m.cc, value=int(round(x * 127))))
            except midi_errors() as e:  # a port gone, a mapping's channel out of range: counted
                self.stats.errors += 1
                log.debug("MIDI feedback failed: %s", e)
