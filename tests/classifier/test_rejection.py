"""Learning "none of these" on a trained model: only the new rows train, and the offset of the ``none`` logit is
fitted on held-out clips (the rejection rule). The tests make their own sound."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from test_datasets import make_us8k
from test_manifests import make_background
from test_warmstart import _saved

from performer.classifier import checkpoint as C
from performer.classifier import models as M
from performer.errors import ModelError
from performer.sound.labels import NONE_CLASS
from performer.training import rejection as R
from performer.training import trainset
from performer.training import warmstart as W
from performer.training.datasets import MelSet


def test_only_the_new_row_trains_and_the_rest_stays_as_it_was(tmp_path):
    path = _saved(tmp_path)
    state, meta = W.init_config(path, "realtime", None)
    classes = ["hum", "sweep", "bursts", NONE_CLASS]
    model = M.build_model("realtime", len(classes), config=meta["model_config"])
    W.warm_start(model, state, list(meta["classes"]), classes)
    frozen = W.NewRowsOnly(model, list(meta["classes"]), classes)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.5)  # decay would shrink the old rows
    for _ in range(5):
        frozen.train_mode(model)
        x = torch.randn(8, 128, 44) * 10
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([3, 0, 3, 1, 3, 2, 3, 3]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        frozen.restore()
    after = model.state_dict()
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == ["fc.bias", "fc.weight"]  # BatchNorm statistics and every feature weight as they were
    assert torch.equal(after["fc.weight"][:3], before["fc.weight"][:3]) and torch.equal(after["fc.bias"][:3],
                                                                                        before["fc.bias"][:3])
    assert not torch.equal(after["fc.weight"][3], before["fc.weight"][3])


def test_new_rows_only_needs_a_new_class(tmp_path):
    path = _saved(tmp_path)
    state, meta = W.init_config(path, "realtime", None)
    model = M.build_model("realtime", 3, config=meta["model_config"])
    with pytest.raises(ModelError, match="every class .* is already in the checkpoint"):
        W.NewRowsOnly(model, list(meta["classes"]), list(meta["classes"]))


def test_the_background_share_repeats_none_clips_only():
    ms = MelSet(np.zeros((4, 60), np.float32), np.arange(0, 61, 10), np.array([0, 1, 0, 2, 1, 2]),
                np.full(6, -1), [f"c{i}" for i in range(6)])
    more = trainset.with_share(ms, 2, 0.5)
    assert list(more.labels[:6]) == list(ms.labels) and np.count_nonzero(more.labels == 2) == 4
    assert len(trainset.with_share(ms, 2, 0.2)) == 6  # already more than asked: as it was


def _clips(logit_rows, owners):
    return np.asarray(logit_rows, np.float64), np.asarray(owners)


def test_the_offset_is_the_largest_that_costs_the_classes_at_most_their_allowance():
    # 3 classes + none (index 3). Clips 0-3 are class sounds, 4-5 background; one window each.
    z, owners = _clips([[5, 0, 0, 1], [0, 4, 0, 2], [0, 0, 3, 2.5], [3, 0, 0, 2.9], [1, 0, 0, 0.8], [0, 2, 0, 0]],
                       range(6))
    labels = np.array([0, 1, 2, 0, 3, 3])
    fit = R.fit_offset(z, owners, labels, none=3, cost=0.0)
    # any offset above ~0.1 turns clip 3 (3 vs 2.9) into none; 0.0 keeps all four right
    assert fit["accuracy_without_none"] == 1.0 and fit["accuracy_after"] == 1.0
    assert 0.0 <= fit["offset"] < 0.1 + 1e-9
    assert fit["none_recall_after"] == 0.0
    loose = R.fit_offset(z, owners, labels, none=3, cost=0.25)  # one of four may go (clip 3): offset 0.5
    assert loose["offset"] > fit["offset"] and loose["accuracy_after"] == 0.75
    assert loose["offset"] == 0.5 and loose["none_recall_after"] == 0.5
    decided = R.clip_decisions(z, owners, 6, 3, loose["offset"])
    assert decided[4] == 3


def test_the_offset_goes_into_the_none_bias(tmp_path):
    model = M.build_model("realtime", 4, config={"width": 8})
    b = model.fc.bias.detach().clone()
    R.apply_offset(model, 3, 1.5)
    bias = model.fc.bias.detach()
    assert torch.allclose(bias[:3], b[:3]) and float(bias[3]) == pytest.approx(float(b[3]) + 1.5)


def _parser():
    from performer.cli import classifier as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    return p


def test_train_learns_none_on_a_trained_model_and_records_the_rule(tmp_path, capsys):
    data = make_us8k(tmp_path / "us8k", per_class=3, sr=22050)
    first = tmp_path / "first.pt"
    common = ["--data", str(data), "--model", "realtime", "--width", "8", "--folds", "1,2", "--val-fold", "0",
              "--val-fraction", "0.3", "--cache", str(tmp_path / "cache"), "--threads", "1"]
    args = _parser().parse_args(["train", *common, "--epochs", "2", "--out", str(first)])
    assert args.func(args) == 0
    capsys.readouterr()
    old, _ = C.load_checkpoint(first)
    out = tmp_path / "none.pt"
    args = _parser().parse_args(["train", *common, "--background", str(make_background(tmp_path / "bg")),
                                 "--init", str(first), "--new-rows-only", "--none-share", "0.4", "--epochs", "2",
                                 "--none-cost", "0.2", "--out", str(out)])
    assert args.func(args) == 0
    json.loads(capsys.readouterr().out)
    net, meta = C.load_checkpoint(out)
    assert meta["classes"][-1] == NONE_CLASS and meta["training"]["init"]["new_rows_only"] is True
    new, ref = net.state_dict(), old.state_dict()
    for key, value in ref.items():
        if key.startswith("fc."):
            assert torch.allclose(new[key][:-1].float(), value.float(), atol=1e-3), key  # float16 on disk
        else:
            assert torch.allclose(new[key].float(), value.float(), atol=1e-3), key
    rule = meta["rejection"]
    assert rule["cost_allowed"] == 0.2 and rule["background_clips"] >= 1
    assert rule["accuracy_after"] >= rule["accuracy_without_none"] - 0.2 - 1e-9


def test_none_share_without_background_is_refused(tmp_path):
    from performer.errors import DataError

    data = make_us8k(tmp_path / "us8k", per_class=2, sr=22050)
    args = _parser().parse_args(["train", "--data", str(data), "--folds", "1,2", "--val-fold", "3", "--epochs", "1",
                                 "--none-share", "0.3", "--cache", str(tmp_path / "c"),
                                 "--out", str(tmp_path / "m.pt")])
    with pytest.raises(DataError, match="--none-share 0.3 needs --background DIR"):
        args.func(args)


def test_new_rows_only_without_init_is_refused(tmp_path):
    data = make_us8k(tmp_path / "us8k", per_class=2, sr=22050)
    args = _parser().parse_args(["train", "--data", str(data), "--folds", "1,2", "--val-fold", "3", "--epochs", "1",
                                 "--new-rows-only", "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "m.pt")])
    with pytest.raises(ModelError, match="--new-rows-only needs --init"):
        args.func(args)


def test_the_balanced_offset_weighs_unheard_background_against_unheard_recordings_of_the_classes():
    # 3 classes + none (3). Source clips: two gun-shot-like clips the model is sure of, one it barely names
    # right, one it gets wrong even without none (left out of the "kept" share). One window per clip.
    src = np.array([[5, 0, 0, 0], [4, 0, 0, 0], [0, 0, 3, 2.5], [0, 3, 0, 0]], np.float64)
    src_labels = np.array([0, 0, 2, 0])
    # background clips turn none at offsets above -1, 0.5, 2 and 3
    bg = np.array([[0, 0, 0, 1], [1, 0, 0, 0.5], [2, 0, 0, 0], [0, 0, 3, 0]], np.float64)
    fit = R.fit_balanced(src, np.arange(4), src_labels, bg, np.arange(4), none=3)
    # kept/3 + none/4 peaks on (3, 4]: 2/3 + 1 (the barely-right clip goes, all background is none)
    assert fit["offset"] == 3.5  # the middle of the tied grid points 4.0, 3.75, 3.5, 3.25
    assert fit["source_right_without_none"] == 0.75 and fit["source_kept_after"] == pytest.approx(2 / 3)
    assert fit["none_recall_after"] == 1.0 and fit["none_recall_before"] == 0.25 and fit["source_kept_before"] == 1
    # with a ceiling of 0 (the training run's own rule already allows no more 'none'): the best of (-1, 0]
    capped = R.fit_balanced(src, np.arange(4), src_labels, bg, np.arange(4), none=3, ceiling=0.0)
    assert capped["offset"] == -0.5 and capped["source_kept_after"] == 1.0 and capped["none_recall_after"] == 0.25
    from performer.errors import DataError

    with pytest.raises(DataError, match="none of the 1 source clips is named right"):
        R.fit_balanced(src[3:], np.arange(1), src_labels[3:], bg, np.arange(4), none=3)


def test_reject_writes_a_copy_whose_none_bias_carries_the_offset_at_the_checkpoints_temperature(tmp_path, capsys):
    from test_manifests import make_manifest

    from performer.classifier import Classifier
    from performer.errors import DataError
    from performer.training.calibration import softmax
    from performer.training.outside import false_class_rate

    src = _saved(tmp_path, classes=("hum", "sweep", "bursts", NONE_CLASS))
    payload = torch.load(src, weights_only=True)
    payload["state_dict"]["fc.bias"] = torch.tensor([5.0, 0.0, 0.0, 3.0])  # hum unless none
    payload["meta"]["rejection"] = {"offset": 0.5, "cost_allowed": 0.01}  # as a training run's rule records it
    torch.save(payload, src)
    model = C.write_calibration(src, tmp_path / "model.pt", {"temperature": 2.0})
    before = model.read_bytes()
    extra, bg = make_manifest(tmp_path / "extra"), make_background(tmp_path / "bg")
    out = tmp_path / "refit.pt"
    argv = ["reject", "--model", str(model), "--extra", str(extra), "--sources", "alpha", "--background", str(bg),
            "--categories", "rain,clock", "--out", str(out), "--threads", "1", "--json"]
    args = _parser().parse_args(argv)
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert model.read_bytes() == before  # the original is left as it is
    old, new = torch.load(model, weights_only=True), torch.load(out, weights_only=True)
    for key, value in old["state_dict"].items():
        if key != "fc.bias":
            assert torch.equal(new["state_dict"][key], value), key
    shift = new["state_dict"]["fc.bias"] - old["state_dict"]["fc.bias"]
    assert torch.allclose(shift[:3], torch.zeros(3))
    assert float(shift[3]) == pytest.approx(result["offset"] * 2.0, abs=1e-5) and result["offset"] in R.OFFSETS
    block = new["meta"]["rejection"]
    assert block["sources"] == ["alpha"] and block["categories"] == ["clock", "rain"]
    # the training run's rule is kept, and bounds the refit: 'none' may become rarer, not more eager
    assert block["trained"] == {"offset": 0.5, "cost_allowed": 0.01} and block["ceiling"] == 0.0
    assert result["offset"] <= 0 and block["offset_total"] == pytest.approx(0.5 + float(shift[3]))
    assert new["meta"]["calibration"]["temperature"] == 2.0
    # what the refitted checkpoint says is the old one's log-probabilities with the offset added to 'none'
    x = np.random.default_rng(1).normal(-30, 10, (5, 128, 44)).astype(np.float32)
    p_old = Classifier.from_checkpoint(model, device="cpu").predict_mels(x)
    refit = Classifier.from_checkpoint(out, device="cpu")
    z = np.log(p_old)
    z[:, 3] += result["offset"]
    np.testing.assert_allclose(refit.predict_mels(x), softmax(z), atol=1e-4)
    measured = false_class_rate(refit, bg, ["rain", "clock"])
    assert result["none_recall_after"] == pytest.approx(1 - measured["false_class_rate"])
    with pytest.raises(ModelError, match="already exists; pass --force"):
        args.func(args)
    args = _parser().parse_args([*argv[:9], "--categories", "thunder", "--out", str(tmp_path / "x.pt")])
    with pytest.raises(DataError, match=r"\['thunder'\] not in .*bg; sources there: clock, rain, talk"):
        args.func(args)
    ten = _saved(tmp_path / "ten")
    args = _parser().parse_args(["reject", "--model", str(ten), *argv[3:11], "--out", str(tmp_path / "y.pt")])
    with pytest.raises(DataError, match="has no 'none' class"):
        args.func(args)
