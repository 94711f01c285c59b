"""The TouchDesigner script, ``patches/touchdesigner/performer_td.py``.

Run inside TouchDesigner, the script builds a Base COMP with a custom parameter per Performer parameter,
a page of commands, an OSC Out DAT to the server, an OSC In DAT whose callbacks fill an analysis table and
move the parameters when the server reports a change, and an NDI In TOP receiving the dream.
"""

from __future__ import annotations

import re
from typing import Any

from performer.params import REGISTRY, Param, Registry
from performer.patches.common import (
    FEEDBACK_PORT,
    NDI_SOURCE,
    SERVER_HOST,
    SERVER_PORT,
    header_lines,
    osc_commands,
    performance_params,
)


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


# The generated script, filled in by str.format (so its own braces are doubled). It is an ordinary string, not a
# raw one: a backslash at the end of a line joins it to the next in the output, which keeps this source under the
# line length without changing the script.
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

RECEIVER_CALLBACKS = """# What the server sends: analysis into the `analysis` table, \
parameter changes into the custom parameters.
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
    commands = [(a, t, d) for a, t, d in osc_commands()
                if not a.startswith("/osc/destination") and a not in ("/glove/flex", "/performer/status")]
    params_src = "[\n" + "".join(f"    {s!r},\n" for s in specs) + "]"
    commands_src = "[\n" + "".join(f"    {c!r},\n" for c in commands) + "]"
    header = "\n".join(header_lines("TouchDesigner"))
    return _TD_TEMPLATE.format(header=header, host=SERVER_HOST, port=SERVER_PORT, feedback_port=FEEDBACK_PORT,
                               ndi=NDI_SOURCE, params=params_src, commands=commands_src)
