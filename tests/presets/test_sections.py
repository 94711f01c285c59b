"""A preset's hardware and connection sections declared as dataclasses; the schema's checks derived from them."""

from __future__ import annotations

import dataclasses

import pytest

from performer.outputs.factory import OutputSection, output_section
from performer.presets import parse_preset
from performer.presets.checks import schema_of
from performer.presets.schema import GLOVE, MIDI, MIDI_CC, MIDI_NOTE, MIDI_PROGRAM, OSC, OSC_DEST, OUTPUT, VIDEO
from performer.presets.sections import GloveSection, MidiSection, OscSection, glove_section, osc_section
from performer.video.factory import VideoSection

BAD = object()
"""A value no check allows."""

# What each key of each section allows, in words (the schema's words before it was derived), and whether required.
WORDS = {
    "osc": (OSC, {"host": "a string", "port": "an integer in [1, 65535]", "allow": "a list of client addresses",
                  "oscquery_port": "an integer in [0, 65535]", "thumbnail": "an integer in [0, 512]"}, ()),
    "osc.destinations": (OSC_DEST, {"host": "a string", "port": "an integer in [1, 65535]"}, ("host", "port")),
    "midi": (MIDI, {"input": "a string", "output": "a string", "feedback": "true or false"}, ()),
    "midi.cc": (MIDI_CC, {"param": "the name of a parameter (see `performer params`)", "cc": "an integer in [0, 127]",
                          "channel": "an integer in [1, 16]", "bits": "one of 7, 14", "takeover": "true or false"},
                ("param", "cc")),
    "midi.notes": (MIDI_NOTE, {"note": "an integer in [0, 127]", "channel": "an integer in [1, 16]",
                               "preset": "next, prev or a preset name",
                               "param": "the name of a parameter (see `performer params`)"}, ("note",)),
    "midi.programs": (MIDI_PROGRAM, {"program": "an integer in [0, 127]", "preset": "next, prev or a preset name"},
                      ("program", "preset")),
    "glove": (GLOVE, {"source": "one of serial, osc", "port": "a string", "baud": "an integer in [300, 2000000]",
                      "fingers": "an integer in [1, 10]", "calibration": "a string",
                      "smoothing": "a number in [0, 5]"}, ()),
    "outputs.x": (OUTPUT, {"type": "one of ndi, syphon, spout, preview, record, frames", "enabled": "true or false",
                           "name": "a string", "width": "an integer in [16, 7680]",
                           "height": "an integer in [16, 4320]", "layout": "one of dream, composite",
                           "fit": "one of scale, letterbox, crop", "path": "a string", "host": "a string",
                           "port": "an integer in [0, 65535]", "fps": "a number in [0.1, 240]"}, ("type",)),
    "video": (VIDEO, {"source": "ndi:NAME (an NDI source",
                      "extra_ips": "a list of IP addresses or host names NDI asks for sources besides mDNS",
                      "bandwidth": "one of highest, lowest"}, ()),
}


@pytest.mark.parametrize("section", list(WORDS))
def test_each_key_allows_what_it_did_in_the_same_words(section):
    schema, words, required = WORDS[section]
    assert list(schema) == list(words)
    for key, (check, is_required) in schema.items():
        assert check(BAD).startswith(words[key]), (section, key, check(BAD))
        assert is_required == (key in required), (section, key)


def test_a_bad_section_is_reported_with_the_key_the_value_and_what_is_allowed():
    _, problems = parse_preset({"osc": {"port": 0, "bogus": 1},
                                "glove": {"fingers": 11}, "midi": {"cc": [{"param": "dream.lr", "cc": 300}]},
                                "outputs": {"main": {"type": "hologram"}}}, "p.toml", classes=["a", "b"])
    by_key = {p.key: p for p in problems}
    assert by_key["osc.port"].allowed == "an integer in [1, 65535]" and by_key["osc.port"].value == 0
    assert by_key["osc.bogus"].allowed.startswith("no such key; allowed keys: host, port, allow, oscquery_port, "
                                                  "thumbnail, destinations")
    assert by_key["glove.fingers"].allowed == "an integer in [1, 10]"
    assert by_key["midi.cc[0].cc"].allowed == "an integer in [0, 127]"
    assert by_key["outputs.main.type"].allowed.startswith("one of ndi")
    _, problems = parse_preset({"osc": {"destinations": [{"host": "a"}]}}, "p.toml", classes=["a", "b"])
    assert [(p.key, p.allowed) for p in problems] == [("osc.destinations[0].port", "required")]


def test_a_checked_table_reads_as_its_dataclass_with_the_defaults_for_what_it_leaves_out():
    preset, problems = parse_preset({"osc": {"port": 9100, "destinations": [{"host": "h", "port": 7000}]},
                                     "glove": {"port": "/dev/ttyACM0"}, "video": {"source": "camera:0"},
                                     "outputs": {"p": {"type": "preview", "port": 9999}}}, classes=["a", "b"])
    assert problems == [] and preset is not None
    osc = osc_section(preset.osc)
    assert (osc.port, osc.host, osc.allow, osc.thumbnail, osc.oscquery_port) == (9100, "127.0.0.1", [], 0, None)
    assert [(d.host, d.port) for d in osc.destinations] == [("h", 7000)]
    glove = glove_section(preset.glove)
    assert (glove.port, glove.source, glove.baud, glove.fingers, glove.smoothing) == (
        "/dev/ttyACM0", "serial", 115200, 5, 0.05)
    assert VideoSection(**preset.video) == VideoSection(source="camera:0", extra_ips=[], bandwidth="lowest")
    out = output_section("p", preset.outputs["p"])
    assert (out.type, out.port, out.enabled, out.fit, out.layout, out.fps) == ("preview", 9999, True, "letterbox",
                                                                                None, None)
    assert preset.osc == {"port": 9100, "destinations": [{"host": "h", "port": 7000}]}  # saved as written


def test_every_field_has_a_check_and_defaults_are_allowed():
    for cls in (OscSection, MidiSection, GloveSection, OutputSection, VideoSection):
        schema = schema_of(cls)
        for f in dataclasses.fields(cls):
            if f.name in schema and f.default not in (dataclasses.MISSING, None):
                assert schema[f.name][0](f.default) is None, (cls.__name__, f.name, f.default)
