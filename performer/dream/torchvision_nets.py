"""GoogLeNet, VGG16 and ResNet-50 from torchvision, cut into stages; their ImageNet weights come from torchvision's
cache under ``$TORCH_HOME`` or are downloaded there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from performer.dream.backbone import DEFAULT_LAYERS, IMAGENET_MEAN, IMAGENET_STD, Backbone
from performer.errors import ModelError

# --------------------------------------------------------------------------- torchvision networks


def _tv_weights(name: str):
    from torchvision import models

    return {
        "googlenet": models.GoogLeNet_Weights.IMAGENET1K_V1,
        "vgg16": models.VGG16_Weights.IMAGENET1K_V1,
        "resnet50": models.ResNet50_Weights.IMAGENET1K_V1,
    }[name]


def _hash_prefix(fname: str) -> str:
    """The SHA-256 prefix torchvision writes into its weight file names (``resnet50-0676ba61.pth``)."""
    stem = fname.rsplit(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return prefix if len(prefix) >= 8 and all(c in "0123456789abcdef" for c in prefix) else ""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tv_state_dict(name: str, download: bool) -> tuple[dict, str]:
    """The network's ImageNet weights: checked against the hash in their file name, then loaded weights-only.

    A file planted in the torch cache under the expected name fails the hash check and is never unpickled;
    torch's loader itself is run with ``weights_only=True``, so even a file that passed could not run code."""
    import torch
    import torch.hub

    weights = _tv_weights(name)
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    fname = weights.url.rsplit("/", 1)[-1]
    path = ckpt_dir / fname
    prefix = _hash_prefix(fname)
    if not path.is_file():
        if not download:
            raise ModelError(
                f"{name} needs torchvision's ImageNet weights {fname}, not found in {ckpt_dir} (TORCH_HOME="
                f"{os.environ.get('TORCH_HOME', 'unset')}); download {weights.url} there, or use dream.network "
                "efficientnet_lite0 which needs no download"
            )
        try:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=prefix or None, progress=False)
        except Exception as e:  # network errors come in many classes
            raise ModelError(
                f"{name} needs torchvision's ImageNet weights {fname}: not in {ckpt_dir} and the download from "
                f"{weights.url} failed ({type(e).__name__}: {e}); put the file there by hand, or use "
                "dream.network efficientnet_lite0 which needs no download"
            ) from e
    if prefix and not _sha256(path).startswith(prefix):
        raise ModelError(f"{name} weights {path} do not match their published hash ({prefix}...): the file is "
                         "damaged or not torchvision's; delete it and download it again")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelError(f"{name} weights {path} could not be read as plain weights: {e}") from e
    return sd, str(path)


def load_torchvision(name: str, download: bool) -> Backbone:
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
