"""The generated patches: current with the registry, well-formed, and the Pd patch driving a real OSC server."""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import time

import pytest

from conftest import REPO
from performer import patches
from performer.cli import patches as patches_cli
from performer.control import COMMANDS
from performer.control.osc import OscServer
from performer.params import REGISTRY, ParamStore

PATCHES = REPO / "patches"
COMMAND_ADDRESSES = {a for a, _, _ in COMMANDS}
PARAM_ADDRESSES = {p.address for p in REGISTRY}
ANALYSIS_ADDRESSES = {a for a, _, _ in patches.ANALYSIS}


def known_in(address: str) -> bool:
    """An address the server accepts: a parameter, its /normalized form, or a command."""
    base = address.removesuffix("/normalized")
    return base in PARAM_ADDRESSES or address in COMMAND_ADDRESSES


def run_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    patches_cli.register(parser.add_subparsers())
    args = parser.parse_args(["patches", *argv])
    return args.func(args)


def test_committed_patches_are_current():
    stale = patches.stale_files(PATCHES)
    assert stale == [], f"run `performer patches --write`: stale {stale}"


def test_check_and_write_commands(tmp_path, capsys):
    assert run_command("--check", "--dir", str(tmp_path)) == 1  # nothing there yet
    assert run_command("--write", "--dir", str(tmp_path)) == 0
    assert run_command("--check", "--dir", str(tmp_path)) == 0
    pd = tmp_path / "pd" / "performer.pd"
    pd.write_text(pd.read_text().replace("dream lr", "dream lr_old"))
    assert run_command("--check", "--dir", str(tmp_path)) == 1
    assert "pd/performer.pd" in capsys.readouterr().err
    assert run_command("--write", "--dir", str(tmp_path)) == 0
    assert patches.stale_files(tmp_path) == []


def test_every_generated_file_says_it_is_generated():
    for rel, text in patches.generate_all().items():
        assert patches.GENERATED_BY in text, rel


def test_a_new_parameter_reaches_every_patch():
    from performer.params import PARAMS, Param, Registry

    extra = Param("dream.sparkle", "float", 0.5, "dream", "A test parameter.", "", 0.0, 1.0)
    reg = Registry(PARAMS + (extra,))
    for rel, text in patches.generate_all(reg).items():
        assert "sparkle" in text, rel


# --- structure ----------------------------------------------------------------------------------------------------

def test_pd_patch_structure():
    text = (PATCHES / "pd" / "performer.pd").read_text()
    records = [r.strip() for r in re.split(r"(?<!\\);\n", text) if r.strip()]
    assert records[0].startswith("#N canvas")
    n_boxes = sum(1 for r in records if r.startswith("#X ") and not r.startswith("#X connect"))
    for r in records:
        if r.startswith("#X connect"):
            a, _, b, _ = map(int, r.split()[2:6])
            assert a < n_boxes and b < n_boxes, r
    paths = ["/" + "/".join(m.split()) for m in re.findall(r"oscformat (?:-f \w+ )?([^;]+)", text)]
    assert all(known_in(p) for p in paths), [p for p in paths if not known_in(p)]
    for p in REGISTRY:
        assert f"pf-{p.name} " in text, f"no Pd control for {p.name}"
    assert "netsend -u -b" in text and "netreceive -u -b 9002" in text and "oscparse" in text


def test_max_patch_structure():
    data = json.loads((PATCHES / "max" / "performer.maxpat").read_text())
    boxes = {b["box"]["id"]: b["box"] for b in data["patcher"]["boxes"]}
    for line in data["patcher"]["lines"]:
        src, dst = line["patchline"]["source"], line["patchline"]["destination"]
        assert src[0] in boxes and dst[0] in boxes
        assert src[1] < boxes[src[0]]["numoutlets"] and dst[1] < boxes[dst[0]]["numinlets"], line
    texts = [b.get("text", "") for b in boxes.values()]
    sent = [t.split()[1] for t in texts if t.startswith("prepend /")]
    sent += [t.split()[0] for b, t in zip(boxes.values(), texts) if b["maxclass"] == "message" and t.startswith("/")]
    assert all(known_in(a) for a in sent), [a for a in sent if not known_in(a)]
    assert {p.address for p in REGISTRY} <= set(sent)
    assert any(t == "udpsend 127.0.0.1 9000" for t in texts) and any(t == "udpreceive 9002" for t in texts)


def _widgets(node):
    for w in node.get("widgets", []):
        yield w
        yield from _widgets(w)


def test_open_stage_control_session_structure():
    data = json.loads((PATCHES / "open-stage-control" / "performer.json").read_text())
    assert data["type"] == "session" and data["content"]["type"] == "root"
    widgets = list(_widgets(data["content"]))
    ids = [w["id"] for w in widgets]
    assert len(ids) == len(set(ids))
    controls = [w for w in widgets if w["type"] not in ("panel",)]
    for w in controls:
        assert known_in(w["address"]) or w["address"] in ANALYSIS_ADDRESSES, w["address"]
    by_address = {w["address"]: w for w in controls}
    for p in REGISTRY:
        w = by_address[p.address]
        if p.numeric:
            assert w["type"] == "fader" and w["range"] == {"min": p.min, "max": p.max}
        elif p.type == "enum":
            assert w["type"] == "dropdown" and list(w["values"].values()) == list(p.choices)


def test_touchdesigner_script_structure():
    source = (PATCHES / "touchdesigner" / "performer_td.py").read_text()
    tree = ast.parse(source)
    consts = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
              if isinstance(t, ast.Name)}
    specs = ast.literal_eval(consts["PARAMS"])
    assert [s["address"] for s in specs] == [p.address for p in REGISTRY]
    names = [s["name"] for s in specs]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Z][a-z0-9]*", n) for n in names), names
    commands = ast.literal_eval(consts["COMMANDS"])
    assert all(a in COMMAND_ADDRESSES for a, _, _ in commands)
    for op_type in ("oscoutDAT", "oscinDAT", "ndiinTOP", "parameterexecuteDAT", "baseCOMP"):
        assert op_type in source
    for callback in ("SENDER_CALLBACKS", "RECEIVER_CALLBACKS"):
        ast.parse(ast.literal_eval(consts[callback]))  # the DAT scripts are valid Python too


# --- Pure Data against a real OSC server --------------------------------------------------------------------------

def test_pd_patch_drives_the_osc_server(tmp_path):
    pd = shutil.which("pd") or shutil.which("puredata")
    if pd is None:
        pytest.skip("Pure Data is not installed (Debian: apt-get install puredata-core); .ci/run installs it")
    store = ParamStore()
    server = OscServer(store, port=0)
    server.start()
    fired: list[str] = []
    store.subscribe(lambda c: fired.append(c.name) if c.name == "dream.restart" else None)
    sends = ["pf-connect disconnect", f"pf-connect connect 127.0.0.1 {server.port}",
             "pf-dream.iterations 7", "pf-dream.lr 0.1", "pf-dream.rotate -4.5", "pf-classifier.lock 1",
             "pf-dream.seed 3", "pf-output.layout 1", "pf-dream.layers symbol blocks.8=1", "pf-dream.restart bang"]
    argv = [pd, "-nogui", "-noaudio", "-nomidi", "-stderr", "-open", str(PATCHES / "pd" / "performer.pd")]
    for s in sends:
        argv += ["-send", s]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (fired and store.target("dream.layers")):
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        server.stop()
    # Every object of the patch exists in this Pd (a busy port 9002 on a shared machine is not the patch's fault).
    assert "couldn't create" not in out, out
    assert store.target("dream.iterations") == 7, out
    assert store.target("dream.lr") == pytest.approx(0.1, abs=2e-4)
    assert store.target("dream.rotate") == pytest.approx(-4.5, abs=2e-3)
    assert store.target("classifier.lock") is True
    assert store.target("dream.seed") == "previous"
    assert store.target("output.layout") == "composite"
    assert store.target("dream.layers") == "blocks.8=1"
    assert fired == ["dream.restart"]
    assert sum(server.errors.values()) == 0, dict(server.errors)


def test_pd_patch_shows_what_the_server_sends():
    pd = shutil.which("pd") or shutil.which("puredata")
    if pd is None:
        pytest.skip("Pure Data is not installed (Debian: apt-get install puredata-core); .ci/run installs it")
    import socket

    from performer.control.osc import OscSender

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a free port for the patch to listen on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [pd, "-nogui", "-noaudio", "-nomidi", "-stderr", "-open", str(PATCHES / "pd" / "performer.pd"),
            "-send", f"pf-listen listen {port}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sender = OscSender(ParamStore(), [("127.0.0.1", port)])
    try:
        time.sleep(1.0)  # pd starts and listens
        for _ in range(5):  # the server sends bundles; UDP may lose one while pd starts
            sender.send([("/performer/level", [-20.0]), ("/performer/class", ["dog_bark", 3, 0.875])])
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=5)
        sender.stop()
    assert "performer-class: list dog_bark 3 0.875" in out, out


def test_performer_patches_command(cli):
    from performer.cli import COMMAND_MODULES

    assert "performer.cli.patches" in COMMAND_MODULES
    proc = cli("patches", "--check", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
