"""`performer serve` stopped by SIGTERM or Ctrl-C while it is still loading: it stops what it opened, says so and
exits 0 (it died of the signal, exit -15, with nothing cleaned up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("marker", [
    "torch CPU threads",  # logged in the middle of loading: the classifiers and the renderer come next
    "warming up",         # the network, the classifier's warm-up and the portraits come next
])
def test_a_stop_signal_while_models_load_stops_cleanly(tmp_path, marker, signum):
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-m", "performer", "serve", "--input", "demo", "--no-osc", "--no-status",
                             "--device", "cpu", "--stats", str(stats), "--frames", str(tmp_path / "frames")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = ""
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen += line
            if marker in line:
                proc.send_signal(signum)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = seen + err
    assert marker in seen, seen
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "terminate called" not in err, err
    name = signal.Signals(signum).name
    assert f"{name} received while warming up: stopping" in err, err
    assert "stopped before the engine ran" in err, err
    assert "engine running" not in err, err
