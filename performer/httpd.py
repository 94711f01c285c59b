"""The guard the two HTTP servers share (the browser preview and OSCQuery).

- Bounded threads (``max_clients``); past the bound the server stops accepting for up to ``busy_wait`` seconds
  (new clients wait in the kernel's 128-deep queue, costing nothing), then answers ``503``; the second counts from
  when the server became full, so a queue of clients is answered at once, not a second each. One address holds at
  most half the connections (``per_address``), so one machine cannot keep the others out.
- Each request's head (request line and headers) must arrive within ``idle_timeout`` seconds of the server starting
  to wait for it, however slowly it is dribbled (else ``408``); a connection that sends nothing, or stops reading,
  for that long is closed. When the server or one address is full, the connection that has waited longest (over
  ``stall_grace``) for a request's head, an idle keep-alive or a slow client, is closed to make room.
- WebSocket sessions move to slots of their own (``max_sessions``, half of them per address) once they start
  (:meth:`GuardedHTTPServer.start_session`), so long sessions never take the threads plain requests need.
- A rate bound (``max_rate``): past that many requests a second (on average, with a burst allowance), each request
  waits its turn before it is answered, so a client hammering the server cannot take the CPU from the renderer in
  the same process; a closed-loop client is slowed down with it.
- The ``Host`` header is checked, so a web page cannot read the server through DNS rebinding (the page's own name
  resolving to 127.0.0.1). Bound to loopback, only loopback names are accepted (``localhost``, ``127.0.0.1``,
  ``[::1]``); bound to an address beyond loopback, that address, loopback names and this machine's names; bound to
  every interface (``0.0.0.0``), any IP address written as such and this machine's names. A rebinding page always
  sends its own domain name, which none of these match. A wrong ``Host`` gets ``403`` with the allowed names.

Every refusal is counted and logged as one line per kind a second (``KindLog`` from ``throttle.py``, its
only import from the project: both stages import this module, and it imports neither).
"""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")
BACKLOG = 128


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); names are not resolved."""
    h = host.strip().lower().rstrip(".")
    if h == "localhost":
        return True
    ip = _ip(h)
    return ip is not None and ip.is_loopback


def is_wildcard(host: str) -> bool:
    """True for an address that means every interface (``0.0.0.0``, ``::``, empty)."""
    return host.strip("[]") in WILDCARDS


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without the port, brackets or trailing dot, in lower case."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def machine_names() -> set[str]:
    """This machine's own names (host name, ``NAME.local``, the fully qualified name)."""
    names = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names |= {name.lower().rstrip("."), name.lower().split(".", 1)[0] + ".local"}
    return names


class HostCheck:
    """Which ``Host`` headers a server bound to ``bound`` (the address as given and as bound) accepts."""

    def __init__(self, bound: str, bound_ip: str | None = None) -> None:
        ip = bound_ip if bound_ip is not None else bound
        self.loopback_only = is_loopback(ip) or is_loopback(bound)
        self.any_ip = is_wildcard(ip)
        names = set(LOOPBACK_NAMES)
        if not self.loopback_only:
            names |= machine_names()
            if not self.any_ip:
                names |= {host_name(bound), host_name(ip)}
        self.names = frozenset(names)

    def problem(self, header: str | None, version: str = "HTTP/1.1") -> str | None:
        """None when the header is acceptable, else a one-line reason naming the value and what is allowed."""
        if header is None:
            # browsers always send Host; an HTTP/1.0 tool may not, and cannot be a rebinding page
            return None if version in ("HTTP/1.0", "HTTP/0.9") else "no Host header (HTTP/1.1 requires one)"
        name = host_name(header)
        if name in self.names:
            return None
        ip = _ip(name)
        if ip is not None and (ip.is_loopback or self.any_ip):
            return None
        allowed = ", ".join(sorted(self.names)) + (", or any IP address" if self.any_ip else "")
        return (f"Host {header!r} is not a name of this server; allowed: {allowed} "
                f"(refused so that web pages cannot read it through DNS rebinding)")


class RateLimit:
    """At most ``rate`` events a second on average and ``burst`` at once; :meth:`wait` sleeps the caller until
    its turn (callers queue in order: each takes the next slot)."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"rate {rate!r} must be > 0 events a second")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 4)
        self._clock, self._sleep = clock, sleep
        self._tokens, self._t = self.burst, clock()
        self._lock = threading.Lock()
        self.waited = 0  # events that had to wait

    def delay(self) -> float:
        """Take a slot; the seconds until it comes (0 when one is free now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate) - 1.0
            self._t = now
            if self._tokens >= 0:
                return 0.0
            self.waited += 1
            return -self._tokens / self.rate

    def wait(self) -> None:
        d = self.delay()
        if d > 0:
            self._sleep(d)


def answer(sock: socket.socket, status: str, text: str, headers: str = "") -> None:
    """Write a short plain-text answer and ``Connection: close`` on ``sock``, giving up after 0.2 s."""
    body = f"{text}\n".encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{headers}Connection: close\r\n\r\n").encode()
    try:
        sock.settimeout(0.2)
        sock.sendall(head + body)
    except OSError:
        pass


class _Conn:
    """One connection the server holds: where from, and since when it waits for a request's head (None while a
    request is being handled)."""

    __slots__ = ("sock", "ip", "waiting_since", "session", "closed")

    def __init__(self, sock: socket.socket, ip: str, now: float) -> None:
        self.sock, self.ip = sock, ip
        self.waiting_since: float | None = now
        self.session = False  # moved to a WebSocket session slot
        self.closed = False  # closed by the server to make room


class GuardedHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server with bounded connections (in all, per address, WebSocket sessions apart), a deep
    backlog, a deadline for each request's head, idle timeouts and the ``Host`` check."""

    daemon_threads = True
    request_queue_size = BACKLOG
    busy_wait = 1.0  # seconds a full server keeps new connections waiting for a free thread before answering 503
    stall_grace = 1.0  # seconds a connection may wait for a request's head before it may be closed to make room

    def __init__(self, address: tuple[str, int], handler: type[GuardedHandler], *, label: str = "HTTP",
                 max_clients: int = 64, idle_timeout: float = 15.0, max_rate: float | None = None,
                 max_sessions: int = 16) -> None:
        from performer.throttle import KindLog

        if max_clients < 1 or max_sessions < 1 or not idle_timeout > 0:
            raise ValueError(f"{label}: max_clients {max_clients!r} and max_sessions {max_sessions!r} must be >= 1 "
                             f"and idle_timeout {idle_timeout!r} > 0")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.label, self.max_clients, self.idle_timeout = label, max_clients, float(idle_timeout)
        self.max_sessions = max_sessions
        self.per_address = max(1, max_clients // 2)  # connections one address may hold (the rest stay for others)
        self.sessions_per_address = max(1, max_sessions // 2)
        self._slots = threading.BoundedSemaphore(max_clients)
        self._conns: dict[int, _Conn] = {}
        self._lock = threading.Lock()
        self._full_since: float | None = None
        self.rate_limit = RateLimit(max_rate) if max_rate is not None else None
        self.say = KindLog(log)  # one counted line per kind of refusal a second
        self.refused_busy = self.refused_address = self.refused_sessions = self.refused_host = 0
        self.slow_requests = self.closed_stalled = 0  # requests cut off at their deadline; stalled ones closed
        self.refused_origin = 0  # WebSocket handshakes from another site's page (preview/ws.py)
        self.count_lock = threading.Lock()
        self._named: set[str] = set()  # Host values already warned about (each once, so a page cannot flood the log)
        super().__init__(address, handler)
        self.host_check = HostCheck(address[0], str(self.server_address[0]))

    def pace(self) -> None:
        """Wait for this request's (or stream frame's) turn under ``max_rate``."""
        if self.rate_limit is not None:
            self.rate_limit.wait()

    # --- admitting a connection (in the accept loop) ---------------------------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        ip = str(client_address[0])
        problem = self._admit(request, ip)
        if problem is not None:
            self._busy(request, problem)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._leave(request)
            raise

    def _admit(self, request: socket.socket, ip: str) -> str | None:
        """Take a slot for a new connection from ``ip``: None, or why it is refused."""
        with self._lock:
            mine = [c for c in self._conns.values() if c.ip == ip and not c.session and not c.closed]
        full = self.per_address < self.max_clients and len(mine) >= self.per_address  # (else the bound in all holds)
        made_room = full and self._close_stalled(mine)
        if full and not made_room:
            self.refused_address += 1
            problem = (f"{len(mine)} connections from {ip} are open, the most one address may hold (of "
                       f"{self.max_clients} in all)")
            self.say("per_address_refusals", f"{self.label}: {problem}; refused one more", self.refused_address)
            return problem
        if not self._take_slot(made_room):
            self.refused_busy += 1
            problem = f"{self.max_clients} clients are connected, the most it serves at once"
            self.say("busy_refusals", f"{self.label}: {problem}; refused a connection from {ip}", self.refused_busy)
            return problem
        with self._lock:
            self._conns[id(request)] = _Conn(request, ip, time.monotonic())
        return None

    def _take_slot(self, made_room: bool = False) -> bool:
        """A thread slot: at once (or the one ``made_room`` freed), by closing a stalled connection, or within
        ``busy_wait`` seconds of the server becoming full (one deadline for every connection queued meanwhile, so
        a queue of them is answered at once, not a second each)."""
        if self._slots.acquire(timeout=self.busy_wait if made_room else 0):
            self._full_since = None
            return True
        if self._full_since is None:
            self._full_since = time.monotonic()
        while True:
            with self._lock:
                held = [c for c in self._conns.values() if not c.session and not c.closed]
            made_room = self._close_stalled(held)
            left = self._full_since + self.busy_wait - time.monotonic()
            if self._slots.acquire(timeout=self.busy_wait if made_room else max(0.0, min(0.05, left))):
                self._full_since = None
                return True
            if not made_room and left <= 0:
                return False

    def _close_stalled(self, conns: list[_Conn]) -> bool:
        """Close the one of ``conns`` that has waited longest (over ``stall_grace``) for a request's head, if any:
        an idle keep-alive connection or a slow client, to make room for one that has a request."""
        now = time.monotonic()
        with self._lock:
            stalled = [c for c in conns if c.waiting_since is not None and not c.closed
                       and now - c.waiting_since >= self.stall_grace]
            if not stalled:
                return False
            victim = min(stalled, key=lambda c: c.waiting_since or now)
            victim.closed = True
            try:
                victim.sock.shutdown(socket.SHUT_RDWR)  # its thread sees the end of the stream and lets go
            except OSError:
                pass
        self.closed_stalled += 1
        self.say("stalled_closed", f"{self.label}: closed a connection from {victim.ip} that sent no complete "
                                   f"request in {now - (victim.waiting_since or now):.1f} s, to make room for a new "
                                   f"one (at most {self.per_address} connections per address, {self.max_clients} in "
                                   f"all)", self.closed_stalled)
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._leave(request)

    def _leave(self, request: Any) -> None:
        with self._lock:
            conn = self._conns.pop(id(request), None)
        if conn is None or not conn.session:
            self._slots.release()

    # --- what a handler tells the server ---------------------------------------------------------------------
    def waiting(self, request: Any, waiting: bool) -> bool:
        """Mark a connection as waiting for a request's head (or handling one); False if it was closed."""
        with self._lock:
            conn = self._conns.get(id(request))
            if conn is None:
                return True
            conn.waiting_since = time.monotonic() if waiting else None
            return not conn.closed

    def start_session(self, request: Any) -> str | None:
        """Move a connection from the request slots to one of ``max_sessions`` WebSocket session slots, so long
        sessions never take the threads plain requests need. None, or why not (the caller answers 503 and logs)."""
        with self._lock:
            conn = self._conns.get(id(request))
            if conn is None or conn.session:
                return None
            sessions = [c for c in self._conns.values() if c.session]
            mine = sum(1 for c in sessions if c.ip == conn.ip)
            if len(sessions) >= self.max_sessions:
                problem = f"{len(sessions)} WebSocket sessions are open, the most it serves at once"
            elif mine >= self.sessions_per_address:
                problem = (f"{mine} WebSocket sessions from {conn.ip} are open, the most one address may hold (of "
                           f"{self.max_sessions} in all)")
            else:
                conn.session = True
                problem = None
        if problem is not None:
            self.refused_sessions += 1
            return problem
        self._slots.release()
        return None

    def _busy(self, request: socket.socket, problem: str) -> None:
        answer(request, "503 Service Unavailable", f"{self.label} is busy: {problem}; try again", "Retry-After: 1\r\n")
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        err = sys.exc_info()[1]
        if isinstance(err, OSError):  # a client went away or stopped reading: not the server's fault
            log.debug("%s: client %s: %s", self.label, client_address, err)
        else:
            log.exception("%s: error serving %s", self.label, client_address)


class _HeadReader(io.RawIOBase):
    """The handler's socket, read under the deadline of the request head being read (if one is)."""

    def __init__(self, handler: GuardedHandler) -> None:
        super().__init__()
        self.handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        h = self.handler
        if h.head_deadline is not None:
            h.connection.settimeout(max(0.001, min(h.server.idle_timeout, h.head_deadline - time.monotonic())))
        n = h.connection.recv_into(buffer)
        h.head_bytes += n
        return n


class GuardedHandler(BaseHTTPRequestHandler):
    """A request handler for :class:`GuardedHTTPServer`: the head deadline, idle timeout and ``Host`` check
    before any handler."""

    server: GuardedHTTPServer
    head_deadline: float | None = None  # when the head of the request being read must be complete
    head_bytes = 0

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)  # every read and write: idle clients are closed
        self.rfile.close()  # the socket's own reader (holding it open), replaced by one that keeps the deadline
        self.rfile = io.BufferedReader(_HeadReader(self))

    def handle_one_request(self) -> None:
        # The whole head (request line and headers) must come within idle_timeout of the server starting to wait
        # for it, however it is dribbled; a kept-alive connection waiting for its next request is idle, not slow.
        server = self.server
        self.head_deadline, self.head_bytes = time.monotonic() + server.idle_timeout, 0
        if server.waiting(self.request, True):
            super().handle_one_request()  # a timeout there is caught, logged at debug, and closes the connection
        self.close_connection = self.close_connection or self.head_deadline is not None
        if self.head_deadline is None or time.monotonic() < self.head_deadline - 0.05 or not self.head_bytes:
            return  # served, closed by the client or to make room, or idle (closing it is no refusal)
        server.slow_requests += 1
        problem = f"the request did not arrive within {server.idle_timeout:g} s (its head must, however it is sent)"
        server.say("slow_requests", f"{server.label}: {self.client_address[0]}: {problem}; closed after "
                                    f"{self.head_bytes} bytes", server.slow_requests)
        answer(self.connection, "408 Request Timeout", problem)

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.head_deadline = None  # the head is in (or refused): what follows is the handler's
        self.connection.settimeout(self.server.idle_timeout)
        if not self.server.waiting(self.request, False):  # closed meanwhile to make room: what came is cut short
            self.close_connection = True
            return False
        if not ok:
            return False
        self.server.pace()
        problem = self.server.host_check.problem(self.headers.get("Host"), self.request_version)
        if problem is None:
            return True
        server = self.server
        server.refused_host += 1
        key = str(self.headers.get("Host"))
        if key not in server._named and len(server._named) < 32:
            server._named.add(key)
            log.warning("%s: %s", server.label, problem)
        else:
            log.debug("%s: %s", server.label, problem)
        body = (problem + "\n").encode()
        self.close_connection = True
        self.send_response(403 if self.headers.get("Host") is not None else 400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return False
