"""The bounded OSC parser: the packets that broke python-osc's, agreement with python-osc on valid packets, fuzz."""

from __future__ import annotations

import random
import struct
import threading

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from performer.control.osc_wire import (
    _HEADS,
    MAX_ARGS,
    MAX_DEPTH,
    MAX_HEADS,
    MAX_MESSAGES,
    OscPacketError,
    build_bundle,
    parse_packet,
)


def pad(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def message(address: bytes, tags: bytes = b"", payload: bytes = b"") -> bytes:
    return pad(address) + (pad(b"," + tags) + payload if tags or payload else b"")


def bundle(*elements: bytes) -> bytes:
    return b"#bundle\x00" + bytes(8) + b"".join(struct.pack(">i", len(e)) + e for e in elements)


def nested(depth: int, inner: bytes) -> bytes:
    for _ in range(depth):
        inner = bundle(inner)
    return inner


def kind_of(data: bytes) -> str:
    with pytest.raises(OscPacketError) as e:
        parse_packet(data)
    assert len(str(e.value)) < 300
    return e.value.kind


def test_a_negative_bundle_element_size_is_refused_at_once():
    """Issue #16 item 1: these 20 bytes sent python-osc's bundle parser into an endless, logging loop."""
    data = b"#bundle\x00" + bytes(8) + struct.pack(">i", -8)
    assert len(data) == 20
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(kind_of(data)), daemon=True)
    worker.start()
    worker.join(10)  # python-osc never returns; a bound on the test, not a speed claim
    assert done == ["malformed"]
    for size in (0, 3, 6, 1 << 30):  # zero, not a multiple of 4, past the end
        assert kind_of(b"#bundle\x00" + bytes(8) + struct.pack(">i", size) + bytes(8)) == "malformed"


def test_deep_nesting_many_tags_and_bad_addresses_are_refused_by_kind():
    """Issue #16 item 2: each of these made python-osc log a line per tag or a traceback per packet."""
    good = message(b"/a", b"i", struct.pack(">i", 1))
    assert parse_packet(nested(MAX_DEPTH, good)) == [("/a", [1])]
    assert kind_of(nested(MAX_DEPTH + 1, good)) == "too_large"
    assert kind_of(nested(1200, good)) == "too_large"
    assert kind_of(message(b"/a", b"c" * 16_000)) == "too_large"
    assert kind_of(message(b"/a", b"i" * (MAX_ARGS + 1), bytes(4 * (MAX_ARGS + 1)))) == "too_large"
    assert kind_of(message(b"/a", b"x")) == "unsupported_type"
    assert kind_of(message(b"/\xff\xfe\xfd")) == "bad_address"
    assert kind_of(message(b"/a\nb")) == "bad_address"
    assert kind_of(message(b"/" + b"a" * 400)) == "bad_address"
    assert kind_of(bundle(*[message(b"/a")] * (MAX_MESSAGES + 1))) == "too_large"
    assert kind_of(message(b"/a", b"s", pad(b"\xff\xfe"))) == "malformed"
    assert kind_of(message(b"/a", b"b", struct.pack(">i", -8) + bytes(8))) == "malformed"
    assert kind_of(message(b"/a", b"[i", bytes(4))) == "malformed"
    assert kind_of(message(b"/a", b"]")) == "malformed"
    assert kind_of(b"garbage!") == "malformed"
    assert kind_of(b"") == "malformed"
    assert kind_of(b"/abc") == "malformed"  # no terminating zero
    assert kind_of(pad(b"/a") + b"i\x00\x00\x00") == "malformed"  # tags without the comma


def test_valid_packets_read_as_python_osc_reads_them():
    b = OscMessageBuilder("/every/type")
    for value, tag in [(7, "i"), (-3, "i"), (2**40, "h"), (0.5, "f"), (1e300, "d"), ("text é", "s"),
                       (b"\x00\x01\x02", "b"), (True, "T"), (False, "F"), (None, "N"), ([1, [2.5, "x"]], None)]:
        b.add_arg(value, tag) if tag else b.add_arg(value)
    data = b.build().dgram
    ours = parse_packet(data)
    theirs = OscPacket(data).messages[0].message
    assert ours == [(theirs.address, list(theirs.params))]
    assert parse_packet(message(b"/q")) == [("/q", [])]
    assert parse_packet(message(b"/c", b"cm", struct.pack(">I", ord("x")) + b"\x00\x90\x3c\x7f")) == \
        [("/c", ["x", (0, 0x90, 0x3C, 0x7F)])]


def test_bundles_keep_the_order_of_their_messages_and_nest():
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder("/b").build())
    outer = OscBundleBuilder(IMMEDIATELY)
    m = OscMessageBuilder("/a")
    m.add_arg(1)
    outer.add_content(m.build())
    outer.add_content(inner.build())
    assert parse_packet(outer.build().dgram) == [("/a", [1]), ("/b", [])]
    assert parse_packet(build_bundle([("/x", [1.5]), ("/y", ["s"])])) == [("/x", [1.5]), ("/y", ["s"])]
    assert parse_packet(bundle()) == []


def test_fuzz_random_and_mutated_packets_raise_only_packet_errors():
    rng = random.Random(16)
    seeds = [build_bundle([("/dream/iterations", [3]), ("/dream/lr", [0.5]), ("/s", ["abc"])]),
             message(b"/a", b"ifsb", struct.pack(">if", 1, 2.0) + pad(b"s") + struct.pack(">i", 2) + pad(b"zz")),
             nested(3, message(b"/n", b"[i]", bytes(4)))]
    for i in range(20_000):
        if i % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48)))
            data = (b"#bundle\x00" if i % 2 else b"/") + data
        else:
            g = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                g[rng.randrange(len(g))] = rng.randrange(256)
            data = bytes(g[: rng.randrange(1, len(g) + 1)])
        try:
            parse_packet(data)
        except OscPacketError:
            pass


def test_a_known_head_reads_new_values_and_anything_else_takes_the_full_parser():
    first = message(b"/fader/1", b"if", struct.pack(">if", 1, 0.5))
    assert parse_packet(first) == [("/fader/1", [1, 0.5])]  # learnt
    assert parse_packet(message(b"/fader/1", b"if", struct.pack(">if", -7, 2.0))) == [("/fader/1", [-7, 2.0])]
    assert kind_of(first[:-2]) == "malformed"  # the known head with its last argument cut off
    assert parse_packet(first + bytes(4)) == [("/fader/1", [1, 0.5])]  # trailing bytes: read as before
    for i in range(MAX_HEADS + 10):  # many heads: the table starts again instead of growing
        assert parse_packet(message(f"/h/{i}".encode(), b"i", struct.pack(">i", i))) == [(f"/h/{i}", [i])]
    assert len(_HEADS) <= MAX_HEADS
