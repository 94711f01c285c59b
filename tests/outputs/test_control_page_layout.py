"""The control page as a performer holds it, in a real headless Chromium at a phone's size (390 x 844) and a
desktop's: the performance layout (blackout, freeze, tap, the master fader, the live picture, favourites, the XY
pad) within the first screen, played with real pointer input; MIDI-learn buttons a finger can hit; every label
legible (4.5:1 from the computed styles); a message log that stays bounded. The screenshots are kept in
``$PERFORMER_SHOTS`` (default: the system's temporary folder) for a person to look at."""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from test_control_page import Control, served  # noqa: F401 (served is a fixture)
from test_outputs import info, wait_until
from test_preview import DevTools, browser, get  # noqa: F401 (browser is a fixture)

from performer.params import REGISTRY

PHONE, TABLET, DESKTOP = (390, 844), (768, 1024), (1280, 800)
SHOTS = Path(os.environ.get("PERFORMER_SHOTS", tempfile.gettempdir()))
PERFORM = ("#blackout", "#freeze", "#tap", "#master-fader", "#live", "#fav-list", "#xy") + (
    ("#crossfader-fader",) if "crossfader.position" in REGISTRY else ())
MAGENTA = (255, 0, 255)

BOXES = """(() => { const out = {}; for (const s of %s) { const el = document.querySelector(s);
  const r = (s === '#freeze' ? el.parentElement : el).getBoundingClientRect();
  out[s] = {x: r.left, y: r.top, w: r.width, h: r.height}; } return out; })()"""

CONTRAST = """(() => {  // every element showing text: its colour against the background it is drawn on
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92
      : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c; } return [255, 255, 255]; };
  const bad = []; let n = 0;
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(t => t.nodeType === 3 && t.textContent.trim());
    if (!(own || el.tagName === 'SELECT') || !el.getClientRects().length) continue;
    const s = getComputedStyle(el); if (s.visibility === 'hidden' || +s.opacity === 0) continue;
    const a = lum(rgb(s.color)), b = lum(bg(el)), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    n++; if (ratio < 4.5) bad.push([el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className,
                                    el.textContent.trim().slice(0, 20), s.color, ratio.toFixed(2)]);
  }
  return {n, bad};
})()"""

TARGETS = """[...document.querySelectorAll(
  'button, select, summary, label.toggle, input[type=text], input[type=range]')].map(e => {
              const r = e.getBoundingClientRect();
              return [e.tagName, e.dataset.name || e.dataset.learn || e.textContent.trim(), r.width, r.height]; })"""


def open_at(port: int, url: str, size: tuple[int, int], mobile: bool) -> DevTools:
    """A tab at ``size`` (the page loads at that size: it closes its groups on a phone), with touch on a phone."""
    targets = json.loads(get(f"http://127.0.0.1:{port}/json/list")[2])
    tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    tools.call("Page.enable")
    tools.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1,
               mobile=mobile)
    if mobile:
        tools.call("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=1)
    tools.call("Page.navigate", url=url)
    assert wait_until(lambda: tools.evaluate("document.body && document.body.dataset.state") == "live", 20, 0.1)
    assert wait_until(lambda: tools.evaluate("document.querySelectorAll('#fav-list button').length") == 2, 10, 0.1)
    return tools


def shot(tools, name: str) -> np.ndarray:
    from PIL import Image

    data = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / name).write_bytes(data)
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["w"] / 2, box["y"] + box["h"] / 2


def tap(tools, x: float, y: float, touch: bool) -> None:
    """A finger (or a mouse button) down and up at ``x, y``: real input events, not a script's click()."""
    if touch:
        tools.call("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": x, "y": y}])
        tools.call("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])
    else:
        for kind in ("mousePressed", "mouseReleased"):
            tools.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def solid(colour, h: int = 90, w: int = 160) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)).copy()


@pytest.mark.parametrize("size, mobile", [(PHONE, True), (TABLET, True), (DESKTOP, False)],
                         ids=["phone", "tablet", "desktop"])
def test_the_performance_layout_is_on_the_first_screen(browser, served, size, mobile):  # noqa: F811
    out, _, _ = served
    out.send(solid(MAGENTA), info(1, 0.5))
    tools = open_at(browser, out.url + "control", size, mobile)
    try:
        assert wait_until(lambda: tools.evaluate("document.getElementById('live').dataset.frame") == "1", 10, 0.1)
        time.sleep(0.3)
        boxes = tools.evaluate(BOXES % json.dumps(PERFORM))
        screen = shot(tools, f"control_page_perform_{size[0]}x{size[1]}.png")
        height = tools.evaluate("document.documentElement.scrollHeight")
        width = tools.evaluate("document.documentElement.scrollWidth")
        closed = tools.evaluate("[...document.querySelectorAll('details.group')].filter(d => !d.open).length")
        groups = tools.evaluate("document.querySelectorAll('details.group').length")
    finally:
        tools.close()
    for sel, b in boxes.items():  # every one whole within the first screen, none hidden behind another
        assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["w"] <= size[0] and b["y"] + b["h"] <= size[1], (sel, b)
    for sel in ("#blackout", "#freeze", "#tap"):
        assert boxes[sel]["w"] >= 88 and boxes[sel]["h"] >= 56, (sel, boxes[sel])  # big keys for a thumb
    assert boxes["#xy"]["w"] >= 300 and boxes["#xy"]["h"] >= 180 and boxes["#master-fader"]["w"] >= 200, boxes
    assert boxes["#live"]["w"] >= 150, boxes
    assert width <= size[0]  # no sideways scrolling
    x, y = (round(v) for v in centre(boxes["#live"]))
    patch = screen[y - 4:y + 4, x - 4:x + 4].reshape(-1, 3).mean(axis=0)
    assert np.abs(patch - MAGENTA).max() < 30, patch  # the live picture shows the frame, in pixels
    if size[0] <= 700:  # a phone: the groups closed, a tap away: under two screens, where the page was 7.2
        assert closed == groups > 0 and height <= 2 * size[1], (height, closed)
    else:
        assert closed == 0


def test_learn_buttons_fit_a_finger_and_every_label_is_legible(browser, served):  # noqa: F811
    out, _, _ = served
    out.send(solid(MAGENTA), info(1, 0.5))
    tools = open_at(browser, out.url + "control", PHONE, True)
    try:
        assert wait_until(lambda: tools.evaluate("document.querySelectorAll('#bars .row').length") == 3, 10, 0.1)
        tools.evaluate("for (const d of document.querySelectorAll('details.group')) d.open = true")
        sizes = tools.evaluate("[...document.querySelectorAll('button.learn')].map(b => { "
                               "const r = b.getBoundingClientRect(); return [b.dataset.learn, r.width, r.height]; })")
        targets = tools.evaluate(TARGETS)
        contrast = tools.evaluate(CONTRAST)
        tools.evaluate("window.scrollTo(0, document.querySelector('details.group').offsetTop - 50)")
        shot(tools, "control_page_groups_phone.png")
        width = tools.evaluate("document.documentElement.scrollWidth")
    finally:
        tools.close()
    assert len(sizes) > 40
    small = [s for s in sizes if s[1] < 44 or s[2] < 44]
    assert not small, small
    low = [t for t in targets if t[3] < 44]  # everything a finger touches at least 44 px tall
    assert len(targets) > 100 and not low, low
    assert contrast["n"] > 100 and not contrast["bad"], contrast["bad"]
    assert width <= PHONE[0]


def test_keys_pad_and_favourites_play_the_show_by_touch(browser, served):  # noqa: F811
    out, store, control = served
    out.send(solid(MAGENTA), info(1, 0.5))
    tools = open_at(browser, out.url + "control", PHONE, True)
    try:
        boxes = tools.evaluate(BOXES % json.dumps(PERFORM))
        tap(tools, *centre(boxes["#blackout"]), touch=True)
        assert wait_until(lambda: store.get("master.blackout") == 1, 10, 0.05)
        tap(tools, *centre(boxes["#freeze"]), touch=True)
        assert wait_until(lambda: store.get("master.freeze") is True, 10, 0.05)
        for _ in range(3):
            tap(tools, *centre(boxes["#tap"]), touch=True)
        assert wait_until(lambda: store.get("tempo.tap") == 3, 10, 0.05)
        if "#crossfader-fader" in boxes:  # the A/B crossfader, with the presets at its ends by name
            store.update({"crossfader.a": "ambient", "crossfader.b": "club"}, source="osc")
            ends = "[...document.querySelectorAll('#crossfader .xend')].map(e => e.textContent)"
            assert wait_until(lambda: tools.evaluate(ends) == ["ambient", "club"], 10, 0.05)
            x = boxes["#crossfader-fader"]
            tap(tools, x["x"] + 0.75 * x["w"], x["y"] + x["h"] / 2, touch=True)
            assert wait_until(lambda: abs(store.get("crossfader.position") - 0.75) < 0.1, 10, 0.05), \
                store.get("crossfader.position")
        # the XY pad: a finger dragged to a quarter from the left, a quarter from the top
        pad = boxes["#xy"]
        start, end = centre(pad), (pad["x"] + 0.25 * pad["w"], pad["y"] + 0.25 * pad["h"])
        tools.call("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": start[0], "y": start[1]}])
        for k in range(1, 6):
            tools.call("Input.dispatchTouchEvent", type="touchMove", touchPoints=[
                {"x": start[0] + k / 5 * (end[0] - start[0]), "y": start[1] + k / 5 * (end[1] - start[1])}])
        tools.call("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])
        rotate, zoom = store.registry.get("dream.rotate"), store.registry.get("dream.zoom")
        want = (rotate.min + 0.25 * (rotate.max - rotate.min), zoom.min + 0.75 * (zoom.max - zoom.min))
        assert wait_until(lambda: abs(store.target("dream.rotate") - want[0]) < 0.2
                          and abs(store.target("dream.zoom") - want[1]) < 0.01, 10, 0.05), \
            (store.target("dream.rotate"), store.target("dream.zoom"), want)
        assert tools.evaluate("window.scrollY") == 0  # the drag did not scroll the page
        # the store moves the dot (OSC, MIDI or another page turned it)
        time.sleep(0.7)  # past the page's hold on a control in the hand
        store.set("dream.zoom", zoom.max, source="osc")
        dot = "(() => { const d = document.getElementById('xy-dot'); return parseFloat(d.style.top); })()"
        assert wait_until(lambda: tools.evaluate(dot) == 0.0, 10, 0.05)
        # favourites: starred on the device, recalled from the top, kept over a reload
        tools.evaluate("document.querySelector('button[data-star=\"club\"]').scrollIntoView()")
        star = tools.evaluate("(() => { const r = document.querySelector('button[data-star=\"club\"]')"
                              ".getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()")
        tap(tools, *centre(star), touch=True)
        favs = "[...document.querySelectorAll('#fav-list button')].map(b => b.textContent)"
        assert wait_until(lambda: tools.evaluate(favs) == ["club"], 5, 0.05)
        tools.call("Page.reload")
        assert wait_until(lambda: tools.evaluate("document.body && document.body.dataset.state") == "live", 20, 0.1)
        assert wait_until(lambda: tools.evaluate(favs) == ["club"], 10, 0.1)
        tools.evaluate("window.scrollTo(0, 0)")  # a reload keeps where the page was scrolled to
        fav = tools.evaluate(BOXES % json.dumps(["#fav-list"]))["#fav-list"]
        tap(tools, *centre(fav), touch=True)
        assert wait_until(lambda: control.recalled == ["club"], 10, 0.05)
    finally:
        tools.close()


def test_the_page_keeps_the_newest_messages_not_all_of_them(browser, served):  # noqa: F811
    """Every message the page received was kept in window.__seen (about 11 MB an hour); now the newest 100."""
    out, store, _ = served
    tools = open_at(browser, out.url + "control", DESKTOP, False)
    try:
        for _ in range(400):  # each fire is one message of its own ("fired"), never coalesced
            store.fire("dream.restart", source="osc")
        assert wait_until(lambda: tools.evaluate("window.__received") >= 401, 20, 0.1)
        kept = tools.evaluate("window.__seen.length")
        newest = json.loads(tools.evaluate("window.__seen[window.__seen.length - 1]"))
        fired = tools.evaluate("+document.querySelector('.ctl [data-name=\"dream.restart\"]').dataset.fired")
    finally:
        tools.close()
    assert kept == 100 and newest == {"type": "fired", "name": "dream.restart"} and fired == 400
