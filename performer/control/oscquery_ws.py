"""OSCQuery's WebSocket side: LISTEN / IGNORE, values pushed as binary OSC, PATH_CHANGED when the tree changes.

A client upgrades a ``GET`` on the OSCQuery HTTP port (the same port: HOST_INFO names no other). The handshake
and the framing are the ``websockets`` library's (its sans-I/O :class:`~websockets.server.ServerProtocol` and its
threaded :class:`~websockets.sync.connection.Connection`); the HTTP server in front of it
(:class:`~performer.httpd.GuardedHTTPServer`) has already checked the ``Host`` header, paced the request and given
the connection one of its bounded threads, which then serves the WebSocket until the client leaves.

The client sends text frames ``{"COMMAND": "LISTEN", "DATA": "/dream/lr"}`` (and ``IGNORE``); the server sends
every listened parameter as a binary OSC message when it changes (the current value first, on LISTEN), every
listened analysis value at ``control.osc_out_rate``, and ``{"COMMAND": "PATH_CHANGED", "DATA": "/performer"}``
when analysis nodes appear, go away or change type. Values are coalesced per client (the newest of each address),
so a slow client gets fewer messages, never a growing queue; a client that stops reading is dropped after the idle
timeout, one that stops answering pings likewise. A bad command gets a one-line warning naming it and is counted.
Binary OSC sent by a client is not applied (counted and ignored): any web page can open a WebSocket to this port,
so control stays on the OSC port and its allow-list.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from performer.control.osc_wire import build_message, osc_value
from performer.control.oscquery_nodes import Messages, changed_paths
from performer.errors import UnknownParamError
from performer.params import Change, ParamStore

log = logging.getLogger(__name__)

MAX_PATHS = 1024
"""Paths one client may listen to."""
MAX_MESSAGE = 64 * 1024
"""Largest message a client may send (commands are a few dozen bytes)."""


class _Client:
    def __init__(self, conn: Connection, peer: Any) -> None:
        self.conn, self.peer = conn, peer
        self.listening: set[str] = set()
        self.lock = threading.Lock()
        self.values: dict[str, list[Any]] = {}
        self.notes: list[str] = []
        self.wake = threading.Event()
        self.done = False
        self.warned: set[str] = set()

    def offer(self, address: str, args: list[Any]) -> None:
        with self.lock:
            if address in self.listening:
                self.values[address] = args
                self.wake.set()

    def note(self, text: str) -> None:
        with self.lock:
            if text not in self.notes:
                self.notes.append(text)
            self.wake.set()


class ListenHub:
    """The WebSocket clients of one OSCQuery server, and what each listens to.

    ``is_node(path)`` says whether a client may listen to a path; ``analysis()`` returns the analysis messages
    (address, args) and is called at ``control.osc_out_rate``; ``leaves(messages)`` turns them into tree nodes (to
    notice when the tree changes); ``pace()`` is called before each command a client sends (the HTTP rate bound).
    """

    def __init__(self, store: ParamStore, *, is_node: Callable[[str], bool],
                 analysis: Callable[[], Messages] | None = None,
                 shape: Callable[[Messages], dict[str, str]] | None = None,
                 pace: Callable[[], None] = lambda: None, max_clients: int = 16, idle_timeout: float = 15.0) -> None:
        self.store = store
        self.is_node, self.analysis, self.shape, self.pace = is_node, analysis, shape, pace
        self.max_clients, self.idle_timeout = max_clients, idle_timeout
        self._clients: set[_Client] = set()
        self._reserved = 0  # handshakes accepted and sessions running (counted before the 101 goes out)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._shape: dict[str, str] | None = None
        self.refused_commands = 0
        self.refused_clients = 0
        self.ignored_osc = 0
        self.pushed = 0
        self.path_changes = 0
        self._analysis_failed = False
        self._unsubscribe = store.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._run, name="oscquery-push", daemon=True)
        self._thread.start()

    @property
    def clients(self) -> int:
        """WebSocket clients connected now."""
        with self._lock:
            return self._reserved

    # --- the handshake and one client's session (in the HTTP server's thread for that connection) -----------
    def serve(self, sock: Any, raw_request: bytes, peer: Any) -> None:
        """Upgrade the connection whose request was ``raw_request`` and serve it until the client leaves."""
        protocol = ServerProtocol(max_size=MAX_MESSAGE)
        protocol.receive_data(raw_request)
        events = protocol.events_received()
        if not events or not isinstance(events[0], Request):
            why = protocol.handshake_exc or "not a WebSocket handshake"
            response = protocol.reject(400, f"OSCQuery WebSocket: {why}\n")
        else:
            response = protocol.accept(events[0])
            if response.status_code == 101 and not self._reserve():
                self.refused_clients += 1
                log.warning("OSCQuery: %d WebSocket clients connected already (the most it serves); refused %s",
                            self.max_clients, peer)
                response = protocol.reject(503, f"OSCQuery: {self.max_clients} WebSocket clients are connected, "
                                                "the most it serves at once; try again\n")
        if response.status_code != 101:
            log.info("OSCQuery WebSocket handshake from %s refused: %s", peer, response.body.decode().strip())
        protocol.send_response(response)
        if response.status_code != 101:
            sock.sendall(b"".join(protocol.data_to_send()))
            return
        try:
            sock.sendall(b"".join(protocol.data_to_send()))
            self._session(sock, protocol, peer)
        finally:
            with self._lock:
                self._reserved -= 1

    def _reserve(self) -> bool:
        with self._lock:
            if self._reserved >= self.max_clients:
                return False
            self._reserved += 1
            return True

    def _session(self, sock: Any, protocol: ServerProtocol, peer: Any) -> None:
        # Reads wait in a selector (a silent listener is fine; one that stops answering pings is dropped); a write
        # to a client that stopped reading times out after the socket's idle timeout.
        half = max(self.idle_timeout / 2, 0.05)
        conn = Connection(sock, protocol, ping_interval=half, ping_timeout=half, close_timeout=min(2.0, half),
                          max_queue=16)
        conn.start_keepalive()
        client = _Client(conn, peer)
        with self._lock:
            self._clients.add(client)
        log.info("OSCQuery WebSocket client %s connected", peer)
        reader = threading.Thread(target=self._read, args=(client,), name="oscquery-ws-read", daemon=True)
        reader.start()
        try:
            self._write(client)
        finally:
            with self._lock:
                self._clients.discard(client)
            conn.close()
            reader.join(timeout=self.idle_timeout)
            log.info("OSCQuery WebSocket client %s left", peer)

    def _write(self, client: _Client) -> None:
        while not client.done and not self._stop.is_set():
            client.wake.wait(1.0)
            with client.lock:
                client.wake.clear()
                notes, client.notes = client.notes, []
                values, client.values = client.values, {}
            try:
                for text in notes:
                    client.conn.send(text)
                for address, args in values.items():
                    client.conn.send(build_message(address, args))
                    self.pushed += 1
            except (ConnectionClosed, OSError) as e:
                log.debug("OSCQuery WebSocket client %s: %s", client.peer, e)
                return

    def _read(self, client: _Client) -> None:
        try:
            for message in client.conn:
                self.pace()
                if isinstance(message, bytes):
                    self.ignored_osc += 1
                    self._refuse(client, "osc", f"OSCQuery WebSocket client {client.peer}: binary OSC is not "
                                                "applied here; send it to the OSC port")
                    continue
                self.command(client, message)
        except ConnectionClosed:
            pass
        finally:
            client.done = True
            client.wake.set()

    def command(self, client: _Client, text: str) -> None:
        """Apply one JSON command (LISTEN, IGNORE) from a client."""
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("DATA"), str):
            return self._refuse(client, "json", f"OSCQuery WebSocket command {text[:80]!r} is not understood; "
                                                'allowed: {"COMMAND": "LISTEN" or "IGNORE", "DATA": "/a/path"}')
        cmd, path = msg.get("COMMAND"), msg["DATA"]
        if cmd == "IGNORE":
            with client.lock:
                client.listening.discard(path)
                client.values.pop(path, None)
            return None
        if cmd != "LISTEN":
            return self._refuse(client, "command", f"OSCQuery WebSocket command {str(cmd)[:40]!r} is not supported; "
                                                   "allowed: LISTEN, IGNORE")
        if not self.is_node(path):
            return self._refuse(client, "path", f"OSCQuery LISTEN {path[:120]!r}: no value at that path; allowed: "
                                                "a parameter or analysis address from the tree (GET /)")
        with client.lock:
            if path not in client.listening and len(client.listening) >= MAX_PATHS:
                full = True
            else:
                full = False
                client.listening.add(path)
        if full:
            return self._refuse(client, "full", f"OSCQuery LISTEN {path[:120]!r} refused: already {MAX_PATHS} "
                                                "paths; allowed: at most that many per client (IGNORE some)")
        try:
            p = self.store.registry.by_address(path)
        except UnknownParamError:
            return None  # an analysis value: pushed with the next tick
        if p.type != "trigger":
            client.offer(path, [osc_value(self.store.get(p.name))])  # the current value, so the client is in sync
        return None

    def _refuse(self, client: _Client, kind: str, message: str) -> None:
        self.refused_commands += 1
        if kind not in client.warned:  # once per kind per client, so a client cannot flood the log
            client.warned.add(kind)
            log.warning("%s", message)
        else:
            log.debug("%s", message)

    # --- what is pushed -------------------------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        p = self.store.registry.get(change.name)
        args = [] if p.type == "trigger" else [osc_value(change.value)]
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.offer(p.address, args)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.analysis is not None:
                self._tick(self.analysis)
            rate = float(self.store.get("control.osc_out_rate"))
            self._stop.wait(1.0 / rate if rate > 0 else 1.0)

    def _tick(self, analysis: Callable[[], Messages]) -> None:
        try:
            messages = analysis()
        except Exception as e:  # the engine mid-restart: the next tick tries again
            if not self._analysis_failed:
                log.warning("OSCQuery: reading the analysis failed (%s); retrying", e)
            self._analysis_failed = True
            return
        self._analysis_failed = False
        with self._lock:
            clients = list(self._clients)
        if self.shape is not None:
            shape = self.shape(messages)
            if self._shape is not None and shape != self._shape:
                for path in changed_paths(self._shape, shape):
                    self.path_changes += 1
                    text = json.dumps({"COMMAND": "PATH_CHANGED", "DATA": path})
                    for c in clients:
                        c.note(text)
            self._shape = shape
        for c in clients:
            for address, args in messages:
                c.offer(address, list(args))

    def stop(self) -> None:
        self._stop.set()
        self._unsubscribe()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.done = True
            c.wake.set()
        self._thread.join(timeout=2.0)
