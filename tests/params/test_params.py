"""The parameter registry and the live store: validation, normalisation, slew, snapshots, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from performer.errors import ParamRangeError, ParamTypeError, UnknownParamError
from performer.params import GROUPS, PARAMS, REGISTRY, Param, ParamStore, Registry


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_every_declaration_is_complete_and_unique():
    assert len({p.name for p in PARAMS}) == len(PARAMS)
    assert len({p.address for p in PARAMS}) == len(PARAMS)
    for p in PARAMS:
        assert p.description and p.group in GROUPS
        assert p.address.startswith("/") and " " not in p.address
        if p.numeric:
            assert p.min <= p.default <= p.max


def test_each_group_has_parameters():
    for group in ("audio", "classifier", "mapping", "dream", "output", "control"):
        assert REGISTRY.in_group(group), group


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="min < max"):
        Param("x.y", "float", 0.0, "dream", "d", min=1.0, max=0.0)
    with pytest.raises(ValueError, match="enum default"):
        Param("x.y", "enum", "c", "dream", "d", choices=("a", "b"))
    with pytest.raises(ParamRangeError):
        Param("x.y", "int", 50, "dream", "d", min=0, max=10)
    p = Param("x.y", "float", 0.0, "dream", "d", min=0, max=1)
    with pytest.raises(ValueError, match="declared twice"):
        Registry([p, p])


def test_wrong_type_names_parameter_value_and_type():
    store = ParamStore()
    with pytest.raises(ParamTypeError) as e:
        store.set("dream.iterations", "lots")
    assert "dream.iterations" in str(e.value) and "'lots'" in str(e.value) and "int" in str(e.value)
    with pytest.raises(ParamTypeError, match="fraction"):  # a preset file's fraction is a typo ...
        store.registry.get("dream.iterations").validate(2.5, strict=True)
    assert store.set("dream.iterations", 3.6) == 4  # ... while a fader's float is rounded
    with pytest.raises(ParamTypeError):
        store.set("dream.lr", True)
    with pytest.raises(ParamTypeError):
        store.set("dream.layers", 3)
    with pytest.raises(ParamTypeError):
        store.set("classifier.lock", "maybe")


def test_out_of_range_clamps_knobs_and_rejects_strict_values():
    store = ParamStore()
    assert store.set("dream.iterations", 500) == 20  # a knob turned too far clamps
    assert store.set("dream.iterations", 3.0) == 3  # an integral float from OSC is fine
    p = REGISTRY.get("dream.iterations")
    with pytest.raises(ParamRangeError) as e:
        p.validate(500, strict=True)
    assert "[1, 20]" in str(e.value) and "500" in str(e.value)
    with pytest.raises(ParamRangeError, match="allowed: one of"):
        store.set("dream.network", "alexnet")
    with pytest.raises(ParamRangeError, match="finite"):
        store.set("dream.lr", float("nan"))


def test_a_rejected_value_leaves_the_store_untouched():
    store = ParamStore()
    before = store.snapshot()
    with pytest.raises(ParamTypeError):
        store.update({"dream.octaves": 3, "dream.lr": "fast"})
    after = store.snapshot()
    assert dict(after) == dict(before) and after.version == before.version


def test_unknown_parameter_suggests_the_close_name():
    store = ParamStore()
    with pytest.raises(UnknownParamError, match="dream.iterations"):
        store.set("dream.iteration", 3)
    with pytest.raises(UnknownParamError):
        REGISTRY.by_address("/dream/nope")
    assert REGISTRY.by_address("/dream/iterations").name == "dream.iterations"


def test_enum_bool_and_string_coercion():
    store = ParamStore()
    assert store.set("dream.network", 1) == "googlenet"  # by index, as OSC clients may send
    assert store.set("classifier.lock", 1) is True
    assert store.set("classifier.lock", "off") is False
    assert store.set("dream.layers", "blocks.4=1") == "blocks.4=1"


def test_normalised_get_and_set():
    store = ParamStore()
    assert store.set_normalized("dream.iterations", 0.0, glide=False) == 1
    assert store.set_normalized("dream.iterations", 1.0, glide=False) == 20
    assert store.set_normalized("dream.iterations", 2.0, glide=False) == 20  # clamped to 0..1 first
    store.set_normalized("audio.gain", 0.5, glide=False)
    assert store.get("audio.gain") == pytest.approx(0.0)
    assert store.get_normalized("audio.gain") == pytest.approx(0.5)
    assert store.set_normalized("output.layout", 1.0) == "composite"
    with pytest.raises(ParamTypeError, match="normalised"):
        store.set_normalized("dream.layers", 0.5)
    with pytest.raises(ParamTypeError):
        store.set_normalized("dream.lr", "half")


def test_slew_glides_linearly_to_the_target():
    clock = FakeClock()
    store = ParamStore(clock=clock)
    p = REGISTRY.get("dream.lr")
    assert p.slew > 0
    store.set("dream.lr", 0.1)
    assert store.get("dream.lr") == pytest.approx(p.default)  # no time has passed
    clock.t += p.slew / 2
    assert store.get("dream.lr") == pytest.approx((p.default + 0.1) / 2)
    assert store.target("dream.lr") == 0.1
    clock.t += p.slew
    assert store.get("dream.lr") == pytest.approx(0.1)
    store.set("dream.lr", 0.05, glide=False)
    assert store.get("dream.lr") == 0.05


def test_triggers_count_and_snapshots_tell_when_they_fired():
    store = ParamStore()
    s0 = store.snapshot()
    assert not s0.fired("dream.restart", None)
    store.fire("dream.restart")
    s1 = store.snapshot()
    assert s1.fired("dream.restart", s0) and s1.fired("dream.restart", None)
    assert not store.snapshot().fired("dream.restart", s1)
    store.set("dream.restart", None)  # setting a trigger fires it
    assert store.snapshot()["dream.restart"] == 2
    with pytest.raises(ParamTypeError):
        store.fire("dream.lr")


def test_subscribers_get_changes_and_a_broken_one_does_not_stop_others():
    store = ParamStore()
    seen = []

    def broken(change):
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    unsubscribe = store.subscribe(seen.append)
    store.set("dream.octaves", 3, source="osc")
    store.set("dream.octaves", 3, source="osc")  # unchanged: no event
    assert [(c.name, c.value, c.previous, c.source) for c in seen] == [("dream.octaves", 3, 1, "osc")]
    unsubscribe()
    store.set("dream.octaves", 4)
    assert len(seen) == 1


def test_snapshots_are_consistent_under_concurrent_writers():
    """Writers always set dream.width and dream.height to the same value in one update;
    every snapshot a reader takes must show them equal."""
    store = ParamStore()
    stop = threading.Event()
    bad = []

    def writer(seed: int) -> int:
        n = 0
        while not stop.is_set() and n < 3000:
            v = 64 + (seed * 7919 + n) % 1000
            store.update({"dream.width": v, "dream.height": v}, source=f"w{seed}")
            n += 1
        return n

    def reader() -> int:
        n = 0
        while not stop.is_set() and n < 3000:
            s = store.snapshot()
            if s["dream.width"] != s["dream.height"]:
                bad.append((s["dream.width"], s["dream.height"]))
            n += 1
        return n

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(writer, i) for i in range(4)] + [pool.submit(reader) for _ in range(4)]
        counts = [f.result(timeout=60) for f in futures]
    stop.set()
    assert not bad
    assert all(c > 0 for c in counts)
    assert store.version >= 1


def test_concurrent_triggers_are_all_counted():
    store = ParamStore()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: store.fire("dream.restart"), range(2000), timeout=60))
    assert store.get("dream.restart") == 2000


def test_derived_documents_list_every_parameter():
    import json

    md = REGISTRY.to_markdown()
    data = json.loads(REGISTRY.to_json())
    text = REGISTRY.to_text()
    assert [d["name"] for d in data] == REGISTRY.names()
    for p in PARAMS:
        assert f"`{p.address}`" in md and p.name in text
