"""A first user's mistakes on the command line: refused at once, in one line, before any model loads."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, SHARED_DATA_ENV, shared_data_root
from performer.cli.main import build_parser

CHECKPOINT = REPO / "models" / "urbansound8k_realtime.pt"


def one_error_line(proc, *words: str) -> str:
    """The error is one line naming the words, and no traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("args, words", [
    (["serve", "--osc-out", "7000"], ["--osc-out", "'7000'", "HOST:PORT"]),
    (["serve", "--osc-out", "localhost:99999"], ["--osc-out", "99999", "1-65535"]),
    (["serve", "--osc-port", "nine"], ["--osc-port", "'nine'", "integer"]),
    (["serve", "--oscquery-port", "-1"], ["--oscquery-port", "'-1'", "[0, 65535]"]),
    (["serve", "--allow", "my-laptop"], ["--allow", "'my-laptop'", "IP address"]),
    (["serve", "--input", ""], ["--input", "empty"]),
    (["serve", "--duration", "0"], ["--duration", "'0'", "> 0"]),
    (["serve", "--threads", "0"], ["--threads", "'0'", ">= 1"]),
    (["serve", "--model", "no-such.pt"], ["--model", "no-such.pt", "does not exist"]),
    (["classify", "x.wav", "--hop", "-1"], ["--hop", "'-1'"]),
    (["evaluate", "--data", "no-such-dir", "--model", str(CHECKPOINT)], ["--data", "no-such-dir", "folder"]),
    (["evaluate", "--data", ".", "--model", str(CHECKPOINT), "--windows", "1,x"], ["--windows", "'x'"]),
    (["train", "--data", ".", "--folds", "one"], ["--folds", "'one'"]),
    (["glove", "calibrate", "--port", "/dev/null", "--seconds", "-2"], ["--seconds", "'-2'"]),
])
def test_bad_options_exit_2_at_once_with_one_line(cli, args, words):
    t0 = time.monotonic()
    proc = cli(*args, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    one_error_line(proc, *words)
    # No model was loaded: the parser refused it (a model load takes seconds; the bound is generous).
    assert elapsed < 20, elapsed


def test_osc_out_forms_accepted_by_the_parser():
    p = build_parser()
    args = p.parse_args(["serve", "--osc-out", "127.0.0.1:7000", "--osc-out", "[::1]:7001",
                         "--osc-out", "show-pc.local:9001", "--allow", "192.168.1.20"])
    assert args.osc_out == [("127.0.0.1", 7000), ("::1", 7001), ("show-pc.local", 9001)]
    assert args.allow == ["192.168.1.20"]


def test_every_option_and_argument_of_every_command_has_help_text():
    """Every command's options and arguments (the benchmarks' too) say what they do."""
    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, path + [name])
            elif a.help is None:
                missing.append(" ".join(path + [a.option_strings[-1] if a.option_strings else a.dest]))

    walk(build_parser(), ["performer"])
    assert not missing, missing


def test_missing_or_unreadable_sound_file_is_one_line_before_the_model_loads(cli, tmp_path):
    proc = cli("classify", str(tmp_path / "missing.wav"), timeout=60)
    assert proc.returncode == 1
    one_error_line(proc, "missing.wav", "does not exist")
    assert "torch device" not in proc.stderr and "loaded" not in proc.stderr  # checked before the model

    text = tmp_path / "notes.wav"
    text.write_text("this is not a sound")
    proc = cli("classify", str(text), timeout=60)
    assert proc.returncode == 1
    one_error_line(proc, "notes.wav", "cannot be read as sound")

    proc = cli("classify", str(tmp_path), timeout=60)
    assert proc.returncode == 1
    one_error_line(proc, "is a folder")


def test_a_bad_checkpoint_is_one_line_for_classify_and_evaluate(cli, tmp_path):
    wav = tmp_path / "tone.wav"
    sf.write(wav, (0.3 * np.sin(np.arange(22050) * 0.1)).astype(np.float32), 22050)
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint at all")
    proc = cli("classify", str(wav), "--model", str(bad), timeout=120)
    assert proc.returncode == 1
    one_error_line(proc, "model.pt")
    data = tmp_path / "data" / "dog"
    data.mkdir(parents=True)
    sf.write(data / "a.wav", np.zeros(22050, np.float32), 22050)
    proc = cli("evaluate", "--data", str(tmp_path / "data"), "--model", str(bad), timeout=120)
    assert proc.returncode == 1
    one_error_line(proc, "model.pt")


def test_evaluate_on_a_set_that_is_not_one_is_one_line(cli, tmp_path):
    if not CHECKPOINT.is_file():
        pytest.skip(f"the shipped checkpoint {CHECKPOINT} is not there")
    (tmp_path / "empty").mkdir()
    proc = cli("evaluate", "--data", str(tmp_path / "empty"), "--model", str(CHECKPOINT), timeout=120)
    assert proc.returncode == 1
    one_error_line(proc, "empty")


def test_commands_other_than_serve_are_quiet_unless_asked(cli, tmp_path):
    if not CHECKPOINT.is_file():
        pytest.skip(f"the shipped checkpoint {CHECKPOINT} is not there")
    wav = tmp_path / "tone.wav"
    sf.write(wav, (0.3 * np.sin(np.arange(22050) * 0.2)).astype(np.float32), 22050)
    quiet = cli("classify", str(wav), timeout=120, check=True)
    assert "INFO" not in quiet.stderr and "overall:" in quiet.stdout
    loud = cli("classify", str(wav), "-v", timeout=120, check=True)
    assert "INFO" in loud.stderr and "torch device" in loud.stderr
    assert "INFO" in cli("-v", "classify", str(wav), timeout=120, check=True).stderr


def test_shared_data_is_found_through_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(SHARED_DATA_ENV, str(tmp_path))
    assert shared_data_root() == tmp_path
    monkeypatch.delenv(SHARED_DATA_ENV)
    assert shared_data_root() == REPO.parent / "shared" / "data"


@pytest.mark.parametrize("args, usage", [
    (["serve", "--bogus"], "usage: performer serve "),
    (["serve", "--input", "demo", "--prevew"], "usage: performer serve "),
    (["preset", "new", "x.toml", "--bogus"], "usage: performer preset new "),
    (["bench", "look", "--bogus"], "usage: performer bench look "),
])
def test_an_unknown_option_is_refused_with_the_commands_own_usage(cli, tmp_path, args, usage):
    proc = cli(*args, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(usage), proc.stderr
    line = one_error_line(proc, args[-1], "unrecognized")
    assert line.startswith(usage.split()[1] + " " + usage.split()[2]), line  # "performer serve: error: ..."
    if args[-1] == "--bogus":  # nothing like it: the line says where the allowed options are, guesses none
        assert "did you mean" not in line and f"`{usage[7:].strip()} --help`" in line, line
    assert not (tmp_path / "x.toml").exists()


def test_a_misspelt_option_names_the_option_it_resembles(cli):
    proc = cli("serve", "--overwirte", timeout=60)
    assert proc.returncode == 2
    assert "--overwrite" in one_error_line(proc, "--overwirte")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
@pytest.mark.parametrize("args, words", [
    (["classify", "/dev/zero"], ["/dev/zero", "a character device, not a sound file", "WAV"]),
    (["serve", "--input", "/dev/zero"], ["--input", "/dev/zero", "a character device, not a sound file"]),
    (["serve", "--video", "/dev/zero"], ["--video", "'/dev/zero'", "a character device, not a video file",
                                         "camera:/dev/videoN"]),
    (["serve", "--model", "/dev/zero"], ["--model", "/dev/zero", "a character device, not a file"]),
])
def test_a_device_file_is_named_for_what_it_is_not_missing(cli, args, words):
    proc = cli(*args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc, *words)
    assert "does not exist" not in line and "no such file" not in line, line
