"""The control page: one self-contained, touch-friendly HTML document generated from the parameter registry.

Every parameter is a control in its group's section (a fader for numbers with its range and unit, a toggle for
a bool, a menu for an enum, a text field for a string, a button for a trigger), each with a MIDI-learn button;
then the presets with recall buttons, the class probabilities and the tempo. The page keeps itself in sync with
the server over the WebSocket at ``/control/ws`` (see :mod:`performer.outputs.preview.hub`). No external scripts,
fonts or styles: nothing is fetched beyond this server. The class ``none`` ("none of these") is shown in grey.
"""

from __future__ import annotations

import html
import json

from performer.classifier.labels import NONE_CLASS
from performer.params import GROUPS, Param, Registry
from performer.params.spec import format_number


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number_step(p: Param) -> str:
    if p.type == "int":
        return "1"
    lo, hi = p._bounds()
    return f"{(hi - lo) / 1000:g}"


def _control(p: Param) -> str:
    """The HTML of one parameter's control."""
    name, unit = _attr(p.name), _attr(p.unit)
    if p.numeric:
        lo, hi = format_number(p.min), format_number(p.max)
        return (f'<input type="range" class="fader" data-name="{name}" min="{lo}" max="{hi}" '
                f'step="{_number_step(p)}" value="{_attr(p.default)}" aria-label="{name}">'
                f'<span class="range">{lo} … {hi}{" " + unit if unit else ""}</span>')
    if p.type == "bool":
        checked = " checked" if p.default else ""
        return (f'<label class="toggle"><input type="checkbox" data-name="{name}"{checked} aria-label="{name}">'
                f'<span class="knob"></span></label>')
    if p.type == "enum":
        options = "".join(f'<option value="{_attr(c)}"{" selected" if c == p.default else ""}>{_attr(c)}</option>'
                          for c in p.choices)
        return f'<select data-name="{name}" aria-label="{name}">{options}</select>'
    if p.type == "trigger":
        return f'<button type="button" class="trigger" data-name="{name}">fire</button>'
    return f'<input type="text" data-name="{name}" value="{_attr(p.default)}" aria-label="{name}">'


def _row(p: Param) -> str:
    unit = f' <span class="unit">{_attr(p.unit)}</span>' if p.unit and p.numeric else ""
    value = f'<span class="value" data-value="{_attr(p.name)}"></span>{unit}' if p.numeric else ""
    learn = ("" if p.type == "string" else
             f'<button type="button" class="learn" data-learn="{_attr(p.name)}" title="MIDI learn: move a '
             f'control on your MIDI device next">MIDI</button>')
    return (f'<div class="param {p.type}" data-param="{_attr(p.name)}" title="{_attr(p.description)}">'
            f'<div class="label"><span class="name">{_attr(p.name.split(".", 1)[-1])}</span>{value}{learn}</div>'
            f'<div class="ctl">{_control(p)}</div></div>')


def control_page(registry: Registry, title: str = "Performer") -> str:
    """The page's HTML for every parameter of ``registry``, grouped by ``group`` in the registry's order."""
    sections = []
    for group in GROUPS:
        params = [p for p in registry if p.group == group]
        if params:
            sections.append(f'<section class="group" data-group="{_attr(group)}"><h2>{_attr(group)}</h2>'
                            + "".join(_row(p) for p in params) + "</section>")
    meta = {p.name: {"type": p.type, "unit": p.unit} for p in registry}
    return (_HEAD.replace("__TITLE__", html.escape(title)).replace("__NONE__", NONE_CLASS) + "".join(sections)
            + _TAIL.replace("__META__", json.dumps(meta).replace("</", "<\\/")))


_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__ · control</title>
<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">
<style>
 *{box-sizing:border-box}
 body{margin:0;background:#0c0c10;color:#e6e6eb;font:15px system-ui,sans-serif;-webkit-tap-highlight-color:transparent}
 header{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center;
        padding:8px 12px;background:#14141a;border-bottom:1px solid #2a2a34}
 header h1{font-size:17px;margin:0;font-weight:600}
 #conn{width:12px;height:12px;border-radius:50%;background:#a33}#conn.on{background:#3c6}
 #tempo{font-variant-numeric:tabular-nums}#beat{display:inline-block;width:12px;height:12px;border-radius:50%;
        background:#333;vertical-align:-1px;margin-left:6px}#beat.on{background:#fab428}
 #top{color:#fab428;font-size:16px}
 #msg{flex-basis:100%;color:#ff7a6b;font-size:13px;min-height:0}#msg:empty{display:none}
 main{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px;padding:12px;align-items:start}
 section{background:#14141a;border-radius:8px;padding:8px 12px 12px}
 h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#8a8a96;margin:4px 0 8px}
 .param{padding:6px 0;border-top:1px solid #22222a}.param:first-of-type{border-top:0}
 .label{display:flex;align-items:center;gap:8px;min-height:28px}
 .name{flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
 .value{font-variant-numeric:tabular-nums;color:#fab428;min-width:3.5em;text-align:right}
 .unit{color:#8a8a96;font-size:12px}
 .ctl{display:flex;align-items:center;gap:10px;min-height:44px}
 .range{color:#6a6a76;font-size:11px;white-space:nowrap}
 input[type=range]{flex:1;height:44px;margin:0;background:transparent;-webkit-appearance:none;appearance:none}
 input[type=range]::-webkit-slider-runnable-track{height:10px;border-radius:5px;background:#2c2c36}
 input[type=range]::-webkit-slider-thumb{-webkit-appearance:none;width:30px;height:30px;margin-top:-10px;
        border-radius:50%;background:#5a8cdc;border:2px solid #cfd8ff}
 input[type=range]::-moz-range-track{height:10px;border-radius:5px;background:#2c2c36}
 input[type=range]::-moz-range-thumb{width:28px;height:28px;border-radius:50%;background:#5a8cdc}
 select,input[type=text]{flex:1;min-height:40px;font:inherit;color:#e6e6eb;background:#22222a;
        border:1px solid #3a3a46;border-radius:6px;padding:0 8px}
 button{font:inherit;color:#e6e6eb;background:#2a2a36;border:1px solid #3a3a46;border-radius:6px;min-height:40px;
        padding:0 14px;touch-action:manipulation}
 button:active,button.flash{background:#fab428;color:#111}
 button.learn{min-height:28px;padding:0 8px;font-size:11px;color:#8a8a96}
 button.learn.armed{background:#c0392b;color:#fff;border-color:#e55}
 .toggle{position:relative;width:64px;height:36px;display:inline-block}
 .toggle input{opacity:0;width:100%;height:100%;margin:0;position:absolute;z-index:1}
 .toggle .knob{position:absolute;inset:0;border-radius:18px;background:#2c2c36;transition:background .1s}
 .toggle .knob::after{content:"";position:absolute;width:28px;height:28px;left:4px;top:4px;border-radius:50%;
        background:#8a8a96;transition:left .1s}
 .toggle input:checked+.knob{background:#3c6e4c}.toggle input:checked+.knob::after{left:32px;background:#e6e6eb}
 #presets{display:flex;flex-wrap:wrap;gap:8px}#presets button.current{border-color:#fab428}
 .row{display:grid;grid-template-columns:38% 1fr 3em;align-items:center;gap:6px;margin:3px 0}
 .track{background:#282830;height:14px}.bar{background:#5a8cdc;height:100%;width:0}
 .row.top .bar{background:#fab428}.row.top .cname{color:#fab428}.p{text-align:right;font-size:12px}
 .row[data-class="__NONE__"] .bar{background:#6e6e78}.row[data-class="__NONE__"] .cname{color:#8c8c96}
 .row.top[data-class="__NONE__"] .bar{background:#b4b4be}
 .row.top[data-class="__NONE__"] .cname,#top[data-class="__NONE__"]{color:#b4b4be}
 @media (max-width:500px){main{grid-template-columns:1fr;padding:8px}header h1{font-size:15px}}
</style></head>
<body data-state="connecting"><header><span id="conn" title="connection"></span><h1>__TITLE__</h1>
<span id="top" data-class=""></span><span id="tempo" data-bpm="">— BPM</span><span id="beat"></span>
<div id="msg"></div></header>
<main>
<section id="sound"><h2>Sound</h2><div id="bars"></div></section>
<section id="preset-list"><h2>Presets</h2><div id="presets"><span class="range">no presets offered</span></div>
</section>
"""

_TAIL = """</main>
<script>
"use strict";
(() => {
const META = __META__;
const HOLD_MS = 600;  // a control being touched ignores echoes from the server this long
const touched = {}, pending = {}, late = {}, msg = document.getElementById("msg");
let ws = null, timer = null, classesKey = "", msgTimer = null;
const q = s => document.querySelectorAll(s);
const ctl = n => document.querySelector('.ctl [data-name="' + CSS.escape(n) + '"]');
function fmt(v) { return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v); }
function show(name, v) {
  const el = ctl(name); if (!el) return;
  if (el.type === "checkbox") el.checked = !!v; else el.value = v;
  el.dataset.server = JSON.stringify(v);
  const out = document.querySelector('[data-value="' + CSS.escape(name) + '"]'); if (out) out.textContent = fmt(v);
}
function apply(values) {  // a value for a control being touched waits until the hand lets go
  const now = performance.now();
  for (const [n, v] of Object.entries(values)) {
    if (now - (touched[n] || -1e9) < HOLD_MS) late[n] = v; else { delete late[n]; show(n, v); }
  }
}
setInterval(() => {
  const now = performance.now();
  for (const [n, v] of Object.entries(late)) if (now - touched[n] >= HOLD_MS) { delete late[n]; show(n, v); }
}, 200);
function send(o) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(o)); }
function say(text) {
  msg.textContent = text; clearTimeout(msgTimer); msgTimer = setTimeout(() => { msg.textContent = ""; }, 6000);
}
function flush() {
  timer = null;
  for (const [n, v] of Object.entries(pending)) { send({type: "set", name: n, value: v}); delete pending[n]; }
}
function local(el) {
  const n = el.dataset.name, t = META[n].type;
  let v = el.type === "checkbox" ? el.checked : el.value;
  if (t === "float" || t === "int") {
    v = Number(v);
    const out = document.querySelector('[data-value="' + CSS.escape(n) + '"]'); if (out) out.textContent = fmt(v);
  }
  touched[n] = performance.now(); pending[n] = v;
  if (!timer) timer = setTimeout(flush, 30);  // a dragged fader sends at most ~30 messages a second
}
for (const el of q(".ctl [data-name]")) {
  if (el.tagName === "BUTTON") el.addEventListener("click", () => send({type: "fire", name: el.dataset.name}));
  else if (el.type === "text") el.addEventListener("change", () => local(el));
  else { el.addEventListener("input", () => local(el)); el.addEventListener("change", () => local(el)); }
}
for (const b of q("button.learn")) b.addEventListener("click", () => {
  for (const o of q("button.learn.armed")) o.classList.remove("armed");
  b.classList.add("armed"); send({type: "learn", name: b.dataset.learn});
});
function presets(names) {
  const box = document.getElementById("presets"); box.textContent = "";
  for (const n of names) {
    const b = document.createElement("button"); b.type = "button"; b.textContent = n; b.dataset.preset = n;
    b.addEventListener("click", () => send({type: "recall", name: n})); box.append(b);
  }
  if (!names.length) box.innerHTML = '<span class="range">no presets offered</span>';
}
function analysis(a) {
  const bars = document.getElementById("bars"), classes = a.classes || [], probs = a.probs || [];
  if (classes.join("|") !== classesKey) {
    classesKey = classes.join("|"); bars.textContent = "";
    for (const c of classes) {
      const row = document.createElement("div"); row.className = "row"; row.dataset.class = c;
      row.innerHTML = '<span class="cname"></span><div class="track"><div class="bar"></div></div>'
          + '<span class="p"></span>';
      row.querySelector(".cname").textContent = c.replace(/_/g, " "); bars.append(row);
    }
  }
  [...bars.children].forEach((row, i) => {
    const p = probs[i] || 0;
    row.querySelector(".bar").style.width = (100 * p).toFixed(1) + "%";
    row.querySelector(".p").textContent = p.toFixed(2); row.classList.toggle("top", classes[i] === a.top_class);
  });
  const top = document.getElementById("top"); top.dataset.class = a.top_class || "";
  top.textContent = a.top_class ? a.top_class.replace(/_/g, " ") : "";
  const tempo = document.getElementById("tempo");
  tempo.dataset.bpm = a.bpm ? String(a.bpm) : ""; tempo.textContent = a.bpm ? a.bpm.toFixed(1) + " BPM" : "— BPM";
  const beat = a.beat_phase !== undefined && a.bpm > 0 && a.beat_phase < 0.25;
  document.getElementById("beat").classList.toggle("on", beat);
  for (const b of q("#presets button")) b.classList.toggle("current", b.dataset.preset === a.preset);
}
function receive(e) {
  const m = JSON.parse(e.data); (window.__seen = window.__seen || []).push(e.data);
  if (m.type === "hello") { for (const [n, v] of Object.entries(m.values)) show(n, v); presets(m.presets); }
  else if (m.type === "set") apply(m.values);
  else if (m.type === "analysis") analysis(m);
  else if (m.type === "fired") {
    const b = ctl(m.name); if (!b) return;
    b.classList.add("flash"); setTimeout(() => b.classList.remove("flash"), 150);
    b.dataset.fired = String(+(b.dataset.fired || 0) + 1);
  } else if (m.type === "error") {
    say(m.message); for (const o of q("button.learn.armed")) o.classList.remove("armed");
  }
  else if (m.type === "ok" && m.recall) say("");
}
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/control/ws");
  ws.onopen = () => { document.getElementById("conn").className = "on"; document.body.dataset.state = "live"; };
  ws.onmessage = receive;
  ws.onclose = () => {
    document.getElementById("conn").className = ""; document.body.dataset.state = "offline";
    setTimeout(connect, 1000);
  };
}
setInterval(() => send({type: "ping"}), 5000);
connect();
})();
</script></body></html>
"""
