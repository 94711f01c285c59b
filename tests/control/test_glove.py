"""The glove: its values and counters for status and --stats, and a calibration that waits for each pose."""

from __future__ import annotations

import time

import pytest

from performer.control.glove import Calibration, Glove, calibrate


def test_values_and_stats_show_what_the_glove_reads():
    sources: dict[str, float] = {}
    glove = Glove(sources, fingers=3, calibration=Calibration([100.0] * 3, [900.0] * 3), smoothing=0.0)
    assert glove.values() == {} and glove.stats()["samples"] == 0 and glove.stats()["last_sample_age_s"] is None
    glove.feed_line("100,500,900")
    glove.feed_line("garbage")
    assert glove.values() == {"glove.1": 0.0, "glove.2": 0.5, "glove.3": 1.0, "glove.fist": 0.5}
    assert glove.values() == {k: pytest.approx(v) for k, v in sources.items()}  # what the mod matrix sees
    st = glove.stats()
    assert st["samples"] == 1 and st["bad_lines"] == 1 and st["raw"] == [100.0, 500.0, 900.0]
    assert st["fingers"] == 3 and 0.0 <= st["last_sample_age_s"] < 5.0
    assert st["values"] == glove.values()


class SlowHand:
    """A hand read at ~100 Hz that takes ``move`` seconds to close after it is asked for the fist."""

    def __init__(self, open_value=200.0, fist_value=800.0, move=0.5):
        self.open_value, self.fist_value, self.move = open_value, fist_value, move
        self.asked_at: float | None = None
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)
        if self.asked_at is None and "fist" in text:
            self.asked_at = time.monotonic()

    def read(self):
        time.sleep(0.01)
        if self.asked_at is None:
            v = self.open_value
        else:
            k = min(1.0, (time.monotonic() - self.asked_at) / self.move)
            v = self.open_value + k * (self.fist_value - self.open_value)
        return [v, v]


def test_calibration_waits_for_the_fist_and_throws_the_transition_away():
    hand = SlowHand(move=0.5)
    cal = calibrate(hand.read, seconds=0.6, pause=1.0, say=hand.say)
    assert cal.open == [pytest.approx(200.0)] * 2
    assert all(v > 795 for v in cal.fist), cal.fist  # only the held fist, none of the closing hand
    fist_prompt = next(i for i, t in enumerate(hand.said) if "fist" in t)
    assert "1 s" in hand.said[fist_prompt]  # the countdown is announced
    assert any(t.startswith("Recording the fist") for t in hand.said[fist_prompt + 1:])


def test_without_a_pause_the_closing_hand_spoils_the_fist_average():
    hand = SlowHand(move=0.5)
    cal = calibrate(hand.read, seconds=0.6, pause=0.0, say=hand.say)
    assert all(v < 750 for v in cal.fist), cal.fist  # what the pause is for


def test_calibrate_command_counts_down_and_records_the_held_fist(tmp_path):
    import os
    import subprocess
    import sys
    import threading

    from conftest import REPO

    master, slave = os.openpty()
    stop = threading.Event()
    asked: list[float] = []

    def emit():  # ~100 Hz; the hand takes 0.4 s to close once the fist is asked for
        while not stop.is_set():
            k = min(1.0, (time.monotonic() - asked[0]) / 0.4) if asked else 0.0
            v = round(200 + 600 * k)
            os.write(master, f"{v},{v},{v}\n".encode())
            time.sleep(0.01)

    t = threading.Thread(target=emit, daemon=True)
    t.start()
    out = tmp_path / "cal.json"
    proc = subprocess.Popen([sys.executable, "-m", "performer", "glove", "calibrate", "--port", os.ttyname(slave),
                             "--fingers", "3", "--seconds", "0.8", "--pause", "1.0", "--out", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "fist" in line and not asked:
                asked.append(time.monotonic())
        err = proc.communicate(timeout=60)[1]
    finally:
        stop.set()
        t.join(1)
        os.close(master)
        os.close(slave)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert any("recording starts in 1 s" in line for line in lines), lines
    cal = Calibration.load(out)
    assert all(v < 210 for v in cal.open) and all(v > 780 for v in cal.fist), (cal, lines)
