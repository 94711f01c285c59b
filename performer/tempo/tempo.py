"""The tempo the show plays to: one source chosen by ``tempo.source``, beat and bar phase as modulation sources.

:class:`Tempo` holds every source (:class:`~performer.tempo.listener.AudioBeat`
over the engine's ring, :class:`~performer.tempo.tap.TapTempo`, the MIDI clock
and Ableton Link) and runs one thread that, a hundred times a second, takes in
the new audio and writes ``beat_phase``, ``bar_phase`` and ``bpm`` into the
engine's modulation sources (``engine.extra_sources``). It listens to the store
for ``tempo.*``: taps, a hand-set tempo, the downbeat, a new source (the MIDI
input and the Link peer run only while chosen; a source that cannot run here is
named in one line and ``tempo.source`` is set back). :meth:`Tempo.next_boundary`
and :meth:`Tempo.quantize_delay` tell the engine how long to hold a recall, a
restart or a class change so that it lands on the next beat or bar.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from performer.audio.ring import AudioRing
from performer.engine_like import EngineLike
from performer.errors import ControlError
from performer.params import Change, ParamStore
from performer.runtime import LoopStats, Worker
from performer.tempo.grid import BEATS_PER_BAR, BPM_MAX, BPM_MIN, ON_TIME, BeatGrid, Boundary
from performer.tempo.midi_clock import MidiClock, MidiClockInput
from performer.tempo.stamps import arrival
from performer.tempo.tap import TapTempo

log = logging.getLogger(__name__)

SOURCES = ("audio", "tap", "midi", "link")
TICK = 0.01
"""Seconds between two updates of the modulation sources."""
SOURCE_NAMES = ("beat_phase", "bar_phase", "bpm")


@dataclass
class TempoStats(LoopStats):
    """The tempo thread's counts (``errors``: ticks that failed, logged; the thread goes on)."""

    ticks: int = 0
    source_refused: int = 0
    """Times a ``tempo.source`` could not be used here and was set back."""


class Tempo:
    """The show's beat; ``start()`` after the audio source, ``stop()`` before the ring closes."""

    def __init__(self, store: ParamStore, sources: MutableMapping[str, float] | None = None, *,
                 ring: AudioRing | None = None, clock: Callable[[], float] = time.monotonic,
                 midi_poll: float = 1.0) -> None:
        self.store = store
        self.sources: MutableMapping[str, float] = sources if sources is not None else {}
        self.clock = clock
        self.ring = ring
        self.audio = None
        if ring is not None:
            from performer.tempo.listener import AudioBeat

            self.audio = AudioBeat(ring)
        self.taps = TapTempo()
        self.taps.set_bpm(float(store.get("tempo.bpm")), clock())
        self.midi = MidiClock()
        self.midi_poll = midi_poll
        self.midi_input: MidiClockInput | None = None
        self.link: Any = None
        self.stats = TempoStats()
        self._bar_shift = dict.fromkeys(SOURCES, 0.0)
        """Beats added to each source's count by ``tempo.downbeat`` (the audio tracker keeps its own)."""
        self._factor = dict.fromkeys(SOURCES, 1.0)
        """Each source's tempo multiplied by ×2 / ÷2 (:meth:`double`, :meth:`halve`)."""
        self.lead: Callable[[], float] | None = None
        """The pipeline's delay, seconds (:func:`attach` measures the engine's): quantised changes go this early."""
        self.beat_listeners: list[Callable[[int, int], None]] = []
        """Called from the tempo thread as each beat begins: ``(beat in the bar 0..3, bar number)``."""
        self._last_beat: int | None = None
        self._source = "audio"
        self._lock = threading.RLock()
        self._worker = Worker("tempo", self._run, timeout=1.5)
        self._unsubscribe: Callable[[], None] | None = None
        self.sources.update(dict.fromkeys(SOURCE_NAMES, 0.0))

    # --- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._on_change)
        self._select(str(self.store.get("tempo.source")), revert_to=self._source)
        self._worker.start()

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._worker.stop()
        with self._lock:
            self._stop_midi()
            if self.link is not None:
                self.link.close()

    def _run(self) -> None:
        while self._worker.running:
            try:
                self.tick(self.clock())
            except Exception as e:  # the beat must not stop the show
                if self.stats.failed(str(e)):
                    log.exception("tempo update failed; going on")
            self._worker.wait(TICK)

    def tick(self, now: float) -> None:
        """Take in new audio, write the modulation sources for ``now`` and tell the beat listeners of a new beat."""
        if self.audio is not None:
            self.audio.poll(now)
        self.stats.ticks += 1
        sample = getattr(self.lead, "sample", None)
        if sample is not None:
            sample()  # the engine's frame times, for the pipeline's delay
        self.sources.update(self.values(now))
        g = self.grid(now)
        if g is None or not self.running():
            self._last_beat = None
            return
        beat = math.floor(g.beat_at(now) + ON_TIME)
        last, self._last_beat = self._last_beat, beat
        if last is None or beat == last or beat < last - BEATS_PER_BAR or beat > last + BEATS_PER_BAR:
            return  # the first tick, or a jump (a new tempo, a downbeat set): no beat played
        for fn in list(self.beat_listeners):
            fn(beat % BEATS_PER_BAR, beat // BEATS_PER_BAR)

    # --- reading ---------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return self._source

    def grid(self, now: float | None = None) -> BeatGrid | None:
        """The chosen source's beat grid with ``tempo.latency`` and the downbeat applied; None while it has none."""
        now = self.clock() if now is None else now
        src = self._source
        g: BeatGrid | None
        if src == "audio":
            g = self.audio.grid if self.audio is not None else None
        elif src == "tap":
            g = self.taps.grid
        elif src == "midi":
            g = self.midi.grid(now)
        else:
            link = self.link
            g = link.grid() if link is not None else None
        if g is None:
            return None
        shift = (float(self.store.get("tempo.nudge")) - float(self.store.get("tempo.latency"))) / 1000.0
        f = self._factor[src]
        # ×2 / ÷2 scale the count about the source's own beat 0, so the bar lines stay where the source has them
        return BeatGrid(g.time + shift, g.beat * f + self._bar_shift[src], g.bpm * f)

    def double(self) -> None:
        """The beat twice as fast (``tempo.double``): tap tempo's ``tempo.bpm`` and a Link session's tempo
        double, the other sources' count runs twice as fast."""
        self._scale(2.0)

    def halve(self) -> None:
        """The beat half as fast (``tempo.halve``)."""
        self._scale(0.5)

    def _scale(self, f: float) -> None:
        now = self.clock()
        g = self.grid(now)
        if g is None:
            return
        if not BPM_MIN <= g.bpm * f <= BPM_MAX:
            raise ValueError(f"tempo ×{f:g} would be {g.bpm * f:.1f} BPM; allowed: {BPM_MIN:g}..{BPM_MAX:g} BPM")
        src = self._source
        if src == "tap":
            self.taps.set_bpm(g.bpm * f, now)
            self.store.set("tempo.bpm", round(g.bpm * f, 2), source="tap")
            return
        if src == "link" and self.link is not None:  # Link leads from here too: the whole session changes
            self.link.set_tempo(g.bpm * f / self._factor[src])
            return
        self._factor[src] *= f
        self._bar_shift[src] = 0.0  # the bar lines: where the source puts them (tempo.downbeat moves them again)


    def bpm(self) -> float:
        """The chosen source's tempo now, 0 while it has none (what a morph in beats or bars is timed with)."""
        g = self.grid()
        return g.bpm if g is not None else 0.0

    def running(self) -> bool:
        """Whether the beat moves: False before any tempo is known and while a MIDI clock's transport is stopped."""
        if self._source == "midi":
            return self.midi.running()
        if self._source == "link" and self.link is not None and bool(self.store.get("tempo.link_start_stop")):
            return self.link.playing()
        return self.grid() is not None

    def values(self, now: float | None = None) -> dict[str, float]:
        """``beat_phase``, ``bar_phase`` (0..1) and ``bpm`` at ``now`` (all 0 while no tempo is known)."""
        now = self.clock() if now is None else now
        g = self.grid(now)
        if g is None:
            return dict.fromkeys(SOURCE_NAMES, 0.0)
        return {"beat_phase": g.beat_phase(now), "bar_phase": g.bar_phase(now), "bpm": g.bpm}

    def next_boundary(self, kind: Boundary, now: float | None = None) -> float:
        """Seconds from ``now`` (monotonic; default: the clock's now) to the next beat or bar start.

        0 when ``now`` is on one, when no tempo is known, and while a MIDI transport is stopped: what waits for
        the beat then happens at once.
        """
        now = self.clock() if now is None else now
        g = self.grid(now)
        if g is None or not self.running():
            return 0.0
        return g.next_boundary(kind, now)

    def pipeline_delay(self) -> float:
        """Seconds from letting a change through to its first picture on the outputs (0 without an engine)."""
        return max(0.0, float(self.lead())) if self.lead is not None else 0.0

    def quantize_delay(self, now: float | None = None, mode: str | None = None) -> float:
        """Seconds to hold a recall, restart or class change so that its picture lands on the beat or the bar
        (``mode``, by default ``tempo.quantize``; 0 when off): the next boundary at least
        :meth:`pipeline_delay` away, less that delay."""
        mode = str(self.store.get("tempo.quantize")) if mode is None else mode
        if mode == "off":
            return 0.0
        now = self.clock() if now is None else now
        lead = self.pipeline_delay()
        return self.next_boundary("beat" if mode == "beat" else "bar", now + lead)

    def quantize_at(self, now: float | None = None, mode: str | None = None) -> float:
        """The monotonic time at which something asked for at ``now`` should happen (``now`` itself when off)."""
        now = self.clock() if now is None else now
        return now + self.quantize_delay(now, mode)

    # --- store ---------------------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        name = change.name
        if not name.startswith("tempo."):
            return
        now = self.clock()
        if name == "tempo.tap":
            self.tap(arrival(now))  # when the tap was played, not when it is applied
        elif name == "tempo.bpm" and change.source != "tap":
            self.taps.set_bpm(float(change.value), now)
            if self._source == "link" and self.link is not None:  # a tempo set here reaches the session
                self.link.set_tempo(float(change.value))
        elif name in ("tempo.double", "tempo.halve"):
            try:
                self.double() if name == "tempo.double" else self.halve()
            except ValueError as e:
                self.stats.source_refused += 1
                log.error("%s: %s", name, e)
        elif name == "tempo.link_start_stop" and self.link is not None:
            self.link.start_stop_sync(bool(change.value))
        elif name == "tempo.downbeat":
            self.downbeat(now)
        elif name == "tempo.source" and change.source != "tempo":
            self._select(str(change.value), revert_to=str(change.previous))
        elif name == "tempo.midi_input":
            with self._lock:
                if self.midi_input is not None:
                    self._stop_midi()
                    self._start_midi()

    def tap(self, now: float | None = None) -> None:
        """One tap (what ``tempo.tap`` does); a run of taps sets ``tempo.bpm``."""
        bpm = self.taps.tap(self.clock() if now is None else now)
        if bpm is not None:
            self.store.set("tempo.bpm", round(bpm, 2), source="tap")

    def downbeat(self, now: float | None = None) -> None:
        """The beat nearest ``now`` begins a bar, for the source in use (what ``tempo.downbeat`` does)."""
        now = self.clock() if now is None else now
        src = self._source
        if src == "audio":
            if self.audio is not None:
                self.audio.set_downbeat(now)
            return
        g = self.grid(now)
        if g is None:
            return
        nearest = round(g.beat_at(now))
        self._bar_shift[src] -= nearest % BEATS_PER_BAR

    def _select(self, source: str, revert_to: str) -> None:
        with self._lock:
            try:
                if source == "link":
                    self._start_link()
                if source == "midi":
                    self._start_midi()
            except ControlError as e:
                self.stats.source_refused += 1
                log.error("%s; tempo.source stays %s", e, revert_to)
                self.store.set("tempo.source", revert_to, source="tempo")
                return
            if source != "midi":
                self._stop_midi()
            if source != "link" and self.link is not None:
                self.link.enable(False)
            self._source = source
            log.info("tempo from %s", source)

    def _start_link(self) -> None:
        if self.link is None:
            from performer.tempo.ableton_link import LinkSession

            self.link = LinkSession(float(self.store.get("tempo.bpm")))
        self.link.start_stop_sync(bool(self.store.get("tempo.link_start_stop")))
        self.link.enable(True)

    def _start_midi(self) -> None:
        if self.midi_input is None:
            self.midi_input = MidiClockInput(self.midi, str(self.store.get("tempo.midi_input")), poll=self.midi_poll)
            self.midi_input.start()

    def _stop_midi(self) -> None:
        if self.midi_input is not None:
            self.midi_input.stop()
            self.midi_input = None

    # --- status --------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = self.clock()
        g = self.grid(now)
        out: dict[str, Any] = {"source": self._source, "bpm": round(g.bpm, 2) if g else None,
                               "running": self.running(), "errors": self.stats.errors,
                               "source_refused": self.stats.source_refused}
        if self.audio is not None:
            a = self.audio.stats
            out["audio"] = {"locked": self.audio.locked(now), "bpm": round(self.audio.grid.bpm, 2)
                            if self.audio.grid else None, "salience": round(a.salience, 3),
                            "tempo_changes": a.tempo_changes, "gaps": a.gaps}
        out["tap"] = {"taps": self.taps.taps, "ignored": self.taps.ignored}
        out["midi"] = {"clocks": self.midi.clocks, "playing": self.midi.playing,
                       "ports": self.midi_input.stats.ports if self.midi_input else [],
                       "following": self.midi_input.stats.following if self.midi_input else "",
                       "error": self.midi_input.stats.error if self.midi_input else ""}
        if self.link is not None:
            out["link"] = {"enabled": self.link.enabled, "peers": self.link.peers()}
        return out


class PipelineDelay:
    """How long ``engine`` takes from letting a change through to showing it, measured as it runs: the render
    loop looks for released changes when a frame begins (on average half a frame after the release), the frame
    takes its time (the median of the last :data:`FRAMES` frames' ``render_stats.frame_ms``: one slow frame
    does not throw the next change off), and the output clock shows it with its next frame. Call :meth:`sample`
    often (the tempo thread does, each tick) so every frame is seen."""

    FRAMES = 9

    def __init__(self, engine: EngineLike) -> None:
        self.engine = engine
        self._seen = -1
        self._frames: deque[float] = deque(maxlen=self.FRAMES)

    def sample(self) -> None:
        st = getattr(self.engine, "render_stats", None)  # an engine without a renderer: no frames, no delay
        if st is not None and st.frames != self._seen:
            self._seen = st.frames
            self._frames.append(float(st.frame_ms) / 1000.0)

    def __call__(self) -> float:
        self.sample()
        frame = float(np.median(self._frames)) if self._frames else 0.0
        return 1.5 * frame + 1.0 / max(1.0, float(self.engine.store.get("output.fps")))


def attach(engine: EngineLike) -> Tempo:
    """A :class:`Tempo` for ``engine``: its store, its modulation sources and its audio ring (not started);
    quantised changes are let through early by the engine's own delay (:class:`PipelineDelay`)."""
    tempo = Tempo(engine.store, engine.extra_sources, ring=engine.ring)
    tempo.lead = PipelineDelay(engine)
    return tempo
