"""Starting a training run from a trained checkpoint: weights copied, output rows by class name."""

from __future__ import annotations

import pytest
import torch

from performer.classifier import checkpoint as C
from performer.classifier import models as M
from performer.errors import ModelError
from performer.sound.features import DEFAULT_SETTINGS
from performer.sound.labels import NONE_CLASS
from performer.training import warmstart as W


def _saved(tmp_path, classes=("hum", "sweep", "bursts"), width=8):
    torch.manual_seed(3)
    model = M.build_model("realtime", len(classes), config={"width": width}).eval()
    meta = {"model": "realtime", "model_config": M.model_config(model), "classes": list(classes),
            "features": DEFAULT_SETTINGS.to_dict(), "window_seconds": 1.0}
    return C.save_checkpoint(tmp_path / "old.pt", model, meta)


def test_a_new_class_gets_a_fresh_row_and_the_others_keep_theirs(tmp_path):
    path = _saved(tmp_path)
    state, meta = W.init_config(path, "realtime", None)
    classes = ["sweep", "hum", "bursts", NONE_CLASS]  # another order, and one class more
    torch.manual_seed(0)
    model = M.build_model("realtime", len(classes), config=meta["model_config"])
    fresh = model.fc.weight.detach().clone()
    summary = W.warm_start(model, state, list(meta["classes"]), classes)
    assert summary["new_classes"] == [NONE_CLASS] and "fc.weight" in summary["by_class"]
    w = model.fc.weight.detach()
    assert torch.equal(w[0], state["fc.weight"][1]) and torch.equal(w[1], state["fc.weight"][0])
    assert torch.equal(w[2], state["fc.weight"][2]) and torch.equal(w[3], fresh[3])
    key = "features.0.weight"
    assert torch.equal(model.state_dict()[key], state[key])


def test_a_checkpoint_of_another_model_or_width_is_refused(tmp_path):
    path = _saved(tmp_path)
    with pytest.raises(ModelError, match="it is a 'realtime' model, not 'resnet50'"):
        W.init_config(path, "resnet50", None)
    with pytest.raises(ModelError, match="its width is 8, not 16; leave out --width"):
        W.init_config(path, "realtime", 16)
