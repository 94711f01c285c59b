"""The control page: one self-contained, touch-friendly HTML document generated from the parameter registry.

At the top, the performance layout, all within the first screen of a phone: blackout, freeze and tap, the master
fader (``master.fade``) and the A/B crossfader (where the registry has them), a small live picture (the preview's
newest frame, four a second), the favourite presets (starred on the device) and an XY pad driving two numeric
parameters chosen in its menus. Below, the class
probabilities, the presets, and every parameter in its group (closed on a phone, a tap opens one): a fader for
numbers with its range and unit, a toggle for a bool, a menu for an enum, a text field for a string, a button for a
trigger, each with a MIDI-learn button. The page keeps itself in sync with the server over the WebSocket at
``/control/ws`` (see :mod:`performer.outputs.preview.hub`). No external scripts, fonts or styles: nothing is
fetched beyond this server; the style and the script are ``control_page.css`` and ``control_page.js`` beside this
file. The class ``none`` ("none of these") is shown in grey.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from performer.params import GROUPS, Param, Registry
from performer.params.spec import format_number
from performer.sound.labels import NONE_CLASS


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
            f'<div class="label"><span class="name">{_attr(p.name.split(".", 1)[-1])}</span>{value}</div>'
            f'<div class="ctl">{_control(p)}{learn}</div></div>')


PERFORM = {"blackout": "master.blackout", "freeze": "master.freeze", "tap": "tempo.tap", "master": "master.fade",
           "crossfader": "crossfader.position", "a": "crossfader.a", "b": "crossfader.b"}
"""The parameters of the performance layout's keys, master fader and A/B crossfader (each left out where a registry
lacks it)."""
XY = ("dream.rotate", "dream.zoom")
"""The XY pad's parameters until the performer picks others (kept on the device)."""

_HERE = Path(__file__).parent


def _perform(registry: Registry) -> str:
    """The performance layout: keys, master fader, live picture, favourites, XY pad."""
    def has(name: str, kind: str | None = None) -> bool:
        return name in registry and (kind is None or registry.get(name).type == kind)

    keys = []
    if has(PERFORM["blackout"], "trigger"):
        keys.append(f'<button type="button" class="key" id="blackout" data-name="{PERFORM["blackout"]}" '
                    'title="black at once; again to bring the picture back">Blackout</button>')
    if has(PERFORM["freeze"], "bool"):
        keys.append(f'<label class="latch"><input type="checkbox" id="freeze" data-name="{PERFORM["freeze"]}" '
                    'aria-label="freeze"><span>Freeze</span></label>')
    if has(PERFORM["tap"], "trigger"):
        keys.append(f'<button type="button" class="key" id="tap" data-name="{PERFORM["tap"]}" title="tap tempo">'
                    'Tap<span id="tap-bpm">— BPM</span></button>')

    def fader(key: str, label: str, before: str = "", after: str = "") -> str:
        if not (has(PERFORM[key]) and registry.get(PERFORM[key]).numeric):
            return ""
        p = registry.get(PERFORM[key])
        before = before or f'<span class="plabel">{label}</span>'
        after = after or f'<span class="value" data-value="{_attr(p.name)}"></span>'
        return (f'<div id="{key}" class="pfader" title="{_attr(p.description)}">{before}'
                f'<input type="range" id="{key}-fader" data-name="{_attr(p.name)}" min="{format_number(p.min)}" '
                f'max="{format_number(p.max)}" step="{_number_step(p)}" value="{_attr(p.default)}" '
                f'aria-label="{label}">{after}</div>')

    def end(key: str, side: str) -> str:  # the preset at one end of the crossfader, by name
        name = f'<span class="xend" data-value="{PERFORM[key]}"></span>' if has(PERFORM[key]) else ""
        return f'<span class="plabel">{side} {name}</span>'

    master = fader("master", "master fade") + fader("crossfader", "crossfader", end("a", "A"), end("b", "B"))
    numeric = [p for p in registry if p.numeric]
    xy = ""
    if len(numeric) >= 2:
        x, y = (n if n in registry and registry.get(n).numeric else numeric[i].name for i, n in enumerate(XY))
        options = "".join(f'<option value="{_attr(p.name)}">{_attr(p.name)}</option>' for p in numeric)
        xy = (f'<div id="xy-box"><div id="xy" data-x="{_attr(x)}" data-y="{_attr(y)}" role="application" '
              f'aria-label="XY pad"><div id="xy-dot"></div></div><div class="axes">'
              f'<label>x <select id="xy-x" aria-label="XY pad: x">{options}</select></label>'
              f'<label>y <select id="xy-y" aria-label="XY pad: y">{options}</select></label></div></div>')
    return (f'<section id="perform" aria-label="performance"><div id="keys">{"".join(keys)}</div>'
            f'<div id="faders">{master}</div>'
            '<a id="live-box" href="/" target="_blank" title="the preview, larger"><img id="live" '
            'alt="live picture"></a><div id="favs"><div id="fav-list"></div><div id="fav-hint" class="hint"></div>'
            f'</div>{xy}</section>')


def control_page(registry: Registry, title: str = "Performer") -> str:
    """The page's HTML for every parameter of ``registry``, grouped by ``group`` in the registry's order."""
    sections = []
    for group in GROUPS:
        params = [p for p in registry if p.group == group]
        if params:
            sections.append(f'<details class="group" data-group="{_attr(group)}" open><summary><h2>{_attr(group)}'
                            '</h2></summary>' + "".join(_row(p) for p in params) + "</details>")
    meta = {p.name: {"type": p.type, "unit": p.unit,
                     **({"min": p.min, "max": p.max, "def": p.default} if p.numeric else {})} for p in registry}
    head = _HEAD.replace("__TITLE__", html.escape(title)).replace("__STYLE__", _STYLE.replace("__NONE__", NONE_CLASS))
    return (head.replace("__PERFORM__", _perform(registry)) + "".join(sections)
            + _TAIL.replace("__META__", _script_json(meta)).replace("__SCRIPT__", _SCRIPT))


def _script_json(value: object) -> str:
    """JSON that cannot end its ``<script>`` element or open markup."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_STYLE = (_HERE / "control_page.css").read_text(encoding="utf-8")
_SCRIPT = (_HERE / "control_page.js").read_text(encoding="utf-8")

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__ · control</title>
<meta name="viewport" content="width=device-width, initial-scale=1, user-scalable=no">
<style>
__STYLE__</style></head>
<body data-state="connecting"><header><span id="conn" title="connection"></span><h1>__TITLE__</h1>
<span id="top" data-class=""></span><span id="tempo" data-bpm="">— BPM</span><span id="beat"></span>
<div id="msg"></div></header>
__PERFORM__
<main>
<section id="sound"><h2>Sound</h2><div id="bars"></div></section>
<section id="preset-list"><h2>Presets</h2><div id="presets"><span class="range">no presets offered</span></div>
</section>
"""

_TAIL = """</main>
<script type="application/json" id="meta">__META__</script>
<script>
__SCRIPT__</script></body></html>
"""
