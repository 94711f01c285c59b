"""Issue #24 item 1: a client repeating ``/dream/network googlenet`` (no weights) had the load retried, the weights
re-hashed and an ERROR line logged on every request. A failed network is refused from memory until its weights
file changes; every refusal still reaches the engine (which sets the parameter back and tells the client), and
the log gets one counted line a second.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import torch

from performer.dream.networks import NetworkSlot
from performer.errors import ModelError


class FakeBackbone:
    def __init__(self) -> None:
        self.stages = torch.nn.Sequential()
        self.head = torch.nn.Sequential()

    def to(self, device):
        return self


@pytest.fixture
def slot_and_calls(tmp_path, monkeypatch, request):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no torchvision weights here
    calls: Counter[str] = Counter()

    def loader(name, download=True):
        calls[name] += 1
        if name != "efficientnet_lite0":
            raise ModelError(f"{name} needs torchvision's ImageNet weights (test)")
        return FakeBackbone()

    slot = NetworkSlot(loader, background=request.param)
    slot.load_now("efficientnet_lite0", torch.device("cpu"))
    yield slot, calls
    slot.close()


def ask(slot: NetworkSlot, network: str) -> list[tuple[str, str, str]]:
    """What the engine sees when a client asks for ``network``: a few frames, then the parameter set back."""
    for _ in range(3):
        slot.check(network)
        slot.wait(10)
    told = list(slot.failures)
    slot.failures.clear()
    slot.check(slot.network or "")  # the engine set dream.network back to what renders
    return told


@pytest.mark.parametrize("slot_and_calls", [False, True], ids=["foreground", "background"], indirect=True)
def test_a_network_that_failed_is_refused_from_memory_not_loaded_again(slot_and_calls, caplog):
    slot, calls = slot_and_calls
    caplog.set_level(logging.INFO, logger="performer.dream")
    told = [ask(slot, "googlenet") for _ in range(200)]
    assert calls["googlenet"] == 1  # loaded (and its weights hashed) once, not 200 times
    assert all(len(t) == 1 and t[0][:2] == ("dream.network", "googlenet") for t in told)
    assert all("needs torchvision's ImageNet weights" in t[0][2] and "keeping efficientnet_lite0" in t[0][2]
               for t in told)
    assert slot.network == "efficientnet_lite0" and slot.refused == 200
    lines = [r for r in caplog.records if "googlenet" in r.getMessage()]
    assert 1 <= len(lines) <= 4, [r.getMessage() for r in lines]
    assert any(r.levelno == logging.ERROR and "keeping efficientnet_lite0" in r.getMessage() for r in lines)
    assert all("so far" in r.getMessage() for r in lines if r.levelno >= logging.WARNING)
    ask(slot, "vgg16")  # the memory is per network
    assert calls["vgg16"] == 1


@pytest.mark.parametrize("slot_and_calls", [False], indirect=True)
def test_the_failed_network_is_tried_again_once_its_weights_file_appears(slot_and_calls, tmp_path):
    slot, calls = slot_and_calls
    ask(slot, "googlenet")
    ask(slot, "googlenet")
    assert calls["googlenet"] == 1
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "googlenet-1378be20.pth").write_bytes(b"not yet the weights")
    ask(slot, "googlenet")
    assert calls["googlenet"] == 2  # something changed: tried again (and failed again here)
    ask(slot, "googlenet")
    assert calls["googlenet"] == 2
    (folder / "googlenet-1378be20.pth").write_bytes(b"the weights, downloaded again")
    ask(slot, "googlenet")
    assert calls["googlenet"] == 3


@pytest.mark.parametrize("slot_and_calls", [False], indirect=True)
def test_a_request_repeated_before_the_set_back_is_seen_is_refused_again(slot_and_calls):
    """A client re-sending faster than frames: the slot never sees the set-back value between two requests."""
    slot, calls = slot_and_calls
    for _ in range(20):
        slot.check("googlenet")
        assert [f[:2] for f in slot.failures] == [("dream.network", "googlenet")]
        slot.check("googlenet")  # the next frame, the engine has not taken it yet: not queued twice
        assert len(slot.failures) == 1
        slot.failures.clear()  # the engine sets it back and tells the client; the client asks again at once
    assert calls["googlenet"] == 1 and slot.refused == 20
