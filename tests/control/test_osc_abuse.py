"""Issue #16: nothing a client sends can stop OSC, flood the log, or make the server stream at a host of its choice.

Each test reproduces one attack from the issue on 127.0.0.1 with a bounded number of packets.
"""

from __future__ import annotations

import logging
import struct
import time
from types import SimpleNamespace

import pytest
from osc_peer import Client
from pythonosc.osc_message_builder import OscMessageBuilder

from conftest import wait_until
from performer.control import ControlOptions, Controls
from performer.control.osc import MAX_DESTINATIONS, OscSender, OscServer, build_bundle, build_message
from performer.errors import ControlError
from performer.params import ParamStore
from performer.presets import Preset

LOOP_BUNDLE = b"#bundle\x00" + bytes(8) + struct.pack(">i", -8)
"""20 bytes that sent python-osc's bundle parser into an endless loop, logging a warning on every turn."""


def pad(b: bytes) -> bytes:
    return b + b"\x00" * (4 - len(b) % 4)


def nested_bundles(depth: int) -> bytes:
    data = build_message("/dream/octaves", [2])
    for _ in range(depth):
        data = b"#bundle\x00" + bytes(8) + struct.pack(">i", len(data)) + data
    return data


BAD_PACKETS = {
    "endless bundle": LOOP_BUNDLE,
    "16,000 c type tags": pad(b"/dream/iterations") + pad(b"," + b"c" * 16_000),
    "undecodable address": pad(b"/\xff\xfe\xfd/dream"),
    "1,200-deep bundles": nested_bundles(1200),
    "unknown type tag": pad(b"/dream/iterations") + pad(b",x") + bytes(4),
    "negative blob": pad(b"/glove/flex") + pad(b",b") + struct.pack(">i", -1_000_000) + bytes(4),
    "too many messages": build_bundle([("/dream/jitter", [1])] * 300),
    "not OSC": b"GET / HTTP/1.1\r\n\r\n",
    "truncated": build_message("/dream/iterations", [3])[:-2],
}


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def server():
    srv = OscServer(ParamStore(), port=0)
    srv.start()
    yield srv
    srv.stop()


def test_the_20_byte_endless_bundle_is_answered_and_osc_keeps_working(server, caplog):
    """Item 1: one packet disabled OSC for good and logged about 1 MB/s."""
    c = Client(server.port)
    c.raw(LOOP_BUNDLE)
    address, (where, message) = c.reply()
    assert address == "/performer/error" and "-8" in message and "malformed" in message
    c.send("/dream/octaves", 3)
    c.send("/dream/octaves")
    assert c.reply() == ("/dream/octaves", [3])
    assert server.errors == {"malformed": 1} and len(warnings_of(caplog)) == 1


def test_every_kind_of_bad_input_logs_one_short_counted_line(server, caplog):
    """Item 2: 16,000 `c` tags logged 11,000 lines a packet; bad addresses and deep bundles a traceback each."""
    caplog.set_level(logging.DEBUG)
    c = Client(server.port)
    sent = 0
    t0 = time.monotonic()
    for _ in range(100):
        for data in BAD_PACKETS.values():
            c.raw(data)
            sent += 1
        wait_until(lambda n=sent: server.received >= n - len(BAD_PACKETS), 5, 0.001)  # a small kernel buffer overflows
    assert wait_until(lambda: server.received >= sent, 20)
    elapsed = time.monotonic() - t0
    kinds = set(server.errors)
    assert kinds == {"malformed", "too_large", "bad_address", "unsupported_type"}
    assert sum(server.errors.values()) == sent
    records = [r for r in caplog.records if r.name.startswith("performer") or r.name == "root"]
    # at most one line per kind per second, each one line, short, without a traceback
    assert len(records) <= len(kinds) * (int(elapsed) + 2), [r.getMessage() for r in records]
    for r in records:
        text = r.getMessage()
        assert r.exc_info is None and "\n" not in text and len(text) <= 400, text
    assert "so far" in records[-1].getMessage()


def test_error_replies_have_a_budget(caplog):
    """A flood of bad packets is not reflected one reply for one packet (the sender's address may be forged)."""
    srv = OscServer(ParamStore(), port=0, replies_per_second=20)
    srv.start()
    try:
        c = Client(srv.port)
        t0 = time.monotonic()
        for _ in range(500):
            c.raw(b"garbage!")
        assert wait_until(lambda: srv.received >= 500, 10)
        elapsed = time.monotonic() - t0
        replies = c.drain()
        assert replies <= 20 + 20 * (elapsed + 0.5)
        assert wait_until(lambda: srv.replies_refused >= 500 - replies and srv.errors["malformed"] == 500)
    finally:
        srv.stop()


def test_a_flood_of_sets_is_applied_once_per_parameter_and_batch():
    """Item 8: consecutive sets of one parameter in a batch cost one store change; bad ones are still reported."""
    store = ParamStore()
    srv = OscServer(store, port=0)
    c = Client(srv.port)
    peer = c.sock.getsockname()
    changes = []
    store.subscribe(lambda ch: changes.append((ch.name, ch.value)))
    try:
        batch = [(build_message("/dream/jitter", [i % 30]), peer) for i in range(400)]
        batch.insert(200, (build_message("/dream/jitter", ["wide"]), peer))
        batch.append((build_message("/dream/lr", [0.05]), peer))
        srv.handle_batch(batch)
        assert changes == [("dream.jitter", 399 % 30), ("dream.lr", pytest.approx(0.05))]
        assert srv.coalesced == 399 and srv.errors == {"bad_type": 1}
        assert c.reply()[0] == "/performer/error"
        # a query between two sets answers the first; a trigger in between sees it too
        srv.handle_batch([(build_message("/dream/jitter", [3]), peer), (build_message("/dream/jitter", []), peer),
                          (build_message("/dream/jitter", [5]), peer)])
        assert c.reply() == ("/dream/jitter", [3]) and store.get("dream.jitter") == 5
        srv.handle_message("/dream/iterations", [float("nan")], None)
        assert srv.errors["out_of_range"] == 1
    finally:
        srv.sock.close()
        c.close()


def test_unknown_addresses_cost_a_count_not_a_guess_each(monkeypatch):
    """A guess at a misspelt address is a fuzzy match over every address (about a millisecond): a flood of unknown
    addresses makes a bounded number of guesses, a repeated one reuses its answer, and replies still name it."""
    from performer.control import osc_intake
    from performer.params.registry import REGISTRY

    guesses = []
    real = type(REGISTRY).by_address

    def counting(self, address):
        if address not in self._by_address:
            guesses.append(address)
        return real(self, address)

    monkeypatch.setattr(type(REGISTRY), "by_address", counting)
    sent = []
    intake = osc_intake.Intake(REGISTRY, send=lambda data, addr: sent.append(data) or True, replies_per_second=1e9)
    peer = ("127.0.0.1", 9)
    intake.read([(build_message(f"/dream/jiter{i}", [1.0]), peer) for i in range(2000)])
    assert intake.errors["unknown_address"] == 2000 and len(sent) == 2000
    assert len(guesses) <= osc_intake.GUESSES_PER_SECOND + 5
    assert all(b"/dream/jiter" in data for data in sent)
    assert b"did you mean /dream/jitter" in sent[0]
    guesses.clear()
    intake.read([(build_message("/dream/jiter0", [1.0]), peer)] * 500)
    assert guesses == [] and all(b"did you mean /dream/jitter" in data for data in sent[-500:])
    intake.read([(build_message("/x" * 5000, [1.0]), peer)])  # a long address: no guess, a clipped answer
    assert guesses == [] and len(sent[-1]) < 1000


def fake_engine(store: ParamStore) -> SimpleNamespace:
    """What Controls reads of an engine, for tests that only need OSC in (no renderer, no audio)."""
    return SimpleNamespace(store=store, preset=Preset(name="test"), extra_sources={}, frame_listeners=[],
                           error_listeners=[])


@pytest.fixture
def controls():
    ctl = Controls(fake_engine(ParamStore()), ControlOptions(osc_port=0, oscquery_port=0))
    assert ctl.osc is not None and ctl.sender is not None
    ctl.osc.start()  # OSC in only: the sender's thread would ask the (absent) engine for analysis
    yield ctl
    ctl.osc.stop()
    ctl.sender.stop()


def test_clients_add_only_loopback_destinations_and_only_a_few(controls):
    """Item 7: any client could add unlimited OSC-out destinations at any host (a reflector)."""
    c = Client(controls.osc.port)
    for host in ("8.8.8.8", "example.com", "::1", "255.255.255.255"):
        c.send("/osc/destination/add", host, 9000)
        address, (where, message) = c.reply()
        assert address == "/performer/error" and where == "/osc/destination/add"
        assert "not allowed" in message and "loopback" in message
    for port in range(20000, 20000 + 2 * MAX_DESTINATIONS):
        c.send("/osc/destination/add", "127.0.0.1", port)
    c.send("/dream/octaves")  # answered after every add before it
    errors = []
    while (reply := c.reply())[0] != "/dream/octaves":
        errors.append(reply[1][1])
    assert len(controls.sender.destinations) == MAX_DESTINATIONS
    assert len(errors) == MAX_DESTINATIONS and all(f"at most {MAX_DESTINATIONS}" in e for e in errors)
    c.send("/osc/destination/remove", "127.0.0.1", 20000)
    c.send("/osc/destination/add", "localhost", 9000)
    assert wait_until(lambda: ("localhost", 9000) in controls.sender.destinations)


def test_the_allow_list_and_configured_hosts_may_be_added_and_nothing_is_looked_up():
    store = ParamStore()
    sender = OscSender(store, [("192.168.1.50", 7000)], allow=["10.1.2.3"])
    try:
        sender.add_destination("10.1.2.3", 9000)  # on the allow-list
        sender.add_destination("192.168.1.50", 9001)  # a configured destination's host
        sender.add_destination("127.0.0.2", 9000)  # all of 127/8 is loopback
        for host in ("10.1.2.4", "localhost.evil.example", "0.0.0.0", 3):
            with pytest.raises(ControlError, match="not allowed"):
                sender.add_destination(host, 9000)  # type: ignore[arg-type]
        with pytest.raises(ControlError, match=r"\[1, 65535\]"):
            sender.add_destination("127.0.0.1", 0)
        assert sender.refused_destinations == 5
        assert len(sender.destinations) == 4
    finally:
        sender.stop()


def test_fuzz_every_kind_of_bad_packet_then_osc_answers_within_a_second(controls, caplog):
    """The issue's "measure and keep": every attack above, mixed with random bytes, then a query."""
    import random

    rng = random.Random(16)
    c = Client(controls.osc.port)
    bad = list(BAD_PACKETS.values())
    b = OscMessageBuilder("/dream/iterations")
    b.add_arg(float("nan"), "f")
    bad += [b.build().dgram, build_message("/osc/destination/add", ["10.0.0.1", 9000]),
            build_message("/dream/iterations", ["many"]), build_message("/dream/nothing", [1.0]),
            build_message("/dream/iterations", [1, 2]), build_message("/preset/load", [3])]
    sent = 0
    for i in range(3000):
        if i % 3 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        else:
            data = rng.choice(bad)
        c.raw(data)
        sent += 1
        if i % 50 == 0:
            wait_until(lambda n=sent: controls.osc.received >= n - 50, 5, 0.001)
    wait_until(lambda: controls.osc.received >= sent, 30)
    c.drain()
    c.sock.settimeout(1.0)  # a liveness bound from the issue, not a speed claim
    c.send("/dream/octaves", 4)
    c.send("/dream/octaves")
    assert c.reply_to("/dream/octaves") == [4]
    assert controls.sender.destinations == [] and controls.osc.errors["malformed"] > 100
    assert all(r.exc_info is None for r in caplog.records)
