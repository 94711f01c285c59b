"""The status line of `performer serve`: 80 columns, words that say what they count, and log lines above it."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time

import numpy as np
import pytest

from conftest import wait_until
from performer.cli.log import FORMAT, StatusAwareHandler, TerminalLine, level_for
from performer.cli.status import WIDTH, control_stats, status_line
from sounds import ToneClassifier, tone


def status(**kw):
    s = {"fps": 12.3, "top_class": "siren", "confidence": 0.81, "level_db": -23.4, "classify_ms": 14.0,
         "skipped_hops": 3, "dropped_audio_blocks": 0, "input_lost": False, "render_errors": 0}
    s.update(kw)
    return s


def test_the_line_names_its_counters():
    line = status_line(status())
    assert line == "out 12.3 fps | siren 0.81 | -23 dB | classify 14 ms | skipped hops 3"
    line = status_line(status(dropped_audio_blocks=2, input_lost=True, render_errors=1), width=120)
    assert "dropped blocks 2" in line and "INPUT LOST" in line and "frame errors 1" in line
    assert status_line(status(top_class=None, level_db=None)).startswith("out 12.3 fps | - | - dB")
    assert status_line(status(glove_fist=0.534)).endswith("| glove fist 0.53")


def test_the_dream_rate_gives_way_to_the_age_of_a_stalled_frame():
    line = status_line(status(dream_fps=3.04, dream_frame_age_s=0.2))
    assert line.startswith("out 12.3 fps | dream 3.0 fps | siren 0.81"), line
    line = status_line(status(dream_fps=0.02, dream_frame_age_s=44.3))
    assert "last dream 44 s ago" in line and "dream 0.0 fps" not in line, line
    assert status_line(status(dream_fps=0.3, dream_frame_age_s=1.5)).count("dream 0.3 fps") == 1  # a slow dream


def test_the_help_of_serve_explains_every_field_of_the_line():
    from performer.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    text = " ".join(sub.choices["serve"].format_help().split())
    for field in ("out N fps", "dream N fps", "last dream N s ago", "CLASS P", "dB", "classify N ms",
                  "skipped hops N", "dropped blocks N", "frame errors N", "INPUT LOST", "glove fist"):
        assert field in text, field


class StallingRenderer:
    """Dreams a few quick frames, then one that takes until it is released (a 44-s frame, made short)."""

    def __init__(self, quick: int = 5) -> None:
        self.quick, self.n = quick, 0
        self.release = threading.Event()

    def prepare(self, params) -> None:
        pass

    def frame(self, params, scene):
        self.n += 1
        if self.n > self.quick:
            self.release.wait(60)
        else:
            time.sleep(0.02)
        return np.zeros((32, 32, 3), np.uint8)


def test_stats_report_the_age_of_the_newest_dreamed_frame_while_one_stalls():
    from performer.audio import ArraySource
    from performer.cli.status import live_status, stats_document
    from performer.engine import Engine

    renderer = StallingRenderer()
    engine = Engine(source=ArraySource(tone(440, 2.0), 22050, name="tone", loop=True), classifier=ToneClassifier(),
                    renderer=renderer)
    assert engine.status()["dream_frame_age_s"] is None  # no frame yet
    engine.start()
    try:
        assert wait_until(lambda: engine.render_stats.frames >= renderer.quick, 30)
        flowing = engine.status()
        assert flowing["dream_fps"] > 1 and flowing["dream_frame_age_s"] < 1.0
        time.sleep(3.0)  # the next frame is stalled for 3 s and counting
        doc = stats_document(engine, None)
        line = status_line(live_status(engine, None))
    finally:
        renderer.release.set()
        engine.stop()
    assert doc["dream_frames"] == renderer.quick
    assert doc["dream_frame_age_s"] >= 3.0
    assert doc["dream_fps"] <= 1 / 3.0  # not the rate of the frames before the stall
    assert re.search(r"last dream [3-9] s ago", line), line
    json.dumps(doc)  # the --stats file can hold it


@pytest.mark.parametrize("extra", [
    {},
    {"top_class": "children_playing", "skipped_hops": 123456, "dropped_audio_blocks": 98765, "classify_ms": 1234.0},
    {"top_class": "a_class_name_from_a_custom_model_that_goes_on_and_on_and_on", "input_lost": True,
     "render_errors": 99999, "fps": 123.4, "level_db": -120.0},
])
def test_the_line_fits_80_columns(extra):
    line = status_line(status(**extra))
    assert len(line) <= WIDTH < 80
    assert "fps" in line and "dB" in line
    if extra.get("input_lost"):
        assert "INPUT LOST" in line  # the last thing to go
    assert len(status_line(status(**extra), width=40)) <= 40


def test_a_log_line_clears_the_status_line_and_it_comes_back_below():
    stream = io.StringIO()
    line = TerminalLine(stream)
    handler = StatusAwareHandler(line, stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("test.status")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        line.show("12.3 fps | siren 0.81", 30)
        logger.warning("something happened")
        line.show("12.4 fps | siren 0.82", 30)
        line.close()
    finally:
        logger.removeHandler(handler)
    shown = [row.split("\r")[-1] for row in stream.getvalue().split("\n")]
    assert shown[0].endswith("WARNING test.status: something happened")
    assert "fps" not in shown[0]  # the status line was blanked first, not glued in front of the log line
    assert shown[1].startswith("12.4 fps | siren 0.82")
    assert shown[-1] == ""


def test_log_levels_quiet_by_default_and_v_q_move_them():
    assert level_for(0, 0) == logging.WARNING
    assert level_for(1, 0) == logging.INFO and level_for(2, 0) == logging.DEBUG and level_for(5, 0) == logging.DEBUG
    assert level_for(0, 1) == logging.ERROR
    assert level_for(0, 0, logging.INFO) == logging.INFO  # serve
    assert level_for(1, 0, logging.INFO) == logging.DEBUG and level_for(0, 1, logging.INFO) == logging.WARNING


def test_control_stats_carry_osc_midi_and_glove_counters():
    from collections import Counter
    from types import SimpleNamespace

    from performer.control.glove import Glove
    from performer.control.midi import MidiStats

    glove = Glove({}, fingers=2, smoothing=0.0)
    glove.feed([0.0, 1023.0])
    controls = SimpleNamespace(
        osc=SimpleNamespace(port=9000, received=5, errors=Counter(bad_value=2)),
        sender=SimpleNamespace(destinations=[("127.0.0.1", 7000)], sent=40, dropped_events=1, coalesced=3),
        midi=SimpleNamespace(stats=MidiStats(messages=7, applied=6, unmapped=1, ports=["ctl"], backend="JACK MIDI"),
                             armed=None),
        glove=glove, serial_glove=SimpleNamespace(port="/dev/ttyACM0", connected=True))
    c = control_stats(controls)
    assert c["osc_in"] == {"port": 9000, "received": 5, "errors": {"bad_value": 2}}
    assert c["osc_out"]["sent_packets"] == 40 and c["osc_out"]["destinations"] == ["127.0.0.1:7000"]
    assert c["midi"]["messages"] == 7 and c["midi"]["system"] == "JACK MIDI" and c["midi"]["ports"] == ["ctl"]
    assert c["glove"]["connected"] and c["glove"]["samples"] == 1
    assert c["glove"]["values"] == {"glove.1": 0.0, "glove.2": 1.0, "glove.fist": 0.5}


def test_live_status_adds_the_glove_once_it_sends():
    from types import SimpleNamespace

    from performer.cli.status import live_status
    from performer.control.glove import Glove

    glove = Glove({}, fingers=2, smoothing=0.0)
    engine = SimpleNamespace(status=lambda: status())
    controls = SimpleNamespace(glove=glove)
    assert "glove_fist" not in live_status(engine, controls)
    glove.feed([1023.0, 0.0])
    assert live_status(engine, controls)["glove_fist"] == 0.5
    assert "glove fist 0.50" in status_line(live_status(engine, controls))


def test_the_readmes_example_line_is_what_serve_draws():
    from conftest import REPO

    shown = re.search(r"status line such as\s+`([^`]+)`", (REPO / "README.md").read_text())
    assert shown is not None
    line = status_line({"fps": 30.0, "dream_fps": 4.8, "dream_frame_age_s": 0.1, "frame_ms": 200.0,
                        "top_class": "siren", "confidence": 0.81, "level_db": -23.4, "classify_ms": 14.0,
                        "skipped_hops": 3})
    assert shown.group(1) == line
