"""OSCQuery's WebSocket probed as a hostile web page or client would, on loopback: a page from another origin is
refused (tools without an Origin and the server's own origin are let in), a deeply nested JSON message is refused
without killing the reader, refused handshakes and dropped silent clients cost one counted log line, never a
traceback each."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from contextlib import ExitStack

import pytest
from test_oscquery_ws import Analysis, listen, recv_osc
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import wait_until
from performer.control.oscquery import OscQueryServer
from performer.params import ParamStore

HANDSHAKE = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n")


@pytest.fixture
def server():
    store = ParamStore()
    srv = OscQueryServer(store, osc_port=9999, port=0, idle_timeout=1.0, analysis=Analysis())
    srv.start()
    yield srv
    srv.stop()


def handshake(port: int, extra: str = "", version: int = 13) -> tuple[int, bytes]:
    """(status, whole answer) of a raw WebSocket handshake; the socket is closed after the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(HANDSHAKE.format(port=port, extra=extra, version=version).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if not data.startswith(b"HTTP/1.1 101"):
            try:
                while chunk := s.recv(4096):
                    data += chunk
            except TimeoutError:
                pass
    return int(data.split(b" ", 2)[1]), data


def lines(caplog, since: int = 0) -> list[logging.LogRecord]:
    """Records at INFO or above, from any logger (the websockets library's too)."""
    return [r for r in caplog.records[since:] if r.levelno >= logging.INFO]


def test_a_page_from_another_origin_is_refused_and_tools_and_the_own_origin_are_let_in(server, caplog):
    with caplog.at_level(logging.INFO):
        for _ in range(30):
            status, answer = handshake(server.port, "Origin: http://evil.example\r\n")
            assert status == 403
        refused = lines(caplog)
    assert b"Origin 'http://evil.example' is not this server's" in answer
    assert f"allowed: no Origin (OSCQuery tools) or http://127.0.0.1:{server.port}".encode() in answer
    assert server.hub.refused_origins == 30 and server.hub.clients == 0
    # one counted line a second, whatever the number of refusals (the burst may straddle a second or two)
    assert 1 <= len(refused) <= 3, [r.getMessage() for r in refused]
    assert all("Origin 'http://evil.example'" in r.getMessage() and "so far)" in r.getMessage() for r in refused)
    with connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5) as ws:  # a tool: no Origin at all
        listen(ws, "/dream/iterations")
        assert recv_osc(ws, "/dream/iterations") == [2]
    with connect(f"ws://127.0.0.1:{server.port}/", origin=f"http://127.0.0.1:{server.port}",
                 open_timeout=5) as ws:
        listen(ws, "/dream/iterations")
        assert recv_osc(ws, "/dream/iterations") == [2]


def test_deeply_nested_json_is_refused_and_the_reader_lives(server, caplog, monkeypatch):
    died: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda a: died.append(f"{a.exc_type.__name__} in {a.thread}"))
    with caplog.at_level(logging.INFO), ExitStack() as stack:
        clients = [stack.enter_context(connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5)) for _ in range(3)]
        for ws in clients:
            ws.send("[" * 30000 + "]" * 30000)
            ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/dream/iterations", "x": [[[[[[[[[[1]]]]]]]]]]}))
        for ws in clients:
            listen(ws, "/dream/iterations")  # the reader still reads: this is applied
            assert recv_osc(ws, "/dream/iterations") == [2]
    assert died == []
    assert server.hub.refused_commands == 6
    nested = [r for r in lines(caplog) if "brackets" in r.getMessage()]
    assert 1 <= len(nested) <= 3 and "allowed: at most 8" in nested[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_refused_handshakes_cost_one_counted_line(caplog):
    srv = OscQueryServer(ParamStore(), osc_port=9999, port=0, idle_timeout=1.0, analysis=Analysis(), max_listeners=1)
    srv.start()
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5):
            with caplog.at_level(logging.INFO):
                for _ in range(30):
                    with pytest.raises(InvalidStatus) as e:
                        connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5)
                    assert e.value.response.status_code == 503
                refused = [r for r in lines(caplog) if "connected (" not in r.getMessage()]  # the client let in
        assert srv.hub.refused_clients == 30
        assert 1 <= len(refused) <= 3, [r.getMessage() for r in refused]
        assert "1 WebSocket clients are connected, the most it serves at once" in refused[0].getMessage()
        assert "so far)" in refused[0].getMessage()
        assert wait_until(lambda: srv.hub.clients == 0)  # (its line logged)
        with caplog.at_level(logging.INFO):
            start = len(caplog.records)
            for _ in range(20):  # a WebSocket version this server does not speak
                assert handshake(srv.port, version=8)[0] == 400
            bad = lines(caplog, start)
        assert 1 <= len(bad) <= 3 and "handshake" in bad[0].getMessage(), [r.getMessage() for r in bad]
    finally:
        srv.stop()


def test_a_silent_client_is_dropped_with_one_line_and_no_traceback(server, caplog):
    with caplog.at_level(logging.INFO):
        # two raw sockets that complete the handshake and then never read nor answer a ping
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
        try:
            for s in socks:
                s.sendall(HANDSHAKE.format(port=server.port, extra="", version=13).encode())
                assert s.recv(4096).startswith(b"HTTP/1.1 101")
            assert server.hub.clients == 2
            deadline = time.monotonic() + 15
            while server.hub.clients and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.hub.clients == 0
            time.sleep(0.5)  # what the library's keepalive thread would log comes after the close times out
        finally:
            for s in socks:
                s.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert server.hub.dropped_silent == 2
    dropped = [r.getMessage() for r in lines(caplog) if "stopped answering pings" in r.getMessage()]
    assert 1 <= len(dropped) <= 2 and "dropped" in dropped[0] and "so far)" in dropped[0]
