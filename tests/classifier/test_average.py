"""The weights' moving average (``performer train --ema``): what is validated and kept, and kept across a resume."""

from __future__ import annotations

import copy

import pytest
import torch
from test_classifier import _melset

from performer.classifier import models as M
from performer.sound.features import DEFAULT_SETTINGS
from performer.training import train as T
from performer.training.average import WeightAverage

QUIET = dict(mixup=0.0, specaugment=False, gain_db=0.0, band_limit_p=0.0, eq_db=0.0, patience=100)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # the same thread count in every run: the same arithmetic


def _fit(ema: float, epochs: int = 1, validate: bool = True, **kw):
    torch.manual_seed(0)
    model = M.build_model("realtime", 3, config={"width": 8})
    cfg = T.TrainConfig.for_model("realtime", epochs=epochs, batch_size=4, lr=3e-3, ema=ema, **QUIET)
    val = _melset(2, seed=1) if validate else None
    result = T.fit(model, _melset(4), val, cfg, 3, DEFAULT_SETTINGS, **kw)
    return model, result


def test_the_kept_weights_are_the_moving_average_of_every_step(monkeypatch):
    steps: list[dict[str, torch.Tensor]] = []
    update = WeightAverage.update

    def record(self, model):
        steps.append({k: v.detach().clone() for k, v in model.named_parameters()})
        update(self, model)

    monkeypatch.setattr(WeightAverage, "update", record)
    model, _ = _fit(ema=0.8)
    assert len(steps) == 3  # 12 clips, 4 a batch, one epoch
    expected = dict(steps[0])  # the average starts at the first step's weights
    for w in steps[1:]:
        expected = {k: 0.8 * expected[k] + 0.2 * w[k] for k in expected}
    kept = dict(model.named_parameters())
    for k, v in expected.items():
        assert torch.allclose(kept[k], v, atol=1e-6), k
    assert not torch.allclose(kept["fc.weight"], steps[-1]["fc.weight"])  # not the last step's own weights


def test_without_an_average_the_last_steps_weights_are_kept():
    raw, _ = _fit(ema=0.0)
    averaged, _ = _fit(ema=0.8)
    assert not torch.allclose(raw.fc.weight, averaged.fc.weight)


def test_without_validation_the_average_at_the_end_is_kept():
    validated, _ = _fit(ema=0.8)  # one epoch: the best epoch is the last
    unvalidated, _ = _fit(ema=0.8, validate=False)
    for (k, a), b in zip(validated.state_dict().items(), unvalidated.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k


def test_a_resumed_run_goes_on_with_the_average_it_had():
    states: list[dict] = []
    whole, _ = _fit(ema=0.8, epochs=2, on_epoch_end=lambda loop: states.append(copy.deepcopy(loop)))
    assert states[0]["average"]["decay"] == 0.8
    resumed, _ = _fit(ema=0.8, epochs=2, resume=states[0])
    for (k, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k
