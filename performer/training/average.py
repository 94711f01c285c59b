"""An exponential moving average of the weights while a model trains (``performer train --ema DECAY``).

A small network trained at a high learning rate on a few thousand clips moves a lot from one epoch to the next:
its validation accuracy swung by 5 to 10 points between neighbouring epochs (issue #22), so the epoch chosen by it
was partly luck. The average of the recent weights (each step: ``avg = decay * avg + (1 - decay) * weights``,
BatchNorm's running statistics averaged alike) is what is validated and kept; it changes slowly and usually
generalises a little better than any one step's weights. torch's own ``AveragedModel`` does the averaging.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    """The averaged copy of ``model``; :meth:`update` after each optimiser step."""

    def __init__(self, model: torch.nn.Module, decay: float, state: dict[str, Any] | None = None) -> None:
        """``state``: what :meth:`state` gave in an earlier run, to go on from (``--resume``)."""
        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        if state is not None:
            self.averaged.load_state_dict(state["state"])

    @property
    def module(self) -> torch.nn.Module:
        """The averaged network (same class as the trained one): validate and save this."""
        module: torch.nn.Module = self.averaged.module
        return module

    def update(self, model: torch.nn.Module) -> None:
        self.averaged.update_parameters(model)

    def state(self) -> dict[str, Any]:
        """What a resumed run needs (see :mod:`performer.training.resume`)."""
        return {"decay": self.decay, "state": self.averaged.state_dict()}
