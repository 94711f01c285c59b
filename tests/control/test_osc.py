"""OSC in and out with real peers: liblo's oscsend and oscdump, raw UDP clients, and a fuzzer."""

from __future__ import annotations

import random
import shutil
import subprocess
import time

import pytest
from osc_peer import Client, free_port

from conftest import wait_until
from performer.control.osc import OscSender, OscServer, build_message
from performer.params import ParamStore

needs_liblo = pytest.mark.skipif(shutil.which("oscsend") is None or shutil.which("oscdump") is None,
                                 reason="liblo-tools (oscsend, oscdump) is not installed; .ci/run installs it")


@pytest.fixture
def server():
    store = ParamStore()
    srv = OscServer(store, port=0)
    srv.start()
    yield srv
    srv.stop()


@needs_liblo
def test_oscsend_sets_native_normalised_and_trigger_values(server):
    port = str(server.port)
    subprocess.run(["oscsend", "localhost", port, "/dream/iterations", "i", "5"], check=True)
    assert wait_until(lambda: server.store.get("dream.iterations") == 5)
    subprocess.run(["oscsend", "localhost", port, "/dream/octaves", "f", "3.0"], check=True)
    assert wait_until(lambda: server.store.get("dream.octaves") == 3)
    subprocess.run(["oscsend", "localhost", port, "/dream/network", "s", "vgg16"], check=True)
    assert wait_until(lambda: server.store.get("dream.network") == "vgg16")
    subprocess.run(["oscsend", "localhost", port, "/classifier/lock", "T"], check=True)
    assert wait_until(lambda: server.store.get("classifier.lock") is True)
    subprocess.run(["oscsend", "localhost", port, "/dream/iterations/normalized", "f", "1.0"], check=True)
    assert wait_until(lambda: server.store.get("dream.iterations") == 20)
    subprocess.run(["oscsend", "localhost", port, "/dream/restart"], check=True)
    assert wait_until(lambda: server.store.get("dream.restart") == 1)


@needs_liblo
def test_oscdump_receives_parameter_changes_and_analysis_in_bundles(tmp_path):
    store = ParamStore()
    port = free_port()
    dump = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    sender = OscSender(store, [("127.0.0.1", port)],
                       analysis=lambda: [("/performer/class", ["siren", 8, 0.75]), ("/performer/level", [-20.5])])
    try:
        time.sleep(0.3)
        sender.start()
        store.set("dream.iterations", 7, source="test")
        time.sleep(0.5)
    finally:
        sender.stop()
        dump.terminate()
    out = dump.communicate(timeout=5)[0]
    assert "/dream/iterations i 7" in out
    assert '/performer/class sif "siren" 8 0.750000' in out
    assert "/performer/level f -20.500000" in out


def test_queries_are_answered_to_the_sender(server):
    c = Client(server.port)
    server.store.set("dream.lr", 0.05, glide=False)
    c.send("/dream/lr")
    address, args = c.reply()
    assert address == "/dream/lr" and args[0] == pytest.approx(0.05)
    c.send("/dream/iterations/normalized")
    assert c.reply() == ("/dream/iterations/normalized", [pytest.approx(1 / 19)])


@pytest.mark.parametrize("send, kind, words", [
    (("/dream/nothing", 1.0), "unknown_address", "did you mean"),
    (("/dream/iterations", "many"), "bad_type", "expects an int"),
    (("/dream/iterations", 1, 2), "bad_count", "takes 1 argument"),
    (("/dream/network", "alexnet"), "out_of_range", "allowed: one of"),
    (("/dream/iterations", 500), "out_of_range", "clamped to 20"),
    (("/dream/lr/normalized", 3.0), "out_of_range", "[0, 1]"),
    (("/dream/lr/normalized", "half"), "bad_type", "[0, 1]"),
    (("/dream/layers/normalized", 0.5), "bad_type", "no normalised"),
])
def test_bad_messages_are_counted_and_answered_with_an_error(server, send, kind, words):
    c = Client(server.port)
    c.send(*send)
    address, (where, message) = c.reply()
    assert address == "/performer/error" and where == send[0]
    assert words in message and wait_until(lambda: server.errors[kind] == 1)  # counts follow the reply


def test_a_fader_float_for_an_int_rounds_without_an_error(server):
    """Issue #16 item 16: `/dream/iterations 3.6` was refused; faders send floats."""
    c = Client(server.port)
    c.send("/dream/iterations", 3.6)
    c.send("/dream/iterations")
    assert c.reply() == ("/dream/iterations", [4])  # the first reply is the answer: no error came before it
    assert server.errors == {}


@pytest.mark.parametrize("x, expected, shown", [(1.7, 20, "clamped to 1"), (-0.2, 1, "clamped to 0")])
def test_normalised_values_outside_0_1_clamp_like_absolute_ones(server, x, expected, shown):
    """Issue #16 item 16: `/normalized` values out of [0, 1] were refused; absolute ones clamp with a notice."""
    c = Client(server.port)
    server.store.set("dream.iterations", 5, glide=False)
    c.send("/dream/iterations/normalized", x)
    address, (where, message) = c.reply()
    assert address == "/performer/error" and where == "/dream/iterations/normalized"
    assert shown in message and "[0, 1]" in message and wait_until(lambda: server.errors["out_of_range"] == 1)
    assert wait_until(lambda: server.store.get("dream.iterations") == expected)


def test_malformed_packets_are_counted_and_answered(server):
    c = Client(server.port)
    c.raw(b"/dream/iterations\x00\x00\x00,i\x00")  # truncated: the int is missing
    address, (where, message) = c.reply()
    assert address == "/performer/error" and "malformed" in message
    assert wait_until(lambda: server.errors["malformed"] == 1)


def test_fuzz_thousands_of_random_and_truncated_packets_never_stop_the_server(server):
    rng = random.Random(1234)
    c = Client(server.port)
    good = [build_message(p.address, [p.default] if p.type not in ("trigger",) else [])
            for p in server.store.registry]
    n = 3000
    for i in range(n):
        kind = i % 4
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif kind == 1:
            g = rng.choice(good)
            data = g[: rng.randrange(1, len(g))]
        elif kind == 2:
            g = bytearray(rng.choice(good))
            g[rng.randrange(len(g))] = rng.randrange(256)
            data = bytes(g)
        else:
            data = b"#bundle\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        c.raw(data)
        if i % 200 == 0:
            time.sleep(0.01)  # let the loopback buffer drain a little
    assert wait_until(lambda: server.received >= n * 0.9, 15)
    c.drain()
    c.sock.settimeout(5)
    c.send("/dream/octaves", 2)
    c.send("/dream/octaves")
    assert c.reply_to("/dream/octaves") == [2] and server.store.get("dream.octaves") == 2
    assert server.errors["malformed"] > 100


def test_the_allow_list_drops_strangers_when_bound_wide():
    store = ParamStore()
    srv = OscServer(store, host="0.0.0.0", port=0, allow=["10.9.8.7"])
    try:
        srv.handle_packet(build_message("/dream/octaves", [3]), ("127.0.0.1", 5555))
        assert store.get("dream.octaves") == 1 and srv.errors["not_allowed"] == 1
        srv.handle_packet(build_message("/dream/octaves", [3]), ("10.9.8.7", 5555))
        assert store.get("dream.octaves") == 3
    finally:
        srv.sock.close()
