"""The Pure Data patch, ``patches/pd/performer.pd``.

A slider, toggle, radio, bang or symbol box per parameter sending OSC (``oscformat`` + ``netsend -u -b``),
message boxes for preset recall and MIDI learn, and a receiver showing the analysis
(``netreceive -u -b`` + ``oscparse``).
"""

from __future__ import annotations

import re

from performer.params import REGISTRY, Param, Registry
from performer.patches.common import (
    FEEDBACK_PORT,
    SERVER_HOST,
    SERVER_PORT,
    bounds,
    header_lines,
    osc_commands,
    performance_params,
)


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
    for i, line in enumerate(header_lines("Pure Data") + [
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
            lo, hi = bounds(p)
            ui = pd.obj(x, y + 14, f"hsl 160 15 {_pd_num(lo)} {_pd_num(hi)} 0 0 empty {rname} empty "
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
    for address, types, desc in osc_commands():
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
