"""The Max patch, ``patches/max/performer.maxpat``.

A number box, toggle, menu, button or text field per parameter sending OSC through ``udpsend``, message
boxes for the commands, and a ``udpreceive`` that shows the analysis and moves the controls (``set``, so
nothing is sent back) when the server reports a change.
"""

from __future__ import annotations

import json
from typing import Any

from performer.params import REGISTRY, Registry
from performer.patches.common import (
    ANALYSIS,
    FEEDBACK_PORT,
    SERVER_HOST,
    SERVER_PORT,
    header_lines,
    osc_commands,
    performance_params,
)


class _MaxPatch:
    def __init__(self) -> None:
        self.boxes: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []

    def box(self, maxclass: str, rect: tuple[float, float, float, float], *, text: str | None = None,
            inlets: int = 1, outlets: int = 0, outlettype: list[str] | None = None, **attrs: Any) -> str:
        bid = f"obj-{len(self.boxes) + 1}"
        b: dict[str, Any] = {"id": bid, "maxclass": maxclass, "numinlets": inlets, "numoutlets": outlets,
                             "patching_rect": [float(v) for v in rect]}
        if outlets:
            b["outlettype"] = outlettype if outlettype is not None else [""] * outlets
        if text is not None:
            b["text"] = text
        b.update(attrs)
        self.boxes.append({"box": b})
        return bid

    def connect(self, a: str, outlet: int, b: str, inlet: int = 0) -> None:
        self.lines.append({"patchline": {"source": [a, outlet], "destination": [b, inlet]}})

    def render(self, description: str) -> str:
        patcher = {"patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 5, "revision": 0, "architecture": "x64", "modernui": 1},
            "classnamespace": "box",
            "rect": [50.0, 80.0, 1400.0, 900.0],
            "default_fontsize": 12.0,
            "description": description,
            "boxes": self.boxes,
            "lines": self.lines,
        }}
        return json.dumps(patcher, indent=1) + "\n"


def generate_max(registry: Registry = REGISTRY) -> str:
    mx = _MaxPatch()
    header = " ".join(header_lines("Max"))
    mx.box("comment", (10, 10, 1100, 34), text=header, linecount=2)
    send = mx.box("newobj", (1000, 760, 150, 22), text=f"udpsend {SERVER_HOST} {SERVER_PORT}", inlets=1)
    col_w, row_h, per_col = 330, 46, 14
    echo_addresses: list[str] = []
    echo_targets: list[tuple[str, str]] = []  # (control, how to set it without output)
    for k, p in enumerate(performance_params(registry)):
        x = 10 + (k // per_col) * col_w
        y = 60 + (k % per_col) * row_h
        label = p.name + (f" ({p.unit}, {p.min:g}..{p.max:g})" if p.numeric and p.unit else
                          f" ({p.min:g}..{p.max:g})" if p.numeric else "")
        mx.box("comment", (x, y, 300, 20), text=label)
        prepend = mx.box("newobj", (x + 130, y + 20, 170, 22), text=f"prepend {p.address}", inlets=1, outlets=1)
        if p.numeric:
            cls = "number" if p.type == "int" else "flonum"
            ui = mx.box(cls, (x, y + 20, 110, 22), inlets=1, outlets=2, outlettype=["", "bang"],
                        minimum=p.min, maximum=p.max, parameter_enable=0)
            mx.connect(ui, 0, prepend)
        elif p.type == "bool":
            ui = mx.box("toggle", (x, y + 20, 22, 22), inlets=1, outlets=1, outlettype=["int"], parameter_enable=0)
            mx.connect(ui, 0, prepend)
        elif p.type == "enum":
            items: list[str] = []
            for c in p.choices:
                items += [c, ","]
            ui = mx.box("umenu", (x, y + 20, 120, 22), inlets=1, outlets=3, outlettype=["int", "", ""],
                        items=items[:-1], parameter_enable=0)
            mx.connect(ui, 1, prepend)  # the chosen item's text
        elif p.type == "trigger":
            ui = mx.box("button", (x, y + 20, 22, 22), inlets=1, outlets=1, outlettype=["bang"], parameter_enable=0)
            mx.connect(ui, 0, prepend)
        else:
            ui = mx.box("textedit", (x, y + 20, 120, 22), inlets=1, outlets=4, outlettype=["", "int", "", ""],
                        parameter_enable=0)
            rt = mx.box("newobj", (x + 130, y + 44, 60, 22), text="route text", inlets=1, outlets=2)
            mx.connect(ui, 0, rt)
            mx.connect(rt, 0, prepend)
        mx.connect(prepend, 0, send)
        if p.type not in ("trigger", "string"):
            echo_addresses.append(p.address)
            echo_targets.append((ui, "setsymbol" if p.type == "enum" else "set"))
    # Commands.
    cx, cy = 1000, 60
    mx.box("comment", (cx, cy, 300, 20), text="commands (click to send)")
    examples = {"/preset/load": "club", "/preset/save": "my-set", "/midi/learn": "dream.lr"}
    for j, (address, types, desc) in enumerate(osc_commands()):
        if address.startswith("/osc/destination") or address == "/glove/flex":
            continue
        y = cy + 24 + 30 * j
        text = address + (f" {examples.get(address, 'x')}" if types == "s" else "")
        msg = mx.box("message", (cx, y, 170, 22), text=text, inlets=2, outlets=1)
        mx.box("comment", (cx + 175, y, 230, 20), text=desc)
        mx.connect(msg, 0, send)
    # Receiving: analysis to displays, parameter changes back into the controls (set: no resend).
    rx, ry = 1000, 420
    mx.box("comment", (rx, ry - 24, 380, 20), text=f"from the server (udpreceive {FEEDBACK_PORT})")
    recv = mx.box("newobj", (rx, ry, 110, 22), text=f"udpreceive {FEEDBACK_PORT}", inlets=1, outlets=1)
    addrs = [a for a, _, _ in ANALYSIS]
    route = mx.box("newobj", (rx, ry + 30, 380, 22), text="route " + " ".join(addrs), inlets=1,
                   outlets=len(addrs) + 1)
    mx.connect(recv, 0, route)
    for j, (_address, _types, desc) in enumerate(ANALYSIS):
        y = ry + 60 + 26 * j
        setter = mx.box("newobj", (rx, y, 90, 22), text="prepend set", inlets=1, outlets=1)
        shown = mx.box("message", (rx + 95, y, 180, 22), inlets=2, outlets=1)
        mx.box("comment", (rx + 280, y, 200, 20), text=desc)
        mx.connect(route, j, setter)
        mx.connect(setter, 0, shown)
    echo = mx.box("newobj", (rx, ry + 280, 380, 22), text="route " + " ".join(echo_addresses), inlets=1,
                  outlets=len(echo_addresses) + 1)
    mx.connect(route, len(addrs), echo)
    for j, (target, how) in enumerate(echo_targets):
        setter = mx.box("newobj", (rx + (j % 6) * 64, ry + 310 + 26 * (j // 6), 60, 22), text=f"prepend {how}",
                        inlets=1, outlets=1)
        mx.connect(echo, j, setter)
        mx.connect(setter, 0, target)
    return mx.render(header)
