"""Issue #24 item 1: a flood of refused commands costs a few counted log lines, not one line (or traceback) each.

Each flood is bounded and sent on 127.0.0.1.
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import pytest
from osc_peer import Client

from conftest import wait_until
from performer.control import ControlOptions, Controls
from performer.params import ParamStore
from performer.presets import Preset

FLOOD = 2000


def fake_engine(store: ParamStore) -> SimpleNamespace:
    """What Controls reads of an engine, for tests that only need OSC in (no renderer, no audio)."""
    return SimpleNamespace(store=store, preset=Preset(name="test"), extra_sources={}, frame_listeners=[],
                           error_listeners=[])


@pytest.fixture
def controls(tmp_path):
    ctl = Controls(fake_engine(ParamStore()), ControlOptions(osc_port=0, oscquery_port=0, preset_dir=tmp_path))
    assert ctl.osc is not None and ctl.sender is not None
    ctl.osc.start()  # OSC in only: the sender's thread would ask the (absent) engine for analysis
    yield ctl
    ctl.stop()


def lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("performer")]


def flood(controls: Controls, c: Client, address: str, *args) -> float:
    """Send ``FLOOD`` copies, paced so the socket buffer never overflows; seconds until every one was refused."""
    t0 = time.monotonic()
    for i in range(FLOOD):
        c.send(address, *args)
        if i % 50 == 0:
            wait_until(lambda n=i: controls.osc.received >= n - 50, 5, 0.001)
    assert wait_until(lambda: controls.preset_errors >= FLOOD, 60)
    return time.monotonic() - t0


@pytest.mark.parametrize("address,name,why", [("/preset/load", "nonexistent", "no preset named"),
                                              ("/preset/save", "default", "read-only")])
def test_a_flood_of_failing_preset_commands_logs_a_few_counted_lines(controls, caplog, address, name, why):
    """2,000 x /preset/load nonexistent logged 1,864 ERROR lines (427 KB) in a few seconds; /preset/save too."""
    caplog.set_level(logging.INFO)
    c = Client(controls.osc.port)
    seconds = flood(controls, c, address, name)
    time.sleep(0.2)  # the last worker line, if any
    assert controls.preset_errors == FLOOD
    logged = lines(caplog)
    # at most a line a second for the worker's failures and one for the refusals of a full queue
    assert 1 <= len(logged) <= 2 * (seconds + 2), [r.getMessage() for r in logged[:5]]
    messages = [r.getMessage() for r in logged]
    assert any(address in m and why in m for m in messages), messages[:3]
    assert all("\n" not in m and "so far" in m and len(m) < 1200 for m in messages), messages[:3]
    assert all(r.exc_info is None for r in caplog.records)
    c.drain()
    c.send("/dream/octaves")
    assert c.reply_to("/dream/octaves") == [1]  # the show goes on


def test_failing_recalls_from_midi_log_a_few_counted_lines(controls, caplog):
    """A MIDI note naming a missing preset, hit over and over (or a stuck controller)."""
    caplog.set_level(logging.INFO)
    t0 = time.monotonic()
    for _ in range(500):
        controls._recall("nonexistent")
    assert wait_until(lambda: controls.preset_errors >= 500, 60)
    seconds = time.monotonic() - t0
    logged = lines(caplog)
    assert 1 <= len(logged) <= 2 * (seconds + 2)
    assert all("so far" in r.getMessage() for r in logged)


def test_an_unexpected_failure_is_one_line_and_its_traceback_only_at_debug(controls, caplog, monkeypatch):
    caplog.set_level(logging.INFO)

    def broken(name):
        raise RuntimeError("a bug")

    monkeypatch.setattr(controls, "recall", broken)
    for _ in range(200):
        controls._recall("x")
    assert wait_until(lambda: controls.preset_errors >= 200, 30)
    logged = lines(caplog)
    assert 1 <= len(logged) <= 4
    assert "RuntimeError: a bug" in logged[0].getMessage()
    assert all(r.exc_info is None for r in logged)


def test_a_client_cannot_remove_the_operators_destinations_nor_take_their_slots(tmp_path):
    """Item 4: /osc/destination/remove si 127.0.0.1 PORT removed the operator's --osc-out; then all 8 slots."""
    from performer.control.osc import MAX_DESTINATIONS

    operator = ("127.0.0.1", 9100)
    ctl = Controls(fake_engine(ParamStore()), ControlOptions(osc_port=0, oscquery_port=0, preset_dir=tmp_path,
                                                             osc_out=[operator]))
    assert ctl.osc is not None and ctl.sender is not None
    ctl.osc.start()
    try:
        c = Client(ctl.osc.port)
        c.send("/osc/destination/remove", *operator)
        address, (where, message) = c.reply()
        assert address == "/performer/error" and where == "/osc/destination/remove"
        assert "127.0.0.1:9100" in message and "kept" in message and "allowed" in message
        assert ctl.sender.destinations == [operator]
        for port in range(20000, 20000 + MAX_DESTINATIONS):
            c.send("/osc/destination/add", "127.0.0.1", port)
        c.send("/osc/destination/remove", "127.0.0.1", 20000)  # one a client added: removed
        c.send("/osc/destination/remove", "127.0.0.1", 20000)  # not there (any more): said so
        c.send("/dream/octaves")
        errors = []
        while (reply := c.reply())[0] != "/dream/octaves":
            errors.append(reply[1])
        assert [e[0] for e in errors] == ["/osc/destination/add", "/osc/destination/remove"]
        assert "at most" in errors[0][1] and "not an OSC destination" in errors[1][1]
        assert operator in ctl.sender.destinations and len(ctl.sender.destinations) == MAX_DESTINATIONS - 1
        assert ctl.sender.refused_destinations == 3
    finally:
        ctl.stop()
