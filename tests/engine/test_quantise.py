"""tempo.quantize holds a class change, a restart and a preset recall until the next beat or bar."""

from __future__ import annotations

import time

from performer.audio import ArraySource
from performer.dream import Scene
from performer.engine import Engine
from performer.presets import Preset, save_preset
from sounds import ToneClassifier, tone


class Grid:
    """A tempo whose next boundary is a fixed time."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.asked = 0

    def quantize_at(self, now: float | None = None) -> float:
        self.asked += 1
        return self.at

    def quantize_delay(self, now: float | None = None, mode: str | None = None) -> float:
        self.mode = mode
        return max(0.0, self.at - time.monotonic())


def engine() -> Engine:
    return Engine(source=ArraySource(tone(300, 1.0), 22050, name="tone"), classifier=ToneClassifier(),
                  renderer=None, outputs=[], preset=Preset(name="q"))  # type: ignore[arg-type]


def test_a_class_change_and_a_restart_wait_for_the_boundary():
    e = engine()
    e.tempo = Grid(at=10.0)  # type: ignore[assignment]
    params = e.store.snapshot().with_values({"tempo.quantize": "bar"})
    p, s = e._quantised(params, Scene(key="low", mix=(("low", (1,), 1.0),)), now=1.0)
    assert s.key == "low"  # nothing shown yet: the first class is shown at once
    p, s = e._quantised(params, Scene(key="high", mix=(("high", (2,), 1.0),)), now=2.0)
    assert s.key is None and s.mix == ()  # held: the renderer is told nothing changed
    restarted = params.with_values({"dream.restart": params["dream.restart"] + 1 if params["dream.restart"] else 1})
    p, s = e._quantised(restarted, Scene(key="high"), now=5.0)
    assert p["dream.restart"] == params["dream.restart"] and s.key is None
    p, s = e._quantised(restarted, Scene(key="high"), now=10.0)  # the bar begins: both go through
    assert s.key == "high" and p["dream.restart"] == restarted["dream.restart"]
    params = params.with_values({"tempo.quantize": "off"})
    p, s = e._quantised(params, Scene(key="low"), now=10.5)
    assert s.key == "low"


def test_a_preset_recall_waits_for_the_boundary(tmp_path):
    e = engine()
    path = tmp_path / "b.toml"
    save_preset(Preset(name="b", params={"dream.iterations": 5, "tempo.quantize": "beat"}), path)
    e.store.set("tempo.quantize", "beat", glide=False)
    e.tempo = Grid(at=time.monotonic() + 0.4)  # type: ignore[assignment]
    t0 = time.monotonic()
    assert e.load_preset(path)
    assert time.monotonic() - t0 >= 0.35 and e.store.get("dream.iterations") == 5


def test_a_preset_s_own_quantize_is_asked_for_whatever_the_rig_says(tmp_path):
    """Issue #23 item 5: ``quantize = "bar"`` in a preset was ignored while the rig's tempo.quantize was off."""
    from performer.params import ParamStore
    from performer.tempo import Tempo

    e = engine()
    path = tmp_path / "drop.toml"
    save_preset(Preset(name="drop", params={"dream.iterations": 7}, quantize="bar"), path)
    now = [100.0]
    tempo = Tempo(ParamStore(), {}, clock=lambda: now[0])
    tempo.store.set("tempo.quantize", "off")
    tempo._source = "tap"
    tempo.taps.tap(99.0)  # 120 BPM: bars at 99, 101, 103
    assert tempo.quantize_delay() == 0.0 and tempo.quantize_delay(mode="bar") == 1.0
    e.tempo = Grid(at=time.monotonic() + 0.3)  # type: ignore[assignment]
    t0 = time.monotonic()
    assert e.load_preset(path)
    assert e.tempo.mode == "bar" and time.monotonic() - t0 >= 0.25 and e.store.get("dream.iterations") == 7
