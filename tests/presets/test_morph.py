"""Preset morph: a recall glides numeric parameters over seconds, beats or bars; the rest switch at the start."""

from __future__ import annotations

import pytest

from performer.errors import ParamError
from performer.params import ParamStore
from performer.presets import Preset, apply_preset, diff_presets, load_preset, parse_preset, save_preset
from performer.presets.morph import Morph, parse_morph

CLASSES = ["low", "high"]


class Clock:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def morph_preset(morph, **params) -> Preset:
    preset, problems = parse_preset({"name": "target", "morph": morph, "params": _nested(params)}, classes=CLASSES)
    assert not problems, [str(p) for p in problems]
    assert preset is not None
    return preset


def _nested(params: dict) -> dict:
    out: dict = {}
    for name, value in params.items():
        group, _, key = name.partition(".")
        out.setdefault(group, {})[key] = value
    return out


def test_a_one_second_morph_is_halfway_at_half_a_second_and_there_at_one():
    clock = Clock()
    store = ParamStore(clock=clock)
    start = {"dream.zoom": 1.0, "dream.lr": 0.02, "dream.iterations": 2, "dream.grad_norm": "mean_abs",
             "dream.decorrelate": True, "dream.width": 320}
    assert all(store.get(k) == v for k, v in start.items())  # the defaults
    preset = morph_preset(1.0, **{"dream.zoom": 1.1, "dream.lr": 0.1, "dream.iterations": 10, "dream.grad_norm": "std",
                                  "dream.decorrelate": False, "dream.width": 640})
    apply_preset(store, preset)
    # enums, booleans and the frame size switch at the start
    assert store.get("dream.grad_norm") == "std" and store.get("dream.decorrelate") is False
    assert store.get("dream.width") == 640
    assert store.get("dream.zoom") == pytest.approx(1.0)
    clock.t += 0.25
    assert store.get("dream.zoom") == pytest.approx(1.025)
    clock.t += 0.25
    snap = store.snapshot()
    assert snap["dream.zoom"] == pytest.approx(1.05)  # halfway
    assert snap["dream.lr"] == pytest.approx(0.06)
    assert snap["dream.iterations"] == 6
    assert store.target("dream.zoom") == pytest.approx(1.1)  # where it is heading
    clock.t += 0.5
    snap = store.snapshot()
    assert snap["dream.zoom"] == pytest.approx(1.1) and snap["dream.lr"] == pytest.approx(0.1)
    assert snap["dream.iterations"] == 10


def test_without_a_morph_values_jump_or_slew_as_before():
    clock = Clock()
    store = ParamStore(clock=clock)
    preset = morph_preset(0, **{"dream.iterations": 10, "dream.zoom": 1.1})
    apply_preset(store, preset)
    assert store.get("dream.iterations") == 10  # ints do not slew: a jump
    slew = store.registry.get("dream.zoom").slew
    clock.t += slew
    assert store.get("dream.zoom") == pytest.approx(1.1)  # its own slew, not a morph


def test_a_morph_starts_from_where_a_glide_has_got_to():
    clock = Clock()
    store = ParamStore(clock=clock)
    apply_preset(store, morph_preset(2.0, **{"dream.zoom": 1.2}))
    clock.t += 1.0
    assert store.get("dream.zoom") == pytest.approx(1.1)
    apply_preset(store, morph_preset(1.0, **{"dream.zoom": 1.0}))  # back, from mid-glide
    clock.t += 0.5
    assert store.get("dream.zoom") == pytest.approx(1.05)


def test_beats_and_bars_count_at_the_live_tempo_else_at_tempo_bpm():
    clock = Clock()
    store = ParamStore(clock=clock)
    apply_preset(store, morph_preset("4 beats", **{"dream.zoom": 1.2}), bpm=lambda: 120.0)  # 2 s
    clock.t += 1.0
    assert store.get("dream.zoom") == pytest.approx(1.1)
    clock.t += 1.0
    assert store.get("dream.zoom") == pytest.approx(1.2)

    store = ParamStore(clock=clock)
    store.set("tempo.bpm", 60.0, glide=False)
    apply_preset(store, morph_preset("1 bar", **{"dream.zoom": 1.2}), bpm=lambda: 0.0)  # unknown: 4 beats at 60
    clock.t += 2.0
    assert store.get("dream.zoom") == pytest.approx(1.1)

    store = ParamStore(clock=clock)
    store.set("tempo.bpm", 60.0, glide=False)
    apply_preset(store, morph_preset("2 beats", **{"dream.zoom": 1.2}))  # no live tempo given: tempo.bpm
    clock.t += 1.0
    assert store.get("dream.zoom") == pytest.approx(1.1)


@pytest.mark.parametrize("value,expected", [
    (4, Morph(4.0)), (0.5, Morph(0.5)), ("8 beats", Morph(8.0, "beats")), ("1 bar", Morph(1.0, "bars")),
    ("2.5 s", Morph(2.5)), ("3 Seconds", Morph(3.0)), (" 16beats ", Morph(16.0, "beats")),
])
def test_morph_values_a_preset_may_give(value, expected):
    assert parse_morph(value) == (expected, None)


@pytest.mark.parametrize("value", [-1, 301, float("nan"), True, "4 bananas", "beats", "-2 beats", "300 bars",
                                   "1e3 s", "4 beats " * 20, [4], {"s": 4}])
def test_bad_morph_values_are_named_with_what_is_allowed(value):
    preset, problems = parse_preset({"morph": value}, "show.toml", classes=CLASSES)
    assert preset is None and len(problems) == 1
    line = str(problems[0])
    assert line.startswith("show.toml: morph = ") and "seconds as a number in [0, 300]" in line and "bars" in line


def test_an_invalid_recall_changes_nothing_during_a_morph():
    clock = Clock()
    store = ParamStore(clock=clock)
    apply_preset(store, morph_preset(1.0, **{"dream.zoom": 1.2}))
    clock.t += 0.5
    bad = Preset("bad", params={"dream.zoom": "fast"}, morph=Morph(1.0))
    with pytest.raises(ParamError):
        apply_preset(store, bad)
    assert store.target("dream.zoom") == pytest.approx(1.2) and store.get("dream.zoom") == pytest.approx(1.1)


def test_the_morph_is_saved_loaded_and_compared(tmp_path):
    preset = morph_preset("2 bars", **{"dream.zoom": 1.1})
    path = save_preset(preset, tmp_path / "target.toml")
    assert 'morph = "2 bars"' in path.read_text()
    loaded = load_preset(path, classes=CLASSES)
    assert loaded.morph == Morph(2.0, "bars")
    assert ("morph", "2 bars", 3.0) in diff_presets(loaded, morph_preset(3.0, **{"dream.zoom": 1.1}))
    plain = Preset("target", params={"dream.zoom": 1.1})
    assert diff_presets(loaded, plain) == [("morph", "2 bars", None)]


def test_only_numbers_can_be_given_a_glide_time():
    store = ParamStore()
    with pytest.raises(ParamError, match="dream.grad_norm is a enum; only numbers can glide"):
        store.update({"dream.grad_norm": "std"}, durations={"dream.grad_norm": 1.0})
    assert store.get("dream.grad_norm") == "mean_abs"
