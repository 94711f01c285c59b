"""The guard the two HTTP servers share (the browser preview and OSCQuery).

- A bounded number of client threads (``max_clients``); past the bound the server stops accepting for up to
  ``busy_wait`` seconds (new clients wait in the kernel's queue, costing nothing), then answers ``503``.
- A deep listen backlog (128), so a burst of clients is queued by the kernel instead of refused.
- A rate bound (``max_rate``): past that many requests a second (on average, with a burst allowance), each request
  waits its turn before it is read, so a client hammering the server cannot take the CPU from the renderer in
  the same process; a closed-loop client is slowed down with it.
- Idle clients time out: a connection that sends nothing (or stops reading) for ``idle_timeout`` seconds is closed,
  so it cannot hold a thread for ever.
- The ``Host`` header is checked, so a web page cannot read the server through DNS rebinding (the page's own name
  resolving to 127.0.0.1). Bound to loopback, only loopback names are accepted (``localhost``, ``127.0.0.1``,
  ``[::1]``); bound to an address beyond loopback, that address, loopback names and this machine's names; bound to
  every interface (``0.0.0.0``), any IP address written as such and this machine's names. A rebinding page always
  sends its own domain name, which none of these match. A wrong ``Host`` gets ``403`` with the allowed names.

Pure standard library; both stages import it, and it imports neither.
"""

from __future__ import annotations

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


class GuardedHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server with a thread bound, a deep backlog, idle timeouts and the ``Host`` check."""

    daemon_threads = True
    request_queue_size = BACKLOG
    busy_wait = 1.0  # seconds the accept loop waits for a free thread before answering 503

    def __init__(self, address: tuple[str, int], handler: type[GuardedHandler], *, label: str = "HTTP",
                 max_clients: int = 64, idle_timeout: float = 15.0, max_rate: float | None = None) -> None:
        if max_clients < 1 or not idle_timeout > 0:
            raise ValueError(f"{label}: max_clients {max_clients!r} must be >= 1 and idle_timeout "
                             f"{idle_timeout!r} > 0")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.label, self.max_clients, self.idle_timeout = label, max_clients, float(idle_timeout)
        self._slots = threading.BoundedSemaphore(max_clients)
        self.rate_limit = RateLimit(max_rate) if max_rate is not None else None
        self.refused_busy = 0
        self.refused_host = 0
        self._named: set[str] = set()  # Host values already warned about (each once, so a page cannot flood the log)
        super().__init__(address, handler)
        self.host_check = HostCheck(address[0], str(self.server_address[0]))

    def pace(self) -> None:
        """Wait for this request's (or stream frame's) turn under ``max_rate``."""
        if self.rate_limit is not None:
            self.rate_limit.wait()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=self.busy_wait):
            self.refused_busy += 1
            if self.refused_busy == 1 or self.refused_busy % 100 == 0:
                log.warning("%s: %d clients connected already (the most it serves at once); refused %d so far",
                            self.label, self.max_clients, self.refused_busy)
            self._busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _busy(self, request: socket.socket) -> None:
        body = (f"{self.label} is busy: {self.max_clients} clients are connected, the most it serves at once; "
                f"try again\n").encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n").encode()
        try:
            request.settimeout(0.2)
            request.sendall(head + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        err = sys.exc_info()[1]
        if isinstance(err, OSError):  # a client went away or stopped reading: not the server's fault
            log.debug("%s: client %s: %s", self.label, client_address, err)
        else:
            log.exception("%s: error serving %s", self.label, client_address)


class GuardedHandler(BaseHTTPRequestHandler):
    """A request handler for :class:`GuardedHTTPServer`: idle timeout and ``Host`` check before any handler."""

    server: GuardedHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)  # every read and write: idle clients are closed

    def parse_request(self) -> bool:
        self.server.pace()
        if not super().parse_request():
            return False
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
