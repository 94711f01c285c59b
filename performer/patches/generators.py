"""Ready-made patches for the tools performers use, generated from the parameter registry.

``performer patches --write`` writes, under ``patches/``:

* ``pd/performer.pd``: Pure Data, a slider, toggle, radio, bang or symbol box per parameter sending OSC
  (``oscformat`` + ``netsend -u -b``) and a receiver showing the analysis (``netreceive -u -b`` + ``oscparse``);
* ``max/performer.maxpat``: Max, the same controls through ``udpsend`` / ``udpreceive``;
* ``open-stage-control/performer.json``: an Open Stage Control session, a widget per parameter and command;
* ``touchdesigner/performer_td.py``: a script that, run inside TouchDesigner, builds a Base COMP with a
  custom parameter per Performer parameter, OSC In/Out and an NDI In TOP.

``performer patches --check`` regenerates them in memory and exits 1 if a committed file is stale, so the
patches never drift from :data:`performer.params.REGISTRY` and the OSC command list
(:data:`performer.control.COMMANDS`). Each generated file says it is generated and by what command.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from performer.params import GROUPS, REGISTRY, Param, Registry

log = logging.getLogger(__name__)

SERVER_HOST = "127.0.0.1"
SERVER_PORT = 9000
"""Where ``performer serve`` listens for OSC by default."""
FEEDBACK_PORT = 9002
"""Where the patches listen for what the server sends (``performer serve --osc-out 127.0.0.1:9002``; the OSCQuery HTTP server takes 9001)."""
NDI_SOURCE = "Performer"
"""The NDI sender name of an ``[outputs.ndi]`` table without ``name`` (the shipped club preset says "Performer Club")."""
GENERATED_BY = "performer patches --write"

# Analysis messages the server sends (address, OSC types, what it is), shown by the receiving side of the patches.
ANALYSIS: tuple[tuple[str, str, str], ...] = (
    ("/performer/class", "sif", "top class: name, index, confidence"),
    ("/performer/level", "f", "RMS level, dBFS"),
    ("/performer/peak", "f", "peak level, dBFS"),
    ("/performer/onset", "f", "onset strength 0..1"),
    ("/performer/centroid", "f", "spectral centroid, Hz"),
    ("/performer/status/fps", "f", "frames per second"),
    ("/performer/status/latency_ms", "f", "analysis latency, ms"),
    ("/performer/error", "ss", "address and message of the last error"),
)


def default_dir() -> Path:
    """The repository's ``patches/`` folder (next to ``presets/``)."""
    return Path(__file__).resolve().parents[2] / "patches"


def _commands() -> tuple[tuple[str, str, str], ...]:
    from performer.control import COMMANDS

    return COMMANDS


def performance_params(registry: Registry = REGISTRY) -> list[Param]:
    """Every parameter, in registry order (a control for each)."""
    return list(registry)


def _header_lines(tool: str) -> list[str]:
    return [f"Performer for {tool}. GENERATED from the parameter registry by `{GENERATED_BY}`: do not edit by hand",
            (f"(regenerate after changing performer/params.py). Sends to {SERVER_HOST}:{SERVER_PORT} and listens on "
             f"{FEEDBACK_PORT}: start the server with `performer serve --osc-out 127.0.0.1:{FEEDBACK_PORT}`.")]


# ---------------------------------------------------------------------------------------------------------------
# Pure Data
# ---------------------------------------------------------------------------------------------------------------

def _pd_escape(text: str) -> str:
    # Pd treats ';' ',' and '$' specially in boxes; comments keep words only.
    return re.sub(r"[;,$\\{}]", " ", text).replace("`", "")


class _PdPatch:
    def __init__(self) -> None:
        self.lines: list[str] = ["#N canvas 0 50 1760 820 10;"]
        self.n = 0
        self.connections: list[tuple[int, int, int, int]] = []

    def add(self, kind: str, x: int, y: int, body: str) -> int:
        self.lines.append(f"#X {kind} {x} {y} {body};")
        self.n += 1
        return self.n - 1

    def obj(self, x: int, y: int, body: str) -> int:
        return self.add("obj", x, y, body)

    def msg(self, x: int, y: int, body: str) -> int:
        return self.add("msg", x, y, body)

    def text(self, x: int, y: int, body: str, width: int | None = None) -> int:
        """A comment; ``width`` in characters (Pd wraps comments at 60 by default)."""
        return self.add("text", x, y, _pd_escape(body) + (f", f {width}" if width else ""))

    def connect(self, a: int, outlet: int, b: int, inlet: int = 0) -> None:
        self.connections.append((a, outlet, b, inlet))

    def render(self) -> str:
        return "\n".join(self.lines + [f"#X connect {a} {o} {b} {i};" for a, o, b, i in self.connections]) + "\n"


def _pd_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def pd_receive_name(p: Param) -> str:
    """The receive symbol of a parameter's control in the Pd patch (send it a value to move the control)."""
    return f"pf-{p.name}"


def generate_pd(registry: Registry = REGISTRY) -> str:
    pd = _PdPatch()
    for i, line in enumerate(_header_lines("Pure Data") + [
            ("Each control sends its parameter when moved. Send a value to pf-<parameter> (e.g. pf-dream.lr) "
             "to move a control from elsewhere - pf-connect to change the server address "
             "(disconnect then connect HOST PORT) - pf-listen to change the port it listens on (listen PORT).")]):
        pd.text(10, 10 + 16 * i, line, width=220)
    # Sending side: every control -> [oscformat] -> [list prepend send] -> [list trim] -> [netsend -u -b].
    y0 = 100
    load = pd.obj(1300, 640, "loadbang")
    connect = pd.msg(1300, 665, f"connect {SERVER_HOST} {SERVER_PORT}")
    rconnect = pd.obj(1450, 640, "r pf-connect")
    rsend = pd.obj(1450, 685, "r pf-send")  # every control's OSC message arrives here
    prepend = pd.obj(1300, 710, "list prepend send")
    trim = pd.obj(1300, 735, "list trim")
    netsend = pd.obj(1300, 760, "netsend -u -b")
    status = pd.obj(1300, 785, "print performer-netsend")
    pd.connect(rsend, 0, prepend)
    pd.connect(prepend, 0, trim)
    pd.connect(trim, 0, netsend)
    pd.connect(netsend, 0, status)
    pd.connect(load, 0, connect)
    pd.connect(connect, 0, netsend)
    pd.connect(rconnect, 0, netsend)
    col_w, row_h = 420, 52
    per_col = 12
    for k, p in enumerate(performance_params(registry)):
        x = 10 + (k // per_col) * col_w
        y = y0 + (k % per_col) * row_h
        rname = pd_receive_name(p)
        label = p.name + (f" ({p.unit})" if p.unit else "")
        path = " ".join(p.address.strip("/").split("/"))
        if p.type in ("float", "int"):
            ui = pd.obj(x, y + 14, f"hsl 160 15 {_pd_num(p.min)} {_pd_num(p.max)} 0 0 empty {rname} empty "
                        f"0 -9 0 10 #fcfcfc #000000 #000000 0 1")  # init off: nothing is sent at load
            shown = pd.obj(x + 170, y + 12, "nbx 6 14 -1e+37 1e+37 0 0 empty empty empty 0 -8 0 10 "
                           "#fcfcfc #000000 #000000 0 256")
            fmt = pd.obj(x, y + 34, f"oscformat -f {'i' if p.type == 'int' else 'f'} {path}")
            if p.type == "int":  # a slider's value is a float a hair off the integer: round it
                rnd = pd.obj(x + 240, y + 34, r"expr floor(\$f1 + 0.5)")
                pd.connect(ui, 0, rnd)
                pd.connect(rnd, 0, shown)
                pd.connect(rnd, 0, fmt)
            else:
                pd.connect(ui, 0, shown)
                pd.connect(ui, 0, fmt)
        elif p.type == "bool":
            ui = pd.obj(x, y + 14, f"tgl 15 0 empty {rname} empty 17 7 0 10 #fcfcfc #000000 #000000 0 1")
            fmt = pd.obj(x, y + 34, f"oscformat -f i {path}")
            pd.connect(ui, 0, fmt)
        elif p.type == "enum":
            n = len(p.choices)
            ui = pd.obj(x, y + 14, f"hradio 15 1 0 {n} empty {rname} empty 0 -8 0 10 #fcfcfc #000000 #000000 0")
            pd.text(x + 15 * n + 8, y + 12, " / ".join(p.choices), width=50)
            # The radio's index as the enum's normalised 0..1 value at <address>/normalized.
            div = pd.obj(x + 240, y + 34, f"/ {max(1, n - 1)}")
            fmt = pd.obj(x, y + 34, f"oscformat -f f {path} normalized")
            pd.connect(ui, 0, div)
            pd.connect(div, 0, fmt)
        elif p.type == "trigger":
            ui = pd.obj(x, y + 14, f"bng 15 250 50 0 empty {rname} empty 17 7 0 10 #fcfcfc #000000 #000000")
            fmt = pd.obj(x, y + 34, f"oscformat {path}")
            pd.connect(ui, 0, fmt)
        else:  # string
            ui = pd.add("symbolatom", x, y + 14, f"24 0 0 0 - {rname} -")
            fmt = pd.obj(x, y + 34, f"oscformat -f s {path}")
            pd.connect(ui, 0, fmt)
        pd.text(x, y, label, width=60)
        pd.connect(fmt, 0, pd.obj(x + 340, y + (34 if p.type == "enum" else 14), "s pf-send"))
    # Commands: preset recall and MIDI learn.
    cx, cy = 1300, 90
    pd.text(cx, cy, "commands")
    row = 0
    for address, types, desc in _commands():
        if address not in ("/preset/next", "/preset/prev", "/preset/load", "/midi/learn", "/midi/learn/cancel",
                           "/performer/status"):
            continue
        path = " ".join(address.strip("/").split("/"))
        y = cy + 20 + 44 * row
        row += 1
        if types == "s":
            example = {"/preset/load": "club", "/midi/learn": "dream.lr"}.get(address, "default")
            ui = pd.msg(cx, y, f"symbol {example}")
            fmt = pd.obj(cx + 110, y, f"oscformat -f s {path}")
        else:
            ui = pd.msg(cx, y, "bang")
            fmt = pd.obj(cx + 110, y, f"oscformat {path}")
        pd.text(cx + 110, y + 20, desc, width=70)
        pd.connect(ui, 0, fmt)
        pd.connect(fmt, 0, prepend)
    # Receiving side: what the server reports.
    rx, ry = 1300, 420
    pd.text(rx, ry - 20, f"analysis from the server (port {FEEDBACK_PORT})")
    recv = pd.obj(rx, ry, f"netreceive -u -b {FEEDBACK_PORT}")
    rlisten = pd.obj(rx + 300, ry - 25, "r pf-listen")  # e.g. "listen 9002" to listen elsewhere
    pd.connect(rlisten, 0, recv)
    parse = pd.obj(rx, ry + 25, "oscparse")
    ltrim = pd.obj(rx, ry + 50, "list trim")
    rperf = pd.obj(rx, ry + 75, "route performer")
    keys = ["class", "level", "onset", "centroid", "error"]
    rkeys = pd.obj(rx, ry + 100, "route " + " ".join(keys))
    pd.connect(recv, 0, parse)
    pd.connect(parse, 0, ltrim)
    pd.connect(ltrim, 0, rperf)
    pd.connect(rperf, 0, rkeys)
    for j, key in enumerate(keys):
        if key in ("class", "error"):
            as_list = pd.obj(rx + 10 + j * 75, ry + 125, "list")  # "dog_bark 3 0.9" -> a list
            setter = pd.msg(rx + 10 + j * 75, ry + 150, "set \\$1 \\$2 \\$3")
            box = pd.msg(rx + 10 + j * 75, ry + 175, "")
            pd.connect(rkeys, j, as_list)
            if key == "class":
                pd.connect(as_list, 0, pd.obj(rx + 10 + j * 75, ry + 200, "print performer-class"))
            pd.connect(as_list, 0, setter)
            pd.connect(setter, 0, box)
        else:
            box = pd.add("floatatom", rx + 10 + j * 75, ry + 125, "7 0 0 0 - - -")
            pd.connect(rkeys, j, box)
    return pd.render()


# ---------------------------------------------------------------------------------------------------------------
# Max
# ---------------------------------------------------------------------------------------------------------------

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
    header = " ".join(_header_lines("Max"))
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
    for j, (address, types, desc) in enumerate(_commands()):
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
    for j, (address, types, desc) in enumerate(ANALYSIS):
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


# ---------------------------------------------------------------------------------------------------------------
# Open Stage Control
# ---------------------------------------------------------------------------------------------------------------

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
        steps = {"steps": int(p.max - p.min)} if p.type == "int" else {}  # whole numbers only
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
    for address, types, desc in _commands():
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
    for address, types, desc in ANALYSIS:
        wid = "show" + _osc_id(address.replace("/", "_"))
        displays.append(_osc_widget("text", wid, label=f"{address} ({desc})", address=address, interaction=False,
                                    value="", default="", comments=desc, html="", css=""))
    panels.append(_osc_widget("panel", "commands", label="commands", layout="vertical", scroll=True,
                              widgets=commands, tabs=[], html="", css=""))
    panels.append(_osc_widget("panel", "analysis", label="analysis", layout="vertical", scroll=True,
                              widgets=displays, tabs=[], html="", css=""))
    root = _osc_widget("root", "root", label=False, comments=" ".join(_header_lines("Open Stage Control")),
                       layout="horizontal", scroll=True, widgets=panels, tabs=[], html="", css="", address="/root")
    session = {"createdWith": "Open Stage Control", "version": "1.26.2", "type": "session", "content": root}
    return json.dumps(session, indent=1) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# TouchDesigner
# ---------------------------------------------------------------------------------------------------------------

def td_par_name(p: Param) -> str:
    """A TouchDesigner custom parameter name (capital first letter, then lowercase letters and digits)."""
    s = re.sub(r"[^a-z0-9]", "", p.name.lower())
    return s[:1].upper() + s[1:]


def _td_spec(p: Param) -> dict[str, Any]:
    d: dict[str, Any] = {"name": td_par_name(p), "label": p.name, "address": p.address, "type": p.type,
                         "help": p.description}
    if p.numeric:
        d.update(min=p.min, max=p.max, default=p.default)
    elif p.type == "enum":
        d.update(choices=list(p.choices), default=p.default)
    elif p.type == "bool":
        d["default"] = bool(p.default)
    elif p.type == "string":
        d["default"] = p.default
    return d


_TD_TEMPLATE = '''"""{header}

Run inside TouchDesigner (2022 or newer): open the Textport (Alt+T) and type
    exec(open(r'/path/to/performer/patches/touchdesigner/performer_td.py').read())
or paste this file into a Text DAT and right-click it > Run Script. It builds a Base COMP named `performer`
in /project1 (in the root when there is no /project1), holding:
  * a custom page "Performer" with one parameter per Performer parameter (ranges and menus from the registry);
    moving one sends it to the server; the server's own changes (MIDI, presets, the sound) come back into them;
  * a page "Commands": preset load/save/next/prev, MIDI learn and cancel (type the name, then pulse "send");
  * `oscout`: an OSC Out DAT sending to SERVER_HOST:SERVER_PORT (the server);
  * `oscin`: an OSC In DAT listening on FEEDBACK_PORT, whose callbacks (`oscin_callbacks`) fill the table
    `analysis` (class, confidence, level, peak, onset, centroid, fps, latency, last error) and move the custom
    parameters when the server reports a change (from MIDI, a preset, another client);
  * `ndiin` -> `frames`: an NDI In TOP receiving the dream, and a Null TOP to take it from.
Start the server with
    performer serve --preset club --osc-out 127.0.0.1:{feedback_port}
and pick the NDI source in `ndiin` (its name is "<machine> (<name of the preset's ndi output>)").
Running the script again rebuilds the COMP.
"""

SERVER_HOST = {host!r}
SERVER_PORT = {port}
FEEDBACK_PORT = {feedback_port}
NDI_SOURCE = {ndi!r}

PARAMS = {params}

COMMANDS = {commands}


def build(parent=None):
    parent = parent or (op('/project1') if op('/project1') is not None else root)
    old = parent.op('performer')
    if old is not None:
        old.destroy()
    comp = parent.create(baseCOMP, 'performer')
    page = comp.appendCustomPage('Performer')
    for spec in PARAMS:
        kind = spec['type']
        if kind == 'float':
            par = page.appendFloat(spec['name'], label=spec['label'])[0]
        elif kind == 'int':
            par = page.appendInt(spec['name'], label=spec['label'])[0]
        elif kind == 'bool':
            par = page.appendToggle(spec['name'], label=spec['label'])[0]
        elif kind == 'enum':
            par = page.appendMenu(spec['name'], label=spec['label'])[0]
            par.menuNames = spec['choices']
            par.menuLabels = spec['choices']
        elif kind == 'trigger':
            par = page.appendPulse(spec['name'], label=spec['label'])[0]
        else:
            par = page.appendStr(spec['name'], label=spec['label'])[0]
        if 'min' in spec:
            par.min, par.max = spec['min'], spec['max']
            par.normMin, par.normMax = spec['min'], spec['max']
            par.clampMin = par.clampMax = True
        if 'default' in spec:
            par.default = spec['default']
            par.val = spec['default']
        par.help = spec['help']
    cpage = comp.appendCustomPage('Commands')
    for address, types, label in COMMANDS:
        name = ''.join(w.capitalize() for w in address.strip('/').split('/'))
        name = name[:1] + name[1:].lower()
        if types == 's':
            cpage.appendStr(name, label=label)
            cpage.appendPulse(name + 'send', label='send ' + address)
        else:
            cpage.appendPulse(name, label=address)

    oscout = comp.create(oscoutDAT, 'oscout')
    oscout.par.netaddress = SERVER_HOST
    oscout.par.port = SERVER_PORT
    oscout.nodeX, oscout.nodeY = 0, 0

    sender = comp.create(parameterexecuteDAT, 'send_params')
    sender.par.op = comp.path
    sender.par.pars = '*'
    sender.par.valuechange = True
    sender.par.onpulse = True
    sender.nodeX, sender.nodeY = 0, -150
    sender.text = SENDER_CALLBACKS

    table = comp.create(tableDAT, 'params')
    table.clear()
    table.appendRow(['par', 'address', 'type'])
    for spec in PARAMS:
        table.appendRow([spec['name'], spec['address'], spec['type']])
    for address, types, label in COMMANDS:
        name = ''.join(w.capitalize() for w in address.strip('/').split('/'))
        name = name[:1] + name[1:].lower()
        table.appendRow([name + ('send' if types == 's' else ''), address, 'command:' + name])
    table.nodeX, table.nodeY = 200, -150

    analysis = comp.create(tableDAT, 'analysis')
    analysis.clear()
    for row in (['class', ''], ['confidence', 0], ['level', -60], ['peak', -60], ['onset', 0], ['centroid', 0],
                ['fps', 0], ['latency_ms', 0], ['error', '']):
        analysis.appendRow(row)
    analysis.nodeX, analysis.nodeY = 400, 150

    callbacks = comp.create(textDAT, 'oscin_callbacks')
    callbacks.text = RECEIVER_CALLBACKS
    callbacks.nodeX, callbacks.nodeY = 200, 300
    oscin = comp.create(oscinDAT, 'oscin')
    oscin.par.port = FEEDBACK_PORT
    oscin.par.callbacks = callbacks
    oscin.nodeX, oscin.nodeY = 200, 150

    ndi = comp.create(ndiinTOP, 'ndiin')
    ndi.par.extraips = SERVER_HOST
    ndi.nodeX, ndi.nodeY = 600, 0
    out = comp.create(nullTOP, 'frames')
    out.inputConnectors[0].connect(ndi)
    out.nodeX, out.nodeY = 800, 0
    print('performer: built', comp.path, '- pick the NDI source in', ndi.path,
          '(it ends with "(' + NDI_SOURCE + ')" or your preset\\'s ndi output name)')
    return comp


SENDER_CALLBACKS = """# Sends each parameter of the Performer COMP to the server. Generated; see performer_td.py.
def _row(par):
    t = op('params')
    cell = t[par.name, 'address'] if t is not None else None
    return (cell.val, t[par.name, 'type'].val) if cell is not None else (None, None)

def onValueChange(par, prev):
    address, kind = _row(par)
    if address is None or kind.startswith('command:') or kind == 'trigger':
        return
    if parent().fetch('_receiving', False, search=False):
        return
    value = par.eval()
    if kind == 'int' or kind == 'bool':
        value = int(value)
    elif kind == 'float':
        value = float(value)
    else:
        value = str(value)
    op('oscout').sendOSC(address, [value])

def onPulse(par):
    address, kind = _row(par)
    if address is None:
        return
    if kind.startswith('command:'):
        text_par = getattr(parent().par, kind.split(':', 1)[1], None)
        if text_par is not None and text_par.style == 'Str':
            op('oscout').sendOSC(address, [text_par.eval()])
            return
    op('oscout').sendOSC(address, [])
"""

RECEIVER_CALLBACKS = """# What the server sends: analysis into the `analysis` table, parameter changes into the custom parameters.
ANALYSIS = {{'/performer/level': 'level', '/performer/peak': 'peak', '/performer/onset': 'onset',
            '/performer/centroid': 'centroid', '/performer/status/fps': 'fps',
            '/performer/status/latency_ms': 'latency_ms'}}

def onReceiveOSC(dat, rowIndex, message, bytes, timeStamp, address, args, peer):
    table = op('analysis')
    if address == '/performer/class' and len(args) >= 3:
        table['class', 1] = args[0]
        table['confidence', 1] = args[2]
    elif address in ANALYSIS and args:
        table[ANALYSIS[address], 1] = args[0]
    elif address == '/performer/error' and len(args) >= 2:
        table['error', 1] = str(args[0]) + ': ' + str(args[1])
    else:
        params = op('params')
        for r in range(1, params.numRows):
            if params[r, 'address'].val == address and args and params[r, 'type'].val not in ('trigger',):
                par = getattr(parent().par, params[r, 'par'].val, None)
                if par is not None:
                    comp = parent()
                    comp.store('_receiving', True)
                    try:
                        par.val = args[0]
                    finally:
                        comp.store('_receiving', False)
                break
    return
"""


build()
'''


def generate_touchdesigner(registry: Registry = REGISTRY) -> str:
    specs = [_td_spec(p) for p in performance_params(registry)]
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"two parameters give the same TouchDesigner name: {sorted(names)}")
    commands = [(a, t, d) for a, t, d in _commands()
                if not a.startswith("/osc/destination") and a not in ("/glove/flex", "/performer/status")]
    params_src = "[\n" + "".join(f"    {s!r},\n" for s in specs) + "]"
    commands_src = "[\n" + "".join(f"    {c!r},\n" for c in commands) + "]"
    header = "\n".join(_header_lines("TouchDesigner"))
    return _TD_TEMPLATE.format(header=header, host=SERVER_HOST, port=SERVER_PORT, feedback_port=FEEDBACK_PORT,
                               ndi=NDI_SOURCE, params=params_src, commands=commands_src)


# ---------------------------------------------------------------------------------------------------------------
# The set of files, and the command
# ---------------------------------------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Registry], str]] = {
    "pd/performer.pd": generate_pd,
    "max/performer.maxpat": generate_max,
    "open-stage-control/performer.json": generate_open_stage_control,
    "touchdesigner/performer_td.py": generate_touchdesigner,
}


def generate_all(registry: Registry = REGISTRY) -> dict[str, str]:
    """Relative path under ``patches/`` -> file content."""
    return {rel: gen(registry) for rel, gen in GENERATORS.items()}


def stale_files(folder: Path, registry: Registry = REGISTRY) -> list[str]:
    """The generated files under ``folder`` that are missing or differ from what the registry gives."""
    stale = []
    for rel, text in generate_all(registry).items():
        path = folder / rel
        if not path.exists() or path.read_text() != text:
            stale.append(rel)
    return stale


def write_all(folder: Path, registry: Registry = REGISTRY) -> list[Path]:
    """Write every generated file that changed; returns the paths written."""
    written = []
    for rel, text in generate_all(registry).items():
        path = folder / rel
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        log.info("wrote %s", path)
        written.append(path)
    return written
