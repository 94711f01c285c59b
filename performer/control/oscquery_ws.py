"""OSCQuery's WebSocket side: LISTEN / IGNORE, values pushed as binary OSC, PATH_CHANGED when the tree changes.

A client upgrades a ``GET`` on the OSCQuery HTTP port (the same port: HOST_INFO names no other). The handshake
and the framing are the ``websockets`` library's (its sans-I/O :class:`~websockets.server.ServerProtocol` and its
threaded :class:`~websockets.sync.connection.Connection`); the HTTP server in front of it
(:class:`~performer.httpd.GuardedHTTPServer`) has already checked the ``Host`` header, paced the request and given
the connection one of its bounded threads, which moves to a session slot of its own and serves the WebSocket until
the client leaves. The library checks the ``Origin`` (its ``origins=``): tools send none and are let in, a browser
page must come from this server's own origin, so another web page open on the show machine cannot listen in.

The client sends text frames ``{"COMMAND": "LISTEN", "DATA": "/dream/lr"}`` (and ``IGNORE``); the server sends
every listened parameter as a binary OSC message when it changes (the current value first, on LISTEN), every
listened analysis value at ``control.osc_out_rate``, and ``{"COMMAND": "PATH_CHANGED", "DATA": "/performer"}``
when analysis nodes appear, go away or change type. Values are coalesced per client (the newest of each address),
so a slow client gets fewer messages, never a growing queue; a client that stops reading is dropped after the idle
timeout, one that stops answering pings likewise. A refused handshake, a bad command (a command holds one flat
JSON object: its brackets are counted before it is parsed) and a dropped client are each counted and logged as one
line per kind a second, however many clients misbehave; the library's own lines go to debug. Binary OSC sent by a
client is not applied (counted and ignored): control stays on the OSC port and its allow-list.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidOrigin
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection
from websockets.typing import Origin

from performer.control.osc_wire import build_message, osc_value
from performer.control.oscquery_nodes import Messages, changed_paths
from performer.errors import UnknownParamError
from performer.params import Change, ParamStore
from performer.runtime import Worker
from performer.throttle import KindLog

log = logging.getLogger(__name__)

MAX_PATHS = 1024
"""Paths one client may listen to."""
MAX_MESSAGE = 64 * 1024
"""Largest message a client may send (commands are a few dozen bytes)."""
MAX_BRACKETS = 8
"""Brackets (``[`` or ``{``) a command may hold: a command is one flat object, and a bound on them bounds how deep
the JSON parser recurses (thousands deep would raise RecursionError)."""


class _LibraryLog(logging.LoggerAdapter):
    """The logger handed to the ``websockets`` library for each connection. Its lines about opening, closing and
    rejecting repeat the hub's own, and a closed connection it reports as an error (a keepalive ping that timed out
    on a silent client) is the hub's to report, so all of those go to debug, tracebacks included; anything else
    becomes one clipped warning a second, counted, its traceback at debug."""

    def __init__(self, hub: ListenHub) -> None:
        super().__init__(logging.getLogger(__name__ + ".websockets"), {})
        self.hub = hub

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        import sys

        err = sys.exc_info()[1] if kwargs.get("exc_info") is True else kwargs.get("exc_info")
        if level >= logging.WARNING and not isinstance(err, ConnectionClosed):
            self.hub.library_errors += 1
            text = (str(msg) % args if args else str(msg)) + (f": {err!r}" if err is not None else "")
            self.hub.say("library_errors", f"OSCQuery WebSocket: {text}", self.hub.library_errors)
        self.logger.log(logging.DEBUG, msg, *args, **kwargs)


class _Client:
    def __init__(self, conn: Connection, peer: Any) -> None:
        self.conn, self.peer = conn, peer
        self.listening: set[str] = set()
        self.lock = threading.Lock()
        self.values: dict[str, list[Any]] = {}
        self.notes: list[str] = []
        self.wake = threading.Event()
        self.done = False
        self.stalled = False  # a write to it timed out

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
        self._shape: dict[str, str] | None = None
        self.refused_commands = 0
        self.refused_clients = 0
        self.refused_origins = 0
        self.refused_handshakes = 0
        self.dropped_silent = 0  # clients that stopped answering pings
        self.dropped_stalled = 0  # clients that stopped reading
        self.library_errors = 0
        self.reader_errors = 0
        self.sessions = 0  # sessions so far
        self.refusals: dict[str, int] = {}  # refused commands by kind
        self.ignored_osc = 0
        self.say = KindLog(log)  # one counted line per kind a second, however many clients misbehave
        self._library_log = _LibraryLog(self)
        self.pushed = 0
        self.path_changes = 0
        self._analysis_failed = False
        self._unsubscribe = store.subscribe(self._on_change)
        self._pusher = Worker("oscquery-push", self._run, timeout=2.0)
        """Pushes the analysis to the clients at ``control.osc_out_rate``; its stop ends every session too."""
        self._pusher.start()

    @property
    def clients(self) -> int:
        """WebSocket clients connected now."""
        with self._lock:
            return self._reserved

    # --- the handshake and one client's session (in the HTTP server's thread for that connection) -----------
    def serve(self, sock: Any, raw_request: bytes, peer: Any, host: str | None = None,
              begin: Callable[[], str | None] = lambda: None) -> None:
        """Upgrade the connection whose request was ``raw_request`` and serve it until the client leaves.

        ``host``: the request's ``Host`` (already checked), whose ``http://`` origin a browser page may come from;
        clients without an ``Origin`` (OSCQuery tools) are let in, pages from anywhere else are refused. ``begin()``
        moves the connection to the HTTP server's session slots: None, or why it cannot."""
        origins: list[Origin | re.Pattern[str] | None] = [None]
        if host:
            origins.append(re.compile(rf"https?://{re.escape(host)}", re.IGNORECASE))
        protocol = ServerProtocol(origins=origins, max_size=MAX_MESSAGE, logger=self._library_log)
        protocol.receive_data(raw_request)
        events = protocol.events_received()
        who = peer[0] if isinstance(peer, tuple) else peer
        if not events or not isinstance(events[0], Request):
            self.refused_handshakes += 1
            problem = f"not a WebSocket handshake ({protocol.handshake_exc or 'no request'})"
            response = protocol.reject(400, f"OSCQuery WebSocket: {problem}\n")
            self.say("handshake_refusals", f"OSCQuery WebSocket from {who}: {problem}", self.refused_handshakes)
        else:
            response = protocol.accept(events[0])
            if isinstance(protocol.handshake_exc, InvalidOrigin):
                self.refused_origins += 1
                origin = events[0].headers.get("Origin", "")
                problem = (f"Origin {origin[:100]!r} is not this server's; allowed: no Origin (OSCQuery tools) or "
                           f"http://{host or '(this server)'} (refused so that other web pages cannot listen)")
                response = protocol.reject(403, f"OSCQuery WebSocket: {problem}\n")
                self.say("origin_refusals", f"OSCQuery WebSocket from {who}: {problem}", self.refused_origins)
            elif response.status_code != 101:
                self.refused_handshakes += 1
                problem = response.body.decode("utf-8", "replace").strip()
                self.say("handshake_refusals", f"OSCQuery WebSocket from {who}: {problem}", self.refused_handshakes)
            else:
                busy = self._reserve(begin)
                if busy is not None:
                    self.refused_clients += 1
                    response = protocol.reject(503, f"OSCQuery: {busy}; try again\n")
                    self.say("busy_refusals", f"OSCQuery WebSocket: {busy}; refused {who}", self.refused_clients)
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

    def _reserve(self, begin: Callable[[], str | None]) -> str | None:
        with self._lock:
            if self._reserved >= self.max_clients:
                return f"{self.max_clients} WebSocket clients are connected, the most it serves at once"
            problem = begin()
            if problem is None:
                self._reserved += 1
            return problem

    def _session(self, sock: Any, protocol: ServerProtocol, peer: Any) -> None:
        # Reads wait in a selector (a silent listener is fine; one that stops answering pings is dropped); a write
        # to a client that stopped reading times out after the socket's idle timeout.
        half = max(self.idle_timeout / 2, 0.05)
        conn = Connection(sock, protocol, ping_interval=half, ping_timeout=half, close_timeout=min(2.0, half),
                          max_queue=16)
        conn.start_keepalive()
        client = _Client(conn, peer)
        who = peer[0] if isinstance(peer, tuple) else peer
        with self._lock:
            self._clients.add(client)
            self.sessions += 1
        self.say("connected", f"OSCQuery WebSocket client {who} connected", self.sessions, logging.INFO)
        reader = threading.Thread(target=self._read, args=(client,), name="oscquery-ws-read", daemon=True)
        reader.start()
        try:
            self._write(client)
        finally:
            with self._lock:
                self._clients.discard(client)
            conn.close()
            reader.join(timeout=self.idle_timeout)
            sent = protocol.close_sent
            if sent is not None and sent.code == 1011 and "keepalive" in sent.reason:
                self.dropped_silent += 1
                self.say("silent_drops", f"OSCQuery WebSocket client {who} stopped answering pings for {half:g} s: "
                                         "dropped", self.dropped_silent)
            elif client.stalled:
                self.dropped_stalled += 1
                self.say("stalled_drops", f"OSCQuery WebSocket client {who} stopped reading for "
                                          f"{self.idle_timeout:g} s: dropped", self.dropped_stalled)
            else:
                self.say("left", f"OSCQuery WebSocket client {who} left", self.sessions, logging.INFO)

    def _write(self, client: _Client) -> None:
        while not client.done and self._pusher.running:
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
                client.stalled = isinstance(e, OSError) or isinstance(e.__cause__, OSError)  # a write timed out
                log.debug("OSCQuery WebSocket client %s: %s", client.peer, e)
                return

    def _read(self, client: _Client) -> None:
        try:
            for message in client.conn:
                self.pace()
                if isinstance(message, bytes):
                    self.ignored_osc += 1
                    self._refuse("osc_ignored", f"OSCQuery WebSocket client {client.peer}: binary OSC is not "
                                                "applied here; send it to the OSC port")
                    continue
                self.command(client, message)
        except ConnectionClosed:
            pass
        except Exception as e:  # a bug here must cost this client, not the server: one line, the traceback at debug
            self.reader_errors += 1
            self.say("reader_errors", f"OSCQuery WebSocket client {client.peer}: {e!r}; dropped", self.reader_errors)
            log.debug("OSCQuery WebSocket reader", exc_info=True)
        finally:
            client.done = True
            client.wake.set()

    def command(self, client: _Client, text: str) -> None:
        """Apply one JSON command (LISTEN, IGNORE) from a client."""
        brackets = text.count("[") + text.count("{")
        if brackets > MAX_BRACKETS:  # checked before parsing: the parser recurses once per bracket
            return self._refuse("deep_json", f"OSCQuery WebSocket command of {len(text)} characters holds {brackets} "
                                             f"brackets; allowed: at most {MAX_BRACKETS} (one flat JSON object)")
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("DATA"), str):
            return self._refuse("bad_json", f"OSCQuery WebSocket command {text[:80]!r} is not understood; "
                                                'allowed: {"COMMAND": "LISTEN" or "IGNORE", "DATA": "/a/path"}')
        cmd, path = msg.get("COMMAND"), msg["DATA"]
        if cmd == "IGNORE":
            with client.lock:
                client.listening.discard(path)
                client.values.pop(path, None)
            return None
        if cmd != "LISTEN":
            return self._refuse("unknown_command", f"OSCQuery WebSocket command {str(cmd)[:40]!r} is not supported; "
                                                   "allowed: LISTEN, IGNORE")
        if not self.is_node(path):
            return self._refuse("unknown_path", f"OSCQuery LISTEN {path[:120]!r}: no value at that path; allowed: "
                                                "a parameter or analysis address from the tree (GET /)")
        with client.lock:
            if path not in client.listening and len(client.listening) >= MAX_PATHS:
                full = True
            else:
                full = False
                client.listening.add(path)
        if full:
            return self._refuse("too_many_paths", f"OSCQuery LISTEN {path[:120]!r} refused: already {MAX_PATHS} "
                                                "paths; allowed: at most that many per client (IGNORE some)")
        try:
            p = self.store.registry.by_address(path)
        except UnknownParamError:
            return None  # an analysis value: pushed with the next tick
        if p.type != "trigger":
            client.offer(path, [osc_value(self.store.get(p.name))])  # the current value, so the client is in sync
        return None

    def _refuse(self, kind: str, message: str) -> None:
        self.refused_commands += 1
        self.refusals[kind] = self.refusals.get(kind, 0) + 1
        self.say(kind, message, self.refusals[kind])  # one line per kind a second, so clients cannot flood the log

    # --- what is pushed -------------------------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        p = self.store.registry.get(change.name)
        args = [] if p.type == "trigger" else [osc_value(change.value)]
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.offer(p.address, args)

    def _run(self) -> None:
        while self._pusher.running:
            if self.analysis is not None:
                self._tick(self.analysis)
            rate = float(self.store.get("control.osc_out_rate"))
            self._pusher.wait(1.0 / rate if rate > 0 else 1.0)

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
        self._pusher.stopping.set()
        self._unsubscribe()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.done = True
            c.wake.set()
        self._pusher.join()
