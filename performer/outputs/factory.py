"""Building outputs from a preset's ``[outputs.<name>]`` tables.

:func:`make_output` makes one output from its table (type, name, size, layout, fit, path, host, port, fps);
:func:`build_outputs` makes all the enabled ones of a preset, leaving out (and logging) any table that
cannot make an output. ``OUTPUT_KINDS`` names the types a table may ask for. Each output's backend is
imported only when it opens; the browser preview's module only when a preview is made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from performer.errors import OutputError
from performer.outputs.base import FrameOutput
from performer.outputs.folder import FolderOutput
from performer.outputs.layout import DEFAULT_SIZE, FITS, Layout
from performer.outputs.ndi import NDIOutput
from performer.outputs.record import RecordOutput
from performer.outputs.spout import SpoutOutput
from performer.outputs.syphon import SyphonOutput

log = logging.getLogger(__name__)

OUTPUT_KINDS = ("ndi", "syphon", "spout", "preview", "record", "frames")


@dataclass(frozen=True)
class OutputSection:
    """One ``[outputs.<name>]`` table of a preset: its keys, types and defaults (the preset schema's checks are
    derived from them, :func:`performer.presets.checks.schema_of`)."""

    type: str = field(metadata={"choices": OUTPUT_KINDS})
    enabled: bool = True
    name: str | None = None
    """The sender's name (NDI, Syphon, Spout) or the page's title; None: "Performer" and the table's name."""
    width: int | None = field(default=None, metadata={"range": (16, 7680)})
    height: int | None = field(default=None, metadata={"range": (16, 4320)})
    layout: Literal["dream", "composite"] | None = None
    """None: the preset's output.layout, then the live parameter."""
    fit: str = field(default="letterbox", metadata={"choices": FITS})
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = field(default=8765, metadata={"range": (0, 65535)})
    fps: float | None = field(default=None, metadata={"range": (0.1, 240.0)})
    """None: the preset's output.fps."""


def output_section(key: str, spec: Mapping[str, Any]) -> OutputSection:
    """``[outputs.<key>]`` as an :class:`OutputSection`; OutputError naming the key for a table of another shape
    (a checked preset's never is)."""
    try:
        return OutputSection(**spec)
    except TypeError as e:
        raise OutputError(f"output {key!r}: {e}") from None


def make_output(key: str, spec: Mapping[str, Any], *, base: Path | None = None, frames_dir: Path | None = None,
                default_layout: str = "dream", default_fps: float = 30.0,
                resolve: Callable[[str], Path] | None = None, stamp: str | None = None) -> FrameOutput:
    """One output from its preset table ``[outputs.<key>]`` (type, name, width, height, layout, fit, path, host,
    port, fps); without width and height it is 1280x720. Raises OutputError naming the key and the value when
    the table cannot make an output.

    A table without ``layout`` starts with ``default_layout`` and then follows the live ``output.layout``
    parameter (``FrameInfo.layout``) whenever the engine supplies it; one without ``fps`` takes ``default_fps``
    (the preset's ``output.fps``, the renderer's target rate)."""
    s = output_section(key, spec)
    kind = s.type
    width, height = s.width, s.height
    if width is None and height is None:
        width, height = DEFAULT_SIZE
    layout = Layout(s.layout or default_layout, width, height, s.fit, follow=s.layout is None)
    fps = float(s.fps if s.fps is not None else default_fps)
    label = s.name or ("Performer" if key == kind else f"Performer {key}")
    resolve = resolve or (lambda p: Path(p).expanduser())
    if kind == "ndi":
        return NDIOutput(key, sender=label, fps=fps, layout=layout)
    if kind == "syphon":
        return SyphonOutput(key, server=label, layout=layout)
    if kind == "spout":
        return SpoutOutput(key, sender=label, layout=layout)
    if kind == "preview":
        from performer.outputs.preview.server import PreviewOutput

        return PreviewOutput(key, host=s.host, port=int(s.port), fps=fps, layout=layout, title=s.name or "Performer")
    if kind == "record":
        stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
        root = resolve(s.path) if s.path else (frames_dir or Path("recordings"))
        return RecordOutput(Path(root) / f"{stamp}-{key}", name=key, fps=fps, layout=layout)
    if kind == "frames":
        if s.path:
            folder = resolve(s.path)
        elif frames_dir is not None:
            folder = Path(frames_dir) / key
        else:
            raise OutputError(f"frames output {key!r} needs a path (outputs.{key}.path) or a frames folder")
        return FolderOutput(folder, name=key, layout=layout)
    raise OutputError(f"output {key!r}: type {kind!r} is not one of {', '.join(OUTPUT_KINDS)}")


def build_outputs(preset: Any, *, frames_dir: str | Path | None = None) -> list[FrameOutput]:
    """The enabled outputs of ``preset.outputs`` (name -> settings), ready for ``Engine(outputs=...)``.

    Outputs are built with ``required=False``: one that cannot open on this machine (Syphon on Linux, a port
    already in use) logs why when the engine opens it, shows state ``failed`` and its error in the engine's status,
    and counts its frames as dropped, while the others run. A table that cannot make an output at all is logged
    and left out."""
    outputs: list[FrameOutput] = []
    params = getattr(preset, "params", {}) or {}
    default_layout = params.get("output.layout", "dream")
    default_fps = float(params.get("output.fps", 30.0))  # the renderer's target rate
    resolve = getattr(preset, "resolve", None)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for key, spec in (getattr(preset, "outputs", {}) or {}).items():
        try:
            if not output_section(key, spec).enabled:
                log.info("output %r (%s) is disabled in the preset", key, spec.get("type"))
                continue
            out = make_output(key, spec, frames_dir=Path(frames_dir) if frames_dir else None,
                              default_layout=default_layout, default_fps=default_fps, resolve=resolve,
                              stamp=stamp)
        except OutputError as e:
            log.error("output %r left out: %s", key, e)
            continue
        out.required = False
        outputs.append(out)
    return outputs
