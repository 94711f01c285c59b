"""OSC in, the part that needs no store: datagrams read, checked and coalesced into what the store must do.

:class:`Intake` takes a batch of datagrams and returns items in order: a :class:`SetItem` (name, normalised,
value) for a parameter set that passed its checks, a :class:`MessageItem` (address, args, sender, arrived) for what
the store or a command must answer (queries, triggers, commands; ``arrived``: the monotonic time the datagram
arrived, or the time its bundle's time tag names, or None). Everything bad is handled here: counted by kind in
``errors``, logged at most once per kind per second in one clipped line, and answered to the sender with
``/performer/error <address> <message>`` while the reply budget lasts. Consecutive sets of one parameter in a batch
become one item (the last), the others counted in ``coalesced``: a set waits until something could see it (a later
message about the same parameter that is not a set, any command or unknown address, or the end of the batch), so a
query between two sets still answers the first.

It needs no store, so it can run away from the renderer: in a child process
(:mod:`performer.control.osc_child`), where a flood of datagrams costs the render thread no time holding the
GIL, or in the server's own thread.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from performer.control.osc_wire import OscPacketError, build_message, bundle_time, parse_packet
from performer.errors import ParamRangeError, ParamTypeError, UnknownParamError
from performer.params import Param, Registry
from performer.throttle import Budget, KindLog, clip

NORMALIZED = "/normalized"
ERROR_ADDRESS = "/performer/error"



class SetItem(NamedTuple):
    """A parameter set that passed its checks: the value is in the parameter's range, or 0..1 if ``normalized``."""

    name: str
    normalized: bool
    value: Any


class MessageItem(NamedTuple):
    """What the store or a command must answer: a query, a trigger or a command, from ``sender`` (None: no
    answer), ``arrived`` at that monotonic time (the datagram's, or its bundle's time tag; None: unknown)."""

    address: str
    args: list[Any]
    sender: tuple | None
    arrived: float | None


Item = SetItem | MessageItem
"""What an intake hands the store, in order."""


class Counts(NamedTuple):
    """What an intake has counted (see :class:`Intake`); :meth:`minus` gives what came since an earlier count."""

    received: int
    coalesced: int
    replies_failed: int
    replies_refused: int
    errors: dict[str, int]

    def minus(self, before: Counts) -> Counts:
        errors = {k: v - before.errors.get(k, 0) for k, v in self.errors.items() if v != before.errors.get(k, 0)}
        return Counts(self.received - before.received, self.coalesced - before.coalesced,
                      self.replies_failed - before.replies_failed, self.replies_refused - before.replies_refused,
                      errors)


class IntakeFrame(NamedTuple):
    """What an intake child sends (:mod:`performer.control.osc_child`): the counts since its previous frame, the
    log lines it wrote, the store items."""

    counts: Counts
    lines: list[tuple[int, str]]
    items: list[Item]

_REFUSED = object()


BATCH = 512
"""Datagrams taken off the socket before they are handled together."""


def drain(sock: socket.socket, limit: int = BATCH) -> list[tuple[bytes, tuple]]:
    """Every datagram waiting on a non-blocking socket, up to ``limit``, with its sender."""
    batch: list[tuple[bytes, tuple]] = []
    while len(batch) < limit:
        try:
            batch.append(sock.recvfrom(65536))
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # an ICMP error about an earlier reply, or the socket closing: next time
            break
    return batch


GUESSES_PER_SECOND = 20.0
"""New guesses at a misspelt address a second (each a fuzzy match over every address)."""
KEEP_UNKNOWN = 256
"""Answers to unknown addresses kept for reuse."""

MAX_WAITING = 4096
"""Queries and commands that may wait for the engine at once; more are dropped (counted as ``busy``)."""


class Outbox:
    """Items read but not handed to the store yet: everything in order, then the waiting sets (one per parameter)."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.pending: dict[str, SetItem] = {}

    def __bool__(self) -> bool:
        return bool(self.items or self.pending)

    def take(self) -> list[Item]:
        """Everything waiting, in order, and empty."""
        items = self.items + list(self.pending.values())
        self.items, self.pending = [], {}
        return items


class Intake:
    """Reads batches of datagrams into store items; answers and counts everything bad on the way."""

    def __init__(self, registry: Registry, *, commands: Collection[str] = (), allow: Collection[str] = (),
                 wide: bool = False, send: Callable[[bytes, tuple], bool] | None = None,
                 replies_per_second: float = 200.0, logger: logging.Logger | None = None) -> None:
        self.registry = registry
        self.commands = frozenset(commands)
        self.allow = frozenset(ipaddress.ip_address(a) for a in allow)
        self.wide = wide
        self.send = send
        self.errors: Counter[str] = Counter()
        self.received = 0
        """Datagrams read."""
        self.coalesced = 0
        """Valid parameter sets not stored because a later set of the same parameter came in the same batch."""
        self.replies_failed = 0
        """Replies that could not be sent at once (a full buffer, an unreachable sender); never retried."""
        self.log = KindLog(logger or logging.getLogger("performer.control.osc"))
        self._replies = Budget(replies_per_second, replies_per_second)
        self._guesses = Budget(GUESSES_PER_SECOND, GUESSES_PER_SECOND)
        self._unknown: dict[str, str] = {}
        """Recent answers to unknown addresses (a misconfigured client repeats one), at most :data:`KEEP_UNKNOWN`."""
        self._arrived: float | None = None
        """When the datagram being read arrived (see :meth:`read_into`)."""
        self._routes: dict[str, tuple[Param, bool]] = {}
        """Every parameter address and its ``/normalized`` form: the parameter, and whether normalised."""
        for p in registry:
            for address, normalized in ((p.address, False), (p.address + NORMALIZED, True)):
                if address not in self.commands:
                    self._routes[address] = (p, normalized)

    @property
    def replies_refused(self) -> int:
        """Error replies not sent because the reply budget was spent (a flood of bad input)."""
        return self._replies.refused

    def counts(self) -> Counts:
        """What this intake has counted so far, to send elsewhere."""
        return Counts(self.received, self.coalesced, self.replies_failed, self._replies.refused, dict(self.errors))

    def add(self, counts: Counts) -> None:
        """Add counts another intake (the child's) made, as :meth:`counts` gives them."""
        self.received += counts.received
        self.coalesced += counts.coalesced
        self.replies_failed += counts.replies_failed
        self._replies.refused += counts.replies_refused
        self.errors.update(counts.errors)

    def route(self, address: str) -> tuple[Param, bool] | None:
        """The parameter at ``address`` and whether it is the normalised form; None for commands and unknowns."""
        return self._routes.get(address)

    # --- reading ------------------------------------------------------------------------------------------
    def read(self, batch: Sequence[tuple[bytes, tuple]], arrived: float | None = None) -> list[Item]:
        """The store items of datagrams received together (at monotonic ``arrived``), in order."""
        outbox = Outbox()
        self.read_into(batch, outbox, arrived)
        return outbox.take()

    def read_into(self, batch: Sequence[tuple[bytes, tuple]], outbox: Outbox, arrived: float | None = None) -> None:
        """Add the items of a batch to those already waiting in ``outbox`` (sets coalesce across batches).

        ``arrived`` (monotonic seconds) is when the batch was read; a bundle's time tag, where it gives one, is
        when its messages happened instead (:func:`~performer.control.osc_wire.bundle_time`).
        """
        wall = time.time() if arrived is not None else 0.0
        for data, addr in batch:
            self._arrived = arrived if arrived is None else (bundle_time(data, arrived, wall) or arrived)
            self.received += 1
            if self.wide and self.allow and not self._allowed(addr):
                continue
            try:
                messages = parse_packet(data)
            except OscPacketError as e:
                self.error(e.kind, "?", f"{e.kind.replace('_', ' ')} OSC packet ({len(data)} bytes from "
                                        f"{addr[0]}): {e}", addr)
                continue
            for address, args in messages:
                try:
                    self._read(address, args, addr, outbox)
                except Exception as e:  # a bug of ours must not stop the others
                    if self.error("internal", address, f"internal error: {type(e).__name__}: {e}", addr):
                        self.log.logger.debug("OSC message %s failed", address, exc_info=True)

    def read_message(self, address: str, args: list[Any], addr: tuple | None) -> list[Item]:
        """The store items of one message already parsed (a set: checked, and refused or clamped here)."""
        outbox = Outbox()
        self._arrived = None
        self._read(address, args, addr, outbox)
        return outbox.take()

    def _read(self, address: str, args: list[Any], addr: tuple | None, outbox: Outbox) -> None:
        route = self._routes.get(address)
        if route is None:
            if address in self.commands:  # a command may see (or change) any parameter: what waits goes first
                self._hand_over(outbox, MessageItem(address, args, addr, self._arrived), flush=None)
            else:
                self.error("unknown_address", address, lambda: self.unknown(address), addr)
            return
        p, normalized = route
        if p.type == "trigger" or not args:  # a trigger, or a query: it must see the value set before it
            self._hand_over(outbox, MessageItem(address, args, addr, self._arrived), flush=p.name)
            return
        if len(args) != 1:
            self.error("bad_count", address, f"{address} takes 1 argument ({p.allowed()}), got {len(args)}: "
                                             f"{args!r}", addr)
            return
        value = args[0]
        if p.numeric and type(value) in (int, float) and (
                0.0 <= value <= 1.0 if normalized else p.min <= value <= p.max):
            # The common case, a fader's number in range: nothing to report, so it waits unconverted (NaN fails
            # the comparison and takes the long way); only the one that is stored is converted.
            item = SetItem(p.name, normalized, value)
        else:
            value = self.checked(address, p, normalized, value, addr)
            if value is _REFUSED:
                return
            item = SetItem(p.name, False, value)
        if p.name in outbox.pending:
            self.coalesced += 1
        outbox.pending[p.name] = item

    def _hand_over(self, outbox: Outbox, item: MessageItem, flush: str | None) -> None:
        """Queue a message for the store, after the waiting set of parameter ``flush`` (None: all of them)."""
        if len(outbox.items) >= MAX_WAITING:  # the engine has not taken the last ones: drop, do not pile up
            self.error("busy", item.address, f"{item.address}: dropped, {len(outbox.items)} messages already wait "
                                             f"for the engine; allowed: at most {MAX_WAITING}", item.sender)
            return
        if flush is None:
            outbox.items.extend(outbox.pending.values())
            outbox.pending.clear()
        elif flush in outbox.pending:
            outbox.items.append(outbox.pending.pop(flush))
        outbox.items.append(item)

    def _allowed(self, addr: tuple) -> bool:
        try:
            ok = ipaddress.ip_address(addr[0]) in self.allow
        except ValueError:
            ok = False
        if not ok:
            self.errors["not_allowed"] += 1
            self.log("not_allowed", f"OSC in: {addr[0]} ignored: not in the allow-list", self.errors["not_allowed"])
        return ok

    def unknown(self, address: str) -> str:
        """Why ``address`` is not a parameter, with the registry's guess at the one meant.

        A guess costs about a millisecond: answers are kept for repeated addresses, and new guesses are made at
        most :data:`GUESSES_PER_SECOND` (a long address, or one past the budget, gets the answer without one).
        """
        known = self._unknown.get(address)
        if known is not None:
            return known
        plain = f"no parameter at OSC address {clip(address, 120)!r}"
        if len(address) > 128 or not self._guesses.take():
            return plain
        try:
            self.registry.by_address(address[: -len(NORMALIZED)] if address.endswith(NORMALIZED) else address)
        except UnknownParamError as e:
            plain = str(e)
        if len(self._unknown) >= KEEP_UNKNOWN:
            self._unknown.clear()
        self._unknown[address] = plain
        return plain

    # --- checking -----------------------------------------------------------------------------------------
    def checked(self, address: str, p: Param, normalized: bool, value: Any, addr: tuple | None) -> Any:
        """The value to store for one set, or ``_REFUSED`` once the error is answered; a clamp is reported."""
        try:
            return self._value(address, p, normalized, value, addr)
        except ParamTypeError as e:
            self.error("bad_type", address, str(e), addr)
        except ParamRangeError as e:
            self.error("out_of_range", address, str(e), addr)
        return _REFUSED

    def _value(self, address: str, p: Param, normalized: bool, value: Any, addr: tuple | None) -> Any:
        if normalized:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamTypeError(f"{address} takes a number in [0, 1], got {value!r}")
            if not math.isfinite(value):
                raise ParamRangeError(f"{address} = {value!r} is not a finite number; allowed: a number in [0, 1]")
            if not 0.0 <= value <= 1.0:
                if p.numeric and not p.clamp:
                    raise ParamRangeError(f"{address} = {value!r} is out of range; allowed: a number in [0, 1]")
                x = min(1.0, max(0.0, float(value)))
                stored = p.denormalize(x)
                self.error("out_of_range", address, f"{address} = {value!r} is out of range; allowed: a number in "
                                                    f"[0, 1]; clamped to {x:g} ({p.name} = {stored!r})", addr)
                return stored
            return p.denormalize(value)  # always a valid value (the store checks it again when it is set)
        stored = p.validate(value)
        if p.numeric and p.min is not None and p.max is not None and not p.min <= value <= p.max:
            self.error("out_of_range", address,
                       f"{p.name} = {value!r} is out of range; allowed: {p.allowed()}; clamped to {stored!r}", addr)
        return stored

    # --- answering ----------------------------------------------------------------------------------------
    def error(self, kind: str, address: str, message: str | Callable[[], str], addr: tuple | None) -> bool:
        """Count, log (rate-limited) and answer one bad input; True if a log line was written.

        A costly ``message`` (the guess at a misspelt address) comes as a callable, made only when a line is
        logged or a reply is sent: both are rate-limited, so a flood of bad input costs a count, not a guess each.
        """
        self.errors[kind] += 1
        reply = addr is not None and self._replies.take()
        if not reply and not self.log.due(kind):
            return False
        text = clip(message() if callable(message) else message)
        logged = self.log(kind, f"OSC in: {text}", self.errors[kind])
        if reply and addr is not None:
            self.reply(addr, ERROR_ADDRESS, [clip(address, 120), text])
        return logged

    def reply(self, addr: tuple, address: str, args: Sequence[Any]) -> None:
        if self.send is None or not self.send(build_message(address, args), addr):
            self.replies_failed += 1
