"""Hostile and broken preset files: each is one clear problem line, never a traceback, a hang or a memory blow-up."""

from __future__ import annotations

import os
import pickle
import sys
import zipfile
from pathlib import Path

import pytest

from performer.errors import ModelError, PresetError
from performer.presets import (
    MAX_PRESET_BYTES,
    Preset,
    check_preset,
    checkpoint_classes,
    find_preset,
    load_preset,
    preset_from_store,
    shipped_classes,
)
from performer.presets.schema import MAX_PROBLEMS


def write(tmp_path: Path, text: str | bytes, name: str = "p.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def one_problem(path: Path, key: str) -> str:
    """The preset has exactly one problem, under ``key``; its line (short, one line, naming the file)."""
    problems = check_preset(path)
    assert [p.key for p in problems] == [key], problems
    line = str(problems[0])
    assert "\n" not in line and len(line) < 400 and str(path) in line
    with pytest.raises(PresetError):
        load_preset(path)
    return line


def test_binary_files_are_not_utf8(tmp_path):
    line = one_problem(write(tmp_path, bytes(range(128, 256)) * 8), "(encoding)")
    assert "UTF-8" in line and "byte 0" in line


@pytest.mark.parametrize("text", ["x = " + "[" * 3000 + "]" * 3000 + "\n",
                                  "[params]\n" + "a = {" * 2000 + "}" * 2000 + "\n"],
                         ids=["arrays", "inline-tables"])
def test_nesting_too_deep_for_the_parser_is_a_problem(tmp_path, text):
    assert "nested too deeply" in one_problem(write(tmp_path, text), "(syntax)")


def test_deep_tables_under_params_are_one_unknown_parameter(tmp_path):
    path = write(tmp_path, "[params." + ".".join(["a"] * 3000) + "]\nb = 1\n")
    line = one_problem(path, "params.a.a")
    assert "no such parameter" in line


def test_folders_devices_and_pipes_are_refused_without_reading(tmp_path):
    assert "not a folder" in one_problem(tmp_path, "(file)")
    if sys.platform.startswith("linux"):
        for device in ("/dev/zero", "/dev/stdin"):  # endless, and blocking: neither is read
            [problem] = check_preset(device)
            assert problem.key == "(file)" and "regular file" in problem.allowed
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.toml"
        os.mkfifo(fifo)  # opening a pipe nobody writes to would block for ever
        assert "device, pipe or socket" in one_problem(fifo, "(file)")


def test_files_over_the_size_limit_are_refused(tmp_path):
    path = write(tmp_path, "# padding\n" * (MAX_PRESET_BYTES // 10 + 1))
    assert f"at most {MAX_PRESET_BYTES // 1024} KiB" in one_problem(path, "(size)")


def test_thousands_of_typos_list_the_first_and_count_the_rest(tmp_path):
    keys = 20_000
    path = write(tmp_path, "[params.dream]\n" + "".join(f"k{i} = 1\n" for i in range(keys)))
    problems = check_preset(path)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].key == "(more)" and problems[-1].value == keys - MAX_PROBLEMS


def test_over_long_names_and_values_are_shortened(tmp_path):
    line = one_problem(write(tmp_path, f'name = "{"x" * 100_000}"\n'), "name")
    assert "at most 100 characters" in line
    with pytest.raises(PresetError, match="File name too long|name"):
        find_preset("a" * 300)  # the file system refuses the name: an error, not an OSError traceback


def test_unknown_classes_prob_sources_images_depths_and_ranges_are_problems(tmp_path):
    path = write(tmp_path, """
[classes.dog_brak]
guide = [207]
[classes.siren]
image = "missing.jpg"
[classes.drilling]
image = "."
[[mapping.routes]]
source = "prob.sirne"
target = "dream.lr"
[[mapping.routes]]
source = "level"
target = "dream.lr"
depth = 1.5
range = [nan, -10.0]
""")
    by_key = {p.key: p for p in check_preset(path)}
    assert set(by_key) == {"classes.dog_brak", "classes.siren.image", "classes.drilling.image",
                           "mapping.routes[0].source", "mapping.routes[1].depth", "mapping.routes[1].range"}
    assert "did you mean dog_bark" in by_key["classes.dog_brak"].allowed
    assert "did you mean siren" in by_key["mapping.routes[0].source"].allowed
    assert str(tmp_path / "missing.jpg") in by_key["classes.siren.image"].allowed
    assert "not a regular file" in by_key["classes.drilling.image"].allowed
    assert "[-1, 1]" in by_key["mapping.routes[1].depth"].allowed
    assert "finite" in by_key["mapping.routes[1].range"].allowed
    # a classifier of other classes checks against its own
    other = write(tmp_path, "[classes.low]\nguide = [1]\n", "other.toml")
    assert check_preset(other, classes=["low", "high"]) == []
    assert [p.key for p in check_preset(other)] == ["classes.low"]


def test_guides_take_imagenet_names_like_the_dream_command(tmp_path):
    path = write(tmp_path, '[classes.dog_bark]\nguide = ["golden retriever", 208, "Samoyed"]\n')
    assert load_preset(path).classes["dog_bark"]["guide"] == [207, 208, 258]
    bad = write(tmp_path, '[classes.dog_bark]\nguide = ["golden retreiver", 5000]\n', "bad.toml")
    [problem] = check_preset(bad)
    assert problem.key == "classes.dog_bark.guide" and "5000 is outside 0..999" in problem.allowed
    bad.write_text('[classes.dog_bark]\nguide = ["retreiver"]\n')
    [problem] = check_preset(bad)
    assert "not an ImageNet class name" in problem.allowed


def test_midi_preset_recalls_are_names(tmp_path):
    path = write(tmp_path, '[[midi.programs]]\nprogram = 1\npreset = "/etc/passwd"\n'
                           '[[midi.notes]]\nnote = 60\npreset = "next"\n')
    [problem] = check_preset(path)
    assert problem.key == "midi.programs[0].preset" and "preset name" in problem.allowed


def test_shipped_classes_are_the_shipped_checkpoints(tmp_path):
    from performer.classifier.checkpoint import load_checkpoint
    from performer.classifier.inference import default_checkpoint

    _, meta = load_checkpoint(default_checkpoint())
    assert shipped_classes() == tuple(meta["classes"])


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_reading_checkpoint_classes_runs_no_code_from_the_file(tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"meta": {"classes": ["a", "b"]}, "x": _Hostile(marker)}))
    assert checkpoint_classes(evil) == ("a", "b")
    assert not marker.exists()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps(_Hostile(marker)))
    with pytest.raises(ModelError, match="has no class list"):
        checkpoint_classes(evil)
    assert not marker.exists()


def test_a_copy_saved_elsewhere_still_finds_its_images(tmp_path):
    from performer.params import ParamStore

    base = Preset(name="b", classes={"siren": {"image": "img/siren.jpg", "guide": [407]}},
                  glove={"calibration": "glove.json"}, path=tmp_path / "set" / "b.toml")
    copy = preset_from_store(ParamStore(), "c", base=base)
    assert copy.classes["siren"]["image"] == str(tmp_path / "set" / "img" / "siren.jpg")
    assert copy.glove["calibration"] == str(tmp_path / "set" / "glove.json")
    assert base.classes["siren"]["image"] == "img/siren.jpg"
