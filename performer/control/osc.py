"""OSC over UDP: every parameter at its address, commands, and what the engine reports.

In: each registry parameter at its address (``/dream/iterations 3``), its
normalised 0..1 form at ``<address>/normalized``, triggers with any or no
arguments, and a message with no arguments to a non-trigger parameter is a
query answered to the sender. Commands (presets, MIDI learn, the glove) are
registered as extra handlers. Nothing a client sends can crash the server:
malformed packets, unknown addresses, wrong types or counts and out-of-range
values are counted, logged at most once per kind per second, and answered to
the sender with ``/performer/error <address> <message>``.

Out: :class:`OscSender` sends the analysis (class, probabilities, level,
onset), frame events, every parameter change and the engine status to one or
more destinations, at ``control.osc_out_rate``, in bundles.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import queue
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from performer.errors import ControlError, ParamError, ParamRangeError, ParamTypeError, UnknownParamError
from performer.params import Change, ParamStore

log = logging.getLogger(__name__)

NORMALIZED = "/normalized"
ERROR_ADDRESS = "/performer/error"

Reply = Callable[[str, Sequence[Any]], None]
Handler = Callable[[Sequence[Any], Reply], None]
"""A command: called with the message's arguments and a function that answers the sender."""


def build_message(address: str, args: Iterable[Any] = ()) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, float) and not math.isfinite(a):
            a = 0.0
        b.add_arg(a)
    return b.build().dgram


def build_bundle(messages: Sequence[tuple[str, Sequence[Any]]]) -> bytes:
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, args in messages:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        bundle.add_content(b.build())
    return bundle.build().dgram


def _osc_value(v: Any) -> Any:
    """A parameter value as an OSC argument (None for a trigger's count is an int)."""
    return v if isinstance(v, (bool, int, float, str)) else str(v)


class OscServer:
    """Receives OSC on a UDP port and writes into the parameter store."""

    def __init__(self, store: ParamStore, *, host: str = "127.0.0.1", port: int = 9000,
                 allow: Sequence[str] = (), handlers: dict[str, Handler] | None = None) -> None:
        self.store = store
        self.host = host
        self.allow = {ipaddress.ip_address(a) for a in allow}
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.errors: Counter[str] = Counter()
        self.received = 0
        self._last_logged: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
            self.sock.bind((host, port))
        except OSError as e:
            raise ControlError(f"OSC cannot listen on {host}:{port}: {e.strerror}; "
                               "pick another port with --osc-port") from None
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._wide = not ipaddress.ip_address(socket.gethostbyname(host) if ":" not in host else host).is_loopback

    # --- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="osc-in", daemon=True)
        self._thread.start()
        log.info("OSC listening on %s:%d%s", self.host, self.port,
                 f" (clients allowed: {', '.join(map(str, self.allow))})" if self.allow else "")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self.sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            try:
                self.handle_packet(data, addr)
            except Exception as e:  # never let one packet stop the server
                self._error("handler", "?", f"internal error: {e}", addr)
                log.exception("OSC packet from %s crashed its handler", addr)

    # --- handling -------------------------------------------------------------------
    def handle_packet(self, data: bytes, addr: tuple) -> None:
        self.received += 1
        if self._wide and self.allow and ipaddress.ip_address(addr[0]) not in self.allow:
            self.errors["not_allowed"] += 1
            self._log_once("not_allowed", f"OSC from {addr[0]} ignored: not in the allow-list")
            return
        try:
            packet = OscPacket(data)
        except ParseError as e:
            self._error("malformed", "?", f"malformed OSC packet ({len(data)} bytes): {e}", addr)
            return
        for timed in packet.messages:
            msg = timed.message
            self.handle_message(msg.address, list(msg.params), addr)

    def handle_message(self, address: str, args: list[Any], addr: tuple | None = None) -> None:
        def reply(reply_address: str, reply_args: Sequence[Any]) -> None:
            if addr is not None:
                self.send_to(addr, reply_address, reply_args)

        handler = self.handlers.get(address)
        if handler is not None:
            try:
                handler(args, reply)
            except (ControlError, ParamError, ValueError, TypeError) as e:
                self._error("bad_type" if isinstance(e, TypeError) else "handler", address, str(e), addr)
            return
        normalized = address.endswith(NORMALIZED)
        base = address[: -len(NORMALIZED)] if normalized else address
        try:
            p = self.store.registry.by_address(base)
        except UnknownParamError as e:
            self._error("unknown_address", address, str(e), addr)
            return
        if p.type == "trigger":
            self.store.fire(p.name, source="osc")
            return
        if not args:  # a query
            value = self.store.get_normalized(p.name) if normalized else self.store.get(p.name)
            reply(address, [_osc_value(value)])
            return
        if len(args) != 1:
            self._error("bad_count", address,
                        f"{address} takes 1 argument ({p.allowed()}), got {len(args)}: {args!r}", addr)
            return
        value = args[0]
        try:
            if normalized:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise ParamRangeError(f"{address} takes a number in [0, 1], got {value!r}")
                self.store.set_normalized(p.name, value, source="osc")
                return
            stored = self.store.set(p.name, value, source="osc")
        except ParamTypeError as e:
            self._error("bad_type", address, str(e), addr)
            return
        except ParamRangeError as e:
            self._error("out_of_range", address, str(e), addr)
            return
        if p.numeric and stored != value:
            self._error("out_of_range", address,
                        f"{p.name} = {value!r} is out of range; allowed: {p.allowed()}; clamped to {stored!r}", addr)

    def _error(self, kind: str, address: str, message: str, addr: tuple | None) -> None:
        self.errors[kind] += 1
        self._log_once(kind, f"OSC {kind.replace('_', ' ')}: {message}")
        if addr is not None:
            self.send_to(addr, ERROR_ADDRESS, [address, message])

    def _log_once(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(kind, -10.0) >= 1.0:
            self._last_logged[kind] = now
            log.warning("%s (%d so far)", message, self.errors[kind])

    def send_to(self, addr: tuple, address: str, args: Sequence[Any]) -> None:
        """Send from the server's own port, so a client's replies come from where it sent."""
        try:
            self.sock.sendto(build_message(address, args), addr)
        except OSError as e:
            log.debug("OSC reply to %s failed: %s", addr, e)


class OscSender:
    """Sends what the engine knows to OSC destinations, from its own thread.

    ``analysis()`` and ``status()`` are called each tick (at ``control.osc_out_rate``)
    and return the messages to send; frame events are queued as they happen,
    and parameter changes are coalesced (the newest value of each parameter),
    all sent with the next tick in bundles.
    """

    def __init__(self, store: ParamStore, destinations: Sequence[tuple[str, int]] = (), *,
                 analysis: Callable[[], list[tuple[str, list[Any]]]] | None = None,
                 status: Callable[[], list[tuple[str, list[Any]]]] | None = None,
                 status_every: float = 1.0) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.destinations: list[tuple[str, int]] = []
        for host, port in destinations:
            self.add_destination(host, port)
        self.analysis = analysis
        self.status = status
        self.status_every = status_every
        self._events: queue.Queue[tuple[str, list[Any]]] = queue.Queue(maxsize=4096)
        self.dropped_events = 0
        self.coalesced = 0
        """Parameter changes replaced by a newer value of the same parameter before they were sent."""
        self._changes: dict[str, list[Any]] = {}
        self.sent = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = store.subscribe(self._on_change)

    def add_destination(self, host: str, port: int) -> None:
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise ControlError(f"OSC destination port {port!r} is not in [1, 65535]")
        with self._lock:
            if (host, port) not in self.destinations:
                self.destinations.append((host, port))
        log.info("OSC out to %s:%d", host, port)

    def remove_destination(self, host: str, port: int) -> None:
        with self._lock:
            if (host, port) in self.destinations:
                self.destinations.remove((host, port))

    def event(self, address: str, args: list[Any]) -> None:
        """Queue a message for the next tick (never blocks; counts what it drops)."""
        try:
            self._events.put_nowait((address, args))
        except queue.Full:
            self.dropped_events += 1

    def _on_change(self, change: Change) -> None:
        # Coalesced: only the newest value of each parameter goes out with the next tick, so a flood of
        # changes costs one message per parameter per tick, and faders still end where the value is.
        p = self.store.registry.get(change.name)
        with self._lock:
            if p.address in self._changes:
                self.coalesced += 1
            self._changes[p.address] = [_osc_value(change.value)]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="osc-out", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._sock.close()

    def _run(self) -> None:
        next_status = 0.0
        while not self._stop.is_set():
            t0 = time.monotonic()
            with self._lock:
                changes, self._changes = self._changes, {}
            messages: list[tuple[str, list[Any]]] = list(changes.items())
            while len(messages) < 256 + len(changes):
                try:
                    messages.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if self.analysis is not None:
                messages += self.analysis()
            if self.status is not None and t0 >= next_status:
                messages += self.status()
                next_status = t0 + self.status_every
            if messages:
                self.send(messages)
            rate = self.store.get("control.osc_out_rate")
            self._stop.wait(max(0.0, 1.0 / rate - (time.monotonic() - t0)))

    def send(self, messages: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._lock:
            destinations = list(self.destinations)
        if not destinations:
            return
        # Bundles of at most 32 messages keep each datagram well under common UDP limits.
        packets = [build_bundle(messages[i:i + 32]) for i in range(0, len(messages), 32)]
        for host, port in destinations:
            for data in packets:
                try:
                    self._sock.sendto(data, (host, port))
                    self.sent += 1
                except OSError as e:
                    log.debug("OSC send to %s:%d failed: %s", host, port, e)
