"""What a screenshot of the live preview shows, in pixels, not the DOM: headless Chromium's own screenshot
(`chromium --headless --screenshot URL`, taken at the load event) showed a black frame while the page polled for
frames; the page now arrives with the newest frame, spectrogram and state in it."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import time

import numpy as np
import pytest
from test_control_page_layout import CONTRAST
from test_outputs import info, pattern, wait_until
from test_preview import CHROMIUM, FRAME_BOX, DevTools, browser, get, open_page, preview  # noqa: F401 (fixtures)

from performer.outputs.preview import PreviewOutput

QUADRANTS = ((255, 0, 255), (0, 255, 255), (255, 255, 0), (0, 255, 0))
"""Colours the page itself never uses: the four quarters of the test frame."""


def quadrant_frame(h: int = 720, w: int = 1280) -> np.ndarray:
    f = np.zeros((h, w, 3), np.uint8)
    f[: h // 2, : w // 2], f[: h // 2, w // 2:] = QUADRANTS[0], QUADRANTS[1]
    f[h // 2:, : w // 2], f[h // 2:, w // 2:] = QUADRANTS[2], QUADRANTS[3]
    return f


def quadrant_pixels(screen: np.ndarray) -> list[int]:
    """How many pixels of the screenshot show each quarter's colour (JPEG leaves them within a few levels)."""
    s = screen.astype(int)
    return [int((np.abs(s - c).sum(axis=2) < 60).sum()) for c in QUADRANTS]


class Feeder:
    """Sends the same picture to a preview as new frames, 30 a second, as the output clock does: the page keeps
    polling and swapping its image while the screenshot is taken."""

    def __init__(self, out: PreviewOutput, frame: np.ndarray) -> None:
        import threading

        self.out, self.frame, self.stop = out, frame, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.out.send(self.frame, info(n))
            time.sleep(1 / 30)

    def __enter__(self) -> Feeder:
        self.thread.start()
        assert wait_until(lambda: self.out.stats.sent >= 3, 10)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


def cli_screenshot(url: str, tmp_path) -> np.ndarray:
    """`chromium --headless --screenshot`: the page as headless Chromium captures it when it has loaded."""
    from PIL import Image

    shot = tmp_path / "cli-screenshot.png"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'cli-profile'}",
                           "--window-size=1280,720", f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=90)
    assert shot.exists(), proc.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("RGB"))


def test_a_headless_chromium_screenshot_shows_the_live_frame(tmp_path):
    """The page as `chromium --headless --screenshot URL` captures it, while frames keep coming: it showed a black
    frame (the page drew nothing until its first poll came back, after the capture)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package chromium): the page is untested in a browser")
    out = PreviewOutput("web", port=0, fps=30)
    out.open()
    try:
        with Feeder(out, quadrant_frame()):
            screen = cli_screenshot(out.url, tmp_path)
    finally:
        out.close()
    counts = quadrant_pixels(screen)
    left = quadrant_pixels(screen[:, : screen.shape[1] * 3 // 5])
    assert min(counts) > 0.04 * screen.shape[0] * screen.shape[1], counts  # each quarter is on the screen, large
    assert left == counts  # where the frame belongs, left of the side panel
    dark = (screen[:, : screen.shape[1] * 3 // 5].sum(axis=2) < 30).mean()
    assert dark < 0.5, dark  # not a black frame with the picture missing


def test_a_devtools_screenshot_of_the_polling_page_shows_the_frame_where_the_page_has_it(browser, tmp_path):  # noqa: F811
    from PIL import Image

    out = PreviewOutput("web", port=0, fps=30)
    out.open()
    tools = None
    try:
        with Feeder(out, quadrant_frame()):
            tools = open_page(browser, out.url)
            where = FRAME_BOX.format(w=1280, h=720)
            assert wait_until(lambda: (tools.evaluate(where) or {}).get("seen", 0) >= 3, 30, 0.1)
            shots = []
            for _ in range(5):  # while the page swaps frames
                box = tools.evaluate(where)
                shot = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
                shots.append((box, np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))))
                time.sleep(0.2)
    finally:
        if tools is not None:
            tools.close()
        out.close()
    from PIL import Image as Img

    for n, (_box, screen) in enumerate(shots):
        Img.fromarray(screen).save(tmp_path / f"devtools-{n}.png")
    for box, screen in shots:  # the DOM says naturalWidth 0 while a frame is swapped in; the pixels show it
        assert box["w"] > 300, box
        x0, y0, w, h = (round(box[k]) for k in ("x", "y", "w", "h"))
        for i, (fy, fx) in enumerate(((0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))):
            y, x = y0 + int(fy * h), x0 + int(fx * w)
            patch = screen[y - 5:y + 5, x - 5:x + 5].reshape(-1, 3).mean(axis=0)
            assert np.abs(patch - QUADRANTS[i]).max() < 25, (i, patch.round(), box)  # the pixels, not the DOM


def test_the_page_arrives_with_the_newest_frame_spectrogram_and_state(preview):  # noqa: F811
    import re
    from dataclasses import replace

    status, _, body = get(preview.url)
    assert status == 200 and b'src="/frame.jpg' not in body  # no frame yet: the page starts empty and polls
    assert b'<script type="application/json" id="initial">null</script>' in body
    hostile = replace(info(7), status={"input_error": "</script><script>alert(1)</script>", "fps": 30.0})
    preview.send(pattern(48, 64, 5), hostile)
    assert wait_until(lambda: preview.stats.sent == 1, 5)
    page = get(preview.url)[2].decode()
    assert 'src="/frame.jpg?n=7" data-frame="7"' in page and 'src="/spectrogram.png?k=1"' in page
    initial = re.search(r'<script type="application/json" id="initial">(.*?)</script>', page, re.S)
    assert initial is not None and "<script>alert" not in page
    state = json.loads(initial.group(1))
    assert state["frame"] == 7 and state["top_class"] == "dog_bark" and state["status"]["input_error"].startswith("</")


def test_on_a_phone_the_preview_shows_the_picture_the_screens_width(browser, tmp_path):  # noqa: F811
    """At 390 x 844 the picture was 95 px wide beside the side panel; now it takes the width, the panel below."""
    import os
    import tempfile
    from pathlib import Path

    from PIL import Image

    out = PreviewOutput("web", port=0, fps=30)
    out.open()
    tools = None
    try:
        with Feeder(out, quadrant_frame()):
            targets = json.loads(get(f"http://127.0.0.1:{browser}/json/list")[2])
            tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
            tools.call("Page.enable")
            tools.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
            tools.call("Page.navigate", url=out.url)
            where = FRAME_BOX.format(w=1280, h=720)
            assert wait_until(lambda: (tools.evaluate(where) or {}).get("seen", 0) >= 3, 30, 0.1)
            box = tools.evaluate(where)
            data = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
            side = tools.evaluate("(() => { const r = document.getElementById('side').getBoundingClientRect();"
                                  "return {x: r.left, y: r.top, w: r.width}; })()")
            width = tools.evaluate("document.documentElement.scrollWidth")
            contrast = tools.evaluate(CONTRAST)
    finally:
        if tools is not None:
            tools.close()
        out.close()
    assert contrast["n"] > 10 and not contrast["bad"], contrast["bad"]  # every label 4.5:1 on its background
    shots = Path(os.environ.get("PERFORMER_SHOTS", tempfile.gettempdir()))
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "preview_phone.png").write_bytes(data)
    screen = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert screen.shape[:2] == (844, 390) and width <= 390
    assert box["w"] >= 360 and box["y"] + box["h"] <= 844, box  # the screen's width, on the first screen
    assert side["y"] >= box["y"] + box["h"] - 1 and side["w"] >= 360, (side, box)  # the panel below, not beside
    x0, y0, w, h = (round(box[k]) for k in ("x", "y", "w", "h"))
    for i, (fy, fx) in enumerate(((0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))):
        y, x = y0 + int(fy * h), x0 + int(fx * w)
        patch = screen[y - 5:y + 5, x - 5:x + 5].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - QUADRANTS[i]).max() < 25, (i, patch.round(), box)  # the pixels, not the DOM
