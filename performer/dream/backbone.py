"""An ImageNet network cut into named stages, each a layer one can dream on, plus the head that gives logits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch
    from torch import nn

NetworkName = Literal["efficientnet_lite0", "googlenet", "vgg16", "resnet50"]
NETWORKS: tuple[str, ...] = ("efficientnet_lite0", "googlenet", "vgg16", "resnet50")

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Layers dreamed on when ``dream.layers`` is empty: mid-depth layers that give
# the classic eyes-and-fur textures.
DEFAULT_LAYERS: dict[str, dict[str, float]] = {
    "efficientnet_lite0": {"blocks.10": 1.0},
    "googlenet": {"inception4c": 1.0},
    "vgg16": {"features.22": 1.0},
    "resnet50": {"layer3.2": 1.0},
}


@dataclass
class Backbone:
    """An ImageNet network cut into stages.

    ``stages`` run in order; ``stage_names[i]`` names the output of stage ``i``
    (the layers one can dream on). ``head`` maps the last stage's output to
    logits. Input images are RGB in [0, 1]; :meth:`normalize` applies the
    network's own mean and standard deviation.
    """

    name: str
    stage_names: list[str]
    stages: nn.ModuleList
    head: nn.Module
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    default_layers: dict[str, float] = field(default_factory=dict)
    source: str = ""
    _mean_t: torch.Tensor | None = None
    _std_t: torch.Tensor | None = None

    def index(self, layer: str) -> int:
        try:
            return self.stage_names.index(layer)
        except ValueError:
            raise KeyError(layer) from None

    def to(self, device: torch.device) -> Backbone:
        import torch

        self.stages.to(device)
        self.head.to(device)
        self._mean_t = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        self._std_t = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self._mean_t is None or self._mean_t.device != x.device:
            self.to(x.device)
        return (x - self._mean_t) / self._std_t  # type: ignore[operator]

    def run(self, x: torch.Tensor, upto: int, keep: Sequence[int] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run stages ``0..upto`` on a normalised image; return the last output and those of ``keep``."""
        kept: dict[int, torch.Tensor] = {}
        for i in range(upto + 1):
            x = self.stages[i](x)
            if i in keep:
                kept[i] = x
        return x, kept

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The full network on an RGB [0, 1] image: ImageNet logits."""
        out, _ = self.run(self.normalize(x), len(self.stages) - 1)
        return self.head(out)
