"""The browser preview: real HTTP endpoints, and the page in a real headless Chromium driven over the DevTools
protocol (the page loads, the image changes, the top class shown is the engine's)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import numpy as np
import pytest
from test_outputs import ColourRenderer, info, pattern, wait_until

from performer.audio import ArraySource
from performer.engine import Engine
from performer.errors import OutputError
from performer.outputs import Layout
from performer.outputs.preview import PreviewOutput
from sounds import ToneClassifier, tone


def get(url: str, timeout: float = 5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def preview():
    out = PreviewOutput("web", port=0, fps=20)
    out.open()
    yield out
    out.close()


def test_endpoints_before_and_after_the_first_frame(preview):
    status, headers, _ = get(preview.url + "frame.jpg")
    assert status == 503 and headers["Retry-After"] == "1"
    assert json.loads(get(preview.url + "state.json")[2])["frame"] is None
    preview.send(pattern(48, 64, 5), info(7, 0.5))
    assert wait_until(lambda: preview.stats.sent == 1, 5)
    status, headers, body = get(preview.url + "frame.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and headers["X-Frame-Number"] == "7"
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(body)))
    assert img.shape == (48, 64, 3) and np.abs(img.astype(int) - pattern(48, 64, 5)).mean() < 4
    state = json.loads(get(preview.url + "state.json")[2])
    assert state["frame"] == 7 and state["top_class"] == "dog_bark" and state["probs"] == pytest.approx([0.1, 0.7, 0.2])
    assert state["classes"] == ["air_conditioner", "dog_bark", "siren"] and state["status"] == {"fps": 30.0}
    status, headers, body = get(preview.url + "spectrogram.png")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (44, 64)
    status, _, page = get(preview.url)
    assert status == 200 and b'id="dream"' in page and b"/state.json" in page
    status, _, body = get(preview.url + "nope")
    assert status == 404 and b"/stream.mjpg" in body


def test_mjpeg_stream_delivers_new_frames(preview):
    import threading

    stop = threading.Event()

    def feed():
        n = 0
        while not stop.is_set():
            n += 1
            preview.send(pattern(32, 32, n), info(n))
            time.sleep(0.03)

    threading.Thread(target=feed, daemon=True).start()
    try:
        u = urlparse(preview.url)
        with socket.create_connection((u.hostname, u.port), timeout=5) as s:
            s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data, deadline = b"", time.monotonic() + 10
            while data.count(b"X-Frame-Number: ") < 4 and time.monotonic() < deadline:
                data += s.recv(65536)
    finally:
        stop.set()
    assert b"multipart/x-mixed-replace; boundary=frame" in data
    numbers = [int(part.split(b"\r\n", 1)[0]) for part in data.split(b"X-Frame-Number: ")[1:]]
    assert len(numbers) >= 4 and numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_a_port_in_use_is_named_in_the_error(preview):
    other = PreviewOutput("web2", port=preview.port)
    with pytest.raises(OutputError, match=rf"preview output 'web2': cannot listen on 127.0.0.1:{preview.port}: .*"
                                          r"choose another port \(outputs.web2.port\)"):
        other.open()


def test_close_frees_the_port_and_ends_streams(preview):
    preview.send(pattern(16, 16), info())
    port = preview.port
    preview.close()
    again = PreviewOutput("again", port=port)
    again.open()  # the port is free again
    again.close()


# --- the page in a real browser -----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class DevTools:
    """A minimal Chrome DevTools Protocol client over a WebSocket (stdlib only)."""

    def __init__(self, ws_url: str) -> None:
        u = urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the WebSocket handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"DevTools refused the WebSocket: {head[:200]!r}")
        self.next_id = 0

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, text: str) -> None:
        data = text.encode()
        n = len(data)
        head = bytearray([0x81])
        if n < 126:
            head.append(0x80 | n)
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        body = (np.frombuffer(data, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        self.sock.sendall(bytes(head) + mask + body)

    def _message(self) -> dict:
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            payload = self._exact(n)
            op = b0 & 0x0F
            if op == 8:
                raise ConnectionError("DevTools closed the WebSocket")
            if op in (0, 1, 2):
                parts.append(payload)
                if b0 & 0x80:
                    return json.loads(b"".join(parts))

    def call(self, method: str, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self._message()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium with DevTools on a free port; stopped (its process group, by PID) afterwards."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package chromium): the page is untested in a browser")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--disable-dev-shm-usage", "--window-size=1280,720", f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "chromium.log", "wb"),
                            start_new_session=True)
    try:
        active = profile / "DevToolsActivePort"
        if not wait_until(lambda: active.exists() and active.read_text().count("\n") >= 1, 40, 0.1):
            raise AssertionError(f"Chromium did not start DevTools: {(tmp_path / 'chromium.log').read_text()[-2000:]}")
        yield int(active.read_text().split()[0])
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def open_page(port: int, url: str) -> DevTools:
    targets = json.loads(get(f"http://127.0.0.1:{port}/json/list")[2])
    page = next(t for t in targets if t["type"] == "page")
    tools = DevTools(page["webSocketDebuggerUrl"])
    tools.call("Page.enable")
    tools.call("Page.navigate", url=url)
    return tools


PAGE_STATE = """(() => {
  const texts = r => [...r.cells].map(c => c.textContent);
  const img = document.getElementById('dream');
  if (!img) return {seen: 0};
  let mean = null;
  if (img.naturalWidth) {
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let s = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; }
    mean = s.map(v => v / (d.length / 4));
  }
  return {frame: img.dataset.frame, seen: +img.dataset.framesSeen, width: img.naturalWidth,
          top: document.getElementById('top').dataset.class,
          highlighted: [...document.querySelectorAll('#bars .row.top')].map(r => r.dataset.class),
          bars: [...document.querySelectorAll('#bars .bar')].map(b => parseFloat(b.style.width)),
          spec: document.getElementById('spec').naturalWidth,
          status: document.getElementById('status').innerText,
          panel: [...document.querySelectorAll('#status table.engine tr')].map(texts),
          outputs: [...document.querySelectorAll('#status table.outputs tr')].map(texts),
          mean};
})()"""


FRAME_BOX = """(() => {{ const img = document.getElementById('dream'); if (!img) return {{seen: 0}};
  const r = img.getBoundingClientRect();  // the frame's known size, not naturalWidth: 0 while a frame is swapped in
  const k = Math.min(r.width / {w}, r.height / {h}), w = {w} * k, h = {h} * k;  // object-fit: contain
  return {{x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w, h, seen: +img.dataset.framesSeen}};
}})()"""
"""Where the page draws a frame of ``w`` x ``h`` (``FRAME_BOX.format(w=..., h=...)``), in screen pixels."""


def test_page_in_chromium_shows_live_frames_and_the_engines_top_class(browser, tmp_path):
    out = PreviewOutput("web", port=0, fps=15, layout=Layout("dream", 160, 160))
    engine = Engine(source=ArraySource(tone(3000, 4.0), 22050, name="tone", loop=True),
                    classifier=ToneClassifier(), renderer=ColourRenderer(), outputs=[out])
    engine.store.set("output.fps", 15.0)
    engine.start()
    tools = None
    try:
        assert wait_until(lambda: engine.status()["top_class"] == "high", 15)
        tools = open_page(browser, out.url)
        first: dict = {}

        def live() -> bool:
            first.clear()
            first.update(tools.evaluate(PAGE_STATE))
            return first["seen"] >= 2 and bool(first["top"]) and first["spec"] > 0 and first["mean"] is not None

        assert wait_until(live, 30, 0.2), first
        time.sleep(1.0)
        later: dict = {}

        def loaded() -> bool:  # the page swaps frames continuously: catch one that has finished loading
            later.clear()
            later.update(tools.evaluate(PAGE_STATE))
            return later["mean"] is not None

        assert wait_until(loaded, 10, 0.1), later
        box = tools.evaluate(FRAME_BOX.format(w=160, h=160))
        shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        engine_top = engine.status()["top_class"]
    finally:
        if tools is not None:
            tools.close()
        engine.stop()
    assert first["width"] == 160
    assert int(later["frame"]) > int(first["frame"]) and later["seen"] > first["seen"]
    assert max(abs(a - b) for a, b in zip(later["mean"], first["mean"])) > 2  # the picture itself changed
    assert later["top"] == engine_top == "high" and later["highlighted"] == ["high"]
    assert later["bars"][1] > 90 > later["bars"][0]  # the bars follow the probabilities (high ~1, low ~0)
    # the engine panel reads as text: labelled rows and a table of outputs by name, no JSON
    assert "{" not in later["status"] and "}" not in later["status"] and '":' not in later["status"]
    panel = dict(later["panel"])
    assert panel["Engine"].startswith("running") and "fps" in panel["Frames"] and "high" in panel["Sound"]
    assert panel["Errors"] == "none" and "audio blocks" in panel["Drops"]
    head, *rows = later["outputs"]
    assert head == ["Output", "State", "fps", "Sent", "Dropped", "Skipped", "Errors"]
    web = next(r for r in rows if r[0] == "web")
    assert web[1] == "open" and int(web[3]) > 0 and web[6] == "0"
    from PIL import Image

    screen = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    (tmp_path / "preview.png").write_bytes(shot)
    assert screen.shape[1] == 1280 and screen.shape[0] > 400
    assert (np.abs(screen.astype(int) - (250, 180, 40)).sum(axis=2) < 30).sum() > 200  # the highlighted bar
    # The frame itself, in the pixels where the page draws it: the test pattern's gradient, not a black box.
    x0, y0, w, h = (round(box[k]) for k in ("x", "y", "w", "h"))
    shown = screen[y0 + 2:y0 + h - 2, x0 + 2:x0 + w - 2].astype(float)
    assert w > 300 and shown.mean() > 60 and shown[..., 1].std() > 40, (box, shown.mean(), shown[..., 1].std())
    rows = shown[..., 1].mean(axis=1)  # green grows from top to bottom in the pattern
    assert rows[-10:].mean() - rows[:10].mean() > 150, rows
    assert out.requests > 5 and out.stats.errors == 0

