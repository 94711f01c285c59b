"""Stopping is clean whatever the renderer is doing: SIGTERM in the middle of a long frame."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_sigterm_during_a_long_frame_stops_cleanly(tmp_path):
    preset = tmp_path / "long.toml"
    # One frame of 20 steps at 640x360 takes seconds on a CPU: the signal lands inside torch.
    preset.write_text('format = 1\nname = "long frames"\n[params.dream]\nwidth = 640\nheight = 360\n'
                      'iterations = 20\n')
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "performer", "serve", "--input", "demo", "--preset",
                                 str(preset), "--no-osc", "--device", "cpu", "--no-status", "-v"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + 120
            seen = ""
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                seen += line
                if "engine running" in line or not line:
                    break
            assert "engine running" in seen, seen
            time.sleep(1.5)  # well inside a frame
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, seen + err
        assert "terminate called" not in err and "Traceback" not in err, err
        assert time.monotonic() - started < 30
