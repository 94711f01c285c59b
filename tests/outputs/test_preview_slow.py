"""Slow and greedy clients against the preview's HTTP guard, on loopback: a request trickled a byte at a time is
closed at its deadline, slow or idle connections cannot keep a new client out, one address holds at most its share,
control-page WebSockets have slots of their own; each refusal is one counted, rate-limited log line."""

from __future__ import annotations

import logging
import select
import socket
import threading
import time

from test_outputs import info, pattern, wait_until

from performer.outputs.preview import PreviewOutput
from performer.params import ParamStore

GET = "GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
WS = ("GET /control/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def connect(out: PreviewOutput, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", out.port), timeout=timeout)


def request(out: PreviewOutput, head: str = GET, timeout: float = 10.0) -> tuple[int, bytes]:
    """(status, whole answer) of one request on a fresh connection."""
    with connect(out, timeout) as s:
        s.sendall(head.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def answer(s: socket.socket) -> bytes:
    """A handshake's answer: the head of a 101, or the whole of a refusal (until the server closes)."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
        if data.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in data:
            break
    return data


class Trickle:
    """``n`` connections that each start a request and then send one more byte of it every ``period`` seconds,
    never finishing it (a slow-loris client); tracks which the server closed."""

    def __init__(self, out: PreviewOutput, n: int, period: float = 0.5) -> None:
        self.socks = [connect(out) for _ in range(n)]
        self.closed: set[int] = set()
        self.period = period
        self._stop = threading.Event()
        for s in self.socks:
            s.setblocking(False)
            s.send(b"GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            for i, s in enumerate(self.socks):
                if i in self.closed:
                    continue
                try:
                    s.recv(65536, socket.MSG_PEEK)  # an answer (503, 408) or the close: the server let go
                    self.closed.add(i)
                    continue
                except BlockingIOError:  # nothing to read: still held
                    pass
                except OSError:
                    self.closed.add(i)
                    continue
                try:
                    s.send(b"a")
                except OSError:
                    self.closed.add(i)

    @property
    def open(self) -> int:
        return len(self.socks) - len(self.closed)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()


def warnings_from_the_guard(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "performer.httpd" and r.levelno >= logging.WARNING]


def test_a_request_trickled_a_byte_at_a_time_is_closed_at_its_deadline(caplog):
    out = PreviewOutput("web", port=0, idle_timeout=1.0)
    out.open()
    try:
        with caplog.at_level(logging.INFO), connect(out) as s:
            s.sendall(b"GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            start, answer = time.monotonic(), b""
            while time.monotonic() - start < 8:  # one byte every 0.3 s: each read comes well within the timeout
                try:
                    s.sendall(b"X-Slow: a\r\n"[:1])
                except OSError:
                    break
                ready, _, _ = select.select([s], [], [], 0.3)
                if ready:
                    try:
                        answer = s.recv(65536)
                    except OSError:
                        pass
                    break
            held = time.monotonic() - start
        assert held < 6, f"a request trickled over {held:.0f} s was never cut off (the deadline is 1 s)"
        assert answer.startswith(b"HTTP/1.1 408") and b"within 1 s" in answer
        assert out._server is not None and out._server.slow_requests == 1
        lines = warnings_from_the_guard(caplog)
        assert len(lines) == 1 and "127.0.0.1" in lines[0] and "within 1 s" in lines[0] and "so far)" in lines[0]
    finally:
        out.close()


def test_a_new_client_is_served_while_40_slow_clients_hold_connections(caplog):
    out = PreviewOutput("web", port=0)  # the defaults: 32 clients, 15 s
    out.open()
    slow = None
    try:
        with caplog.at_level(logging.INFO):
            slow = Trickle(out, 40)
            time.sleep(1.5)  # they have been trickling for a while
            t0 = time.monotonic()
            status, body = request(out, timeout=5)  # a timeout here raises: the client waited too long
            waited = time.monotonic() - t0
            assert status == 200 and b'"frame"' in body, body[:200]
            assert slow.open >= 10  # the slow clients still hold connections: the new one got in beside them
        assert waited < 5
        lines = warnings_from_the_guard(caplog)
        assert 1 <= len(lines) <= 6, lines  # one counted line per kind a second, not one per refusal
        assert all("so far)" in line for line in lines)
    finally:
        if slow is not None:
            slow.close()
        out.close()


def test_a_new_client_is_answered_at_once_while_100_idle_connections_wait():
    out = PreviewOutput("web", port=0)
    out.open()
    idle = [connect(out) for _ in range(100)]  # connected, sending nothing
    try:
        time.sleep(1.5)
        status, _ = request(out, timeout=5)  # the docs promise: up to a second, then 503 (or served)
        assert status == 200
    finally:
        for s in idle:
            s.close()
        out.close()


def test_one_address_holds_at_most_its_share_of_the_connections(caplog):
    out = PreviewOutput("web", port=0, max_clients=4)  # so one address may hold 2
    out.open()
    streams = []
    try:
        for _ in range(2):  # two MJPEG streams: busy connections, not stalled ones
            s = connect(out)
            s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            streams.append(s)
        with caplog.at_level(logging.INFO):
            status, body = request(out, timeout=5)
        assert status == 503 and b"Retry-After: 1" in body
        assert b"2 connections from 127.0.0.1 are open, the most one address may hold" in body
        assert out._server is not None and out._server.refused_address == 1
        assert any("2 connections from 127.0.0.1" in line for line in warnings_from_the_guard(caplog))
        streams.pop().close()
        n = [0]

        def frame_sent() -> bool:  # the stream notices its client left when it writes the next frame
            n[0] += 1
            out.send(pattern(16, 16, n[0]), info(n[0]))
            return request(out, timeout=5)[0] == 200

        assert wait_until(frame_sent, 5, 0.1)
    finally:
        for s in streams:
            s.close()
        out.close()


def test_control_page_websockets_have_slots_of_their_own(caplog):
    n = 40
    out = PreviewOutput("web", port=0)
    out.attach(ParamStore())
    out.open()
    socks = []
    try:
        with caplog.at_level(logging.INFO):
            answers = []
            for _ in range(n):  # one after the other, each answered before the next (a page reconnecting)
                s = connect(out, timeout=5)
                s.sendall(WS.encode())
                answers.append(answer(s))
                socks.append(s)
            status, body = request(out, timeout=5)  # a plain GET is still served
        assert status == 200 and b'"frame"' in body
        opened = [a for a in answers if a.startswith(b"HTTP/1.1 101")]
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        # 16 sessions in all, 8 of them from one address (here every client is 127.0.0.1)
        assert len(opened) == 8 and len(refused) == n - 8
        assert b"8 WebSocket sessions from 127.0.0.1 are open, the most one address may hold (of 16" in refused[0]
        assert out.hub is not None and out.hub.clients == 8
        lines = warnings_from_the_guard(caplog)
        assert 1 <= len(lines) <= 3 and "WebSocket sessions" in lines[0], lines
    finally:
        for s in socks:
            s.close()
        out.close()


def test_a_burst_of_200_websocket_opens_keeps_plain_requests_out_only_while_it_lasts():
    out = PreviewOutput("web", port=0)
    out.attach(ParamStore())
    out.open()
    socks = []
    try:
        for _ in range(200):  # all at once, none answered yet
            s = connect(out, timeout=5)
            s.sendall(WS.encode())
            socks.append(s)

        def served() -> bool:
            return request(out, timeout=5)[0] == 200

        assert wait_until(served, 5, 0.1)  # the burst is refused at once, not queued: plain requests get in
        answers = [answer(s)[:12] for s in socks]
        assert answers.count(b"HTTP/1.1 101") == 8 and answers.count(b"HTTP/1.1 503") == 192
    finally:
        for s in socks:
            s.close()
        out.close()
