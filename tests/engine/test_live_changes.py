"""Live changes that cannot take effect are set back to what renders, and whoever listens is told why."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wait_until
from performer.audio import ArraySource
from performer.dream import DreamRenderer
from performer.dream.layers import parse_layers
from performer.engine import Engine
from performer.errors import DreamError
from performer.presets import Preset
from sounds import ToneClassifier, tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no torchvision weights here, and none downloaded
    e = Engine(source=ArraySource(tone(300, 60.0), 22050, name="tone"), classifier=ToneClassifier(),
               renderer=DreamRenderer("cpu"), outputs=[],
               preset=Preset(name="small", params={"dream.width": 64, "dream.height": 64, "output.fps": 10.0}))
    e.start()
    yield e
    e.stop()


def test_a_bad_layer_string_is_set_back_and_reported(engine):
    told: list[tuple[str, object, str]] = []
    engine.error_listeners.append(lambda name, value, why: told.append((name, value, why)))
    engine.store.set("dream.layers", "blocks.4=0.5", glide=False)
    assert wait_until(lambda: engine.renderer.layers == {"blocks.4": 0.5}, 10)
    engine.store.set("dream.layers", "blocks.4=1e39", glide=False)  # finite as a double, infinite as a float
    assert wait_until(lambda: engine.store.get("dream.layers") == "blocks.4=0.5", 10)
    assert engine.renderer.layers == {"blocks.4": 0.5}
    assert told and told[0][0] == "dream.layers" and "out of range" in told[0][2]
    frame = engine.last_frame
    assert frame is not None and np.isfinite(frame).all() and frame.std() > 1  # never a black frame


def test_a_network_without_weights_is_set_back_and_never_downloaded(engine, monkeypatch):
    import torch.hub

    def no_download(*a, **kw):
        raise AssertionError("a live network change started a download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    told: list[tuple[str, object, str]] = []
    engine.error_listeners.append(lambda name, value, why: told.append((name, value, why)))
    engine.store.set("dream.network", "googlenet", glide=False)
    assert wait_until(lambda: engine.store.get("dream.network") == "efficientnet_lite0" and told, 20)
    assert told[0][:2] == ("dream.network", "googlenet") and "not found in" in told[0][2]
    assert engine.renderer.network == "efficientnet_lite0"


def test_layer_weights_are_bounded_and_long_strings_refused():
    with pytest.raises(DreamError, match="out of range"):
        parse_layers("blocks.4=1e39", "efficientnet_lite0")
    with pytest.raises(DreamError, match="at most 1000"):
        parse_layers("blocks.4=1," * 200, "efficientnet_lite0")
    assert parse_layers("blocks.4=-100", "efficientnet_lite0") == {"blocks.4": -100.0}


def test_the_renderer_remembers_only_recent_bad_layer_strings():
    r = DreamRenderer("cpu", background_load=False)
    from performer.params import ParamStore

    store = ParamStore()
    store.update({"dream.width": 64, "dream.height": 64}, glide=False)
    r.prepare(store.snapshot())
    for k in range(100):
        store.set("dream.layers", f"blocks.{k + 100}", glide=False)
        r._resolve_layers(store.snapshot())
    assert len(r._bad_specs) <= 32 and len(r.failures) <= 16
