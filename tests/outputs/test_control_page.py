"""The control page: generated from the registry, synced both ways over a real WebSocket, and driven in a real
headless Chromium (a fader moved on the page changes the store; a change in the store moves the fader)."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import socket
import threading
import time

import numpy as np
import pytest
from test_outputs import info, pattern, wait_until
from test_preview import browser, get, open_page  # noqa: F401 (browser is a fixture)

from performer.errors import ControlError
from performer.outputs.preview import PreviewOutput
from performer.params import REGISTRY, ParamStore

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402


class Control:
    """A controller as `performer serve` gives one: presets that set the store, MIDI learn, a tempo."""

    def __init__(self, store: ParamStore, midi: bool = True) -> None:
        self.store, self.midi = store, midi
        self.recalled: list[str] = []
        self.learned: list[str] = []
        self.bpm = 128.0

    def presets(self):
        return ["ambient", "club"]

    def recall(self, name: str) -> None:
        self.recalled.append(name)
        self.store.update({"audio.gate": -30.0 if name == "club" else -90.0}, source="preset")

    def learn(self, param: str) -> None:
        if not self.midi:
            raise ControlError("MIDI learn needs a MIDI input: start with --midi NAME or set midi.input in the preset")
        self.learned.append(param)

    def analysis(self):
        return {"bpm": self.bpm, "beat_phase": 0.1, "preset": self.recalled[-1] if self.recalled else None}


@pytest.fixture
def served():
    store = ParamStore()
    out = PreviewOutput("web", port=0, fps=20)
    control = Control(store)
    out.attach(store, control)
    out.open()
    yield out, store, control
    out.close()


def ws_url(out: PreviewOutput) -> str:
    return out.url.replace("http://", "ws://") + "control/ws"


def receive_until(ws, pred, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except TimeoutError:
            break
        seen.append(msg)
        if pred(msg):
            return msg
    raise AssertionError(f"no matching message in {timeout} s; got {seen[-5:]}")


def test_page_is_generated_from_the_registry(served):
    out, _, _ = served
    status, headers, body = get(out.url + "control")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from elsewhere
    for p in REGISTRY:
        row = re.search(rf'<div class="param {p.type}" data-param="{re.escape(p.name)}".*?</div></div>', page)
        assert row, p.name
        html = row.group(0)
        if p.numeric:
            assert f'min="{p.min:g}"' in html and f'max="{p.max:g}"' in html and 'type="range"' in html, html
            assert p.unit in html
        elif p.type == "bool":
            assert 'type="checkbox"' in html
        elif p.type == "enum":
            assert re.findall(r'<option value="([^"]+)"', html) == list(p.choices)
        elif p.type == "trigger":
            assert 'class="trigger"' in html
        assert ('data-learn="' in html) == (p.type != "string")
    groups = re.findall(r'<details class="group" data-group="(\w+)" open>', page)
    assert set(groups) == {p.group for p in REGISTRY} and len(groups) == len(set(groups))


def test_control_routes_without_an_engine_say_what_is_missing():
    out = PreviewOutput("web", port=0)
    out.open()
    try:
        status, _, body = get(out.url + "control")
        assert status == 503 and b"not attached" in body
        status, _, body = get(out.url + "nope")
        assert status == 404 and b"/control" in body
    finally:
        out.close()


def test_websocket_syncs_both_ways_and_refuses_bad_messages(served):
    out, store, control = served
    changes = []
    store.subscribe(lambda c: changes.append((c.name, c.value, c.source)))
    with connect(ws_url(out), open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello" and hello["presets"] == ["ambient", "club"] and hello["control"] is True
        assert hello["values"]["audio.gate"] == -70.0 and "dream.restart" not in hello["values"]
        # page -> store, tagged "page"
        ws.send(json.dumps({"type": "set", "name": "audio.gate", "value": -42.5}))
        receive_until(ws, lambda m: m.get("type") == "ok" and m.get("set") == "audio.gate")
        assert store.get("audio.gate") == -42.5 and ("audio.gate", -42.5, "page") in changes
        ws.send(json.dumps({"type": "fire", "name": "dream.restart"}))
        assert wait_until(lambda: store.get("dream.restart") == 1, 5)
        receive_until(ws, lambda m: m == {"type": "fired", "name": "dream.restart"})
        # store (as OSC would) -> page, coalesced
        for v in (3, 4, 5):
            store.set("dream.iterations", v, source="osc")
        msg = receive_until(ws, lambda m: m.get("type") == "set" and "dream.iterations" in m["values"])
        assert msg["values"]["dream.iterations"] in (3, 4, 5)
        if msg["values"]["dream.iterations"] != 5:
            receive_until(ws, lambda m: m.get("type") == "set" and m["values"].get("dream.iterations") == 5)
        # bad messages: one line naming the thing, the value and what is allowed; the store keeps its value
        for bad, words in ((b"{not json", "not JSON"), ({"type": "explode"}, "allowed: set, fire"),
                           ({"type": "set", "name": "audio.gate", "value": "loud"}, "audio.gate expects a float"),
                           ({"type": "set", "name": "dream.network", "value": "alexnet"}, "allowed: one of"),
                           ({"type": "set", "name": "dream.nope", "value": 1}, "no parameter named 'dream.nope'"),
                           ({"type": "recall", "name": "../../etc/passwd"}, "allowed: ambient, club")):
            ws.send(bad.decode() if isinstance(bad, bytes) else json.dumps(bad))
            err = receive_until(ws, lambda m: m.get("type") == "error")
            assert words in err["message"] and "\n" not in err["message"], err
        assert store.get("audio.gate") == -42.5 and store.get("dream.network") == "efficientnet_lite0"
        assert out.hub is not None and out.hub.rejected == 6 and control.recalled == []
        # presets and MIDI learn go to the controller
        ws.send(json.dumps({"type": "recall", "name": "club"}))
        receive_until(ws, lambda m: m.get("type") == "set" and m["values"].get("audio.gate") == -30.0)
        ws.send(json.dumps({"type": "learn", "name": "dream.zoom"}))
        receive_until(ws, lambda m: m == {"type": "ok", "learn": "dream.zoom"})
        assert control.recalled == ["club"] and control.learned == ["dream.zoom"]
        control.midi = False
        ws.send(json.dumps({"type": "learn", "name": "dream.zoom"}))
        assert "needs a MIDI input" in receive_until(ws, lambda m: m.get("type") == "error")["message"]


def test_analysis_and_tempo_reach_the_page(served):
    out, _, control = served
    out.send(pattern(16, 16), info(3, 0.5))
    assert wait_until(lambda: out.stats.sent == 1, 5)
    with connect(ws_url(out), open_timeout=5) as ws:
        a = receive_until(ws, lambda m: m.get("type") == "analysis")
        assert a["classes"] == ["air_conditioner", "dog_bark", "siren"] and a["top_class"] == "dog_bark"
        assert a["probs"] == pytest.approx([0.1, 0.7, 0.2]) and a["bpm"] == 128.0
        control.bpm = 90.0
        assert receive_until(ws, lambda m: m.get("type") == "analysis")["bpm"] == 90.0


def test_a_foreign_page_and_a_foreign_host_are_refused(served):
    out, store, _ = served
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as e:
        connect(ws_url(out), origin="http://evil.example", open_timeout=5)
    assert e.value.response.status_code == 403 and b"Origin" in e.value.response.body
    with socket.create_connection(("127.0.0.1", out.port), timeout=5) as s:  # a DNS-rebinding page's Host
        s.sendall(b"GET /control/ws HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 403 ")
    host = out.url.split("//", 1)[1].rstrip("/")
    with connect(ws_url(out), origin=f"http://{host}", open_timeout=5) as ws:  # the page's own origin
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    assert store.get("audio.gate") == -70.0


def test_a_flood_of_foreign_pages_writes_one_counted_line_a_second(served, caplog):
    out, _, _ = served
    from websockets.exceptions import InvalidStatus

    start = time.monotonic()
    with caplog.at_level("WARNING"):
        for _ in range(30):
            with pytest.raises(InvalidStatus):
                connect(ws_url(out), origin="http://evil.example", open_timeout=5)
    seconds = time.monotonic() - start
    lines = [r.getMessage() for r in caplog.records if "is not this server's page" in r.getMessage()]
    assert 1 <= len(lines) <= 1 + math.ceil(seconds), lines  # one a second at most, not one per handshake
    assert lines[0].endswith("(1 origin refusals so far)")


def test_closing_the_server_ends_sessions(served):
    out, _, _ = served
    from websockets.exceptions import ConnectionClosed

    with connect(ws_url(out), open_timeout=5) as ws:
        json.loads(ws.recv(timeout=5))
        assert wait_until(lambda: out.hub is not None and out.hub.clients == 1, 5)
        threading.Thread(target=out.close, daemon=True).start()
        with pytest.raises(ConnectionClosed) as e:
            for _ in range(100):
                ws.recv(timeout=5)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1001
    assert wait_until(lambda: out.hub is not None and out.hub.clients == 0, 5)


# --- in a real browser --------------------------------------------------------------------------------------------

def js(tools, expr: str):
    return tools.evaluate(expr)


MOVE = """(() => {{ const el = document.querySelector('.ctl [data-name="{name}"]');
  el.value = {value}; el.dispatchEvent(new Event('input', {{bubbles: true}}));
  el.dispatchEvent(new Event('change', {{bubbles: true}})); return el.value; }})()"""
VALUE = """document.querySelector('.ctl [data-name="{name}"]').value"""


def screenshot(tools, path: str, width: int, height: int, mobile: bool) -> np.ndarray:
    from PIL import Image

    tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
    time.sleep(0.3)
    shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
    with open(path, "wb") as f:
        f.write(shot)
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))


def test_control_page_in_chromium_moves_both_ways(browser, served):  # noqa: F811
    out, store, control = served
    out.send(pattern(16, 16), info(1, 0.5))
    tools = open_page(browser, out.url + "control")
    try:
        assert wait_until(lambda: js(tools, "document.body && document.body.dataset.state") == "live", 20, 0.1)
        assert wait_until(lambda: js(tools, "document.querySelectorAll('#bars .row').length") == 3, 10, 0.1)
        # move a fader on the page: the store follows
        js(tools, MOVE.format(name="audio.gate", value=-33))
        assert wait_until(lambda: store.get("audio.gate") == -33.0, 10, 0.05)
        js(tools, "(() => { const el = document.querySelector('.ctl [data-name=\"dream.network\"]');"
                  "el.value = 'vgg16'; el.dispatchEvent(new Event('change', {bubbles: true})); })()")
        js(tools, "document.querySelector('.ctl [data-name=\"classifier.lock\"]').click()")
        assert wait_until(lambda: store.get("dream.network") == "vgg16" and store.get("classifier.lock"), 10, 0.05)
        # change a parameter as OSC would: the fader moves, its value shows
        store.set("dream.iterations", 17, source="osc")
        assert wait_until(lambda: js(tools, VALUE.format(name="dream.iterations")) == "17", 10, 0.05)
        assert js(tools, "document.querySelector('[data-value=\"dream.iterations\"]').textContent") == "17"
        store.set("classifier.enabled", False, source="osc")
        assert wait_until(lambda: js(tools, "document.querySelector('.ctl [data-name=\"classifier.enabled\"]')"
                                            ".checked") is False, 10, 0.05)
        # a trigger button fires; a preset button recalls; a learn button arms learn
        js(tools, "document.querySelector('.ctl [data-name=\"dream.restart\"]').click()")
        assert wait_until(lambda: store.get("dream.restart") == 1, 10, 0.05)
        recall = "document.querySelectorAll('#presets button[data-preset]').length"
        assert wait_until(lambda: js(tools, recall) == 2, 10, 0.1)
        js(tools, "document.querySelector('#presets button[data-preset=\"club\"]').click()")
        assert wait_until(lambda: control.recalled == ["club"], 10, 0.05)
        ok = wait_until(lambda: abs(float(js(tools, VALUE.format(name="audio.gate"))) + 30) < 0.2, 10, 0.05)
        assert ok, store.get("audio.gate")
        js(tools, "document.querySelector('button[data-learn=\"dream.zoom\"]').click()")
        assert wait_until(lambda: control.learned == ["dream.zoom"], 10, 0.05)
        # the analysis: bars follow the probabilities, the tempo shows
        assert wait_until(lambda: js(tools, "document.getElementById('tempo').textContent") == "128.0 BPM", 10, 0.1)
        bars = js(tools, "[...document.querySelectorAll('#bars .bar')].map(b => parseFloat(b.style.width))")
        assert bars == pytest.approx([10, 70, 20], abs=0.2)
        assert js(tools, "document.getElementById('top').dataset.class") == "dog_bark"
        wide = screenshot(tools, "/tmp/control_page.png", 1280, 800, False)
        phone = screenshot(tools, "/tmp/control_page_phone.png", 390, 844, True)
        overflow = js(tools, "document.documentElement.scrollWidth")
    finally:
        tools.close()
    assert wide.shape[:2] == (800, 1280) and phone.shape[:2] == (844, 390)
    assert overflow <= 390  # nothing wider than the phone: no sideways scrolling
    assert (np.abs(wide.astype(int) - (250, 180, 40)).sum(axis=2) < 30).sum() > 100  # the top class's bar
    assert out.stats.errors == 0


def test_serve_wiring_with_real_controls_recalls_presets_from_the_page(tmp_path):
    from test_outputs import ColourRenderer

    from performer.audio import ArraySource
    from performer.control import ControlOptions, Controls
    from performer.engine import Engine
    from performer.outputs.preview.controls_link import attach_control_pages
    from performer.presets import load_preset, save_preset
    from small import small_preset
    from sounds import ToneClassifier, tone

    a = small_preset()
    a.name, a.path = "a", tmp_path / "a.toml"
    save_preset(a, a.path)
    b = small_preset(**{"dream.octaves": 2})
    b.name = "b"
    save_preset(b, tmp_path / "b.toml")
    out = PreviewOutput("web", port=0, fps=10)
    engine = Engine(source=ArraySource(tone(3000, 2.0), 22050, loop=True), classifier=ToneClassifier(),
                    renderer=ColourRenderer(), outputs=[out], preset=load_preset(a.path))
    controls = Controls(engine, ControlOptions(osc_port=None, preset_dir=tmp_path))
    assert attach_control_pages(engine, controls) == 1
    engine.start()
    controls.start()
    try:
        with connect(ws_url(out), open_timeout=5) as ws:
            hello = json.loads(ws.recv(timeout=5))
            assert {"a", "b"} <= set(hello["presets"]) and hello["values"]["dream.octaves"] == 1
            ws.send(json.dumps({"type": "recall", "name": "b"}))
            receive_until(ws, lambda m: m.get("type") == "set" and m["values"].get("dream.octaves") == 2, 15)
            assert receive_until(ws, lambda m: m.get("type") == "analysis" and m.get("preset") == "b", 10)
            ws.send(json.dumps({"type": "learn", "name": "dream.zoom"}))
            assert "needs a MIDI input" in receive_until(ws, lambda m: m.get("type") == "error")["message"]
    finally:
        controls.stop()
        engine.stop()
    assert engine.preset.name == "b"
