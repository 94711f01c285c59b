"""Calibration: temperature scaling, the ECE, checkpoints that carry a temperature, ``performer calibrate`` and the
ECE ``performer evaluate`` reports."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from test_datasets import _sound, make_folders

from performer.classifier import checkpoint as C
from performer.classifier import models as M
from performer.classifier.inference import Classifier, fast_classifier_for
from performer.errors import DataError, ModelError
from performer.sound.features import DEFAULT_SETTINGS
from performer.training import calibration as K

SR = 22050
FOLDER_CLASSES = ["bursts", "hum", "sweep"]  # make_folders' classes, sorted


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


def _calibrated_set(n: int = 6000, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits): calibrated at T = 1 by construction."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, (n, k))
    z[np.arange(n), rng.integers(0, k, n)] += 2.0  # a favourite class per row, so confidences spread out
    p = K.softmax(z)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return z, labels


def test_over_confident_logits_get_a_temperature_above_one():
    z, y = _calibrated_set()
    report = K.calibration_report(5.0 * z, y)  # logits scaled by 5: far too sure
    assert 4.0 < report["temperature"] < 6.0  # recovers the scale
    assert K.fit_temperature(5.0 * z, y) == pytest.approx(report["temperature"])
    assert report["ece_before"] > 0.1
    assert report["ece_after"] < 0.03 and report["ece_after"] < report["ece_before"]
    assert report["nll_after"] < report["nll_before"]
    assert report["n"] == len(y) and report["bins"] == 15


def test_under_confident_logits_get_a_temperature_below_one():
    z, y = _calibrated_set(seed=1)
    report = K.calibration_report(0.3 * z, y)
    assert 0.2 < report["temperature"] < 0.4
    assert report["ece_after"] < report["ece_before"] and report["nll_after"] < report["nll_before"]


def test_a_calibrated_set_has_an_ece_near_zero_and_keeps_temperature_one():
    z, y = _calibrated_set(n=20000, seed=2)
    assert K.expected_calibration_error(K.softmax(z), y) < 0.015
    assert K.fit_temperature(z, y) == pytest.approx(1.0, abs=0.06)


def test_the_ece_of_a_toy_case_is_the_hand_computed_value():
    probs = np.array([[0.92, 0.08], [0.78, 0.22], [0.56, 0.44], [0.34, 0.66]])
    labels = np.array([0, 1, 0, 1])
    # 5 bins: 0.92 (right) alone in (0.8, 1]: |1 - 0.92| = 0.08, weight 1/4;
    # 0.78 (wrong) and 0.66 (right) in (0.6, 0.8]: |0.5 - 0.72| = 0.22, weight 2/4;
    # 0.56 (right) alone in (0.4, 0.6]: |1 - 0.56| = 0.44, weight 1/4
    assert K.expected_calibration_error(probs, labels, bins=5) == pytest.approx(0.02 + 0.11 + 0.11)
    assert K.expected_calibration_error(probs, labels, bins=1) == pytest.approx(abs(0.75 - 0.73))


@pytest.mark.parametrize("logits, labels, message", [
    (np.zeros((0, 3)), np.zeros(0, int), "none"),
    (np.zeros((4, 3)), np.zeros(3, int), "4 rows"),
    (np.zeros(4), np.zeros(4, int), "2-D"),
    (np.zeros((2, 3)), np.array([0, 3]), "label 3 is out of range: 3 classes allow 0 to 2"),
    (np.zeros((2, 3)), np.array([0, -1]), "label -1 is out of range"),
    (np.zeros((2, 3)), np.array([0.5, 1.0]), "integer class indices"),
    (np.array([[0.0, np.nan, 1.0], [1.0, 2.0, np.inf]]), np.array([0, 1]), "2 non-finite values"),
])
def test_bad_calibration_input_is_a_clear_model_error(logits, labels, message):
    with pytest.raises(ModelError, match=message):
        K.fit_temperature(logits, labels)
    with pytest.raises(ModelError, match=message):
        K.calibration_report(logits, labels)


def test_ece_rejects_logits_and_bad_bins():
    with pytest.raises(ModelError, match="sum to 1"):
        K.expected_calibration_error(np.array([[2.0, -1.0]]), np.array([0]))
    with pytest.raises(ModelError, match="bins"):
        K.expected_calibration_error(np.array([[0.5, 0.5]]), np.array([0]), bins=0)


def test_the_temperature_stays_within_its_bounds():
    z = np.array([[5.0, 0.0], [0.0, 5.0]] * 20)
    assert K.fit_temperature(z, np.array([0, 1] * 20)) == pytest.approx(0.05)  # all right: as sharp as allowed
    assert K.fit_temperature(z, np.array([1, 0] * 20)) == pytest.approx(20.0)  # all wrong: as soft as allowed
    assert K.fit_temperature(np.zeros((3, 4)), np.array([0, 1, 2])) == 1.0  # nothing to scale


def test_reliability_figure_is_a_png(tmp_path):
    z, y = _calibrated_set(n=500, seed=3)
    path = K.reliability_figure(K.softmax(z), y, tmp_path / "r.png", "toy", before=K.softmax(3 * z))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- checkpoints and the classifier ------------------------------------------------------------------------------

def _checkpoint(path, classes=("hum", "sweep", "bursts"), calibration=None, seed=0):
    torch.manual_seed(seed)
    model = M.build_model("realtime", len(classes), config={"width": 8}).eval()
    meta = {"model": "realtime", "model_config": M.model_config(model), "classes": list(classes),
            "features": DEFAULT_SETTINGS.to_dict(), "window_seconds": 1.0, "padding": "tile",
            "dataset": {"validation_folds": None}, "training": {"seed": 0}}
    if calibration is not None:
        meta["calibration"] = calibration
    return C.save_checkpoint(path, model, meta)


def test_a_checkpoint_temperature_divides_the_logits_in_every_predict_path(tmp_path):
    t = 2.5
    raw_path = _checkpoint(tmp_path / "raw.pt", seed=4)
    cal_path = C.write_calibration(raw_path, tmp_path / "cal.pt", {"temperature": t, "ece_after": 0.01})
    raw, cal = Classifier.from_checkpoint(raw_path, device="cpu"), Classifier.from_checkpoint(cal_path, device="cpu")
    assert raw.temperature == 1.0 and cal.temperature == t
    net, _ = C.load_checkpoint(raw_path)
    mels = torch.randn(5, 128, 44) * 20 - 40
    with torch.inference_mode():
        logits = net(mels).numpy()
    np.testing.assert_allclose(cal.predict_mels(mels.numpy()), K.softmax(logits, t), atol=1e-5)
    np.testing.assert_allclose(raw.predict_mels(mels.numpy()), K.softmax(logits), atol=1e-5)  # uncalibrated: as before
    assert np.abs(K.softmax(logits, t) - K.softmax(logits)).max() > 1e-3  # the temperature changes something

    # log(softmax(z)) = z - const, so the calibrated probabilities are softmax(log(raw probabilities) / T)
    x, x2 = _sound(1, 1.0, SR, 3), _sound(0, 0.7, SR, 5)
    np.testing.assert_allclose(cal.predict(x), K.softmax(np.log(raw.predict(x)), t), atol=1e-5)
    batch = [x, _sound(2, 1.0, SR, 4), np.zeros(SR, np.float32)]
    want = K.softmax(np.log(raw.predict_batch(batch)), t)
    np.testing.assert_allclose(cal.predict_batch(batch), want, atol=1e-5)
    np.testing.assert_allclose(cal.predict_batch(batch)[2], [1 / 3] * 3, atol=1e-6)  # silence stays uniform
    np.testing.assert_allclose(cal.predict_batch([x, x2]), K.softmax(np.log(raw.predict_batch([x, x2])), t),
                               atol=1e-5)  # windows of different lengths: one at a time
    fast = fast_classifier_for(raw, cal_path, device="cpu")  # the analyser's fast path is a Classifier too
    assert fast is not None
    np.testing.assert_allclose(fast.predict(x), cal.predict(x), atol=1e-6)
    # the weights were copied as stored
    a, b = torch.load(raw_path, weights_only=True), torch.load(cal_path, weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert "calibration" not in a["meta"] and b["meta"]["calibration"]["ece_after"] == 0.01


@pytest.mark.parametrize("block, shown", [
    ({"temperature": float("nan")}, "nan"), ({"temperature": float("inf")}, "inf"), ({"temperature": 0}, "0"),
    ({"temperature": -2.0}, "-2.0"), ({"temperature": 0.01}, "0.01"), ({"temperature": 50}, "50"),
    ({"temperature": "hot"}, "'hot'"), ({"temperature": True}, "True"), ({"temperature": None}, "None"),
    ({"temperature": [2.0]}, r"\[2.0\]"), ({"ece_after": 0.1}, "without a temperature"),
    ("warm", "'warm'"),
])
def test_a_corrupt_checkpoint_temperature_is_a_one_line_model_error(tmp_path, block, shown):
    path = _checkpoint(tmp_path / "bad.pt", calibration=block)
    with pytest.raises(ModelError, match=rf"bad\.pt.*{shown}.*a number from 0\.05 to 20") as e:
        Classifier.from_checkpoint(path, device="cpu")
    assert "\n" not in str(e.value)
    with pytest.raises(ModelError, match=r"bad\.pt"):
        C.load_checkpoint(path)


def test_an_ensemble_does_not_inherit_a_members_temperature(tmp_path):
    a = _checkpoint(tmp_path / "a.pt", calibration={"temperature": 3.0}, seed=1)
    b = _checkpoint(tmp_path / "b.pt", seed=2)
    ens = Classifier.from_checkpoint(C.ensemble_checkpoint([a, b], tmp_path / "ens.pt"), device="cpu")
    assert ens.temperature == 1.0
    assert [m["calibration"] for m in ens.meta["members"]] == [{"temperature": 3.0}, None]


# -- performer calibrate and performer evaluate ---------------------------------------------------------------

def _run(*argv):
    from performer.cli import classifier as cli

    p = argparse.ArgumentParser()
    cli.register(p.add_subparsers())
    args = p.parse_args([str(a) for a in argv])
    return args.func(args)


def test_calibrate_command_writes_a_calibrated_checkpoint_that_loads(tmp_path, capsys):
    data = make_folders(tmp_path / "held_out", per_class=4)
    ckpt = _checkpoint(tmp_path / "m.pt", classes=FOLDER_CLASSES, seed=6)
    original = ckpt.read_bytes()
    assert _run("calibrate", "--model", ckpt, "--data", data, "--json", "--threads", "1", "--device", "cpu") == 0
    report = json.loads(capsys.readouterr().out)
    out = tmp_path / "m_calibrated.pt"
    assert report["checkpoint"] == str(out) and out.is_file() and ckpt.read_bytes() == original
    assert (tmp_path / "m_calibrated_calibration.png").is_file()  # reliability before and after
    assert report["clips"] == 12 and report["previous_temperature"] == 1.0 and report["window"] == 1.0
    clf = Classifier.from_checkpoint(out, device="cpu")
    assert clf.temperature == pytest.approx(report["temperature"])
    assert clf.meta["calibration"]["n"] == report["n"] and clf.meta["calibration"]["ece_after"] == report["ece_after"]

    # the stored temperature is the fit on the raw network's window logits of the held-out clips
    from performer.training import datasets

    net, _ = C.load_checkpoint(ckpt)
    ms = datasets.compute_mels(datasets.load_dataset(data), DEFAULT_SETTINGS)
    logits, labels = K.held_out_logits(net, ms, DEFAULT_SETTINGS.frames(1.0))
    assert len(labels) == report["n"]
    assert K.fit_temperature(logits, labels) == pytest.approx(report["temperature"], rel=1e-4)

    # evaluate reports the ECE of the checkpoint as loaded: the calibrated one's is the ECE after calibration
    assert _run("evaluate", "--data", data, "--model", out, "--windows", "1", "--json", "--device", "cpu") == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["temperature"] == pytest.approx(report["temperature"])
    assert ev["ece"] == pytest.approx(report["ece_after"], abs=1e-4)
    assert 0.0 <= ev["ece_clips"] <= 1.0 and "ece" in ev["by_window"][0]
    assert (tmp_path / "m_calibrated_reliability.png").is_file()
    assert _run("evaluate", "--data", data, "--model", ckpt, "--windows", "1", "--device", "cpu") == 0
    markdown = capsys.readouterr().out
    assert "**ECE**" in markdown and "temperature 1" in markdown

    # never overwrite silently
    with pytest.raises(ModelError, match="m_calibrated.pt already exists; pass --force"):
        _run("calibrate", "--model", ckpt, "--data", data, "--device", "cpu")
    with pytest.raises(ModelError, match="already exists.*the checkpoint being calibrated"):
        _run("calibrate", "--model", ckpt, "--data", data, "--out", ckpt, "--device", "cpu")
    assert _run("calibrate", "--model", ckpt, "--data", data, "--val-fraction", "0.5", "--out", out, "--force",
                "--device", "cpu") == 0
    text = capsys.readouterr().out
    assert "temperature" in text and "ECE (15 bins)" in text
    assert Classifier.from_checkpoint(out, device="cpu").meta["calibration"]["clips"] == 6  # half of each class
    assert ckpt.read_bytes() == original


def test_calibrate_command_rejects_mismatched_data(tmp_path):
    data = make_folders(tmp_path / "held_out", per_class=2)
    other = _checkpoint(tmp_path / "other.pt", classes=("hum", "sweep", "bursts"))
    with pytest.raises(DataError, match="differ from the model's"):
        _run("calibrate", "--model", other, "--data", data, "--device", "cpu")
    ckpt = _checkpoint(tmp_path / "m.pt", classes=FOLDER_CLASSES)
    with pytest.raises(DataError, match="no folds"):
        _run("calibrate", "--model", ckpt, "--data", data, "--folds", "1", "--device", "cpu")
    assert not (tmp_path / "m_calibrated.pt").exists() and not (tmp_path / "other_calibrated.pt").exists()
