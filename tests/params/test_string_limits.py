"""Issue #24 item 6: string parameters had no length limit (/tempo/midi_input stored 60,000 characters, sent to
every OSC destination and saved into presets). Each string parameter declares ``max_length``; the store, OSC
in, preset checking and the derived documents all take it from the declaration.
"""

from __future__ import annotations

import json

import pytest

from performer.control.osc_intake import Intake, SetItem
from performer.control.osc_wire import build_message
from performer.errors import ParamRangeError
from performer.params import PARAMS, REGISTRY, Param, ParamStore
from performer.presets import check_preset

LONG = "x" * 60_000
STRINGS = [p for p in PARAMS if p.type == "string"]


def test_every_string_parameter_declares_a_max_length():
    assert STRINGS
    for p in STRINGS:
        assert isinstance(p.max_length, int) and 0 < p.max_length <= 4096, p.name
        assert f"at most {p.max_length} characters" in p.allowed()
    with pytest.raises(ValueError, match="max_length"):
        Param("x.y", "string", "", "control", "d")
    with pytest.raises(ValueError, match="max_length"):
        Param("x.y", "float", 0.0, "control", "d", min=0, max=1, max_length=10)
    with pytest.raises(ParamRangeError):
        Param("x.y", "string", "eleven char", "control", "d", max_length=10)


@pytest.mark.parametrize("name", [p.name for p in STRINGS])
def test_the_store_refuses_a_string_past_its_length_in_one_short_line(name):
    store = ParamStore()
    p = store.registry.get(name)
    before = store.get(name)
    with pytest.raises(ParamRangeError) as e:
        store.set(name, LONG)
    message = str(e.value)
    assert name in message and "60000 characters" in message and f"at most {p.max_length}" in message
    assert len(message) < 300
    assert store.get(name) == before
    assert store.set(name, "a" * p.max_length) == "a" * p.max_length  # the limit itself is allowed


def test_osc_refuses_the_60000_character_midi_input_and_answers_why():
    """The issue's repro: /tempo/midi_input with 60,000 characters was stored and sent everywhere."""
    sent: list[bytes] = []
    intake = Intake(REGISTRY, send=lambda data, addr: sent.append(data) or True)
    items = intake.read([(build_message("/tempo/midi_input", [LONG]), ("127.0.0.1", 5000))])
    assert items == [] and intake.errors == {"out_of_range": 1}
    assert len(sent) == 1 and b"at most" in sent[0] and len(sent[0]) < 1000
    ok = intake.read([(build_message("/tempo/midi_input", ["nanoKONTROL2"]), ("127.0.0.1", 5000))])
    assert ok == [SetItem("tempo.midi_input", False, "nanoKONTROL2")] and type(ok[0]) is SetItem


def test_a_preset_with_a_too_long_string_is_refused_naming_the_limit(tmp_path):
    path = tmp_path / "long.toml"
    path.write_text(f'[params.tempo]\nmidi_input = "{LONG}"\n')
    [problem] = check_preset(path)
    limit = REGISTRY.get("tempo.midi_input").max_length
    assert problem.key == "params.tempo.midi_input" and f"at most {limit} characters" in problem.allowed
    assert len(str(problem)) < 400


def test_the_derived_documents_carry_the_limit():
    data = {d["name"]: d for d in json.loads(REGISTRY.to_json())}
    for p in STRINGS:
        assert data[p.name]["max_length"] == p.max_length
