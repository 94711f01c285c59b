"""OSC in over UDP: every parameter at its address, commands, and queries answered to the sender.

In: each registry parameter at its address (``/dream/iterations 3``; a float for
an int rounds), its normalised 0..1 form at ``<address>/normalized`` (values
outside 0..1 clamp, as out-of-range values do), triggers with any or no
arguments, and a message with no arguments to a non-trigger parameter is a
query answered to the sender. Commands (presets, MIDI learn, the glove) are
registered as extra handlers.

Nothing a client sends can stop the server or flood its log: datagrams are
read by an :class:`~performer.control.osc_intake.Intake` (the bounded parser of
:mod:`performer.control.osc_wire`, the checks, the coalescing of a flood of
fader moves into one store change per parameter per batch); every bad input is
counted by kind (``errors``), logged at most once per kind per second in one
clipped line, and answered with ``/performer/error <address> <message>`` while
the reply budget lasts. Where it can (POSIX), the intake runs in a child process
(:mod:`performer.control.osc_child`), so a flood costs the renderer CPU time but
no time waiting for the GIL; this server's thread then only applies what the
child sends back. Elsewhere, or if the child cannot start, the intake runs on
this server's thread.

Out: :class:`~performer.control.osc_out.OscSender`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import selectors
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from performer.control.osc_intake import ERROR_ADDRESS, NORMALIZED, Intake, IntakeFrame, Item, SetItem, drain
from performer.control.osc_out import MAX_DESTINATIONS, OscSender
from performer.control.osc_wire import build_bundle, build_message, osc_value
from performer.errors import ControlError, ParamError
from performer.params import ParamStore
from performer.runtime import Worker
from performer.tempo.stamps import arrived
from performer.throttle import throttle_library_warnings

if TYPE_CHECKING:
    from performer.control.osc_child import IntakeProcess

__all__ = ["ERROR_ADDRESS", "MAX_DESTINATIONS", "NORMALIZED", "OscSender", "OscServer", "build_bundle",
           "build_message"]

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 8 * 2**20
"""Asked of the kernel (it grants at most twice ``net.core.rmem_max`` on Linux)."""

Reply = Callable[[str, Sequence[Any]], None]
Handler = Callable[[Sequence[Any], Reply], None]
"""A command: called with the message's arguments and a function that answers the sender."""


class OscServer:
    """Receives OSC on a UDP port and writes into the parameter store.

    ``child``: read the socket in a child process (the default where supported) or on this server's thread.
    """

    def __init__(self, store: ParamStore, *, host: str = "127.0.0.1", port: int = 9000,
                 allow: Sequence[str] = (), handlers: dict[str, Handler] | None = None,
                 replies_per_second: float = 200.0, child: bool | None = None) -> None:
        self.store = store
        self.host = host
        self.allow = {ipaddress.ip_address(a) for a in allow}
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._worker = Worker("osc-in", self._run)
        """Reads the socket when no child does."""
        self._child: IntakeProcess | None = None
        self.use_child = os.name == "posix" if child is None else child  # (the socket is passed by number)
        """Read the socket in a child process; may be changed until :meth:`start`."""
        throttle_library_warnings("pythonosc")
        try:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            except OSError as e:
                log.debug("OSC receive buffer of %d bytes refused: %s", RECEIVE_BUFFER, e)
            self.sock.bind((host, port))
        except OSError as e:
            raise ControlError(f"OSC cannot listen on {host}:{port}: {e.strerror}; "
                               "pick another port with --osc-port") from None
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.receive_buffer = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        """Bytes the kernel granted for datagrams waiting to be read."""
        if self.receive_buffer < RECEIVE_BUFFER and sys.platform.startswith("linux"):
            log.info("OSC receive buffer: %d KiB (asked for %d KiB); under a flood it may overflow; raise the "
                     "limit with: sysctl -w net.core.rmem_max=%d", self.receive_buffer // 1024,
                     RECEIVE_BUFFER // 1024, RECEIVE_BUFFER)
        wide = not ipaddress.ip_address(socket.gethostbyname(host) if ":" not in host else host).is_loopback
        self._settings = {"registry": store.registry, "commands": frozenset(self.handlers), "allow": list(allow),
                          "wide": wide, "replies_per_second": replies_per_second}
        self.intake = Intake(store.registry, commands=self.handlers, allow=allow, wide=wide, send=self._send,
                             replies_per_second=replies_per_second, logger=log)
        """Reads datagrams on this server's thread (and keeps every count, the child's included)."""

    # --- counts (the child's included) ---------------------------------------------------------------
    @property
    def errors(self) -> Counter[str]:
        """Bad inputs by kind."""
        return self.intake.errors

    @property
    def received(self) -> int:
        """Datagrams read (or given to :meth:`handle_packet`)."""
        return self.intake.received

    @property
    def coalesced(self) -> int:
        """Valid parameter sets not stored because a later set of the same parameter came in the same batch."""
        return self.intake.coalesced

    @property
    def replies_refused(self) -> int:
        """Error replies not sent because the reply budget was spent (a flood of bad input)."""
        return self.intake.replies_refused

    @property
    def thread(self) -> threading.Thread | None:
        """The thread reading the socket, or the child's frames (benchmarks read its CPU time)."""
        return self._worker.thread if self._child is None else self._child.thread

    @property
    def intake_pid(self) -> int | None:
        """The intake child's process id, when OSC is read in a child."""
        return self._child.pid if self._child is not None else None

    # --- life cycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.use_child:
            from performer.control.osc_child import IntakeProcess

            child = IntakeProcess(self.sock, self._settings, self._apply_frame)
            if child.start():
                self._child = child
        if self._child is None:
            self._worker.start()
        log.info("OSC listening on %s:%d%s%s", self.host, self.port,
                 f" (clients allowed: {', '.join(map(str, self.allow))})" if self.allow else "",
                 f" (read by process {self.intake_pid})" if self._child is not None else "")

    def stop(self) -> None:
        self._worker.stopping.set()
        if self._child is not None:
            self._child.stop()
        self._worker.join()
        self.sock.close()

    def _run(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            while self._worker.running:
                try:
                    if not sel.select(0.2):
                        continue
                except (OSError, ValueError):  # the socket was closed under us
                    return
                try:
                    t = time.monotonic()
                    self.handle_batch(drain(self.sock), t)
                except Exception as e:  # never let one batch stop the server
                    if self.intake.error("internal", "?", f"internal error: {type(e).__name__}: {e}", None):
                        log.debug("OSC batch failed", exc_info=True)

    # --- handling -------------------------------------------------------------------------------------
    def handle_packet(self, data: bytes, addr: tuple) -> None:
        self.handle_batch([(data, addr)])

    def handle_batch(self, batch: Sequence[tuple[bytes, tuple]], arrived: float | None = None) -> None:
        """Read datagrams received together (on this process, at monotonic ``arrived``) and apply what they ask."""
        self._apply(self.intake.read(batch, arrived))

    def _apply_frame(self, frame: IntakeFrame) -> None:
        """What the intake child read: its counts and log lines, then its items."""
        self.intake.add(frame.counts)
        for level, line in frame.lines:
            log.log(level, "%s", line)
        self._apply(frame.items)

    def _apply(self, items: list[Item]) -> None:
        for item in items:
            try:
                if isinstance(item, SetItem):
                    p = self.store.registry.get(item.name)
                    self.store.set(item.name, p.denormalize(item.value) if item.normalized else item.value,
                                   source="osc")
                else:
                    with arrived(item.arrived):  # a tap counts when it arrived (performer.tempo.stamps)
                        self.handle_message(item.address, item.args, item.sender)
            except Exception as e:  # a handler's own bug must not stop the others
                if self.intake.error("internal", str(item[0]), f"internal error: {type(e).__name__}: {e}", None):
                    log.debug("OSC item %r failed", item[0], exc_info=True)

    def handle_message(self, address: str, args: list[Any], addr: tuple | None = None) -> None:
        """Handle one message at once: a command, a query, a trigger or a set (stored now)."""
        def reply(reply_address: str, reply_args: Sequence[Any]) -> None:
            if addr is not None:
                self.intake.reply(addr, reply_address, reply_args)

        handler = self.handlers.get(address)
        if handler is not None:
            try:
                handler(args, reply)
            except (ControlError, ParamError, ValueError, TypeError) as e:
                self.intake.error("bad_type" if isinstance(e, TypeError) else "handler", address, str(e), addr)
            return
        route = self.intake.route(address)
        if route is None:
            self.intake.error("unknown_address", address, self.intake.unknown(address), addr)
            return
        p, normalized = route
        if p.type == "trigger":
            self.store.fire(p.name, source="osc")
        elif not args:  # a query
            value = self.store.get_normalized(p.name) if normalized else self.store.get(p.name)
            reply(address, [osc_value(value)])
        else:  # a set: checked (and refused, or reported as clamped) by the intake
            self._apply(self.intake.read_message(address, args, addr))

    def send_to(self, addr: tuple, address: str, args: Sequence[Any]) -> None:
        """Send from the server's own port, so a client's replies come from where it sent."""
        self.intake.reply(addr, address, args)

    def _send(self, data: bytes, addr: tuple) -> bool:
        try:
            return self.sock.sendto(data, addr) == len(data)
        except OSError:  # a full send buffer (never waited for), an unreachable sender
            return False
