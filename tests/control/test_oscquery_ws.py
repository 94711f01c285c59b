"""OSCQuery as the tools expect it, on loopback with a real WebSocket client (the ``websockets`` library's): HOST_INFO
names LISTEN and PATH_CHANGED, every answer carries a CORS header, the analysis values are read-only nodes with types
and ranges, LISTEN pushes binary OSC that python-osc parses, IGNORE stops it, PATH_CHANGED follows the tree."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.request

import pytest
from pythonosc.osc_message import OscMessage
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from performer.control import COMMANDS
from performer.control.oscquery import OscQueryServer
from performer.params import ParamStore

BASE = [("/performer/class", ["kick", 0, 0.75]), ("/performer/probs", [0.75, 0.25]),
        ("/performer/level", [-20.0]), ("/performer/peak", [-6.0]), ("/performer/onset", [0.5]),
        ("/performer/centroid", [1500.0]), ("/performer/bands", [-30.0, -40.0, -50.0])]
GLOVE = [("/performer/glove/fist", [0.5]), ("/performer/glove", [0.1, 0.2, 0.3, 0.4, 0.5]),
         ("/performer/glove/raw", [100.0, 200.0, 300.0, 400.0, 500.0])]


class Analysis:
    """What the engine hears, changeable by the test (the callable ``Controls`` passes)."""

    def __init__(self) -> None:
        self.messages = list(BASE)

    def __call__(self):
        return list(self.messages)

    def set(self, address: str, args: list) -> None:
        self.messages = [(a, args if a == address else v) for a, v in self.messages]


@pytest.fixture
def analysis():
    return Analysis()


@pytest.fixture
def server(analysis):
    store = ParamStore()
    store.set("control.osc_out_rate", 50.0)
    srv = OscQueryServer(store, osc_port=9999, port=0, commands=COMMANDS, idle_timeout=1.0, analysis=analysis)
    srv.start()
    yield srv
    srv.stop()


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers, json.loads(r.read())


def recv_osc(ws, want: str, *, timeout: float = 5.0, frames: int = 500) -> list:
    """The arguments of the next message at ``want`` (skipping others); bounded in time and frames."""
    deadline = time.monotonic() + timeout
    for _ in range(frames):
        data = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        assert isinstance(data, bytes), f"expected binary OSC, got text {data!r}"
        msg = OscMessage(data)
        if msg.address == want:
            return list(msg.params)
    raise AssertionError(f"no {want} in {frames} frames")


def recv_text(ws, *, timeout: float = 5.0, frames: int = 500) -> dict:
    deadline = time.monotonic() + timeout
    for _ in range(frames):
        data = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(data, str):
            return json.loads(data)
    raise AssertionError(f"no text message in {frames} frames")


def listen(ws, *paths: str, command: str = "LISTEN") -> None:
    for p in paths:
        ws.send(json.dumps({"COMMAND": command, "DATA": p}))


def test_host_info_names_the_websocket_extensions_and_answers_carry_cors(server):
    headers, info = get(f"http://127.0.0.1:{server.port}/?HOST_INFO")
    assert info["EXTENSIONS"]["LISTEN"] is True and info["EXTENSIONS"]["PATH_CHANGED"] is True
    assert info["EXTENSIONS"]["ACCESS"] and info["EXTENSIONS"]["RANGE"] and info["EXTENSIONS"]["VALUE"]
    assert "WS_PORT" not in info  # the WebSocket is on this same port
    assert headers["Access-Control-Allow-Origin"] == "*"
    headers, _ = get(f"http://127.0.0.1:{server.port}/dream/lr")
    assert headers["Access-Control-Allow-Origin"] == "*"
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}/", method="OPTIONS",
                                 headers={"Origin": "http://example.org", "Access-Control-Request-Method": "GET"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in r.headers["Access-Control-Allow-Methods"]


def test_analysis_values_are_read_only_nodes_with_types_and_ranges(server, analysis):
    analysis.messages += GLOVE + [("/performer/tempo/bpm", [120.0])]
    _, tree = get(f"http://127.0.0.1:{server.port}/")
    perf = tree["CONTENTS"]["performer"]["CONTENTS"]
    probs = perf["probs"]
    assert probs["ACCESS"] == 1 and probs["TYPE"] == "ff" and probs["VALUE"] == [0.75, 0.25]
    assert probs["RANGE"] == [{"MIN": 0.0, "MAX": 1.0}] * 2
    cls = perf["class"]
    assert cls["ACCESS"] == 1 and cls["TYPE"] == "sif" and cls["RANGE"][1] == {"MIN": 0, "MAX": 1}
    level = perf["level"]
    assert level["TYPE"] == "f" and level["UNIT"] == ["dBFS"] and level["RANGE"] == [{"MIN": -120.0, "MAX": 0.0}]
    assert perf["bands"]["TYPE"] == "fff" and perf["onset"]["RANGE"] == [{"MIN": 0.0, "MAX": 1.0}]
    glove = perf["glove"]  # a value and a container at once
    assert glove["ACCESS"] == 1 and glove["TYPE"] == "fffff" and set(glove["CONTENTS"]) == {"fist", "raw"}
    assert perf["tempo"]["CONTENTS"]["bpm"]["UNIT"] == ["BPM"]
    for node in (probs, cls, level, perf["peak"], perf["centroid"], glove, glove["CONTENTS"]["fist"]):
        assert node["ACCESS"] == 1 and node["DESCRIPTION"] and "RANGE" in node
    assert perf["status"]["ACCESS"] == 2  # the command beside them is untouched
    _, value = get(f"http://127.0.0.1:{server.port}/performer/level?VALUE")
    assert value == {"VALUE": [-20.0]}


def test_listen_pushes_binary_osc_and_ignore_stops_it(server, analysis):
    with connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5) as ws:
        listen(ws, "/dream/lr", "/performer/level")
        assert recv_osc(ws, "/dream/lr") == [pytest.approx(0.02)]  # the current value on LISTEN
        server.store.set("dream.lr", 0.1)
        assert recv_osc(ws, "/dream/lr") == [pytest.approx(0.1)]
        assert recv_osc(ws, "/performer/level") == [pytest.approx(-20.0)]
        analysis.set("/performer/level", [-3.0])
        for _ in range(100):  # pushed at the OSC-out rate: the new value within a few ticks
            if recv_osc(ws, "/performer/level") == [pytest.approx(-3.0)]:
                break
        else:
            raise AssertionError("the new level never arrived")
        listen(ws, "/dream/lr", "/performer/level", command="IGNORE")
        listen(ws, "/dream/iterations")  # a marker: commands are applied in order
        seen = []
        for _ in range(500):
            msg = OscMessage(ws.recv(timeout=5))
            if msg.address == "/dream/iterations":
                break
            seen.append(msg.address)
        assert set(seen) <= {"/dream/lr", "/performer/level"}  # those already on their way
        server.store.set("dream.lr", 0.05)
        analysis.set("/performer/level", [-9.0])
        server.store.set("dream.iterations", 7)
        assert recv_osc(ws, "/dream/iterations") == [7]
        deadline, late = time.monotonic() + 0.5, []
        while time.monotonic() < deadline:
            try:
                late.append(OscMessage(ws.recv(timeout=0.1)).address)
            except TimeoutError:
                pass
        assert late == [], f"still pushed after IGNORE: {late}"
    assert server.hub.pushed >= 5


def test_path_changed_when_analysis_nodes_appear_or_change_type(server, analysis):
    with connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5) as ws:
        time.sleep(0.1)  # a few ticks with the tree as it is
        analysis.messages += GLOVE
        assert recv_text(ws) == {"COMMAND": "PATH_CHANGED", "DATA": "/performer"}
        _, node = get(f"http://127.0.0.1:{server.port}/performer/glove/fist")
        assert node["VALUE"] == [0.5]
        analysis.set("/performer/probs", [0.5, 0.25, 0.25])  # the classifier now has three classes
        changed = {recv_text(ws)["DATA"], recv_text(ws)["DATA"]}
        assert changed == {"/performer/probs", "/performer/class"}
        analysis.set("/performer/level", [-1.0])  # a value changing is not a path change
        time.sleep(0.2)
        with pytest.raises(TimeoutError):
            while True:
                assert not isinstance(ws.recv(timeout=0.2), str)
    assert server.hub.path_changes == 3


def test_bad_commands_are_named_counted_and_the_client_stays(server, caplog):
    with caplog.at_level(logging.WARNING, logger="performer.control.oscquery_ws"):
        with connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5) as ws:
            ws.send("not json")
            ws.send(json.dumps({"COMMAND": "EXPLODE", "DATA": "/dream/lr"}))
            listen(ws, "/dream/nothing", "/performer")  # no value at either (the second is a container)
            ws.send(b"/dream/lr\x00\x00\x00,f\x00\x00?\x00\x00\x00")  # OSC over the WebSocket is not applied
            listen(ws, "/dream/iterations")
            assert recv_osc(ws, "/dream/iterations") == [2]
    assert server.hub.refused_commands == 5 and server.hub.ignored_osc == 1
    assert server.store.get("dream.lr") == pytest.approx(0.02)
    assert "'not json' is not understood" in caplog.text and "'EXPLODE' is not supported" in caplog.text
    assert "LISTEN '/dream/nothing': no value at that path" in caplog.text
    assert "binary OSC is not applied here" in caplog.text


def test_websocket_clients_are_bounded_and_the_host_is_checked(analysis):
    srv = OscQueryServer(ParamStore(), osc_port=9999, port=0, idle_timeout=1.0, analysis=analysis, max_listeners=1)
    srv.start()
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5):
            with pytest.raises(InvalidStatus) as e:
                connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5)
            assert e.value.response.status_code == 503 and srv.hub.refused_clients == 1
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: rebind.evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.0 403")
    finally:
        srv.stop()


def test_a_client_that_stops_answering_is_dropped(server):
    # A raw socket that completes the handshake and then never reads nor answers a ping.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 101")
        assert server.hub.clients == 1
        deadline = time.monotonic() + 10
        while server.hub.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.hub.clients == 0


def test_stop_closes_connected_clients(analysis):
    srv = OscQueryServer(ParamStore(), osc_port=9999, port=0, idle_timeout=1.0, analysis=analysis)
    srv.start()
    with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5) as ws:
        srv.stop()
        ws.recv_events_thread.join(10)
        assert not ws.recv_events_thread.is_alive()
        assert ws.close_code == 1000
