"""A WebSocket on the preview server's own port: the HTTP request the guarded handler has already read (and
whose ``Host`` it has checked) is handed to ``websockets``' Sans-I/O :class:`~websockets.server.ServerProtocol`,
which does the handshake and the framing; this module only moves bytes between it and the socket.

One thread per client (the handler's, so ``max_clients`` bounds WebSocket clients too). Pings go out every
``ping_interval`` seconds and a client that answers none for ``ping_timeout`` is dropped, so a phone that walked
away does not hold a thread; a client that stops reading is dropped when a write times out (the server's
``idle_timeout``). Browsers must come from the page's own origin (a page elsewhere on the web cannot drive the
show through the performer's browser); clients that send no ``Origin`` (not browsers) are let in.
"""

from __future__ import annotations

import logging
import os
import select
import time
from typing import Any

from performer.httpd import GuardedHandler, host_name

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 1024
"""Largest message a page may send (bytes); larger ones close the connection (1009)."""
READ_BYTES = 4096
"""Bytes read at once (about 60 sets): a page past its share of the intake waits after each read
(``control_session.py``), and a small read keeps that wait short, so the echoes it is sent and the server
stopping are not held up behind it."""


def _origin_problem(handler: GuardedHandler) -> str | None:
    origin = handler.headers.get("Origin")
    if origin is None:
        return None
    host = handler.headers.get("Host") or ""
    allowed = {f"http://{host}".lower(), f"https://{host}".lower()}
    if origin.lower().rstrip("/") in allowed:
        return None
    return (f"Origin {origin[:100]!r} is not this server's page (http://{host_name(host)}...); "
            f"only the control page served here may open its WebSocket")


class WebSocket:
    """One open WebSocket on a handler's socket (text messages only)."""

    def __init__(self, handler: GuardedHandler, protocol: Any, *, ping_interval: float = 10.0,
                 ping_timeout: float = 20.0) -> None:
        self.sock = handler.connection
        self.protocol = protocol
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self._last_heard = self._last_ping = time.monotonic()
        self._parts: list[bytes] | None = None  # a fragmented text message being put together
        self.closed = False

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)
            else:  # the protocol wants the connection half-closed (after a close frame)
                self._shut()

    def _shut(self) -> None:
        import socket

        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def send(self, text: str) -> None:
        """Send one text message (raises OSError when the client is gone or stopped reading)."""
        if self.closed:
            raise ConnectionError("the WebSocket is closed")
        self.protocol.send_text(text.encode())
        self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        from websockets.protocol import State

        if not self.closed and self.protocol.state is State.OPEN:
            try:
                self.protocol.send_close(code, reason[:120])
                self._flush()
            except OSError:
                pass
        self._shut()

    def recv(self, timeout: float) -> list[str]:
        """The text messages that arrive within ``timeout`` seconds (maybe none); pings and pongs are answered
        and kept track of here. Sets ``closed`` when the client closed or went silent."""
        from websockets.frames import Opcode

        now = time.monotonic()
        if now - self._last_ping >= self.ping_interval:
            self._last_ping = now
            self.protocol.send_ping(os.urandom(4))
            self._flush()
        if now - self._last_heard > self.ping_timeout:
            log.debug("control page client silent for %.0f s: dropped", now - self._last_heard)
            self.close(1011, "keepalive ping timeout")
            return []
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        data = self.sock.recv(READ_BYTES)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        self._last_heard = time.monotonic()
        messages: list[str] = []
        for event in self.protocol.events_received():
            op = event.opcode
            if op is Opcode.TEXT or (op is Opcode.CONT and self._parts is not None):
                self._parts = (self._parts or []) + [bytes(event.data)]
                if sum(map(len, self._parts)) > MAX_MESSAGE:
                    self.close(1009, f"a message may hold at most {MAX_MESSAGE} bytes")
                    return messages
                if event.fin:
                    messages.append(b"".join(self._parts).decode("utf-8", "replace"))
                    self._parts = None
            elif op is Opcode.BINARY:
                self.close(1003, "the control page speaks JSON text messages only")
                return messages
        self._flush()  # pongs, and the answer to a close
        if not data or self.protocol.close_expected():
            self.closed = True
        return messages


def upgrade(handler: GuardedHandler) -> WebSocket | None:
    """Answer a WebSocket handshake on ``handler``'s connection; the open socket, or None (the refusal written)."""
    from websockets.http11 import Request
    from websockets.server import ServerProtocol

    handler.close_connection = True
    protocol = ServerProtocol(max_size=MAX_MESSAGE)
    head = f"{handler.command} {handler.path} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in handler.headers.items()) + "\r\n"
    protocol.receive_data(head.encode("latin-1"))
    events = protocol.events_received()
    problem = _origin_problem(handler)
    if not events or not isinstance(events[0], Request):
        response = protocol.reject(400, "not a WebSocket handshake\n")
    elif problem is not None:
        server = handler.server
        with server.count_lock:
            server.refused_origin += 1
            count = server.refused_origin
        server.say("origin_refusals", f"control page: {problem}", count)  # one line a second, however many pages
        response = protocol.reject(403, problem + "\n")
    else:
        response = protocol.accept(events[0])
    protocol.send_response(response)
    for data in protocol.data_to_send():
        if data:
            handler.connection.sendall(data)
    if response.status_code != 101:
        return None
    return WebSocket(handler, protocol)
