"""`performer serve` as a performer runs it: a short file ends it, the status line fits 80 columns and log lines
never run into it, and --stats carries the controllers' counters."""

from __future__ import annotations

import json
import re
import socket

import pytest
import soundfile as sf

from sounds import tone
from terminal import SMALL_PRESET, on_a_terminal

pytestmark = pytest.mark.timeout(240)



def shipped_model_or_skip():
    from performer.classifier import default_checkpoint

    if not default_checkpoint().is_file():
        pytest.skip(f"no shipped classifier at {default_checkpoint()}")


def serve_on_a_terminal(args: list[str], timeout: float = 180) -> tuple[int, str, str]:
    """Run `performer serve ARGS` with stderr on a pseudo-terminal (so it draws its status line)."""
    return on_a_terminal(["serve", *args], timeout)


def test_a_file_shorter_than_one_window_is_played_and_ends_serve(tmp_path):
    shipped_model_or_skip()
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_PRESET)
    wav = tmp_path / "click.wav"
    sf.write(wav, tone(880, 0.05), 22050)  # 50 ms: less than one hop (0.1 s) and one window (1 s)
    stats = tmp_path / "stats.json"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    out_port = rx.getsockname()[1]
    try:
        code, _, err = serve_on_a_terminal(
            ["--input", str(wav), "--preset", str(preset), "--device", "cpu", "--stats", str(stats),
             "--osc-port", "0", "--oscquery-port", "0", "--osc-out", f"127.0.0.1:{out_port}",
             "--duration", "60"])
        packets = 0
        for _ in range(200):  # bounded: what serve sent while it ran waits in the socket's buffer
            try:
                rx.recv(65536)
            except (TimeoutError, OSError):
                break
            packets += 1
    finally:
        rx.close()
    assert code == 0, err
    assert "click.wav" in err and "finished" in err, err
    assert "duration of 60.0 s reached" not in err
    assert re.search(r"click\.wav lasts 0\.050 s, less than one analysis window \(1\.00 s\)", err), err
    s = json.loads(stats.read_text())
    assert s["hops"] + s["skipped_hops"] >= 1 and s["top_class"] is not None
    control = s["control"]
    assert control["osc_in"]["received"] == 0 and control["osc_in"]["errors"] == {}
    assert control["osc_out"]["sent_packets"] >= 1 and packets >= 1
    assert control["osc_out"]["destinations"] == [f"127.0.0.1:{out_port}"]
    assert control["glove"]["samples"] == 0 and control["glove"]["values"] == {}

    # The status line: redrawn in place (\r), never wider than 79 columns, and no log line glued onto it.
    drawn = [seg for seg in re.split(r"[\r\n]", err) if " fps | " in seg]
    assert drawn, err
    assert all(len(seg) <= 79 for seg in drawn), max(drawn, key=len)
    assert any("skipped hops" in seg for seg in drawn)  # named for what it counts
    for line in err.split("\n"):
        visible = line.split("\r")[-1]  # what the terminal shows once the line is done
        assert not (" fps | " in visible and re.search(r"\d\d:\d\d:\d\d (INFO|WARNING|ERROR)", visible)), line
