"""`performer serve --preview [PORT]`: the browser preview without writing a preset."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO
from performer.cli.main import build_parser
from terminal import SMALL_PRESET

pytestmark = pytest.mark.timeout(240)



def test_the_option_takes_a_port_or_gives_the_default_one(capsys):
    parser = build_parser()
    assert parser.parse_args(["serve"]).preview is None
    assert parser.parse_args(["serve", "--preview"]).preview == 8765
    assert parser.parse_args(["serve", "--preview", "--input", "demo"]).preview == 8765
    assert parser.parse_args(["serve", "--preview", "9100"]).preview == 9100
    assert parser.parse_args(["serve", "--preview", "0"]).preview == 0  # any free port
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["serve", "--preview", "http"])
    assert e.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "--preview" in err[0] and "'http'" in err[0] and "[0, 65535]" in err[0], err


def test_a_port_in_use_is_refused_in_one_line_before_anything_loads(cli, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = cli("serve", "--input", "demo", "--no-osc", "--preview", str(port), timeout=120)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line or "error:" in line]
    assert len(errors) == 1 and f"--preview {port}" in errors[0] and "in use" in errors[0], proc.stderr
    assert "another port" in errors[0] and "0 for any free one" in errors[0]
    assert "classifier" not in proc.stderr  # refused before the models load


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except (urllib.error.URLError, OSError) as e:
        return getattr(e, "code", 0), b""


def test_serve_preview_serves_the_page_and_the_live_frame(tmp_path):
    from performer.classifier import default_checkpoint

    if not default_checkpoint().is_file():
        pytest.skip(f"no shipped classifier at {default_checkpoint()}")
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_PRESET)
    proc = subprocess.Popen([sys.executable, "-m", "performer", "serve", "--input", "demo", "--preset", str(preset),
                             "--no-osc", "--no-status", "--device", "cpu", "--preview", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen, url = "", None
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen += line
            m = re.search(r"preview output '--preview' at (http://\S+/)", line)
            if m:
                url = m.group(1)
            if "engine running" in line:
                break
        assert url is not None, seen
        deadline = time.monotonic() + 60
        while get(url + "frame.jpg")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        status, jpeg = get(url + "frame.jpg")
        page = get(url)[1]
        state = json.loads(get(url + "state.json")[1])
        control = get(url + "control")[0]
        from websockets.sync.client import connect

        with connect(url.replace("http://", "ws://") + "control/ws", open_timeout=10) as ws:  # a page connects
            hello = json.loads(ws.recv(timeout=10))
        deadline = time.monotonic() + 10
        while "control page from" not in seen and time.monotonic() < deadline:  # its session has ended
            seen += proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, seen + err
    from PIL import Image

    assert status == 200 and Image.open(io.BytesIO(jpeg)).size == (1280, 720)  # the outputs' size, not 64x64
    assert b'id="dream"' in page and state["frame"] is not None and state["status"]["state"] == "running"
    assert control == 200 and hello["type"] == "hello"  # the control page comes with it
    assert "control page connected" in seen
    assert "websockets" not in seen + err  # no library chatter ("websockets.server: connection open")


def test_the_port_of_a_preview_in_the_preset_is_refused_before_anything_loads(cli, tmp_path):
    preset = tmp_path / "booth.toml"
    preset.write_text(SMALL_PRESET + '\n[outputs.booth]\ntype = "preview"\nport = 9345\n')
    proc = cli("serve", "--input", "demo", "--no-osc", "--preset", str(preset), "--preview", "9345", timeout=120)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "--preview 9345: the preset's preview output 'booth' has port 9345" in errors[0]
    assert "classifier" not in proc.stderr
