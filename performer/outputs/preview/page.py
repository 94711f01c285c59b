"""The preview page: one self-contained HTML document (no external scripts, fonts or styles).

The page arrives with the newest frame, spectrogram and state in it (the images' addresses in the markup, the
state as JSON the script shows before anything else), so it shows the picture as soon as it has loaded: a
headless browser's screenshot, taken at the load event, showed a black frame when the page drew nothing before
its first poll came back. Then it polls for newer ones.

The class ``none`` ("none of these") is shown in grey: its bar, its name, and the top line while it wins. On a
phone (up to 700 px wide) the picture takes the screen's width and the bars, spectrogram and engine panel follow
below it (beside it, the picture was 95 px wide on a 390-px phone).
"""

from __future__ import annotations

import html
import json
from typing import Any

from performer.sound.labels import NONE_CLASS

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{margin:0;background:#0c0c10;color:#e6e6eb;font:14px system-ui,sans-serif}
 main{display:grid;grid-template-columns:minmax(0,3fr) minmax(260px,2fr);gap:12px;padding:12px;
      height:calc(100vh - 24px)}
 #dream{width:100%;height:100%;object-fit:contain;background:#000;min-height:0}
 #side{display:flex;flex-direction:column;gap:10px;min-height:0}
 #top{font-size:22px;color:#fab428;min-height:1.3em}
 .row{display:grid;grid-template-columns:40% 1fr 3.5em;align-items:center;gap:6px;margin:2px 0}
 .track{background:#282830;height:14px}.bar{background:#5a8cdc;height:100%;width:0}
 .row.top .bar{background:#fab428}.row.top .name{color:#fab428}
 .row[data-class="__NONE__"] .bar{background:#6e6e78}.row[data-class="__NONE__"] .name{color:#8c8c96}
 .row.top[data-class="__NONE__"] .name,#top[data-class="__NONE__"]{color:#b4b4be}
 .row.top[data-class="__NONE__"] .bar{background:#b4b4be}
 .p{text-align:right;font-variant-numeric:tabular-nums}
 #spec{width:100%;height:140px;image-rendering:pixelated;background:#000}
 #status{font:13px system-ui,sans-serif;overflow:auto;flex:1;background:#14141a;padding:6px 8px}
 #status table{border-collapse:collapse;width:100%;margin-bottom:6px}
 #status th{text-align:left;color:#a0a0ac;font-weight:normal;padding:1px 10px 1px 0;white-space:nowrap;
            vertical-align:top}
 #status td{padding:1px 8px 1px 0;font-variant-numeric:tabular-nums}
 #status .outputs th{border-bottom:1px solid #30303a}
 #status .outputs .n{text-align:right}
 #status tr.warn th,#status tr.warn td{color:#ff7a6b}
 h2{font-size:12px;text-transform:uppercase;color:#a0a0ac;margin:0}
 @media (max-width:700px){  /* a phone: the picture the screen's width, the rest below it */
  main{grid-template-columns:minmax(0,1fr);height:auto;padding:8px;gap:10px}
  #dream{height:auto;aspect-ratio:16/9}
  #status{flex:none;overflow-x:auto}
  #status td,#status th{overflow-wrap:anywhere}
 }
</style></head>
<body><main>
<img id="dream" alt="live frame"__FRAME__ data-frames-seen="0">
<div id="side">
 <div id="top" data-class="">waiting for the engine...</div>
 <h2>Class probabilities</h2><div id="bars"></div>
 <h2>Spectrogram</h2><img id="spec" alt="log-mel spectrogram"__SPEC__>
 <h2>Engine</h2><div id="status"></div>
</div></main>
<script type="application/json" id="initial">__STATE__</script>
<script>
"use strict";
(() => {
const FPS = __FPS__;
const img = document.getElementById("dream"), bars = document.getElementById("bars"),
      topLine = document.getElementById("top"), spec = document.getElementById("spec"),
      statusBox = document.getElementById("status");
let seen = 0, lastFrame = img.dataset.frame || null, classesKey = "", specKey = spec.dataset.key || null,
    panelKey = "";
async function pollFrame() {
  const started = performance.now();
  try {
    const r = await fetch("/frame.jpg?t=" + Date.now(), {cache: "no-store"});
    if (r.ok) {
      const n = r.headers.get("X-Frame-Number");
      if (n !== lastFrame) {
        const url = URL.createObjectURL(await r.blob());
        await new Promise(done => { img.onload = img.onerror = done; img.src = url; });
        if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
        img.dataset.url = url; img.dataset.frame = n; lastFrame = n;
        img.dataset.framesSeen = String(++seen);
      }
    }
  } catch (e) {}
  setTimeout(pollFrame, Math.max(0, 1000 / FPS - (performance.now() - started)));
}
function buildBars(classes) {
  bars.textContent = "";
  for (const c of classes) {
    const row = document.createElement("div"); row.className = "row"; row.dataset.class = c;
    row.innerHTML = '<span class="name"></span><div class="track"><div class="bar"></div></div><span class="p"></span>';
    row.querySelector(".name").textContent = c.replace(/_/g, " ");
    bars.appendChild(row);
  }
}
function cell(tag, text, cls) {
  const c = document.createElement(tag); c.textContent = text; if (cls) c.className = cls; return c;
}
function showPanel(p) {  // rows of label and value, then the outputs by name; text only, never HTML from the server
  const key = JSON.stringify(p);
  if (key === panelKey) return;
  panelKey = key;
  const rows = document.createElement("table"); rows.className = "engine";
  for (const r of p.rows) {
    const tr = document.createElement("tr"); tr.dataset.label = r.label; if (r.warn) tr.className = "warn";
    tr.append(cell("th", r.label), cell("td", r.value)); rows.append(tr);
  }
  const parts = [rows];
  if (p.outputs.length) {
    const outs = document.createElement("table"); outs.className = "outputs";
    const head = document.createElement("tr");
    p.headers.forEach((c, i) => head.append(cell("th", c, i > 1 ? "n" : "")));
    outs.append(head);
    for (const o of p.outputs) {
      const tr = document.createElement("tr"); tr.dataset.output = o.output; if (o.warn) tr.className = "warn";
      p.columns.forEach((c, i) => tr.append(cell("td", o[c], i > 1 ? "n" : "")));
      outs.append(tr);
      if (o.error) {
        const er = document.createElement("tr"); er.className = "warn";
        const td = cell("td", "last error: " + o.error); td.colSpan = p.columns.length; er.append(td); outs.append(er);
      }
    }
    parts.push(outs);
  }
  statusBox.replaceChildren(...parts);
}
function showState(s) {
    const key = s.classes.join("|");
    if (key !== classesKey) { buildBars(s.classes); classesKey = key; }
    const rows = bars.children;
    for (let i = 0; i < rows.length; i++) {
      const p = s.probs[i] || 0;
      rows[i].querySelector(".bar").style.width = (100 * p).toFixed(1) + "%";
      rows[i].querySelector(".p").textContent = p.toFixed(2);
      rows[i].classList.toggle("top", s.classes[i] === s.top_class);
    }
    topLine.dataset.class = s.top_class || "";
    topLine.textContent = s.top_class
        ? s.top_class.replace(/_/g, " ") + "  " + s.confidence.toFixed(2)
        : "listening...";
    if (s.spectrogram !== null && String(s.spectrogram) !== specKey) {
      specKey = String(s.spectrogram);
      spec.src = "/spectrogram.png?k=" + specKey;
    }
    showPanel(s.panel);
}
async function pollState() {
  try {
    showState(await (await fetch("/state.json", {cache: "no-store"})).json());
    document.body.dataset.state = "live";
  } catch (e) { document.body.dataset.state = "offline"; }
  setTimeout(pollState, 100);
}
const initial = JSON.parse(document.getElementById("initial").textContent);
if (initial && initial.frame !== null) showState(initial);  // before the first paint: no empty page to capture
pollFrame(); pollState();
})();
</script></body></html>
"""


def page(title: str = "Performer", fps: float = 30.0, state: dict[str, Any] | None = None) -> str:
    """The page's HTML; it polls ``/frame.jpg`` at up to ``fps`` and ``/state.json`` ten times a second.

    ``state`` (the preview's ``/state.json`` now) puts the newest frame and spectrogram into the markup and the
    state into the page, so they show from the first paint and the load event waits for the images."""
    frame = (state or {}).get("frame")
    spectrogram = (state or {}).get("spectrogram")
    number = int(frame) if isinstance(frame, int) and not isinstance(frame, bool) else None
    spec = int(spectrogram) if isinstance(spectrogram, int) and not isinstance(spectrogram, bool) else None
    return (_PAGE.replace("__TITLE__", html.escape(title)).replace("__FPS__", f"{max(0.5, min(fps, 60.0)):g}")
            .replace("__NONE__", NONE_CLASS)
            .replace("__FRAME__", f' src="/frame.jpg?n={number}" data-frame="{number}"' if number is not None
                     else ' data-frame=""')
            .replace("__SPEC__", f' src="/spectrogram.png?k={spec}" data-key="{spec}"' if spec is not None else "")
            .replace("__STATE__", _script_json(state if number is not None else None)))


def _script_json(value: Any) -> str:
    """JSON that cannot end its ``<script>`` element or open markup, whatever the strings in it hold."""
    try:
        text = json.dumps(value, allow_nan=False, default=str)
    except ValueError:  # a NaN the state should not hold: the page starts empty and polls, as without a state
        text = "null"
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
