"""The live Deep Dream renderer: keeps dreaming one image, frame after frame.

:meth:`DreamRenderer.prepare` loads the network and warms up;
:meth:`DreamRenderer.frame` is the per-frame path. Each frame costs a bounded
amount of work (:mod:`octaves`): ``dream.iterations`` gradient steps at *one*
octave, octaves taking turns from frame to frame, or with ``dream.tile`` the
smallest octave plus one tile of the larger ones, so a picture at the output's
size is dreamed at that size (:mod:`canvas`); the frame rate stays steady
whatever the settings. The picture's colours are held to its class's
(:mod:`grade`), and a drift moves a window over it by whole pixels.

The image is kept and dreamed further frame after frame: a change of the scene's
``key`` (the top sound class) *morphs* it -- the guidance glides to the new
class's targets over ``dream.crossfade`` seconds (:mod:`guidance`) and
``dream.portrait_pull`` of the picture's area dissolves, region by region, into
the class's portrait (never a mean of the two pictures). A new dream starts from
a seed only on the first frame, on ``dream.restart``, or on a class change when
``dream.class_change`` is ``restart``; the output then cross-fades from the old
image.

Every control is read from the parameter snapshot at each frame, so a change
takes effect at the next step. A network change loads in a background thread
while the old network keeps rendering; if it fails, the error is logged and the
old network stays. A bad ``dream.layers`` string is logged once and the last
valid layer set is kept. ``frame()`` does not raise on bad settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from performer.dream.grade import ColourHold
from performer.dream.guidance import GuideMix, Mix
from performer.dream.networks import NetworkSlot
from performer.dream.video_mix import VideoMix
from performer.errors import DreamError
from performer.params import Snapshot

if TYPE_CHECKING:
    import torch

    from performer.dream.backbones import Backbone
    from performer.dream.canvas import Dissolve, Window
    from performer.dream.octaves import Octaves

log = logging.getLogger(__name__)


@dataclass
class Scene:
    """What the engine tells the renderer each frame."""

    key: str | None = None
    """The top class name; a change morphs the dream (or restarts it, see dream.class_change). None: no change."""
    guide: tuple[int, ...] = ()
    """ImageNet class indices to push towards, with weight ``dream.guide_weight`` (when ``mix`` is empty)."""
    mix: Mix = ()
    """(class, ImageNet targets, probability) the guidance glides towards; empty keeps the current guidance."""
    seed_image: np.ndarray | None = None
    """HxWx3 uint8 image for seed 'class_image' (resized as needed); None means noise."""
    portrait: np.ndarray | None = None
    """HxWx3 uint8 image a class change pulls the picture towards (dream.portrait_pull)."""
    spectrogram: np.ndarray | None = None
    """2-D float array (mels x frames, any scale) for seed 'spectrogram'."""
    feedback_frames: float = 1.0
    """How many output frames of feedback (zoom, rotate, translate) to apply before this frame's steps."""
    video: np.ndarray | None = None
    """HxWx3 uint8: the live video's newest frame, mixed in by video.weight as video.mode says; None: no video."""
    colour: tuple[float, float, float] | None = None
    """RGB in [0, 1]: the followed class's colour (the preset's ``[classes.X] colour``); None: its portrait's."""


class DreamRenderer:
    """Continuous, class-guided Deep Dream.

    ``device``: "auto", "cuda", "mps" or "cpu". ``threads``: torch CPU threads
    (None leaves torch's choice). ``seed``: random seed for jitter and noise.
    ``clock``: seconds, for cross-fades (tests pass a fake one). ``download``:
    whether torchvision weights may be downloaded. ``background_load``: load a
    network chosen mid-run in a thread (the show goes on meanwhile).
    """

    def __init__(self, device: str = "auto", *, threads: int | None = None, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, download: bool = True,
                 background_load: bool = True, loader: Callable[..., Any] | None = None) -> None:
        self._device_name = device
        self._threads = threads
        self._seed = seed
        self._clock = clock
        self.device: torch.device | None = None
        self._gen: torch.Generator | None = None
        self._img: torch.Tensor | None = None        # the image being dreamed, full size
        self._seed_t: torch.Tensor | None = None     # the current dream's seed, full size
        self._fade_from: torch.Tensor | None = None  # last output before a new dream started
        self._fade_t0 = 0.0
        self._last_out: torch.Tensor | None = None
        self._size: tuple[int, int] | None = None
        self._key: str | None = None
        self._started = False
        self._restart_count: Any = None
        self._layers_spec: str | None = None
        self._layers: tuple[tuple[int, float], ...] = ()
        self._layers_net: str | None = None
        self._window = _new_window()  # where the visible picture lies in the one dreamed
        self._colour = ColourHold()  # the colour statistics the picture is held to
        self._bad_specs: OrderedDict[tuple[str, str], None] = OrderedDict()  # logged once each; the last 32
        self._bad_guides: set[str] = set()
        self._lock = threading.Lock()
        self.frames = 0
        self.frame_ms_ema = 0.0
        self._parts: dict[str, Any] = {}
        self.mix = GuideMix()
        self._pull: tuple[Dissolve, float] | None = None  # the morph to the new class's portrait, since when
        self._last_t: float | None = None
        self._video = VideoMix()  # the live video (the VJ's own content), converted once per video frame
        self._interrupted = threading.Event()
        self._octaves = _new_octaves(seed, self._interrupted)  # the turn and the tile sweeps between frames
        self.failures: deque[tuple[str, str, str]] = deque(maxlen=16)
        """Live changes that could not take effect: (parameter, value asked for, why); the engine takes them."""
        self._net = NetworkSlot(loader, download=download, background=background_load, failures=self.failures)
        self.layers_in_effect = ""
        """The dream.layers string the layers in use come from ("" is the network's default)."""

    # ------------------------------------------------------------------ setup

    def prepare(self, params: Snapshot) -> None:
        """Load ``params.dream.network`` and warm up with one frame. Raises :class:`ModelError`."""
        import torch

        from performer.device import choose_device

        if self._threads:
            torch.set_num_threads(int(self._threads))
        try:
            self.device = choose_device(self._device_name)
        except (RuntimeError, ValueError) as e:
            raise DreamError(f"dream renderer device: {e}") from e
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # the frame size rarely changes: let cuDNN pick its fastest kernels
        self._gen = torch.Generator().manual_seed(self._seed)
        self._net.load_now(params.dream.network, self.device)
        self._resolve_layers(params)
        self._restart_count = params.dream.restart
        # Warm-up: a couple of real steps at the configured size (allocator, kernels, oneDNN primitives).
        saved = (self._img, self._started, self.frames)
        for _ in range(2):
            self.frame(params, Scene())
        self._img, self._started, self.frames = saved
        self._octaves.restart()
        self._fade_from = None
        self._last_out = None
        self._key = None
        self.mix = GuideMix()
        self._pull = None
        self._last_t = None

    def interrupt(self) -> None:
        """Make the frame being dreamed (and every later one) stop after its current step: for shutting down."""
        self._interrupted.set()

    def close(self) -> None:
        self._net.close()

    @property
    def pending_shift(self) -> tuple[float, float]:
        """How far (x, y, pixels) the last frame's content lies from where it is shown (under half a pixel of
        drift); the output clock moves it on."""
        return self._window.fraction

    @property
    def backbone(self) -> Backbone | None:
        """The network being dreamed with."""
        return self._net.backbone

    @property
    def network(self) -> str | None:
        return self._net.network

    def wait_for_network(self, timeout: float | None = None) -> None:
        """Block until a background network load has finished (for tests and tools)."""
        self._net.wait(timeout)

    # ------------------------------------------------------------------ live changes

    def _resolve_layers(self, params: Snapshot) -> None:
        from performer.dream.layers import parse_layers

        spec = params.dream.layers
        if spec == self._layers_spec and self._layers_net == self.network:
            return
        bb = self.backbone
        assert bb is not None and self.network is not None  # both loaded by prepare()
        effective = spec
        try:
            layers = parse_layers(spec, self.network)
        except DreamError as e:
            keep = self._layers_net == self.network and self._layers
            if (self.network, spec) not in self._bad_specs:
                self._bad_specs[(self.network, spec)] = None
                while len(self._bad_specs) > 32:
                    self._bad_specs.popitem(last=False)
                log.error("%s; keeping %s", e, "the previous layers" if keep else "the network's default layers")
            self.failures.append(("dream.layers", spec,
                                  f"{e}; keeping {'the previous layers' if keep else 'the default layers'}"))
            if not keep:
                layers, effective = parse_layers("", self.network), ""
            else:
                self._layers_spec = spec
                return
        self._layers = tuple((bb.index(n), float(w)) for n, w in layers.items())
        self._layers_spec = spec
        self._layers_net = self.network
        self.layers_in_effect = effective

    @property
    def layers(self) -> dict[str, float]:
        """The layer set in use (names and weights)."""
        bb = self.backbone
        if bb is None:  # not prepared: no layers resolved yet
            return {}
        return {bb.stage_names[i]: w for i, w in self._layers}

    # ------------------------------------------------------------------ per frame

    def _valid_guide(self, guide: Any) -> tuple[int, ...]:
        try:
            idx = tuple(int(g) for g in guide)
        except (TypeError, ValueError):
            idx = ()
            bad = guide
        else:
            bad = [g for g in idx if not 0 <= g < 1000]
            if bad:
                idx = tuple(g for g in idx if 0 <= g < 1000)
        if bad and repr(bad) not in self._bad_guides:
            self._bad_guides.add(repr(bad))
            log.error("scene.guide: %r are not ImageNet class indices (0-999); ignoring them", bad)
        return idx

    def _make_seed(self, params: Snapshot, scene: Scene, size: tuple[int, int]) -> torch.Tensor:
        from performer.dream.seeds import image_seed, noise_seed, spectrogram_seed

        assert self.device is not None  # frame() runs only after prepare()
        kind = params.dream.seed
        try:
            if kind == "previous" and self._img is not None:
                return self._window.crop(self._img, size)
            if kind == "class_image" and scene.seed_image is not None:
                return image_seed(scene.seed_image, size, self.device)
            if kind == "spectrogram" and scene.spectrogram is not None:
                return spectrogram_seed(scene.spectrogram, size, self.device)
        except (ValueError, TypeError) as e:
            log.error("dream.seed %s: unusable seed (%s); starting from noise", kind, e)
        return noise_seed(size, self.device, self._gen)

    def _portrait(self, image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        from performer.dream.seeds import image_seed

        assert self.device is not None
        return image_seed(image, size, self.device)

    def frame(self, params: Snapshot, scene: Scene | None = None) -> np.ndarray:
        """Dream one output frame; returns HxWx3 uint8 RGB of size dream.height x dream.width. The picture dreamed
        is a margin larger (:func:`~performer.dream.canvas.margin_for`): a drift moves the visible window over it."""
        import torch

        from performer.dream import canvas, core

        if self.backbone is None:
            raise DreamError("DreamRenderer.frame() called before prepare()")
        t0 = time.perf_counter()
        scene = scene or Scene()
        d = params.dream
        self._net.check(d.network)
        self._resolve_layers(params)
        size = (d.height, d.width)
        now = self._clock()

        with torch.no_grad():
            if self._size != size:
                self._resize(size)
            self._size = size
            restarted, self._restart_count = d.restart != self._restart_count, d.restart
            dt = 0.0 if self._last_t is None else max(0.0, now - self._last_t)
            self._last_t = now
            crossfade = d.crossfade
            changed = self._started and scene.key is not None and scene.key != self._key
            if not self._started or restarted or (changed and d.class_change == "restart"):
                seed = self._video.apply(self._make_seed(params, scene, size), params.video, scene.video, "restart")
                if self._last_out is not None and crossfade > 0:
                    self._fade_from, self._fade_t0 = self._last_out, now
                else:
                    self._fade_from = None
                self._window = canvas.Window(canvas.margin_for(size))
                self._seed_t = canvas.widen(seed, self._window.margin)
                self._img = self._seed_t.clone()
                self._started = True
                self._octaves.restart()
                self._pull = None
                self.mix.jump(scene.mix)
            elif changed and scene.portrait is not None:
                # the new class's portrait: pulled towards over the crossfade, and what dream.blend holds to
                self._seed_t = self._place(self._portrait(scene.portrait, size))
                if d.portrait_pull > 0:
                    self._pull = (canvas.Dissolve(self._seed_t, self._gen), now)
            if scene.key is not None:
                self._key = scene.key
            self.mix.update(scene.mix, dt, crossfade)
            assert self._img is not None and self._seed_t is not None
            if scene.key is not None:  # the followed class's portrait; before any, the picture it starts from
                self._colour.aim(scene.portrait, scene.colour, now, crossfade)
            elif self._colour.target is None:
                self._colour.aim(scene.seed_image, None)
            img = self._move(params, max(0.0, float(scene.feedback_frames)))

        obj = core.Objective(self._layers, self._valid_guide(scene.guide), d.guide_weight, mix=self.mix.groups())
        img, parts = self._octaves.dream(self.backbone, img, params, obj, self._gen)
        with torch.no_grad():
            blend = d.blend
            if blend > 0:
                img = torch.lerp(img, self._seed_t, blend)
            img = self._video.apply(img, params.video, scene.video, "blend")
            if self._pull is not None:
                dissolve, since = self._pull
                a = 1.0 if crossfade <= 0 else min(1.0, (now - since) / crossfade)
                if dissolve.target.shape[-2:] == img.shape[-2:]:  # ``pull`` of the area, eased in and out
                    img = dissolve.apply(img, d.portrait_pull * a * a * (3 - 2 * a))
                if a >= 1.0 or dissolve.target.shape[-2:] != img.shape[-2:]:
                    self._pull = None
            img = self._colour.hold(img, d.colour_hold, dt, now)
            self._img = img
            out = self._window.crop(img, size)
            if self._fade_from is not None:
                fade = d.crossfade
                a = 1.0 if fade <= 0 else (now - self._fade_t0) / fade
                if a >= 1.0 or self._fade_from.shape != out.shape:
                    self._fade_from = None
                else:
                    out = torch.lerp(self._fade_from, out, max(0.0, a))
            self._last_out = out
            frame = core.to_uint8(out)
        self._parts = parts
        self.frames += 1
        ms = (time.perf_counter() - t0) * 1000
        self.frame_ms_ema = ms if self.frames == 1 else 0.9 * self.frame_ms_ema + 0.1 * ms
        return frame

    def _resize(self, size: tuple[int, int]) -> None:
        """A new dream.width/height: the picture, its seed and the fade scaled to it."""
        from performer.dream import canvas

        m = canvas.margin_for(size)
        big = (size[0] + 2 * m, size[1] + 2 * m)
        if self._img is not None:
            assert self._seed_t is not None  # set together with self._img
            self._img, self._seed_t = canvas.resize(self._img, big), canvas.resize(self._seed_t, big)
            self._pull = None
        if self._fade_from is not None:
            self._fade_from = canvas.resize(self._fade_from, size)
        if self._last_out is not None:
            self._last_out = canvas.resize(self._last_out, size)
        self._window = canvas.Window(m)

    def _place(self, visible: torch.Tensor) -> torch.Tensor:
        """A visible-sized image placed where the window is: the margin around it its mirror image."""
        from performer.dream import canvas

        w = self._window
        wide = canvas.widen(visible, w.margin)
        return canvas.shift(wide, round(w.x) - w.margin, round(w.y) - w.margin)

    def _move(self, params: Snapshot, k: float) -> torch.Tensor:
        """The picture moved by ``k`` output frames of zoom, turn and drift: a drift moves the window (exact),
        a zoom or turn warps the picture (bilinear)."""
        from performer.dream import canvas

        assert self._img is not None and self._seed_t is not None
        d = params.dream
        zoom, rot = d.zoom ** k, d.rotate * k
        img, seed = self._img, self._seed_t
        if abs(zoom - 1.0) > 1e-5 or abs(rot) > 1e-4:
            img = canvas.warp(img, zoom, rot)
            if d.blend > 0:  # the picture it is held to travels with it
                seed = canvas.warp(seed, zoom, rot)
        img = self._window.move(img, d.translate_x * k, d.translate_y * k)
        if self._window.recentred is not None:  # what the picture is pulled or held to moves back with it
            seed = canvas.shift(seed, *self._window.recentred)
            if self._pull is not None:
                self._pull[0].shift(*self._window.recentred)
        self._seed_t = seed
        return img

    # ------------------------------------------------------------------ one-off renders

    def render(self, params: Snapshot, image: np.ndarray | None = None,
               guide: tuple[int, ...] = ()) -> np.ndarray:
        """A classic Deep Dream of ``image`` (None: noise): every octave, ``dream.iterations`` steps each.

        Uses the loaded network and the layers of ``params``; returns HxWx3 uint8 at dream.height x dream.width
        (the image is resized to that size first). Unlike :meth:`frame`, a bad layer string raises DreamError.
        """
        import torch

        from performer.dream import core
        from performer.dream.layers import parse_layers
        from performer.dream.octaves import step_settings
        from performer.dream.seeds import image_seed, noise_seed

        if self.backbone is None:
            raise DreamError("DreamRenderer.render() called before prepare()")
        assert self.device is not None and self.network is not None  # set by prepare() with the backbone
        d = params.dream
        layers = parse_layers(d.layers, self.network)
        obj = core.Objective(tuple((self.backbone.index(n), w) for n, w in layers.items()), tuple(guide),
                             d.guide_weight)
        s = step_settings(params)
        size = (d.height, d.width)
        with torch.no_grad():
            base = noise_seed(size, self.device, self._gen) if image is None else image_seed(image, size, self.device)
        out = core.dream_octaves(self.backbone, base, obj, s, d.iterations, d.octaves, d.octave_scale, self._gen)
        return core.to_uint8(out)

    @property
    def last_parts(self) -> dict[str, float]:
        """The last step's objective and its parts (mean squared activation per layer, guide log-probability)."""
        return {k: float(v) for k, v in self._parts.items()}

    def stats(self) -> dict[str, Any]:
        return {"network": self.network, "frames": self.frames, "frame_ms_ema": round(self.frame_ms_ema, 2),
                "layers": self.layers if self.backbone is not None else {}, **self.last_parts}


def _new_octaves(seed: int, interrupted: threading.Event) -> Octaves:
    from performer.dream.octaves import Octaves

    return Octaves(seed, interrupted)


def _new_window() -> Window:
    from performer.dream.canvas import Window

    return Window(0)
