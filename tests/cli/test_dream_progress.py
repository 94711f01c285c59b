"""`performer dream` says how far a render has got (a progress bar on a terminal) and where it wrote the picture."""

from __future__ import annotations

import io
import re

import pytest

from performer.cli.dream import Progress
from terminal import on_a_terminal

pytestmark = pytest.mark.timeout(240)
ARGS = ["--width", "96", "--height", "64", "--iterations", "3", "--octaves", "2", "--device", "cpu",
        "--threads", "1"]


def test_the_end_says_where_the_picture_went(cli, tmp_path):
    out = tmp_path / "dream.png"
    proc = cli("dream", "noise", "--out", str(out), *ARGS, timeout=180, check=True)
    from PIL import Image

    assert Image.open(out).size == (96, 64)
    assert re.fullmatch(rf"wrote {re.escape(str(out))} \(96x64, 6 steps over 2 octaves in \d+\.\d s\)\n", proc.stdout)
    assert "\r" not in proc.stderr  # no bar when stderr is not a terminal (a log, a pipe)


def test_on_a_terminal_a_bar_counts_the_steps_to_100_percent(tmp_path):
    code, out, err = on_a_terminal(["dream", "noise", "--out", str(tmp_path / "d.png"), *ARGS])
    assert code == 0, err
    drawn = [seg.strip() for seg in re.split(r"[\r\n]", err) if seg.strip()]
    assert any(seg.startswith("loading") for seg in drawn), drawn
    bars = [seg for seg in drawn if seg.startswith("dreaming 96x64")]
    assert bars and "step 6/6" in bars[-1] and "100%" in bars[-1], drawn
    assert any("octave 1/2" in b for b in bars) and "octave 2/2" in bars[-1]
    percents = [int(m.group(1)) for b in bars for m in [re.search(r"(\d+)%", b)] if m]
    assert percents == sorted(percents)
    assert all(len(seg) <= 79 for seg in drawn)
    assert out.startswith("wrote ")


def test_the_bar_weighs_steps_by_their_octaves_size():
    stream = io.StringIO()
    p = Progress("64x48", [(24, 32), (48, 64)], iterations=2, stream=stream, clock=lambda: 0.0, tty=True)
    for _ in range(2):
        p.step()  # two steps of the small octave started and done once the third starts
    p.step()
    assert "octave 2/2" in stream.getvalue().split("\r")[-1]
    assert p.fraction == pytest.approx((2 * 24 * 32) / (2 * 24 * 32 + 2 * 48 * 64))
    p.finish()
    assert p.fraction == 1.0 and stream.getvalue().endswith("\n")
