"""The OSC commands, each declared once: address, argument types, what it does, and its handler.

In the manner of python-osc's ``Dispatcher.map``, :data:`TABLE` is the one place a handler is bound to an address
(``@TABLE.map(address, types, help)``). :class:`~performer.control.controls.Controls` dispatches through it
(:meth:`CommandTable.bind`); OSCQuery's command nodes, the generated patches and the docs read :data:`COMMANDS`,
derived from it. A handler is called with the :class:`Target` (the ``Controls``), the message's arguments and a
function that answers the sender; it raises :class:`~performer.errors.ControlError` for a bad command, which the
OSC server counts and answers with ``/performer/error``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from performer.errors import ControlError

Reply = Callable[[str, Sequence[Any]], None]
CLASSES_ADDRESS = "/performer/classes"
"""The class names in the order of ``/performer/probs``: sent to each OSC-out destination (see
:class:`~performer.control.osc_out.OscSender`'s ``announce``), answered to a sender that asks with no arguments,
and a read-only OSCQuery node."""


class Target(Protocol):
    """What the commands act on (:class:`~performer.control.controls.Controls`)."""

    midi: Any
    glove: Any
    sender: Any

    def recall(self, name: str, morph: float | None = None) -> str: ...
    def recall_path(self, path: Path, morph: float | None = None) -> str: ...
    def save_preset(self, name: str, *, overwrite: bool = False) -> Path: ...
    def _submit(self, address: str, job: Callable[[], str], reply: Any, done: str) -> None: ...
    def _neighbour(self, delta: int) -> Path: ...
    def _status_messages(self) -> list[tuple[str, list[Any]]]: ...
    def _class_messages(self) -> list[tuple[str, list[Any]]]: ...


Handler = Callable[[Target, Sequence[Any], Reply], None]


@dataclass(frozen=True)
class Command:
    address: str
    types: str
    """OSC type tags of its arguments (for OSCQuery, the docs and the patches)."""
    help: str
    handler: Handler
    checked: bool = False
    """Refuse arguments other than ``types`` (``s`` and ``i`` only) before the handler is called."""
    listed: bool = True
    """A write-only OSCQuery node and a control in the patches (``/performer/classes`` is listed as the read-only
    node of the class names instead)."""


class CommandTable:
    """The commands by address; ``map`` registers a handler, ``bind`` gives the OSC server's handlers."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def map(self, address: str, types: str, help: str, *, checked: bool = False,
            listed: bool = True) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if address in self.commands:
                raise ValueError(f"OSC command {address} is declared twice")
            self.commands[address] = Command(address, types, help, handler, checked, listed)
            return handler
        return register

    def bind(self, target: Target) -> dict[str, Callable[[Sequence[Any], Reply], None]]:
        """``{address: handler(args, reply)}`` acting on ``target``."""
        return {c.address: partial(_call, c, target) for c in self.commands.values()}

    def described(self) -> tuple[tuple[str, str, str], ...]:
        """(address, OSC type tags, description) of the listed commands."""
        return tuple((c.address, c.types, c.help) for c in self.commands.values() if c.listed)

    def to_markdown(self) -> str:
        """Every command as a Markdown table (the README's: ``performer params --update README.md``)."""
        rows = ["| OSC address | arguments | what it does |", "|---|---|---|"]
        for c in self.commands.values():
            types = " ".join(c.types)
            rows.append(f"| `{c.address}` | {f'`{types}`' if types else ''} | {c.help} |")
        return "\n".join(rows) + "\n"


def _call(command: Command, target: Target, args: Sequence[Any], reply: Reply) -> None:
    if command.checked:
        need(args, command.types, command.address)
    command.handler(target, args, reply)


def need(args: Sequence[Any], types: str, address: str) -> None:
    """ControlError unless ``args`` are of ``types`` (``s``: a string, ``i``: an int)."""
    ok = len(args) == len(types) and all(
        (t == "s" and isinstance(a, str)) or (t == "i" and isinstance(a, int) and not isinstance(a, bool))
        for t, a in zip(types, args))
    if not ok:
        words = {"s": "a string", "i": "an int"}
        raise ControlError(f"{address} takes {', '.join(words[t] for t in types) or 'no arguments'}, "
                           f"got {args!r}")


def named(address: str, args: Sequence[Any]) -> str:
    """The preset name a command carries, checked before anything touches a file."""
    from performer.presets import name_problem
    from performer.presets.folders import short

    if address == "/preset/save" and len(args) == 2:
        raise ControlError("/preset/save never replaces a preset; send /preset/save/overwrite NAME to replace one")
    need(args, "s", address)
    allowed = name_problem(args[0])
    if allowed is not None:
        raise ControlError(f"{address} {short(args[0])}: takes {allowed}")
    return str(args[0])


TABLE = CommandTable()
"""Every OSC command, in the order the docs and the patches list them."""


@TABLE.map("/preset/load", "s", "Recall a preset by name (your folder, else the shipped ones); NAME SECONDS "
           "morphs to it.")
def _load(c: Target, args: Sequence[Any], reply: Reply) -> None:
    from performer.presets.morph import morph_argument

    seconds = morph_argument(args[1:], "/preset/load")  # /preset/load NAME SECONDS
    name = named("/preset/load", args[:1])
    c._submit("/preset/load", lambda: c.recall(name, seconds), reply, "/preset/loaded")


def _save(address: str, overwrite: bool) -> Handler:
    def handler(c: Target, args: Sequence[Any], reply: Reply) -> None:
        name = named(address, args)
        c._submit(address, lambda: str(c.save_preset(name, overwrite=overwrite)), reply, "/preset/saved")
    return handler


def _step(address: str, delta: int) -> Handler:
    def handler(c: Target, args: Sequence[Any], reply: Reply) -> None:
        c._submit(address, lambda: c.recall_path(c._neighbour(delta)), reply, "/preset/loaded")
    return handler


TABLE.map("/preset/save", "s", "Save the current state as a new preset of this name in your preset folder.")(
    _save("/preset/save", False))
TABLE.map("/preset/save/overwrite", "s", "Save the current state in your preset folder, replacing the preset of "
          "this name.")(_save("/preset/save/overwrite", True))
TABLE.map("/preset/next", "", "Recall the next preset in the current preset's folder.")(_step("/preset/next", 1))
TABLE.map("/preset/prev", "", "Recall the previous preset in the current preset's folder.")(_step("/preset/prev", -1))


@TABLE.map("/midi/learn", "s", "Arm MIDI learn for a parameter (name or address); the next control moved is "
           "mapped.", checked=True)
def _learn(c: Target, args: Sequence[Any], reply: Reply) -> None:
    if c.midi is None:
        raise ControlError("MIDI learn needs a MIDI input: start with --midi NAME or set midi.input in the preset")
    c.midi.arm(args[0])


@TABLE.map("/midi/learn/cancel", "", "Cancel MIDI learn.")
def _cancel(c: Target, args: Sequence[Any], reply: Reply) -> None:
    if c.midi is not None:
        c.midi.cancel()


@TABLE.map("/glove/flex", "fffff", "Raw flex-sensor readings, one per finger (an OSC glove).")
def _flex(c: Target, args: Sequence[Any], reply: Reply) -> None:
    fingers = c.glove.fingers
    if len(args) != fingers or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise ControlError(f"/glove/flex takes {fingers} numbers (one per finger), got {args!r}")
    c.glove.feed([float(a) for a in args])


@TABLE.map("/performer/status", "", "Ask for the engine status; answered to the sender.")
def _status(c: Target, args: Sequence[Any], reply: Reply) -> None:
    for address, values in c._status_messages():
        reply(address, values)


@TABLE.map(CLASSES_ADDRESS, "", "Ask for the class names, in the order of /performer/probs; answered to the "
           "sender.", checked=True, listed=False)
def _classes(c: Target, args: Sequence[Any], reply: Reply) -> None:
    for address, values in c._class_messages():
        reply(address, values)


def _destination(address: str, add: bool) -> Handler:
    def handler(c: Target, args: Sequence[Any], reply: Reply) -> None:
        from performer.presets.folders import short

        if c.sender is None:
            raise ControlError(f"{address}: OSC out is off")
        try:
            (c.sender.add_destination if add else c.sender.remove_destination)(args[0], args[1])
        except (OSError, ValueError) as e:  # an address or a socket the sender cannot use: back to the client
            raise ControlError(f"{address} {short(args[0])} {args[1]}: {e}") from None
    return handler


TABLE.map("/osc/destination/add", "si", "Send OSC out to this host and port too.", checked=True)(
    _destination("/osc/destination/add", True))
TABLE.map("/osc/destination/remove", "si", "Stop sending OSC out to this host and port (one a client added; the "
          "destinations the server was started with are kept).", checked=True)(
    _destination("/osc/destination/remove", False))

COMMANDS: tuple[tuple[str, str, str], ...] = TABLE.described()
"""(address, OSC type tags, description) of the commands, for OSCQuery, the docs and the patches."""
