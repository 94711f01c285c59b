"""Going on with an interrupted training run (``--resume``) and distilling a teacher into a student (``--teacher``),
on sound the tests make themselves."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest
import torch
from test_classifier import _melset
from test_datasets import make_folders

from performer.classifier import models as M
from performer.errors import ModelError
from performer.sound.features import DEFAULT_SETTINGS
from performer.training import datasets as D
from performer.training import resume as R
from performer.training import train as T
from performer.training.distil import Distiller

QUIET = dict(mixup=0.0, specaugment=False, gain_db=0.0, band_limit_p=0.0, eq_db=0.0, patience=100)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # the same thread count in every run: the same arithmetic


def _parser():
    from performer.cli import classifier as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    return p


def _weights(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.mark.slow
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, capsys, monkeypatch):
    data = make_folders(tmp_path / "sounds", per_class=3)
    out = tmp_path / "run" / "model.pt"
    saved = R.save

    def keep_epoch_1(path, args, loop):  # the state after epoch 1 kept aside, as if the run had been stopped there
        saved(path, args, loop)
        if loop["epoch"] == 1:
            shutil.copy(path, tmp_path / "after1.resume.pt")

    monkeypatch.setattr(R, "save", keep_epoch_1)
    base = ["train", "--data", str(data), "--epochs", "3", "--patience", "10", "--width", "8", "--threads", "1",
            "--cache", str(tmp_path / "cache"), "--out", str(out)]
    args = _parser().parse_args(base)
    assert args.func(args) == 0
    whole = json.loads(capsys.readouterr().out)
    whole_weights = _weights(out)
    whole_history = torch.load(out, weights_only=True)["meta"]["history"]
    assert R.state_path(out).is_file() and (tmp_path / "after1.resume.pt").is_file()
    out.unlink()

    args = _parser().parse_args(["train", "--resume", str(tmp_path / "after1.resume.pt"), "--threads", "1"])
    assert args.func(args) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["checkpoint"] == str(out) and out.is_file()  # it writes where the run wrote
    meta = torch.load(out, weights_only=True)["meta"]
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3]
    for a, b in zip(meta["history"], whole_history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"])
    assert resumed["best_epoch"] == whole["best_epoch"]
    for k, v in whole_weights.items():
        assert torch.allclose(v.float(), _weights(out)[k].float(), atol=1e-3), k


def test_resume_refuses_what_is_not_a_run_state(tmp_path):
    junk = tmp_path / "model.resume.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match=r"model\.resume\.pt: not a readable run state"):
        R.load(junk)
    with pytest.raises(ModelError, match="no run state at"):
        R.load(tmp_path / "other.pt")
    torch.save({"format": 99}, tmp_path / "x.resume.pt")
    with pytest.raises(ModelError, match="expected format 1"):
        R.load(tmp_path / "x.resume.pt")


def test_the_run_state_keeps_every_option_repeated_paths_too(tmp_path):
    # a repeated --extra DIR is a list of paths: once dropped from the state, so a resumed run went on without it
    args = argparse.Namespace(data=tmp_path, extra=[tmp_path / "a", tmp_path / "b"], folds="1,2",
                              hold_out_sources=["sesa"], lr=None, resume="x.pt", func=print,
                              command_parser=argparse.ArgumentParser())
    stored = R.command_line(args)
    assert stored == {"data": str(tmp_path), "extra": [str(tmp_path / "a"), str(tmp_path / "b")], "folds": "1,2",
                      "hold_out_sources": ["sesa"], "lr": None}
    assert vars(R.resumed_args({"args": stored}, argparse.Namespace(threads=2)))["extra"] == stored["extra"]
    with pytest.raises(ModelError, match="'weird'"):
        R.command_line(argparse.Namespace(weird=object()))


def test_train_without_data_or_resume_says_what_it_needs():
    from performer.errors import DataError

    args = _parser().parse_args(["train"])
    with pytest.raises(DataError, match="--data DIR"):
        args.func(args)


def _probe(ms: D.MelSet) -> torch.Tensor:
    return torch.from_numpy(np.stack([D.crop_frames(ms.get(i), 44) for i in range(len(ms))]))


def test_the_student_learns_what_the_teacher_says_not_only_the_labels():
    train = _melset(10)
    swapped = D.MelSet(train.mels, train.offsets, np.asarray([1, 0, 2])[train.labels], train.folds, train.paths)
    cfg = T.TrainConfig.for_model("realtime", epochs=12, batch_size=10, lr=3e-3, **QUIET)
    torch.manual_seed(0)
    teacher = M.build_model("realtime", 3, config={"width": 8})
    T.fit(teacher, swapped, None, cfg, 3, DEFAULT_SETTINGS)  # a teacher that hears class 0 as 1 and 1 as 0
    probe, labels = _probe(train), torch.from_numpy(train.labels)
    teacher.eval()
    with torch.inference_mode():
        assert float((teacher(probe).argmax(1) == torch.from_numpy(swapped.labels)).float().mean()) > 0.8

    torch.manual_seed(1)
    student = M.build_model("realtime", 3, config={"width": 8})
    names = ["a", "b", "c"]
    distiller = Distiller(teacher, names, names, alpha=1.0, temperature=1.0)
    T.fit(student, train, None, cfg, 3, DEFAULT_SETTINGS, teacher=distiller)
    student.eval()
    with torch.inference_mode():
        taught = student(probe).argmax(1)
    # The labels say 0 where the teacher says 1: at alpha 1 the student follows the teacher.
    assert float((taught == torch.from_numpy(swapped.labels)).float().mean()) > 0.8
    assert float((taught == labels).float().mean()) < 0.6


def test_teacher_classes_are_matched_by_name():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[0.0, 5.0, -5.0]]).expand(len(x), 3)

    d = Distiller(Fixed(), ["none", "dog", "siren"], ["dog", "siren", "none"], temperature=1.0)
    p = d.soft_targets(torch.zeros(2, 128, 44))
    assert p.shape == (2, 3) and int(p[0].argmax()) == 0 and float(p[0, 1]) < float(p[0, 2])
    with pytest.raises(ModelError, match="does not know the class"):
        Distiller(Fixed(), ["none", "dog", "siren"], ["dog", "drilling"])
    with pytest.raises(ModelError, match="--distil-alpha"):
        Distiller(Fixed(), ["a", "b"], ["a", "b"], alpha=1.5)


def test_a_teacher_must_hear_the_students_bands(tmp_path):
    from test_classifier import _checkpoint

    from performer.sound.features import FeatureSettings

    path, _ = _checkpoint(tmp_path)  # a full-band teacher
    names = ["hum", "sweep", "bursts"]
    same = Distiller.from_checkpoint(path, names, torch.device("cpu"), settings=DEFAULT_SETTINGS)
    assert same.index.tolist() == [0, 1, 2]
    with pytest.raises(ModelError, match=r"was trained on log-mels .* this run computes .*'fmax': 8000.0"):
        Distiller.from_checkpoint(path, names, torch.device("cpu"), settings=FeatureSettings(fmax=8000.0))
