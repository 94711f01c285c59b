"""OSC out: the analysis, the class names, frame events, parameter changes and status, in bundles to a few places.

Destinations come from the preset and the command line (the user's choice: any host) or from a client's
``/osc/destination/add``. A client may only add a destination on this machine (a loopback address) or on a host
named in the allow-list or among the configured destinations, written as an IP address (no name is looked up on
behalf of a client), and there are at most :data:`MAX_DESTINATIONS` in all: otherwise any client could turn the
server into a reflector that streams the analysis at a host of its choosing. A client may remove only what a
client added: the configured destinations are the operator's and stay until the server stops.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from performer.control.osc_wire import build_bundle, osc_value
from performer.errors import ControlError
from performer.params import Change, ParamStore
from performer.params.glides import GlideFollow
from performer.runtime import Worker
from performer.throttle import KindLog

log = logging.getLogger(__name__)

MAX_DESTINATIONS = 8
"""Destinations a client can bring the list up to (configured ones always count, and are always kept)."""
_LOCALHOST = "localhost"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class OscSender:
    """Sends what the engine knows to OSC destinations, from its own thread.

    ``analysis()`` and ``status()`` are called each tick (at ``control.osc_out_rate``)
    and return the messages to send; frame events are queued as they happen,
    and parameter changes are coalesced (the newest value of each parameter),
    all sent with the next tick in bundles; while a parameter glides after a recall or a morph, its live value
    goes out each tick until it arrives (:class:`~performer.params.glides.GlideFollow`). ``announce()``
    returns what a client needs once to read the rest (the class names that label ``/performer/probs``):
    checked each tick, it is sent to every destination at start, to a destination
    as soon as it is added, to all when it changes, and to all again every
    ``status_every`` seconds (for a patch started after the server). ``allow``
    lists the hosts, besides loopback and the configured destinations, a client
    may add as destinations.
    """

    def __init__(self, store: ParamStore, destinations: Sequence[tuple[str, int]] = (), *,
                 analysis: Callable[[], list[tuple[str, list[Any]]]] | None = None,
                 status: Callable[[], list[tuple[str, list[Any]]]] | None = None,
                 announce: Callable[[], list[tuple[str, list[Any]]]] | None = None,
                 status_every: float = 1.0, allow: Sequence[str] = ()) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.destinations: list[tuple[str, int]] = []
        self.allow = {ip for a in allow if (ip := _ip(a)) is not None}
        for host, port in destinations:
            self._add(host, port)
            if (ip := _ip(host)) is not None:
                self.allow.add(ip)
        self.configured = frozenset(self.destinations)
        """The operator's destinations (the preset's and the command line's): never removed by a client."""
        self.refused_destinations = 0
        self.client_changes = 0
        """Destinations clients added or removed."""
        self._log = KindLog(log)
        self.analysis = analysis
        self.status = status
        self.announce = announce
        self.status_every = status_every
        self._announced: list[tuple[str, list[Any]]] | None = None
        self._told: set[tuple[str, int]] = set()
        """The destinations that have heard ``_announced``."""
        self._announce_failed = False
        self._events: queue.Queue[tuple[str, list[Any]]] = queue.Queue(maxsize=4096)
        self.dropped_events = 0
        self.coalesced = 0
        """Parameter changes replaced by a newer value of the same parameter before they were sent."""
        self._changes: dict[str, list[Any]] = {}
        self.glides = GlideFollow(store)
        self.sent = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._worker = Worker("osc-out", self._run)
        self._unsubscribe = store.subscribe(self._on_change)

    # --- destinations -----------------------------------------------------------------
    @staticmethod
    def _check_port(port: Any) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ControlError(f"OSC destination port {port!r} is not allowed; allowed: an int in [1, 65535]")

    def _add(self, host: str, port: int) -> None:
        """Add a destination the user configured (any host)."""
        self._check_port(port)
        with self._lock:
            if (host, port) not in self.destinations:
                self.destinations.append((host, port))
        log.info("OSC out to %s:%d", host, port)

    def add_destination(self, host: str, port: int) -> None:
        """Add a destination a client asked for: a loopback or allowed IPv4 address, within the cap."""
        try:
            self._check_client_host(host, port)
            with self._lock:
                if (host, port) in self.destinations:
                    return
                if len(self.destinations) >= MAX_DESTINATIONS:
                    raise ControlError(f"OSC destination {host}:{port} refused: already {len(self.destinations)} "
                                       f"destinations; allowed: at most {MAX_DESTINATIONS} "
                                       "(remove one with /osc/destination/remove)")
                self.destinations.append((host, port))
        except ControlError:
            self.refused_destinations += 1
            raise
        self.client_changes += 1
        self._log("destination_change", f"OSC out to {host}:{port} (added by a client)", self.client_changes,
                  logging.INFO)

    def _check_client_host(self, host: Any, port: Any) -> None:
        self._check_port(port)
        ip = ipaddress.ip_address("127.0.0.1") if host == _LOCALHOST else _ip(host) if isinstance(host, str) else None
        if ip is None or ip.version != 4 or not (ip.is_loopback or ip in self.allow):
            others = ", ".join(sorted(map(str, self.allow))) or "none (--allow IP adds one)"
            shown = host[:80] if isinstance(host, str) else host
            raise ControlError(f"OSC destination host {shown!r} is not allowed; allowed: a loopback IPv4 address, "
                               f"or an allowed host: {others}")

    def remove_destination(self, host: str, port: int) -> None:
        """Remove a destination a client added; the configured ones are kept (:class:`ControlError`)."""
        with self._lock:
            kept = (host, port) in self.configured
            found = not kept and (host, port) in self.destinations
            if found:
                self.destinations.remove((host, port))
                self._told.discard((host, port))
            added = [f"{h}:{p}" for h, p in self.destinations if (h, p) not in self.configured]
        if not found:
            self.refused_destinations += 1
            shown = f"{host[:80] if isinstance(host, str) else repr(host)}:{port}"
            what = ("was configured by the operator (--osc-out or the preset) and is kept" if kept
                    else "is not an OSC destination")
            raise ControlError(f"OSC destination {shown} {what}; allowed: a destination a client added: "
                               f"{', '.join(added) or 'none now'}")
        self.client_changes += 1
        self._log("destination_change", f"OSC out to {host}:{port} stopped (removed by a client)",
                  self.client_changes, logging.INFO)

    # --- what is sent -----------------------------------------------------------------
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
        value = [osc_value(self.glides.shown(change))]  # a glide's start, not its target: the fader follows
        with self._lock:
            if p.address in self._changes:
                self.coalesced += 1
            self._changes[p.address] = value

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._unsubscribe()
        self._worker.stop()
        self._sock.close()

    def _run(self) -> None:
        next_status = 0.0
        while self._worker.running:
            t0 = time.monotonic()
            glides = self.glides.due()  # a morph's live values, each tick until they arrive
            with self._lock:
                changes, self._changes = self._changes, {}
            for name, value in glides.items():
                changes.setdefault(self.store.registry.get(name).address, [osc_value(value)])
            messages: list[tuple[str, list[Any]]] = list(changes.items())
            while len(messages) < 256 + len(changes):
                try:
                    messages.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if self.analysis is not None:
                messages += self.analysis()
            again = t0 >= next_status
            if again:
                next_status = t0 + self.status_every
            if self.status is not None and again:
                messages += self.status()
            if self.announce is not None:
                self._announce(everyone=again)
            if messages:
                self.send(messages)
            rate = self.store.get("control.osc_out_rate")
            self._worker.wait(max(0.0, 1.0 / rate - (time.monotonic() - t0)))

    def _announce(self, everyone: bool) -> None:
        """Send ``announce()``'s messages to every destination when they changed (or ``everyone``), else to the
        destinations added since they were last sent."""
        try:
            messages = [(address, list(args)) for address, args in self.announce()] if self.announce else []
        except Exception as e:  # the engine mid-restart: tried again next tick
            if not self._announce_failed:
                log.warning("OSC out: reading what to announce failed (%s); retrying", e)
            self._announce_failed = True
            return
        self._announce_failed = False
        with self._lock:
            destinations = list(self.destinations)
            fresh = everyone or messages != self._announced
            targets = destinations if fresh else [d for d in destinations if d not in self._told]
            self._announced, self._told = messages, set(destinations)
        if messages and targets:
            self.send(messages, targets)

    def send(self, messages: Sequence[tuple[str, Sequence[Any]]],
             destinations: Sequence[tuple[str, int]] | None = None) -> None:
        """Send ``messages`` in bundles to ``destinations`` (default: every destination)."""
        if destinations is None:
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
