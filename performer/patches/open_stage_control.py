"""The Open Stage Control session, ``patches/open-stage-control/performer.json``.

A panel per parameter group with a fader, toggle, dropdown, button or text input per parameter, a panel of
command widgets, and a panel of text widgets showing the analysis the server sends.
"""

from __future__ import annotations

import json
from typing import Any

from performer.params import GROUPS, REGISTRY, Param, Registry
from performer.patches.common import ANALYSIS, bounds, header_lines, osc_commands, performance_params


def _osc_id(name: str) -> str:
    return name.replace(".", "_")


def _osc_widget(kind: str, wid: str, **props: Any) -> dict[str, Any]:
    w: dict[str, Any] = {"type": kind, "id": wid, "visible": True, "interaction": True, "comments": "",
                         "expand": False, "width": "auto", "height": "auto", "preArgs": [], "target": [],
                         "ignoreDefaults": False, "bypass": False}
    w.update(props)
    return w


def _osc_param_widget(p: Param) -> dict[str, Any]:
    label = p.name + (f" ({p.unit})" if p.unit else "")
    common = {"label": label, "address": p.address, "comments": p.description, "html": "", "css": ""}
    if p.numeric:
        lo, hi = bounds(p)
        steps = {"steps": int(hi - lo)} if p.type == "int" else {}  # whole numbers only
        return _osc_widget("fader", _osc_id(p.name), horizontal=True, range={"min": p.min, "max": p.max},
                           default=p.default, value=p.default, typeTags="i" if p.type == "int" else "f",
                           decimals=0 if p.type == "int" else 3, pips=True, height=60, **steps, **common)
    if p.type == "bool":
        return _osc_widget("toggle", _osc_id(p.name), on=1, off=0, default=int(bool(p.default)),
                           value=int(bool(p.default)), typeTags="i", **common)
    if p.type == "enum":
        return _osc_widget("dropdown", _osc_id(p.name), values={c: c for c in p.choices}, default=p.default,
                           value=p.default, typeTags="s", **common)
    if p.type == "trigger":
        return _osc_widget("button", _osc_id(p.name), mode="tap", on=1, off=0, typeTags="", **common)
    return _osc_widget("input", _osc_id(p.name), default=p.default, value=p.default, typeTags="s", **common)


def generate_open_stage_control(registry: Registry = REGISTRY) -> str:
    panels = []
    for group in GROUPS:
        params = [p for p in performance_params(registry) if p.group == group]
        if not params:
            continue
        panels.append(_osc_widget("panel", f"group_{group}", label=group, layout="vertical", scroll=True,
                                  widgets=[_osc_param_widget(p) for p in params], tabs=[], html="", css=""))
    commands = []
    for address, types, desc in osc_commands():
        if address.startswith("/osc/destination") or address == "/glove/flex":
            continue
        wid = "cmd" + _osc_id(address.replace("/", "_"))
        if types == "s":
            commands.append(_osc_widget("input", wid, label=address, address=address, typeTags="s", value="",
                                        default="", comments=desc, html="", css=""))
        else:
            commands.append(_osc_widget("button", wid, label=address, address=address, mode="tap", on=1, off=0,
                                        typeTags="", comments=desc, html="", css=""))
    displays = []
    for address, _types, desc in ANALYSIS:
        wid = "show" + _osc_id(address.replace("/", "_"))
        displays.append(_osc_widget("text", wid, label=f"{address} ({desc})", address=address, interaction=False,
                                    value="", default="", comments=desc, html="", css=""))
    panels.append(_osc_widget("panel", "commands", label="commands", layout="vertical", scroll=True,
                              widgets=commands, tabs=[], html="", css=""))
    panels.append(_osc_widget("panel", "analysis", label="analysis", layout="vertical", scroll=True,
                              widgets=displays, tabs=[], html="", css=""))
    root = _osc_widget("root", "root", label=False, comments=" ".join(header_lines("Open Stage Control")),
                       layout="horizontal", scroll=True, widgets=panels, tabs=[], html="", css="", address="/root")
    session = {"createdWith": "Open Stage Control", "version": "1.26.2", "type": "session", "content": root}
    return json.dumps(session, indent=1) + "\n"
