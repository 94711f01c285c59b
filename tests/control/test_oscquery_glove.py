"""OSCQuery fetched over HTTP; the glove through a pseudo-terminal that speaks the serial protocol."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request

import pytest

from performer.control import COMMANDS
from performer.control.glove import Calibration, Glove, SerialGlove, parse_line
from performer.control.oscquery import OscQueryServer
from performer.params import ParamStore


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_oscquery_tree_over_http_lists_every_parameter_with_its_attributes():
    store = ParamStore()
    srv = OscQueryServer(store, osc_port=9999, port=0, commands=COMMANDS)
    srv.start()
    try:
        base = f"http://127.0.0.1:{srv.port}"
        tree = get(base + "/")
        for p in store.registry:
            node = tree
            for part in p.address.strip("/").split("/"):
                node = node["CONTENTS"][part]
            assert node["FULL_PATH"] == p.address and node["DESCRIPTION"] == p.description
            if p.numeric:
                assert node["RANGE"] == [{"MIN": p.min, "MAX": p.max}] and node["TYPE"] in ("f", "i")
            if p.type == "enum":
                assert node["RANGE"] == [{"VALS": list(p.choices)}]
            if p.type == "trigger":
                assert node["ACCESS"] == 2 and "VALUE" not in node
            else:
                assert node["ACCESS"] == 3 and node["VALUE"] == [p.default]
        assert tree["CONTENTS"]["preset"]["CONTENTS"]["load"]["TYPE"] == "s"
        store.set("dream.iterations", 9)
        assert get(base + "/dream/iterations?VALUE") == {"VALUE": [9]}
        info = get(base + "/?HOST_INFO")
        assert info["OSC_PORT"] == 9999 and info["OSC_TRANSPORT"] == "UDP" and info["EXTENSIONS"]["VALUE"]
        with pytest.raises(urllib.error.HTTPError) as e:
            get(base + "/dream/nothing")
        assert e.value.code == 404
    finally:
        srv.stop()


def test_glove_lines_are_calibrated_smoothed_and_garbage_is_counted():
    sources: dict[str, float] = {}
    glove = Glove(sources, fingers=5, calibration=Calibration([100.0] * 5, [900.0] * 5), smoothing=0.0)
    glove.feed_line(b"100,100,100,100,100\n")
    assert sources["glove.fist"] == 0.0
    glove.feed_line("900,900,900,900,500")
    assert sources["glove.5"] == pytest.approx(0.5) and sources["glove.fist"] == pytest.approx(0.9)
    for bad in (b"12,34", b"\xff\xfe garbage", b"1,2,3,4,x", b"", b"nan,1,1,1,1"):
        glove.feed_line(bad)
    assert glove.bad_lines == 5 and glove.samples == 2
    assert parse_line("1, 2,3 ,4,5\r\n", 5) == [1, 2, 3, 4, 5]


def test_glove_over_a_pseudo_terminal_with_partial_lines_and_garbage(tmp_path):
    master, slave = os.openpty()
    port = os.ttyname(slave)
    sources: dict[str, float] = {}
    glove = Glove(sources, fingers=5, calibration=Calibration([0.0] * 5, [1000.0] * 5), smoothing=0.0)
    reader = SerialGlove(glove, port, baud=115200)
    reader.start()
    stop = threading.Event()

    def emit():
        chunks = [b"garb\x00age\n", b"500,500,", b"500,500,500\n", b"1000,1000,1000,1000,1000\n", b"12,13\n"]
        while not stop.is_set():
            for c in chunks:
                os.write(master, c)
                time.sleep(0.01)

    t = threading.Thread(target=emit, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 10
        while glove.samples < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.connected and glove.samples >= 20
        assert glove.bad_lines >= 2
        assert sources["glove.fist"] in (pytest.approx(0.5), pytest.approx(1.0))
    finally:
        stop.set()
        t.join(1)
        reader.stop()
        os.close(master)
        os.close(slave)


def test_glove_calibrate_command_over_a_pseudo_terminal(tmp_path):
    import subprocess
    import sys

    master, slave = os.openpty()
    stop = threading.Event()
    fist = threading.Event()

    def emit():  # an open hand until the command asks for the fist
        while not stop.is_set():
            v = 800 if fist.is_set() else 200
            os.write(master, f"{v},{v},{v},{v},{v}\n".encode())
            time.sleep(0.01)

    t = threading.Thread(target=emit, daemon=True)
    t.start()
    out = tmp_path / "cal.json"
    proc = subprocess.Popen([sys.executable, "-m", "performer", "glove", "calibrate", "--port", os.ttyname(slave),
                             "--seconds", "1.0", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "fist" in line:
                time.sleep(0.05)
                fist.set()
                break
        rest, err = proc.communicate(timeout=60)
    finally:
        stop.set()
        t.join(1)
        os.close(master)
        os.close(slave)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "saved" in rest
    cal = Calibration.load(out)
    assert all(v < 300 for v in cal.open) and all(v > 600 for v in cal.fist)
    assert cal.normalize([800] * 5)[0] == pytest.approx(1.0, abs=0.2)
