"""Issue #24 item 6: ``serve --model garbage.pt`` ended in a 15-line traceback (presets/classes.py), and a checkpoint
of other classes was reported as "default.toml has 10 problem(s)". Each is now one line naming the file, what is
wrong and what is allowed.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pytest

from conftest import run_cli
from performer.errors import ModelError, PerformerError, PresetError
from performer.presets import checkpoint_classes, load_preset
from performer.resources import presets_dir

ALLOWED = "allowed: a classifier checkpoint written by `performer train`"
OTHER = tuple(f"c{i}" for i in range(11))


def pickled(path: Path, payload) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{path.stem}/data.pkl", pickle.dumps(payload))
    return path


def garbage(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad checkpoints, and a word of what checkpoint_classes says is wrong with each."""
    (tmp_path / "random.pt").write_bytes(os.urandom(5000))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "folder.pt").mkdir()
    with zipfile.ZipFile(tmp_path / "zip.pt", "w") as z:
        z.writestr("notes.txt", "hello")
    return {
        "random bytes": (tmp_path / "random.pt", "not a zip archive"),
        "empty file": (tmp_path / "empty.pt", "not a zip archive"),
        "a folder": (tmp_path / "folder.pt", "is a folder"),
        "missing": (tmp_path / "missing.pt", "does not exist"),
        "a zip of text": (tmp_path / "zip.pt", "no data.pkl"),
        "no metadata": (pickled(tmp_path / "plain.pt", {"a": 1}), "has no class list"),
        "classes not a list": (pickled(tmp_path / "str.pt", {"meta": {"classes": "abc"}}), "not a list of names"),
        "one class": (pickled(tmp_path / "one.pt", {"meta": {"classes": ["a"]}}), "at least 2"),
        "a class twice": (pickled(tmp_path / "twice.pt", {"meta": {"classes": ["a", "b", "a"]}}), "twice"),
        "a damaged pickle": (_damaged(tmp_path / "damaged.pt"), "damaged"),
    }


def _damaged(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("damaged/data.pkl", pickle.dumps({"meta": {"classes": ["a", "b"]}})[:-9])
    return path


def test_a_bad_checkpoint_is_one_line_naming_the_file_the_fault_and_what_is_allowed(tmp_path):
    for case, (path, fault) in garbage(tmp_path).items():
        with pytest.raises(ModelError) as e:
            checkpoint_classes(path)
        message = str(e.value)
        assert "\n" not in message and len(message) < 400, case
        assert str(path) in message and fault in message and ALLOWED in message, (case, message)


def test_a_good_checkpoint_gives_its_classes(tmp_path):
    assert checkpoint_classes(pickled(tmp_path / "ok.pt", {"meta": {"classes": ["a", "b"]}})) == ("a", "b")


def test_a_preset_for_another_classifier_is_one_line_not_a_problem_per_class():
    """default.toml names the shipped classes; a model of other classes made it "10 problem(s)", one a line."""
    default = presets_dir() / "default.toml"
    with pytest.raises(PresetError) as e:
        load_preset(default, classes=OTHER)
    message = str(e.value)
    assert "\n" not in message and len(message) < 800, message
    assert str(default) in message and "another classifier" in message
    assert "c0, c1" in message and "allowed" in message
    assert len(e.value.problems) == 1


def test_a_typo_in_one_class_still_gets_its_own_problem(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('[classes.sirne]\nguide = [1]\n[classes.dog_bark]\nguide = [2]\n')
    with pytest.raises(PresetError) as e:
        load_preset(path)
    [problem] = e.value.problems
    assert problem.key == "classes.sirne" and "did you mean siren" in problem.allowed


@pytest.fixture(scope="module")
def other_classes_checkpoint(tmp_path_factory) -> Path:
    """The shipped model with its classes renamed: a real checkpoint of other classes."""
    import torch

    from performer.classifier.inference import default_checkpoint

    payload = torch.load(default_checkpoint(), map_location="cpu", weights_only=True)
    payload["meta"]["classes"] = list(OTHER)
    path = tmp_path_factory.mktemp("model") / "other.pt"
    torch.save(payload, path)
    return path


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line or "Traceback" in line]


@pytest.mark.parametrize("kind", ["garbage", "other classes"])
def test_serve_with_a_bad_model_stops_with_one_line(tmp_path, kind, request):
    if kind == "garbage":
        model = tmp_path / "garbage.pt"
        model.write_bytes(os.urandom(5000))
    else:
        model = request.getfixturevalue("other_classes_checkpoint")
    proc = run_cli("serve", "--model", str(model), "--input", "demo", "--duration", "3", "--no-osc",
                   "--frames", str(tmp_path / "frames"), timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    [line] = error_lines(proc.stderr)
    assert "allowed" in line
    assert str(model) in line if kind == "garbage" else "default.toml" in line and "another classifier" in line


def test_loading_a_bad_checkpoint_is_one_line_too(tmp_path, other_classes_checkpoint):
    """After the class list, the classifier itself: weights that do not fit, too few classes."""
    import torch

    from performer.classifier import Classifier

    payload = torch.load(other_classes_checkpoint, map_location="cpu", weights_only=True)
    cases = {}
    for name, change in (("fewer", {"classes": list(OTHER[:5])}), ("none", {"classes": []})):
        p = dict(payload, meta=dict(payload["meta"], **change))
        torch.save(p, cases.setdefault(name, tmp_path / f"{name}.pt"))
    torch.save(dict(payload, state_dict={"w": torch.zeros(2)}), cases.setdefault("weights", tmp_path / "w.pt"))
    for name, path in cases.items():
        with pytest.raises(PerformerError) as e:
            Classifier.from_checkpoint(path, device="cpu")
        message = str(e.value)
        assert "\n" not in message and len(message) < 600 and str(path) in message, (name, message)
