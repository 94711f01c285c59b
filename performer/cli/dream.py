"""``performer dream``: one-off Deep Dream renders and the list of layers; ``performer portraits``: the class
portraits live dreams start from."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from performer.cli.log import TerminalLine
from performer.cli.status import terminal_width

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dream",
        help="dream an image once (or list a network's layers)",
        description="Render one classic Deep Dream of IMAGE (or of noise: IMAGE 'noise') with the renderer of "
        "the live show. Every octave, small to large, gets --iterations gradient steps (default "
        f"{ONE_OFF_DEFAULTS['iterations']} steps over {ONE_OFF_DEFAULTS['octaves']} octaves). Other options left out "
        "take the dream.* parameter defaults (see 'performer params'); a value outside a parameter's range is an "
        "error.",
        epilog="Examples: performer dream photo.jpg --out dream.png --guide 'golden retriever' --guide-weight 2; "
        "performer dream noise --out dogs.png --sound dog_bark --octaves 3; performer dream --list-layers vgg16",
    )
    p.add_argument("image", nargs="?", help="image file to dream on, or 'noise'")
    p.add_argument("--out", "-o", help="output image file (png, jpg, ...)")
    p.add_argument("--list-layers", nargs="?", const="", metavar="NET",
                   help="list the layers of NET (default: every network) and exit")
    p.add_argument("--net", "--network", dest="network",
                   choices=("efficientnet_lite0", "googlenet", "vgg16", "resnet50"),
                   help="ImageNet network (default efficientnet_lite0, which needs no download)")
    p.add_argument("--layers", help="layers with weights, e.g. 'blocks.4=1,blocks.6=0.5' (default: the net's)")
    p.add_argument("--iterations", type=int, help="gradient steps per octave")
    p.add_argument("--octaves", type=int, help="number of image scales")
    p.add_argument("--octave-scale", type=float, help="size ratio between octaves")
    p.add_argument("--lr", type=float, help="step size")
    p.add_argument("--jitter", type=int, help="random shift per step, pixels")
    p.add_argument("--grad-norm", choices=("mean_abs", "std", "none"), help="gradient normalisation")
    p.add_argument("--grad-smooth", type=float, help="gradient blur, pixels")
    p.add_argument("--width", type=int, help="output width (default: the image's, within the allowed range)")
    p.add_argument("--height", type=int, help="output height (default: the image's)")
    p.add_argument("--guide", action="append", default=[], metavar="CLASS",
                   help="ImageNet class name or index to push towards (repeatable)")
    p.add_argument("--sound", metavar="SOUND_CLASS",
                   help="guide towards a sound class's default ImageNet targets, e.g. dog_bark")
    p.add_argument("--guide-weight", type=float, help="weight of the class guidance (default: dream.guide_weight)")
    p.add_argument("--random-seed", type=int, default=0, help="seed for jitter and noise")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"),
                   help="torch device (default auto: cuda, then mps, then cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=handler)

    q = subparsers.add_parser(
        "portraits",
        help="render the class portraits that live dreams start from",
        description="Render the idle portrait and one portrait per sound class from the class guides into the "
        "package's portraits folder (or --out). Run it after changing the guides or the dream network.",
    )
    q.add_argument("--out", type=Path, help="folder to write into (default: the package's portraits folder)")
    q.add_argument("--only", metavar="CLASS", action="append", default=[],
                   help="render only this portrait (idle or a sound class; repeatable)")
    q.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"), help="torch device")
    q.add_argument("--threads", type=int, help="torch CPU threads")
    q.set_defaults(func=portraits_handler)


ONE_OFF_DEFAULTS = {"iterations": 20, "octaves": 4}
"""A one-off render is a classic Deep Dream, not one live frame's worth of steps."""


def portraits_handler(args: argparse.Namespace) -> int:
    import torch

    from performer.dream.guides import DEFAULT_CLASS_COLOURS, DEFAULT_CLASS_GUIDES
    from performer.dream.portraits import IDLE, PORTRAIT_DIR, write_portraits
    from performer.errors import PerformerError

    if args.threads:
        torch.set_num_threads(args.threads)
    unknown = [c for c in args.only if c != IDLE and c not in DEFAULT_CLASS_GUIDES]
    if unknown:
        print(f"error: --only {unknown[0]!r} is not one of {IDLE}, {', '.join(DEFAULT_CLASS_GUIDES)}", file=sys.stderr)
        return 2
    try:
        written = write_portraits(DEFAULT_CLASS_GUIDES, args.out or PORTRAIT_DIR, device=args.device,
                                  colours=DEFAULT_CLASS_COLOURS, only=args.only)
    except (PerformerError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(written)} portraits written to {written[0].parent}")
    return 0


_OPTS = {
    "network": "dream.network", "layers": "dream.layers", "iterations": "dream.iterations",
    "octaves": "dream.octaves", "octave_scale": "dream.octave_scale", "lr": "dream.lr", "jitter": "dream.jitter",
    "grad_norm": "dream.grad_norm", "grad_smooth": "dream.grad_smooth", "width": "dream.width",
    "height": "dream.height", "guide_weight": "dream.guide_weight",
}


def _list_layers(net: str) -> int:
    from performer.dream.backbones import DEFAULT_LAYERS, NETWORKS, layer_names

    nets = [net] if net else list(NETWORKS)
    for n in nets:
        if n not in NETWORKS:
            print(f"error: network {n!r} is not one of {', '.join(NETWORKS)}", file=sys.stderr)
            return 2
        default = DEFAULT_LAYERS[n]
        print(f"{n} (default: {','.join(f'{k}={v:g}' for k, v in default.items())})")
        for name in layer_names(n):
            print(f"  {name}")
    return 0


def handler(args: argparse.Namespace) -> int:
    if args.list_layers is not None:
        return _list_layers(args.list_layers)
    if not args.image or not args.out:
        print("error: performer dream needs IMAGE and --out (or --list-layers)", file=sys.stderr)
        return 2

    import numpy as np
    from PIL import Image

    from performer.dream.guides import DEFAULT_CLASS_GUIDES, guide_names, resolve_guides
    from performer.dream.renderer import DreamRenderer
    from performer.errors import DreamError, ModelError, ParamError
    from performer.params import ParamStore

    image = None
    if args.image != "noise":
        try:
            image = np.asarray(Image.open(args.image).convert("RGB"))
        except (OSError, ValueError) as e:
            print(f"error: cannot read image {args.image}: {e}", file=sys.stderr)
            return 2
        if args.width is None and args.height is None:
            h, w = image.shape[:2]
            k = min(1.0, 1920 / w, 1080 / h)  # the image's size, scaled down into the allowed range
            args.height, args.width = max(64, round(h * k)), max(64, round(w * k))
        elif args.width is None:
            args.width = round(image.shape[1] * args.height / image.shape[0])
        elif args.height is None:
            args.height = round(image.shape[0] * args.width / image.shape[1])
    try:
        guide = resolve_guides(args.guide)
    except ValueError as e:
        print(f"error: --guide: {e}", file=sys.stderr)
        return 2
    if args.sound:
        if args.sound not in DEFAULT_CLASS_GUIDES:
            print(f"error: --sound {args.sound!r} is not one of {', '.join(DEFAULT_CLASS_GUIDES)}", file=sys.stderr)
            return 2
        guide = guide + DEFAULT_CLASS_GUIDES[args.sound]
    store = ParamStore()
    for opt, v in ONE_OFF_DEFAULTS.items():
        if getattr(args, opt) is None:
            setattr(args, opt, v)
    try:
        for opt, name in _OPTS.items():
            v = getattr(args, opt)
            if v is None:
                continue
            spec = store.registry.get(name)
            if spec.numeric and spec.min is not None and spec.max is not None and not spec.min <= v <= spec.max:
                print(f"error: --{opt.replace('_', '-')} {v} is out of range: {name} takes {spec.min:g}..{spec.max:g}",
                      file=sys.stderr)
                return 2
            store.set(name, v, glide=False)
    except ParamError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    params = store.snapshot()
    d = params.dream
    from performer.dream.layers import parse_layers

    try:
        parse_layers(d.layers, d.network)  # fail before loading weights
    except DreamError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if guide:
        log.info("guiding towards %s (weight %g)", ", ".join(guide_names(guide)), d.guide_weight)
    from performer.dream.core import octave_sizes

    size = f"{d.width}x{d.height}"
    sizes = octave_sizes(d.height, d.width, d.octaves, d.octave_scale)
    progress = Progress(size, sizes, d.iterations)
    renderer = DreamRenderer(args.device, threads=args.threads, seed=args.random_seed)
    try:
        progress.show(f"loading {d.network}...")
        renderer.prepare(params)
        t0 = time.perf_counter()
        with progress.counting(renderer):
            out = renderer.render(params, image, guide)
        seconds = time.perf_counter() - t0
        log.info("dreamed %dx%d in %.2f s", out.shape[1], out.shape[0], seconds)
    except (ModelError, DreamError) as e:
        progress.close()
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    try:
        Image.fromarray(out).save(args.out)
    except (OSError, ValueError) as e:
        print(f"error: cannot write {args.out}: {e}", file=sys.stderr)
        return 1
    octaves = len(sizes)
    print(f"wrote {args.out} ({out.shape[1]}x{out.shape[0]}, {progress.total_steps} steps over {octaves} "
          f"octave{'s' if octaves != 1 else ''} in {seconds:.1f} s)")
    return 0


class Progress:
    """A one-line progress bar for a one-off render on a terminal (nothing when stderr is no terminal).

    Steps are counted by the network's forward passes (one per gradient step: a hook on its first stage), and
    weighed by their octave's pixels, as their cost is: the last octave is most of the time.
    """

    def __init__(self, size: str, sizes: Sequence[tuple[int, int]], iterations: int, *, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None) -> None:
        self.size, self.iterations, self.octaves = size, max(1, iterations), len(sizes)
        self.weights = [h * w for h, w in sizes for _ in range(self.iterations)]
        self.total_steps = len(self.weights)
        self.calls = 0  # forward passes seen: steps started
        self.done = 0  # steps finished
        self.clock = clock
        self.started = clock()
        self._drawn: tuple[float, int] | None = None  # (when, octave) of the last drawing
        stream = stream if stream is not None else sys.stderr
        self.line = TerminalLine(stream) if (stream.isatty() if tty is None else tty) else None

    @property
    def fraction(self) -> float:
        return sum(self.weights[:self.done]) / max(1, sum(self.weights))

    def show(self, text: str) -> None:
        if self.line is not None:
            self.line.show(text, terminal_width(self.line.stream))

    def step(self, *_: Any) -> None:
        """A step starts (a forward pass): the one before it is done. Drawn at most ten times a second, and
        whenever an octave begins."""
        self.calls += 1
        self.done = min(self.total_steps, self.calls - 1)
        current = min(self.total_steps, self.calls)
        now, octave = self.clock(), self._octave(current)
        if self._drawn is None or now - self._drawn[0] >= 0.1 or octave != self._drawn[1]:
            self._draw(current)
            self._drawn = (now, octave)

    def _octave(self, step: int) -> int:
        return min(self.octaves, (max(1, step) - 1) // self.iterations + 1)

    def _draw(self, current: int) -> None:
        if self.line is None:
            return
        octave = self._octave(current)
        head = f"dreaming {self.size}: octave {octave}/{self.octaves}, step {current}/{self.total_steps} "
        tail = f" {100 * self.fraction:3.0f}% {self.clock() - self.started:4.0f} s"
        room = max(0, terminal_width(self.line.stream) - len(head) - len(tail) - 2)
        filled = round(room * self.fraction)
        self.show(head + "[" + "#" * filled + "." * (room - filled) + "]" + tail)

    def finish(self) -> None:
        self.done = self.total_steps
        self._draw(current=self.total_steps)
        self.close()

    def close(self) -> None:
        if self.line is not None:
            self.line.close()

    def counting(self, renderer: Any) -> Any:
        """A context that counts ``renderer``'s steps while it renders, then shows 100 %."""
        import contextlib

        @contextlib.contextmanager
        def hooked():
            self.started = self.clock()
            try:
                handle = renderer.backbone.stages[0].register_forward_pre_hook(self.step)
            except (AttributeError, IndexError, TypeError):  # a renderer without those stages: no bar, same picture
                handle = None
            try:
                yield
                self.finish()
            finally:
                if handle is not None:
                    handle.remove()

        return hooked()
