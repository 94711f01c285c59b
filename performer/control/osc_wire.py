"""The OSC 1.0 wire format: a bounded parser for what clients send, and python-osc's builders for what we send.

Parsing is done here rather than by python-osc because a datagram from the network must cost a bounded amount of
work and log nothing by itself: python-osc's bundle parser loops for ever on a negative element size (20 bytes
are enough), recurses once per nested bundle, logs a root-logger warning per unknown type tag and lets a
``UnicodeDecodeError`` out of an undecodable address. Here every size is checked against the bytes that are
there, bundles nest at most :data:`MAX_DEPTH` deep, a packet carries at most :data:`MAX_MESSAGES` messages and a
message at most :data:`MAX_ARGS` type tags, and the first problem ends the parse with one
:class:`OscPacketError` whose ``kind`` names the family and whose message names the value and what is allowed.
Bundle time tags are read and ignored: every message is applied when it arrives. A message whose address and
numeric type tags were parsed before (a fader sends the same head with a new value) is read in one step from a
small table of known heads, so a flood of fader moves costs little to parse.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from performer.errors import ControlError

BUNDLE = b"#bundle\x00"
MAX_DEPTH = 4
"""Bundles inside bundles, counting the outermost."""
MAX_MESSAGES = 256
"""Messages in one packet (all bundles together)."""
MAX_ARGS = 128
"""Type tags in one message (array brackets included)."""
MAX_ADDRESS = 256
"""Bytes in one address."""
TYPE_TAGS = "ihfdsSbcrmtTFNI[]"
"""The OSC 1.0 and common 1.1 type tags understood; any other ends the parse (its size is unknown)."""

Message = tuple[str, list[Any]]

_FIXED = {"i": struct.Struct(">i"), "h": struct.Struct(">q"), "f": struct.Struct(">f"), "d": struct.Struct(">d"),
          "c": struct.Struct(">I"), "r": struct.Struct(">I"), "t": struct.Struct(">Q")}
_CONSTANTS = {"T": True, "F": False, "N": None, "I": None}
_SIZE = struct.Struct(">i")


class OscPacketError(ControlError):
    """A datagram that is not valid OSC, or is bigger or deeper than the server accepts.

    ``kind`` is ``malformed`` (truncated, wrong sizes, not OSC), ``bad_address``, ``unsupported_type`` or
    ``too_large``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def show(data: bytes, limit: int = 24) -> str:
    """The first bytes of a datagram as a short literal, for error messages."""
    return repr(data[:limit]) + (f"… ({len(data)} bytes)" if len(data) > limit else "")


def parse_packet(data: bytes) -> list[Message]:
    """Every message in one datagram, in order, as ``(address, arguments)``; raises :class:`OscPacketError`."""
    if data[:1] == b"/":
        return [_known(data) or _message(data, 0, len(data), learn=True)]
    if data.startswith(BUNDLE):
        out: list[Message] = []
        _bundle(data, 0, len(data), 1, out)
        return out
    if not data:
        raise OscPacketError("malformed", "empty datagram; an OSC packet is a message ('/…') or a bundle ('#bundle')")
    raise OscPacketError("malformed", f"{show(data)} is neither an OSC message (starts with '/') "
                                      "nor a bundle (starts with '#bundle')")


NTP_UNIX = 2208988800
"""Seconds from the OSC time tag's epoch (1900, NTP) to the Unix epoch."""
HONOUR_TAG = 2.0
"""A bundle's time tag further than this many seconds from the time it arrived is not believed (a client whose
clock is not set): the arrival time stands instead."""


def bundle_time(data: bytes, arrived: float, wall: float) -> float | None:
    """The monotonic time a bundle's time tag names, for a datagram that arrived at monotonic ``arrived`` when
    the wall clock read ``wall``; None for a message, "immediately", or a tag more than :data:`HONOUR_TAG` s off."""
    if not data.startswith(BUNDLE) or len(data) < 16:
        return None
    (tag,) = struct.unpack_from(">Q", data, 8)
    if tag <= 1:
        return None
    t = arrived + (tag >> 32) - NTP_UNIX + (tag & 0xFFFFFFFF) / 2.0 ** 32 - wall
    return t if abs(t - arrived) <= HONOUR_TAG else None


def _bundle(data: bytes, start: int, end: int, depth: int, out: list[Message]) -> None:
    if depth > MAX_DEPTH:
        raise OscPacketError("too_large", f"bundles nested more than {MAX_DEPTH} deep; allowed: at most {MAX_DEPTH}")
    i = start + 16  # "#bundle\0" and the 8-byte time tag
    if i > end:
        raise OscPacketError("malformed", f"bundle of {end - start} bytes is shorter than its 16-byte header")
    while i < end:
        if i + 4 > end:
            raise OscPacketError("malformed", f"bundle element size at byte {i} is cut off ({end - i} bytes left)")
        (size,) = _SIZE.unpack_from(data, i)
        i += 4
        if size <= 0 or size % 4 or size > end - i:
            raise OscPacketError("malformed", f"bundle element size {size} at byte {i - 4} is not allowed; allowed: "
                                              f"a positive multiple of 4 of at most the {end - i} bytes left")
        element_end = i + size
        if data[i:i + 1] == b"/":
            if len(out) >= MAX_MESSAGES:
                raise OscPacketError("too_large", f"packet holds more than {MAX_MESSAGES} messages; "
                                                  f"allowed: at most {MAX_MESSAGES}")
            out.append(_message(data, i, element_end))
        elif data.startswith(BUNDLE, i, element_end):
            _bundle(data, i, element_end, depth + 1, out)
        else:
            raise OscPacketError("malformed", f"bundle element at byte {i} ({show(data[i:element_end], 12)}) is "
                                              "neither a message nor a bundle")
        i = element_end


def _string(data: bytes, i: int, end: int, what: str) -> tuple[bytes, int]:
    """The bytes of the zero-terminated, 4-byte padded string at ``i``, and where the next field starts."""
    j = data.find(b"\x00", i, end)
    if j < 0:
        raise OscPacketError("malformed", f"{what} at byte {i} has no terminating zero byte")
    n = j - i + 1
    nxt = i + n + (-n % 4)
    if nxt > end:
        raise OscPacketError("malformed", f"{what} at byte {i} is cut off (its padding runs past the end)")
    return data[i:j], nxt


_HEADS: dict[bytes, tuple[str, struct.Struct]] = {}
"""Address and type tags already parsed (numbers only), with the struct their arguments unpack with."""
MAX_HEADS = 512


def _known(data: bytes) -> Message | None:
    """A message whose address and type tags were seen before, read in one step (a fader sends the same head
    with a new value); None sends it through :func:`_message`."""
    a = data.find(b"\x00")
    if a < 0:
        return None
    e = data.find(b"\x00", (a + 4) & ~3)
    if e < 0:
        return None
    head = (e + 4) & ~3
    known = _HEADS.get(data[:head])
    if known is None or known[1].size != len(data) - head:
        return None
    return known[0], list(known[1].unpack_from(data, head))


def _learn(data: bytes, address: str, tags: str, args_at: int, end: int) -> None:
    if tags and end == len(data) and all(t in "ihfd" for t in tags):
        st = struct.Struct(">" + tags.replace("h", "q"))
        if st.size == end - args_at:
            if len(_HEADS) >= MAX_HEADS:  # many different heads (a scan, or an attack): start again
                _HEADS.clear()
            _HEADS[data[:args_at]] = (address, st)


def _message(data: bytes, start: int, end: int, learn: bool = False) -> Message:
    raw, i = _string(data, start, end, "address")
    if len(raw) > MAX_ADDRESS:
        raise OscPacketError("bad_address", f"address of {len(raw)} bytes ({show(raw)}) is too long; "
                                            f"allowed: at most {MAX_ADDRESS}")
    try:
        address = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OscPacketError("bad_address", f"address {show(raw)} is not UTF-8 text") from None
    if not address.isprintable():
        raise OscPacketError("bad_address", f"address {address[:60]!r} holds control characters; "
                                            "allowed: printable text starting with '/'")
    if i >= end:
        return address, []  # no type tag string: no arguments (OSC 1.0 allows it)
    tags_raw, i = _string(data, i, end, f"{address}: type tag string")
    if tags_raw[:1] != b",":
        raise OscPacketError("malformed", f"{address}: type tag string {show(tags_raw)} does not start with ','")
    tags = tags_raw[1:].decode("latin-1")
    if len(tags) > MAX_ARGS:
        raise OscPacketError("too_large", f"{address}: {len(tags)} type tags; allowed: at most {MAX_ARGS}")
    if learn:
        _learn(data, address, tags, i, end)
    args: list[Any] = []
    stack = [args]
    for t in tags:
        if t in _CONSTANTS:
            stack[-1].append(_CONSTANTS[t])
        elif t in _FIXED:
            s = _FIXED[t]
            if i + s.size > end:
                raise OscPacketError("malformed", f"{address}: the '{t}' argument at byte {i} is cut off")
            (v,) = s.unpack_from(data, i)
            i += s.size
            if t == "c":
                if v > 0x10FFFF:
                    raise OscPacketError("malformed", f"{address}: character code {v} is not a Unicode character")
                v = chr(v)
            stack[-1].append(v)
        elif t in "sS":
            b, i = _string(data, i, end, f"{address}: string argument")
            try:
                stack[-1].append(b.decode("utf-8"))
            except UnicodeDecodeError:
                raise OscPacketError("malformed", f"{address}: string argument {show(b)} is not UTF-8") from None
        elif t == "b":
            if i + 4 > end:
                raise OscPacketError("malformed", f"{address}: the blob size at byte {i} is cut off")
            (size,) = _SIZE.unpack_from(data, i)
            i += 4
            if size < 0 or size + (-size % 4) > end - i:
                raise OscPacketError("malformed", f"{address}: blob size {size} is not allowed; allowed: 0 to the "
                                                  f"{end - i} bytes left")
            stack[-1].append(bytes(data[i:i + size]))
            i += size + (-size % 4)
        elif t == "m":
            if i + 4 > end:
                raise OscPacketError("malformed", f"{address}: the MIDI argument at byte {i} is cut off")
            stack[-1].append(tuple(data[i:i + 4]))
            i += 4
        elif t == "[":
            if len(stack) > MAX_DEPTH:
                raise OscPacketError("too_large", f"{address}: arrays nested more than {MAX_DEPTH} deep")
            inner: list[Any] = []
            stack[-1].append(inner)
            stack.append(inner)
        elif t == "]":
            if len(stack) < 2:
                raise OscPacketError("malformed", f"{address}: ']' without '[' in type tags ',{tags[:40]}'")
            stack.pop()
        else:
            raise OscPacketError("unsupported_type", f"{address}: type tag {t!r} is not supported; "
                                                     f"allowed: {' '.join(TYPE_TAGS)}")
    if len(stack) != 1:
        raise OscPacketError("malformed", f"{address}: '[' without ']' in type tags ',{tags[:40]}'")
    return address, args


# --- building ---------------------------------------------------------------------------------------------------
def osc_value(v: Any) -> Any:
    """A parameter value as an OSC argument: numbers, booleans and strings as they are, anything else as text."""
    return v if isinstance(v, (bool, int, float, str)) else str(v)


def _builder(address: str, args: Iterable[Any]) -> OscMessageBuilder:
    b = OscMessageBuilder(address)
    for a in args:
        if isinstance(a, float) and not math.isfinite(a):
            a = 0.0
        b.add_arg(a)
    return b


def build_message(address: str, args: Iterable[Any] = ()) -> bytes:
    return _builder(address, args).build().dgram


def build_bundle(messages: Sequence[tuple[str, Sequence[Any]]]) -> bytes:
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, args in messages:
        bundle.add_content(_builder(address, args).build())
    return bundle.build().dgram
