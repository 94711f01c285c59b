"""The live engine: sound in, classify continuously, map, dream, frames out.

Threads: the audio source (or PortAudio's callback plus a pump), the
analyser, the render loop, the output clock (:mod:`present`) and one per
output. The render loop dreams as fast as it can; the output clock sends
frames at ``output.fps``, interpolated between dreamed frames. Hand-offs keep
only the latest value and count what they drop. Control changes land in the
:class:`~performer.params.ParamStore` from any thread; the render loop takes a
snapshot between frames, so the renderer never waits on control input.
Everything that loads or compiles (models, the network, portraits) happens in
:meth:`Engine.start` before it reports running; until then ``state`` is
``warming up``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from performer.analysis import Analysis, Analyzer, ClassifierLike
from performer.audio import AudioRing, AudioSource
from performer.dream.portraits import IDLE, load_portrait
from performer.engine.classes import class_colours, class_guides, load_class_images
from performer.engine.present import Dreamed, Presenter
from performer.engine.scene import choose
from performer.errors import PerformerError, PresetError
from performer.latest import Latest
from performer.mapping import ModMatrix
from performer.outputs import FrameInfo, FrameOutput
from performer.params import ParamStore, Snapshot
from performer.presets import Preset, apply_preset, load_preset
from performer.presets.morph import Morph
from performer.runtime import LoopStats, RateMeter, Worker
from performer.tempo import attach as attach_tempo
from performer.video import VideoError, VideoSource, video_from_preset

if TYPE_CHECKING:
    from performer.dream import Scene

log = logging.getLogger(__name__)

_UNSET = object()


class Renderer(Protocol):
    """What the engine needs of a renderer (performer.dream.DreamRenderer fits)."""

    def prepare(self, params: Snapshot) -> None: ...

    def frame(self, params: Snapshot, scene: Scene) -> np.ndarray: ...


@dataclass
class RenderStats(LoopStats):
    """The render loop's counts (``errors``: frames that failed, the last one kept)."""

    frames: int = 0
    fps: float = 0.0
    """Dreamed frames a second over the last 2 s (at least the last two frames)."""
    frame_ms: float = 0.0
    last_at: float | None = None
    """Monotonic time the newest dreamed frame was finished; None before the first."""


class Engine:
    """Runs the whole chain until :meth:`stop`. Components are built by the caller (see engine_cli)."""

    def __init__(self, *, source: AudioSource, classifier: ClassifierLike, renderer: Renderer,
                 outputs: Sequence[FrameOutput] = (), preset: Preset | None = None,
                 store: ParamStore | None = None, fast_classifier: ClassifierLike | None = None,
                 video: VideoSource | None = None) -> None:
        self.store = store or ParamStore()
        self.source = source
        self.classifier = classifier
        self.renderer = renderer
        self.outputs = list(outputs)
        self.ring = AudioRing(source.rate, seconds=8.0, backpressure=not source.realtime)
        self.analysis: Latest[Analysis] = Latest()
        self.analyzer = Analyzer(self.ring, classifier, self.store, self.analysis, realtime=source.realtime,
                                 fast_classifier=fast_classifier)
        self.render_stats = RenderStats()
        self.extra_sources: dict[str, float] = {}
        """Modulation sources from controllers (the glove writes glove.fist, glove.1 ...)."""
        self.effective: Snapshot | None = None
        """The parameter values the last frame was rendered with (base plus modulation); None before the first."""
        self.last_frame: np.ndarray | None = None
        self.frame_listeners: list[Callable[[np.ndarray, FrameInfo], None]] = []
        self.error_listeners: list[Callable[[str, Any, str], None]] = []
        """Called with (parameter, value, why) when a live change could not take effect and was reverted."""
        self._render = Worker("render", self._render_loop)
        self._t0 = time.monotonic()
        self._preset_lock = threading.Lock()
        self.preset: Preset = preset or Preset(name="built-in defaults")
        self.matrix = ModMatrix(self.preset.routes, self.store.registry)
        self.class_images: dict[str, np.ndarray] = {}
        self.class_guides: dict[str, tuple[int, ...]] = {}
        self.class_colours: dict[str, tuple[float, float, float]] = {}
        self._install(self.preset)
        self._started_with = self.preset
        """The preset the engine was built with: its outputs and controllers run for the whole show."""
        self.video = video if video is not None else _preset_video(self.preset)
        """The live video (the VJ's own content) the dream works on by video.weight; None without one."""
        self.presenter = Presenter(self._present, lambda: self.effective or self.store.snapshot(),
                                   live=self.store.snapshot)
        self.tempo = attach_tempo(self)
        """The beat grid (tempo.source): beat_phase, bar_phase and bpm as sources; tempo.quantize holds recalls,
        restarts and class changes until the next beat or bar."""
        self._shown_key: str | None = None
        self._shown_restart: Any = _UNSET
        self._release_at: float | None = None
        self.state = "stopped"
        """``warming up`` while models load and compile, then ``running``; ``stopped`` before and after."""
        self.warmup_seconds = 0.0
        self._status: dict[str, Any] = {}
        self._status_at = -1.0

    # --- presets -------------------------------------------------------------------
    def _install(self, preset: Preset) -> None:
        matrix = ModMatrix(preset.routes, self.store.registry)
        images = load_class_images(preset)
        guides = class_guides(preset, self.classifier.classes)
        colours = class_colours(preset)
        apply_preset(self.store, preset, bpm=lambda: float(self.extra_sources.get("bpm", 0.0)))
        with self._preset_lock:
            self.preset, self.matrix, self.class_images, self.class_guides = preset, matrix, images, guides
            self.class_colours = colours

    def load_preset(self, path: str | Path, morph: float | None = None) -> bool:
        """Recall a preset file at run time (``morph``: seconds to glide over instead of the preset's own morph,
        0 none); on any problem keep the current state and report why."""
        try:
            preset = load_preset(path, classes=list(self.classifier.classes))
            if morph is not None:
                preset.morph = Morph(float(morph))
            delay = self.tempo.quantize_delay(mode=preset.quantize)
            if delay > 0:  # the preset's quantize, else tempo.quantize: the recall lands on the next beat or bar
                time.sleep(min(delay, 10.0))
            self._install(preset)
        except (PresetError, PerformerError, ValueError) as e:
            log.error("preset %s not loaded, keeping %r: %s", path, self.preset.name, e)
            return False
        log.info("preset %r loaded from %s", preset.name, path)
        kept = [section for section in ("outputs", "midi", "glove", "osc", "video")
                if getattr(preset, section) != getattr(self._started_with, section)]
        if kept:
            log.info("preset %r: its %s sections apply when a show starts with it; the running show keeps those of "
                     "%r", preset.name, ", ".join(kept), self._started_with.name)
        return True

    # --- life cycle ------------------------------------------------------------------
    @property
    def started_at(self) -> float:
        """Monotonic time :meth:`start` began: frame times (``FrameInfo.time``) count from it."""
        return self._t0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.state = "warming up"
        self.renderer.prepare(self.store.snapshot())
        self.analyzer.warm_up()
        for name in (*self.classifier.classes, IDLE):
            load_portrait(name)
        for out in self.outputs:
            out.open()
        if self.video is not None:
            try:
                self.video.start()
            except VideoError as e:  # the show goes on without it; status() shows why
                log.error("%s; dreaming without video", e)
        self.warmup_seconds = time.monotonic() - self._t0
        self.source.start(self.ring)
        self.analyzer.start()
        self.tempo.start()
        self._render.start()
        self.presenter.start()
        self.state = "running"
        log.info("engine running after %.1f s of warm-up: input %s, classes %s", self.warmup_seconds,
                 self.source.describe(), ", ".join(self.classifier.classes))

    def stop(self, timeout: float = 1.5) -> None:
        """Stop every thread; returns within about ``timeout`` plus the outputs' closing."""
        self._render.stopping.set()
        interrupt = getattr(self.renderer, "interrupt", None)
        if callable(interrupt):
            interrupt()  # a long frame ends after its current step
        self.presenter.stop()
        self.tempo.stop()
        self.ring.close()
        self.source.stop()
        self.analyzer.stop()
        # Wait for the render thread whatever it is doing: a process that exits while a thread is inside torch
        # aborts ("terminate called without an active exception").
        if not self._render.join(max(timeout, 30.0)):
            log.warning("render thread still busy with a frame after %.0f s at shutdown", max(timeout, 30.0))
        for out in self.outputs:
            out.close()
        if self.video is not None:
            self.video.stop()
        self.state = "stopped"

    # --- rendering ---------------------------------------------------------------------
    def scene_for(self, a: Analysis | None, params: Snapshot | None = None, feedback_frames: float = 1.0) -> Scene:
        """What the renderer is told: the class to follow (None: keep the picture), the guidance mix, seeds; on
        ``none`` the class the dream shows holds (:mod:`performer.engine.scene`)."""
        from performer.dream import Scene

        follow = params.dream.follow_confidence if params is not None else 0.0
        with self._preset_lock:
            images, guides, colours = self.class_images, self.class_guides, self.class_colours
        c = choose(a, follow, guides, images, self._shown_key)
        fit = (params.dream.height, params.dream.width) if params is not None else None
        return Scene(key=c.key, guide=(), mix=c.mix, seed_image=c.image, portrait=c.image if c.key else None,
                     spectrogram=a.spectrogram if a is not None else None, feedback_frames=feedback_frames,
                     colour=colours.get(c.key) if c.key else None,
                     video=self.video.latest(fit) if self.video is not None else None)

    def modulated(self, snap: Snapshot, a: Analysis | None, dt: float) -> Snapshot:
        """The snapshot with the mod matrix applied (sources: the analysis and the controllers)."""
        with self._preset_lock:
            matrix = self.matrix
        if not snap.mapping.enabled or not matrix.routes:
            return snap
        sources = a.sources() if a is not None else {}
        sources.update(self.extra_sources)
        values = matrix.apply(snap, sources, dt, depth=snap.mapping.depth)
        return Snapshot(values, snap.version, snap.time)

    def _render_loop(self) -> None:
        st = self.render_stats
        last = time.monotonic()
        warped_at: float | None = None
        meter = RateMeter(2.0, keep=2)  # frames over 2 s apart: the rate of the last two
        error_logged_at = 0.0
        while self._render.running:
            start = time.monotonic()
            dt, last = start - last, start
            snap = self.store.snapshot()
            a = self.analysis.peek()
            params = self.modulated(snap, a, dt)
            self.effective = params
            fps = params.output.fps
            k = 1.0 if warped_at is None else (start - warped_at) * fps
            scene = self.scene_for(a, params, k)
            params, scene = self._quantised(params, scene, start)
            try:
                frame = self.renderer.frame(params, scene)
            except Exception as e:  # a bad frame must not stop the show: keep the last one
                st.failed(f"{type(e).__name__}: {e}")
                if start - error_logged_at > 1.0:
                    log.exception("rendering a frame failed (%d so far); keeping the last frame", st.errors)
                    error_logged_at = start
                self._render.wait(0.05)
                continue
            warped_at = start
            self._revert_failures()
            end = time.monotonic()
            self.last_frame = frame
            self.presenter.put(Dreamed(frame, start, end, getattr(self.renderer, "pending_shift", (0.0, 0.0))))
            st.frames += 1
            st.frame_ms = 1000.0 * (end - start)
            st.last_at = end
            rate = meter.add(end)
            if rate is not None:
                st.fps = rate
            budget = 1.0 / fps - (end - start)  # no need to dream faster than frames go out
            if budget > 0:
                self._render.wait(budget)

    def _quantised(self, params: Snapshot, scene: Scene, now: float) -> tuple[Snapshot, Scene]:
        """With tempo.quantize, a class change or a restart waits for the next beat or bar: until then the
        renderer is told nothing changed."""
        restart = params.dream.restart
        if self._shown_restart is _UNSET:
            self._shown_restart = restart
        changed = (scene.key is not None and self._shown_key is not None and scene.key != self._shown_key
                   or restart != self._shown_restart)
        if changed and params.tempo.quantize != "off":
            if self._release_at is None:
                self._release_at = self.tempo.quantize_at(now)
            if now < self._release_at:
                held = params.with_values({"dream.restart": self._shown_restart})
                return held, dataclasses.replace(scene, key=None, mix=())
        self._release_at = None
        if scene.key is not None:
            self._shown_key = scene.key
        self._shown_restart = restart
        return params, scene

    def _revert_failures(self) -> None:
        """A live change the renderer could not make (a network without weights, a bad layer string) is set back
        to what is in effect, so every client reads what renders; the listeners tell whoever asked why."""
        failures = getattr(self.renderer, "failures", None)
        while failures:
            name, value, why = failures.popleft()
            in_effect = {"dream.network": getattr(self.renderer, "network", None),
                         "dream.layers": getattr(self.renderer, "layers_in_effect", None)}.get(name)
            if in_effect is not None and self.store.get(name) == value and value != in_effect:
                self.store.set(name, in_effect, source="engine", glide=False)
                log.warning("%s %r did not take effect (%s); set back to %r", name, value, why, in_effect)
            for listener in self.error_listeners:
                try:
                    listener(name, value, why)
                except Exception:
                    log.exception("error listener failed")

    def _present(self, frame: np.ndarray, now: float) -> None:
        """One output frame from the clock: to every output and frame listener."""
        a = self.analysis.peek()
        params = self.effective or self.store.snapshot()
        number = self.presenter.stats.frames + 1
        status = self._status_cache(now)
        info = self._frame_info(number, now, a, status, params.output.layout)
        for out in self.outputs:
            try:
                out.send(frame, info)
            except Exception as e:
                out.stats.errors += 1
                out.stats.last_error = str(e)
        for listener in self.frame_listeners:
            try:
                listener(frame, info)
            except Exception:
                log.exception("frame listener failed")

    def _status_cache(self, now: float) -> dict[str, Any]:
        if now - self._status_at >= 0.5:
            self._status, self._status_at = self.status(), now
        return self._status

    def _frame_info(self, number: int, now: float, a: Analysis | None, status: dict[str, Any],
                    layout: str) -> FrameInfo:
        if a is None:
            return FrameInfo(number, now - self._t0, status=status, layout=layout)
        return FrameInfo(number, now - self._t0, a.top_name, a.confidence, a.classes, a.probs, a.spectrogram,
                         a.level_db, status, layout=layout)

    # --- status ------------------------------------------------------------------------
    def _dream_rate(self, now: float) -> tuple[float, float | None]:
        """(dream fps, age of the newest dreamed frame in s). While a frame is stalled (over 2 s and over twice the
        last frame's time since the newest one), the rate is the most the stall allows, 1 / age, not the rate of
        the frames before it; ``cli/status.py`` shows the age then."""
        st = self.render_stats
        if st.last_at is None:
            return st.fps, None
        age = max(0.0, now - st.last_at)
        stalled = age > 2.0 and age > 2.0 * st.frame_ms / 1000.0
        return (min(st.fps, 1.0 / age) if stalled else st.fps), age

    def status(self) -> dict[str, Any]:
        a = self.analysis.peek()
        an = self.analyzer.stats
        src = self.source.stats
        clock = self.presenter.stats
        dream_fps, dream_age = self._dream_rate(time.monotonic())
        return {
            "state": self.state,
            "uptime_s": round(time.monotonic() - self._t0, 2),
            "warmup_s": round(self.warmup_seconds, 2),
            "preset": self.preset.name,
            "input": self.source.describe(),
            "input_lost": src.lost,
            "input_error": src.error,
            "audio_blocks": src.blocks,
            "dropped_audio_blocks": src.overflows,
            "fps": round(clock.fps, 2),
            "fps_p5": round(clock.p5_fps, 2),
            "frames": clock.frames,
            "late_ticks": clock.late,
            "tempo": self.tempo.status(),
            "dream_fps": round(dream_fps, 2),
            "dream_frame_age_s": None if dream_age is None else round(dream_age, 2),
            "dream_size": [e.dream.width, e.dream.height] if (e := self.effective) is not None else [0, 0],
            "dream_frames": self.render_stats.frames,
            "frame_ms": round(self.render_stats.frame_ms, 1),
            "render_errors": self.render_stats.errors,
            "classify_ms": round(an.classify_ms, 2),
            "analysis_latency_ms": round(an.classify_ms + an.hop_late_ms, 1),
            "hops": an.hops,
            "skipped_hops": an.skipped_hops,
            "class_changes": an.class_changes,
            "new_sounds": an.events,
            "fast_switches": an.fast_switches,
            "analysis_errors": an.errors,
            "top_class": a.top_name if a else None,
            "dream_class": self._shown_key,
            "confidence": round(a.confidence, 3) if a else None,
            "level_db": round(a.level_db, 1) if a else None,
            "outputs": {o.name: {"state": o.stats.state, "sent": o.stats.sent, "dropped": o.stats.dropped,
                                 "skipped": o.stats.skipped, "errors": o.stats.errors, "fps": round(o.stats.fps, 2),
                                 "error": o.stats.last_error} for o in self.outputs},
            "video": self.video.status() if self.video is not None else None,
        }

    def write_stats(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.status(), indent=2))
        tmp.replace(path)


def _preset_video(preset: Preset) -> VideoSource | None:
    """The video source the preset's ``[video]`` table names; one it cannot make is reported and left out."""
    try:
        return video_from_preset(preset)
    except VideoError as e:
        log.error("preset %s: %s; dreaming without video", preset.name, e)
        return None
