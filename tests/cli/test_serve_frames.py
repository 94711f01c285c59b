"""`performer serve --frames DIR`: a folder holding an earlier run is refused at once, in one line, unless
--overwrite; with it the old frames go and the new run is numbered from 1; the end says what was written and
dropped."""

from __future__ import annotations

import csv

import pytest

from terminal import SMALL_PRESET


def earlier_run(folder):
    folder.mkdir()
    (folder / "frame-000001.jpg").write_bytes(b"old")
    (folder / "frame-000002.jpg").write_bytes(b"old")
    (folder / "index.csv").write_text("frame,time,wall_time,file,top_class,confidence,engine_frame\n"
                                      "1,0.1,0,frame-000001.jpg,,0,1\n2,0.2,0,frame-000002.jpg,,0,2\n")


def test_a_frames_folder_holding_an_earlier_run_is_refused_in_one_line_before_anything_loads(cli, tmp_path):
    folder = tmp_path / "frames"
    earlier_run(folder)
    proc = cli("serve", "--input", "demo", "--frames", str(folder), "--no-status", "--no-osc", timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, proc.stderr
    assert str(folder) in errors[0] and "2 frame file(s)" in errors[0] and "--overwrite" in errors[0]
    assert "torch device" not in proc.stderr and "loaded" not in proc.stderr  # refused before the models
    assert sorted(p.name for p in folder.iterdir()) == ["frame-000001.jpg", "frame-000002.jpg", "index.csv"]


def test_overwrite_starts_the_folder_afresh_and_the_end_counts_the_frames(cli, tmp_path):
    from performer.classifier import default_checkpoint

    if not default_checkpoint().is_file():
        pytest.skip(f"no shipped classifier at {default_checkpoint()}")
    preset = tmp_path / "small.toml"
    preset.write_text(SMALL_PRESET)
    folder = tmp_path / "frames"
    earlier_run(folder)
    proc = cli("serve", "--input", "demo", "--preset", str(preset), "--frames", str(folder), "--overwrite",
               "--duration", "2", "--no-status", "--no-osc", "--threads", "1", timeout=180)
    assert proc.returncode == 0, proc.stderr
    with open(folder / "index.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and rows[0]["frame"] == "1" and rows[0]["engine_frame"] == "1"
    assert sorted(p.name for p in folder.glob("frame-*.jpg")) == [f"frame-{k:06d}.jpg" for k in range(1, len(rows) + 1)]
    assert (folder / "frame-000001.jpg").read_bytes()[:2] == b"\xff\xd8"  # a new JPEG, not the old file
    summary = [line for line in proc.stderr.splitlines() if "frames output '--frames'" in line and "written" in line]
    assert len(summary) == 1 and f"{len(rows)} frames written to {folder}" in summary[0], proc.stderr
    assert "dropped" in summary[0]
