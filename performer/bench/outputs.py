"""``performer bench outputs``: what each frame output costs, and what the outputs cost the renderer.

1. Cost per frame of each output at each size (default 512x512 and 1920x1080): the layout (conversion) and the
   send, timed separately on the calling thread (medians over ``--frames`` frames). NDI is measured with a
   loopback receiver connected (without one the runtime skips compression); the preview's cost is the copy
   in ``send`` plus the JPEG encode a watching browser triggers; the recorder writes PNGs and encodes H.264
   with PyAV (libx264 on the recorder's thread, its own worker threads competing for the same cores).
   ``scale`` times a ``--dream-size`` dream scaled up to each size, each way there is, as ratios within the run
   (:mod:`performer.bench.scale`).
2. The renderer's frames per second with all outputs on (NDI with a receiver, the preview with a client polling
   it, the recorder) versus none, through the real engine, for ``--engine-seconds`` each.

Results are medians in milliseconds; the machine's load matters (see ``uptime``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from performer.runtime import Worker

log = logging.getLogger(__name__)

KINDS = ("layout", "ndi", "preview", "record", "frames", "rgba", "scale")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT (e.g. 1920x1080)") from None
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {text!r} is outside 16x16..7680x4320")
    return w, h


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=_size, nargs="+", default=[(512, 512), (1920, 1080)],
                   help="frame sizes WIDTHxHEIGHT (default 512x512 1920x1080)")
    p.add_argument("--frames", type=int, default=30, help="frames timed per output and size (default 30)")
    p.add_argument("--only", nargs="+", choices=KINDS, default=list(KINDS),
                   help="outputs to time (default all: " + ", ".join(KINDS) + ")")
    p.add_argument("--dream-size", type=_size, default=(320, 180),
                   help="the dream's size that 'scale' scales up to each size (default 320x180)")
    p.add_argument("--no-per-frame", action="store_true", help="skip part 1 (cost per frame); only the engine run")
    p.add_argument("--engine-seconds", type=float, default=10.0,
                   help="seconds the engine runs with outputs off, then on (0 skips this part; default 10)")
    p.add_argument("--rounds", type=int, default=2,
                   help="alternate outputs off and on this many times (the load of a shared machine drifts; "
                        "default 2)")
    p.add_argument("--engine-size", type=_size, default=(512, 512), help="dream size in the engine run")
    p.add_argument("--renderer", choices=("dream", "synthetic"), default="dream",
                   help="dream: the real Deep Dream renderer; synthetic: a gradient, to see the outputs' "
                        "overhead without the network (default dream)")
    p.add_argument("--device", default="cpu", help="the dream renderer's device (default cpu)")


def _frame(w: int, h: int, n: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255 // (w - 1) + 7 * n) % 256, y * 255 // (h - 1),
                     ((x + y) // 8 + 3 * n) % 256], axis=-1).astype(np.uint8)


def _info(n: int):
    from performer.outputs import FrameInfo

    classes = ("air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
               "gun_shot", "jackhammer", "siren", "street_music")
    rng = np.random.default_rng(n)
    p = rng.dirichlet(np.ones(len(classes)))
    spec = _spectrogram(n // 3)  # a new analysis window every third frame, as at 30 fps with a 0.1 s hop
    return FrameInfo(n, n / 30.0, classes[int(np.argmax(p))], float(p.max()), classes, p, spec, -20.0,
                     {"fps": 30.0})


@functools.lru_cache(maxsize=4)
def _spectrogram(k: int) -> np.ndarray:
    return np.random.default_rng(k).normal(-40, 12, (64, 44)).astype(np.float32)


def _median_ms(samples: list[float]) -> float:
    return round(1000.0 * statistics.median(samples), 2) if samples else float("nan")


class _NDIDrain:
    """A loopback NDI receiver that takes every frame (so the sender really compresses and sends)."""

    def __init__(self, source_name: str) -> None:
        import NDIlib as ndi  # noqa: N813  (ndi-python's documented alias)

        self.ndi, self.received = ndi, 0
        self.find = ndi.find_create_v2(ndi.FindCreate(show_local_sources=True, p_extra_ips="127.0.0.1"))
        self.recv = None
        self._worker = Worker("bench-ndi-receiver", self._run, timeout=2.0)
        deadline = time.monotonic() + 10
        while self.recv is None and time.monotonic() < deadline:
            ndi.find_wait_for_sources(self.find, 200)
            for src in ndi.find_get_current_sources(self.find):
                if src.ndi_name == source_name:
                    rc = ndi.RecvCreateV3()
                    rc.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
                    self.recv = ndi.recv_create_v3(rc)
                    ndi.recv_connect(self.recv, src)
        if self.recv is None:
            raise RuntimeError(f"NDI source {source_name!r} not found on loopback")
        self._worker.start()

    def _run(self) -> None:
        ndi = self.ndi
        while self._worker.running:
            t, v, a, m = ndi.recv_capture_v2(self.recv, 100)
            if t == ndi.FRAME_TYPE_VIDEO:
                self.received += 1
                ndi.recv_free_video_v2(self.recv, v)

    def close(self) -> None:
        self._worker.stop()
        if self.recv is not None:
            self.ndi.recv_destroy(self.recv)
        self.ndi.find_destroy(self.find)


class _Poller:
    """A browser stand-in: fetches the preview's frame and state at ``rate`` Hz."""

    def __init__(self, url: str, rate: float = 15.0) -> None:
        self.url, self.period, self.frames = url, 1.0 / rate, 0
        self._worker = Worker("bench-poller", self._run, timeout=5.0)
        self._worker.start()

    def _run(self) -> None:
        while self._worker.running:
            t0 = time.monotonic()
            for path in ("frame.jpg", "state.json"):
                try:
                    with urllib.request.urlopen(self.url + path, timeout=5) as r:
                        r.read()
                        self.frames += path == "frame.jpg"
                except OSError:
                    pass
            self._worker.wait(max(0.0, self.period - (time.monotonic() - t0)))

    def close(self) -> None:
        self._worker.stop()


def _time_output(out, w: int, h: int, frames: int) -> dict[str, Any]:
    """Open ``out``, then call its layout and ``_send`` directly on this thread; medians in ms."""
    conv, send = [], []
    for n in range(frames + 3):
        f, inf = _frame(w, h, n), _info(n)
        t0 = time.perf_counter()
        g = out.layout(f, inf) if out.layout is not None else f
        t1 = time.perf_counter()
        out._send(g, inf)
        t2 = time.perf_counter()
        if n >= 3:  # warm-up frames left out
            conv.append(t1 - t0)
            send.append(t2 - t1)
    return {"layout_ms": _median_ms(conv), "send_ms": _median_ms(send),
            "total_ms": round(_median_ms(conv) + _median_ms(send), 2)}


def _per_frame(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    from performer.outputs import FolderOutput, Layout, NDIOutput, RecordOutput, to_rgba
    from performer.outputs.preview import PreviewOutput

    rows: list[dict[str, Any]] = []
    for w, h in args.sizes:
        size = f"{w}x{h}"
        if "scale" in args.only:
            from performer.bench.scale import scale_rows

            rows.extend(scale_rows(args.dream_size, [(w, h)], args.frames))
        for layout in ("dream", "composite"):
            lay = Layout(layout, w, h)
            if "layout" in args.only:
                t = []
                for n in range(args.frames + 3):
                    f, inf = _frame(w, h, n), _info(n)
                    t0 = time.perf_counter()
                    lay(f, inf)
                    if n >= 3:
                        t.append(time.perf_counter() - t0)
                rows.append({"output": "layout only", "size": size, "layout": layout, "total_ms": _median_ms(t)})
            if "rgba" in args.only:
                buf, t = None, []
                for n in range(args.frames + 3):
                    f = _frame(w, h, n)
                    t0 = time.perf_counter()
                    buf = to_rgba(f, buf)
                    if n >= 3:
                        t.append(time.perf_counter() - t0)
                rows.append({"output": "syphon/spout RGBA conversion", "size": size, "layout": layout,
                             "total_ms": _median_ms(t), "note": "the platform-neutral part only"})
            if "ndi" in args.only:
                try:
                    ndi_out = NDIOutput(f"bench-ndi-{size}-{layout}", sender=f"Performer bench {size} {layout}",
                                        layout=lay)
                    ndi_out._open()
                    drain = _NDIDrain(ndi_out.source_name)
                    time.sleep(0.5)
                    try:
                        row = _time_output(ndi_out, w, h, args.frames)
                    finally:
                        drain.close()
                        ndi_out._close()
                    rows.append({"output": "ndi", "size": size, "layout": layout, **row,
                                 "received": drain.received})
                except Exception as e:
                    rows.append({"output": "ndi", "size": size, "layout": layout, "error": str(e)})
            if "preview" in args.only:
                preview = PreviewOutput("bench-preview", port=0, layout=lay)
                preview._open()
                try:
                    row = _time_output(preview, w, h, args.frames)
                    enc = []
                    for n in range(args.frames):
                        preview._send(_frame(w, h, n), _info(10_000 + n))
                        t0 = time.perf_counter()
                        preview.jpeg()
                        enc.append(time.perf_counter() - t0)
                    row["jpeg_ms_per_request"] = _median_ms(enc)
                finally:
                    preview._close()
                rows.append({"output": "preview", "size": size, "layout": layout, **row})
            if "record" in args.only:
                record = RecordOutput(tmp / f"rec-{size}-{layout}", fps=30, layout=lay)
                record._open()
                try:
                    row = _time_output(record, w, h, args.frames)
                finally:
                    record._close()
                rows.append({"output": "record (png + video)" if record._av is not None else "record (png)",
                             "size": size, "layout": layout, **row})
            if "frames" in args.only:
                folder = FolderOutput(tmp / f"frames-{size}-{layout}", layout=lay)
                folder._open()
                try:
                    row = _time_output(folder, w, h, args.frames)
                finally:
                    folder._close()
                rows.append({"output": "frames (jpg)", "size": size, "layout": layout, **row})
    return rows


class _BandClassifier:
    """A small real classifier for the engine run (energy in three bands), so the test of outputs does not
    depend on the shipped model."""

    classes = ["low", "mid", "high"]
    sample_rate = 22050
    window_seconds = 1.0

    def predict(self, audio: np.ndarray) -> np.ndarray:
        x = np.asarray(audio, dtype=np.float64)[-4096:]
        mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        k = len(mag)
        e = np.array([mag[:k // 16].sum(), mag[k // 16:k // 4].sum(), mag[k // 4:].sum()]) + 1e-9
        return (e / e.sum()).astype(np.float32)


class _Gradient:
    """A renderer that costs next to nothing: eight precomputed frames in turn."""

    def __init__(self, w: int, h: int) -> None:
        self.frames, self.n = [_frame(w, h, 5 * k) for k in range(8)], 0

    def prepare(self, params: Any) -> None:
        pass

    def frame(self, params: Any, scene: Any) -> np.ndarray:
        self.n += 1
        return self.frames[self.n % len(self.frames)]


def _engine_fps(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from performer.audio import ArraySource
    from performer.engine import Engine
    from performer.outputs import FrameOutput, Layout, NDIOutput, RecordOutput
    from performer.outputs.preview import PreviewOutput
    from performer.presets import Preset

    w, h = args.engine_size
    rate = 22050
    t = np.arange(rate * 6) / rate
    audio = (0.3 * np.sin(2 * np.pi * np.where(t < 3, 300, 4000) * t)).astype(np.float32)
    results: dict[str, Any] = {"renderer": args.renderer, "size": f"{w}x{h}", "seconds": args.engine_seconds,
                               "rounds": args.rounds}
    fps_by_mode: dict[str, list[float]] = {"off": [], "on": []}
    for rnd in range(args.rounds):
        for mode in ("off", "on"):
            outputs: list[FrameOutput] = []
            helpers: list[_NDIDrain | _Poller] = []
            ndi_out: NDIOutput | None = None
            preview: PreviewOutput | None = None
            drain: _NDIDrain | None = None
            poller: _Poller | None = None
            if mode == "on":
                ndi_out = NDIOutput("ndi", sender=f"Performer bench engine {rnd}")
                preview = PreviewOutput("preview", port=0)
                outputs = [ndi_out, preview,
                           RecordOutput(tmp / f"engine-rec-{args.renderer}-{rnd}", fps=30,
                                        layout=Layout("composite"))]
            if args.renderer == "dream":
                from performer.dream import DreamRenderer

                renderer: Any = DreamRenderer(device=args.device)
            else:
                renderer = _Gradient(w, h)
            preset = Preset(name="bench outputs", params={"dream.width": w, "dream.height": h,
                                                          "output.fps": 120.0})
            engine = Engine(source=ArraySource(audio, rate, name="bench", loop=True),
                            classifier=_BandClassifier(), renderer=renderer, outputs=outputs, preset=preset)
            engine.start()
            try:
                if mode == "on":
                    assert ndi_out is not None and preview is not None  # made above when mode is "on"
                    drain, poller = _NDIDrain(ndi_out.source_name), _Poller(preview.url)
                    helpers = [drain, poller]
                time.sleep(2.0)  # warm-up
                f0, t0 = engine.render_stats.frames, time.monotonic()
                time.sleep(args.engine_seconds)
                fps = (engine.render_stats.frames - f0) / (time.monotonic() - t0)
                status = engine.status()
            finally:
                for hlp in helpers:
                    hlp.close()
                engine.stop()
            fps_by_mode[mode].append(round(fps, 2))
            if mode == "on":
                results.setdefault("outputs", []).append(status["outputs"])
                assert drain is not None and poller is not None  # started above when mode is "on"
                results.setdefault("ndi_frames_received", []).append(drain.received)
                results.setdefault("preview_frames_fetched", []).append(poller.frames)
    for mode, values in fps_by_mode.items():
        results[f"fps_outputs_{mode}_rounds"] = values
        results[f"fps_outputs_{mode}"] = round(float(np.mean(values)), 2) if values else None
    if results.get("fps_outputs_off"):
        results["fps_change_pct"] = round(100.0 * (results["fps_outputs_on"] / results["fps_outputs_off"] - 1), 1)
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    from performer.outputs.record import _pyav

    with tempfile.TemporaryDirectory(prefix="performer-bench-outputs-") as d:
        tmp = Path(d)
        result: dict[str, Any] = {"frames_per_case": args.frames, "video": _pyav() is not None}
        if not args.no_per_frame:
            result["per_frame"] = _per_frame(args, tmp)
        if args.engine_seconds > 0:
            result["engine"] = _engine_fps(args, tmp)
    return result
