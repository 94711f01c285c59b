"""Transitions on a running show, driven as a VJ's tools would: `/preset/load NAME SECONDS` over UDP, OSC out and
the control page following a morph's glide, the A/B crossfader moved over OSC and from the page."""

from __future__ import annotations

import json
import socket
import struct
from types import SimpleNamespace

import pytest
from osc_peer import Client, receive

from conftest import wait_until
from none_helpers import RecordingRenderer
from performer.audio import ArraySource
from performer.control import ControlOptions, Controls
from performer.engine import Engine
from performer.outputs.preview import PreviewOutput
from performer.outputs.preview.controls_link import attach_control_pages
from performer.presets import load_preset, save_preset
from performer.presets.morph import Morph
from small import small_preset
from sounds import ToneClassifier, tone

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

A = {"dream.zoom": 1.0, "dream.lr": 0.02, "dream.iterations": 2, "dream.grad_norm": "mean_abs"}
B = {"dream.zoom": 1.2, "dream.lr": 0.1, "dream.iterations": 10, "dream.grad_norm": "std"}


@pytest.fixture(scope="module")
def show(tmp_path_factory):
    folder = tmp_path_factory.mktemp("presets")
    for name, params in (("a", A), ("b", B)):
        preset = small_preset(**params)
        preset.name = name
        save_preset(preset, folder / f"{name}.toml")
    page = PreviewOutput("web", port=0, fps=10)
    engine = Engine(source=ArraySource(tone(3000, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                    renderer=RecordingRenderer(), outputs=[page], preset=load_preset(folder / "a.toml"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    controls = Controls(engine, ControlOptions(osc_port=0, oscquery_port=0, preset_dir=folder,
                                               osc_out=[("127.0.0.1", listener.getsockname()[1])]))
    assert attach_control_pages(engine, controls) == 1
    engine.start()
    controls.start()
    client = Client(controls.osc.port, timeout=10)
    yield SimpleNamespace(engine=engine, controls=controls, store=engine.store, client=client, listener=listener,
                          page=page)
    controls.stop()
    engine.stop()
    client.close()
    listener.close()


def recall(show, *args) -> None:
    """`/preset/load` over UDP, answered with /preset/loaded (the recall has been applied)."""
    show.client.drain(0.05)
    show.client.send("/preset/load", *args)
    assert show.client.reply_to("/preset/loaded") == [args[0]]


def at(show, params: dict) -> None:
    recall(show, "a" if params is A else "b", 0.0)
    assert wait_until(lambda: show.store.get("dream.zoom") == pytest.approx(params["dream.zoom"]), 5)
    receive(show.listener, 0.3)  # what OSC out sent meanwhile


def values(messages, address: str) -> list[float]:
    return [args[0] for a, args in messages if a == address]


def test_preset_load_with_seconds_morphs_over_them_and_osc_out_sends_the_glide(show):
    at(show, A)
    recall(show, "b", 1.0)
    assert show.engine.preset.morph == Morph(1.0)  # the OSC argument, whatever the preset says (it has none)
    assert show.store.target("dream.zoom") == pytest.approx(1.2)
    sent = receive(show.listener, 2.5)
    zoom, steps = values(sent, "/dream/zoom"), values(sent, "/dream/iterations")
    # the glide, at the out rate: many values between the two presets', in order, ending at B's
    inside = [v for v in zoom if 1.0 + 1e-4 < v < 1.2 - 1e-4]
    assert len(set(inside)) >= 3, zoom  # about 30 at 30 Hz on a quiet machine; a starved thread sends fewer
    assert zoom == sorted(zoom) and zoom[-1] == pytest.approx(1.2)
    assert zoom[0] < 1.1  # the first message is where the glide starts, not the target (no jump)
    assert len({v for v in steps if 2 < v < 10}) >= 3 and steps[-1] == 10 and steps == sorted(steps)
    assert values(sent, "/dream/grad_norm") == ["std"]  # enums switch at the start, once


def test_a_long_morph_time_is_honoured_and_zero_cuts(show):
    at(show, A)
    recall(show, "b", 300.0)
    assert show.engine.preset.morph == Morph(300.0)
    receive(show.listener, 0.5)
    assert 1.0 <= show.store.get("dream.zoom") < 1.01  # 300 s to go 0.2: still at the start
    assert 2 <= show.store.get("dream.iterations") < 3
    recall(show, "a", 0)  # an int works as well; 0 is no morph: ints jump at once
    assert show.store.get("dream.iterations") == 2 and show.engine.preset.morph == Morph(0.0)


NAN = b"/preset/load\0\0\0\0,sf\0b\0\0\0" + struct.pack(">f", float("nan"))  # built by hand: clients send NaN


@pytest.mark.parametrize("args", [("b", -1.0), ("b", 301.0), ("b", "soon"), ("b", 1.0, 2.0), NAN])
def test_a_bad_morph_time_is_refused_naming_what_is_allowed(show, args):
    before = show.engine.preset.name
    show.client.drain(0.05)
    if args is NAN:
        show.client.raw(NAN)
    else:
        show.client.send("/preset/load", *args)
    address, message = show.client.reply_to("/performer/error")
    assert address == "/preset/load" and "morph time" in message and "a number in [0, 300]" in message
    assert show.engine.preset.name == before


def test_the_control_page_follows_the_glide(show):
    at(show, B)
    with connect(show.page.url.replace("http://", "ws://") + "control/ws", open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["values"]["dream.zoom"] == pytest.approx(1.2)
        recall(show, "a", 1.0)
        zoom = []
        while not zoom or zoom[-1] != pytest.approx(1.0):
            msg = json.loads(ws.recv(timeout=5))
            if msg.get("type") == "set" and "dream.zoom" in msg["values"]:
                zoom.append(msg["values"]["dream.zoom"])
    assert len({round(v, 6) for v in zoom if 1.0 + 1e-4 < v < 1.2 - 1e-4}) >= 3, zoom
    assert zoom == sorted(zoom, reverse=True) and zoom[0] > 1.1  # from where it was, down, no jump to 1.0


def test_a_page_opened_mid_morph_starts_where_the_glide_is(show):
    at(show, A)
    recall(show, "b", 300.0)  # 300 s to go 0.2: about 1.0 for the whole test
    with connect(show.page.url.replace("http://", "ws://") + "control/ws", open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
    assert 1.0 <= hello["values"]["dream.zoom"] < 1.01  # not the target, 1.2
    assert show.store.target("dream.zoom") == pytest.approx(1.2)
    recall(show, "a", 0.0)


def test_the_crossfader_mixes_two_presets_over_osc_and_from_the_page(show):
    at(show, A)
    c = show.client
    c.send("/crossfader/a", "a")
    c.send("/crossfader/b", "b")
    fader = show.controls.crossfader
    assert wait_until(lambda: fader.ends["crossfader.a"] is not None and fader.ends["crossfader.b"] is not None, 5)
    moves = fader.moves
    c.send("/crossfader/position", 0.5)
    assert wait_until(lambda: fader.moves > moves, 5)
    s = show.store
    assert s.get("dream.zoom") == pytest.approx(1.1) and s.get("dream.lr") == pytest.approx(0.06)
    assert s.get("dream.iterations") == 6 and s.get("dream.grad_norm") == "std"  # enums: B's from 0.5 on
    assert s.get("dream.width") == 64  # both presets' value
    sent = receive(show.listener, 0.5)
    assert values(sent, "/dream/zoom")[-1] == pytest.approx(1.1)  # controllers hear the mix
    c.send("/crossfader/position/normalized", 0.25)
    assert wait_until(lambda: s.get("dream.zoom") == pytest.approx(1.05), 5)
    assert s.get("dream.grad_norm") == "mean_abs" and s.get("dream.iterations") == 4
    with connect(show.page.url.replace("http://", "ws://") + "control/ws", open_timeout=5) as ws:
        json.loads(ws.recv(timeout=5))
        ws.send(json.dumps({"type": "set", "name": "crossfader.position", "value": 1.0}))
        assert wait_until(lambda: s.get("dream.zoom") == pytest.approx(1.2), 5)
        assert s.get("dream.lr") == pytest.approx(0.1) and s.get("dream.grad_norm") == "std"


def test_a_crossfader_end_that_names_no_preset_is_refused_and_set_back(show):
    c = show.client
    c.send("/crossfader/b", "b")
    fader = show.controls.crossfader
    assert wait_until(lambda: fader.ends["crossfader.b"] is not None, 5)
    refused = fader.refused
    receive(show.listener, 0.2)
    c.send("/crossfader/b", "nowhere")
    assert wait_until(lambda: fader.refused > refused, 5)
    assert wait_until(lambda: show.store.get("crossfader.b") == "b", 5)  # set back to the end's preset
    sent = receive(show.listener, 0.5)
    errors = [args for a, args in sent if a == "/performer/error"]
    assert any(args[0] == "/crossfader/b" and "nowhere" in args[1] for args in errors), errors
    assert values(sent, "/crossfader/b")[-1] == "b"  # controllers see the name set back
    assert fader.ends["crossfader.b"].name == "b"
