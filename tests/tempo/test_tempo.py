"""The tempo hub: the sources it writes, quantising to the beat and bar, the downbeat, latency, choosing a source
that cannot run here, and attaching it to an engine."""

from __future__ import annotations

import logging
import os
import time
from types import SimpleNamespace

import pytest

from conftest import wait_until
from performer.audio.ring import AudioRing
from performer.errors import ControlError
from performer.mapping import ModMatrix, Route, source_kind
from performer.params import ParamStore
from performer.tempo import Tempo, attach
from performer.tempo.grid import wrap


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def tapped(store: ParamStore, clock: Clock, bpm: float = 120.0, taps: int = 4) -> Tempo:
    """A started Tempo on tap tempo, tapped at ``bpm`` from ``clock.t`` (the first tap begins a bar)."""
    store.set("tempo.source", "tap")
    tempo = Tempo(store, {}, clock=clock)
    tempo.start()
    t0 = clock.t
    for i in range(taps):
        clock.t = t0 + i * 60.0 / bpm
        store.fire("tempo.tap", source="test")
    return tempo


def test_quantize_delay_off_beat_and_bar():
    store, clock = ParamStore(), Clock(100.0)
    tempo = tapped(store, clock)  # beats at 100.0, 100.5, 101.0, 101.5; the bar began at 100.0
    try:
        now = 101.6
        assert tempo.quantize_delay(now) == 0.0  # tempo.quantize is off by default
        store.set("tempo.quantize", "beat")
        assert tempo.quantize_delay(now) == pytest.approx(0.4)
        store.set("tempo.quantize", "bar")
        assert tempo.quantize_delay(now) == pytest.approx(0.4)  # 102.0 begins the next bar
        assert tempo.quantize_delay(102.1) == pytest.approx(1.9)
        assert tempo.next_boundary("beat", 102.1) == pytest.approx(0.4)
        assert tempo.quantize_at(102.1) == pytest.approx(104.0)
        assert tempo.bpm() == pytest.approx(120.0)
    finally:
        tempo.stop()


def test_the_downbeat_trigger_and_latency_move_the_bar_and_the_beat():
    store, clock = ParamStore(), Clock(100.0)
    tempo = tapped(store, clock)
    try:
        clock.t = 101.02  # near beat 2 of the bar
        store.fire("tempo.downbeat", source="test")
        assert wrap(tempo.values(101.0)["bar_phase"]) == pytest.approx(0.0)  # beat 2 now begins the bar
        assert tempo.values(101.25)["beat_phase"] == pytest.approx(0.5)
        store.set("tempo.latency", 100.0)  # run 100 ms ahead
        assert tempo.values(101.15)["beat_phase"] == pytest.approx(0.5)
        assert tempo.next_boundary("beat", 101.3) == pytest.approx(0.1)
    finally:
        tempo.stop()


def test_without_a_tempo_the_sources_read_zero_and_nothing_waits():
    store = ParamStore()
    sources: dict[str, float] = {}
    tempo = Tempo(store, sources)  # audio, but no ring: no beat
    store.set("tempo.quantize", "bar")
    assert sources == {"beat_phase": 0.0, "bar_phase": 0.0, "bpm": 0.0}
    assert tempo.grid() is None and not tempo.running() and tempo.bpm() == 0.0
    assert tempo.quantize_delay() == 0.0


def test_the_thread_writes_the_modulation_sources_and_the_mod_matrix_reads_them():
    for name in ("beat_phase", "bar_phase", "bpm"):
        assert source_kind(name) == name
    store = ParamStore()
    store.set("tempo.source", "tap")
    store.set("tempo.bpm", 150.0)
    engine = SimpleNamespace(store=store, extra_sources={"glove.fist": 0.5}, ring=AudioRing(48000, seconds=1.0))
    tempo = attach(engine)
    tempo.start()
    try:
        seen = set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            seen.add(round(engine.extra_sources["beat_phase"], 1))
            time.sleep(0.01)
        assert len(seen) >= 5  # it moves: 2.5 beats a second, written a hundred times a second
        assert engine.extra_sources["bpm"] == pytest.approx(150.0)
        assert engine.extra_sources["glove.fist"] == 0.5  # the others' sources are left alone
        matrix = ModMatrix([Route("bpm", "dream.zoom", depth=1.0, range=(100.0, 200.0))])
        out = matrix.apply(store.snapshot(), engine.extra_sources, 0.0)
        base = store.registry.get("dream.zoom")
        assert base.normalize(out["dream.zoom"]) == pytest.approx(base.normalize(1.0) + 0.5)
    finally:
        tempo.stop()


def test_link_that_cannot_run_is_named_in_one_line_and_the_source_is_set_back(monkeypatch, caplog):
    import performer.tempo.ableton_link as ableton_link

    def missing():
        raise ControlError("tempo.source = link needs the Ableton Link binding LinkPython-extern, which is not "
                           "installed (No module named 'link'); install it with `pip install LinkPython-extern`")

    monkeypatch.setattr(ableton_link, "load_binding", missing)
    store = ParamStore()
    tempo = Tempo(store, {})
    tempo.start()
    try:
        with caplog.at_level(logging.ERROR, logger="performer.tempo"):
            store.set("tempo.source", "link", source="osc")
        assert store.get("tempo.source") == "audio" and tempo.source == "audio"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "\n" not in errors[0]
        assert "LinkPython-extern" in errors[0] and "tempo.source stays audio" in errors[0]
        assert tempo.status()["source_refused"] == 1
    finally:
        tempo.stop()
    later = ParamStore()
    later.set("tempo.source", "link")  # a preset asked for Link before the show started
    tempo = Tempo(later, {})
    tempo.start()
    try:
        assert later.get("tempo.source") == "audio" and tempo.source == "audio"
    finally:
        tempo.stop()


def test_midi_clock_without_a_midi_system_says_so_once_and_keeps_trying(monkeypatch, caplog):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"performer-absent-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    if os.path.exists("/dev/snd/seq"):
        pytest.skip("this machine has an ALSA sequencer")
    store = ParamStore()
    store.set("tempo.source", "midi")
    tempo = Tempo(store, {}, midi_poll=0.1)
    with caplog.at_level(logging.ERROR, logger="performer.tempo"):
        tempo.start()
        try:
            assert wait_until(lambda: tempo.status()["midi"]["error"], 5)
            time.sleep(0.35)  # a few more tries
            assert tempo.source == "midi"  # a MIDI system may appear (a JACK server started later)
            assert "JACK server" in tempo.status()["midi"]["error"]
            store.set("tempo.midi_input", "beatstep", source="osc")  # another port: the input starts afresh
            assert tempo.midi_input is not None and tempo.midi_input.match == "beatstep"
            assert wait_until(lambda: tempo.status()["midi"]["error"], 5)
        finally:
            tempo.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and all("MIDI clock" in e and "\n" not in e for e in errors), errors  # one per input


def test_the_preset_in_docs_tempo_md_is_a_valid_preset(tmp_path):
    """The example in docs/tempo.md (its tempo section and routes, plus a tap pad) loads as a preset."""
    import re

    from conftest import REPO
    from performer.presets import load_preset

    doc = (REPO / "docs" / "tempo.md").read_text()
    snippet = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "beat.toml"
    path.write_text('format = 1\nname = "beat"\n' + snippet
                    + '\n[midi]\ninput = "pads"\n\n[[midi.notes]]\nnote = 36\nparam = "tempo.tap"\n')
    preset = load_preset(path)
    assert preset.params["tempo.quantize"] == "bar"
    assert [(r.source, r.target, r.range) for r in preset.routes] == [
        ("beat_phase", "dream.zoom", (1.0, 0.0)), ("bar_phase", "dream.rotate", None)]
    matrix = ModMatrix(preset.routes)
    zoom = matrix.apply({"dream.zoom": 1.0, "dream.rotate": 0.0}, {"beat_phase": 0.0, "bar_phase": 0.0}, 0.0)
    assert zoom["dream.zoom"] > 1.0  # on the beat the pulse is at its height


def test_quantised_changes_go_early_by_the_pipeline_s_delay_so_the_picture_lands_on_the_bar():
    """Issue #23 item 5: the picture landed 128-264 ms after the bar unless tempo.latency was set by hand; a
    change now goes through the engine's own delay early, for the first bar it can still reach."""
    store = ParamStore()
    store.set("tempo.quantize", "bar")
    clock = Clock(100.0)
    tempo = Tempo(store, {}, clock=clock)
    tempo._source = "tap"
    tempo.taps.tap(100.0)  # 120 BPM: bars at 100, 102, 104
    assert tempo.quantize_delay(100.3) == pytest.approx(1.7)  # no engine: no delay
    tempo.lead = lambda: 0.2
    assert tempo.quantize_delay(100.3) == pytest.approx(1.5)  # let through at 101.8, shown at 102
    assert tempo.quantize_delay(101.9) == pytest.approx(1.9)  # 102 is out of reach: 104 - 0.2
    assert tempo.quantize_at(100.3, mode="beat") == pytest.approx(100.3)  # 100.5 - 0.2: now
    store.set("tempo.quantize", "off")
    assert tempo.quantize_delay(100.3) == 0.0


def test_attach_measures_the_engine_s_delay_from_its_frames():
    store = ParamStore()
    store.set("output.fps", 25.0)
    stats = SimpleNamespace(frame_ms=120.0, frames=1)
    engine = SimpleNamespace(store=store, extra_sources={}, ring=None, render_stats=stats)
    tempo = attach(engine)
    # half a frame waiting for the render loop to look, the frame itself, one output frame
    assert tempo.pipeline_delay() == pytest.approx(0.18 + 0.04)
    for n, ms in enumerate([900.0, 900.0, 120.0, 900.0, 900.0], start=2):  # slow frames (1280x720 on a CPU)
        stats.frames, stats.frame_ms = n, ms
        tempo.tick(0.0)  # the tempo thread sees each frame
    assert tempo.pipeline_delay() == pytest.approx(1.35 + 0.04)  # the median frame: one quick one moves nothing
