"""Video sources from a spec (``ndi:NAME``, ``camera:INDEX``, ``camera:/dev/videoN``, a video file) or a preset.

:func:`parse_spec` checks a spec's form (the preset schema and ``serve --video`` use it, so a typo is reported
before anything opens); :func:`open_video` makes the source, unopened; :func:`video_from_preset` makes the one a
preset's ``[video]`` table names (its ``source``, ``extra_ips`` and ``bandwidth``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from performer.video.base import VideoError, VideoSource
from performer.video.camera import CameraVideo
from performer.video.ndi import BANDWIDTHS, NDIVideo

SPEC_WORDS = ("ndi:NAME (an NDI source: its full name 'HOST (name)' or the name in brackets), camera:INDEX or "
              "camera:/dev/videoN (a camera), or a video file (file:PATH or just its path)")
MAX_SPEC_CHARS = 1000
DEFAULT_BANDWIDTH = "lowest"
"""NDI's proxy stream (about 640x360) unless a preset asks for more: enough for a dream of that size."""


def parse_spec(spec: Any) -> tuple[str, int | str]:
    """(kind, target): ``("ndi", name)``, ``("camera", index or device path)`` or ``("file", path)``.

    Raises :class:`VideoError` naming the spec and what is allowed."""
    if not isinstance(spec, str) or not spec.strip():
        raise VideoError(f"video source {spec!r}: empty; allowed: {SPEC_WORDS}")
    if len(spec) > MAX_SPEC_CHARS or not spec.isprintable():
        raise VideoError(f"video source {spec[:80]!r}...: not printable or longer than {MAX_SPEC_CHARS} characters")
    kind, sep, rest = spec.partition(":")
    if sep and kind == "ndi":
        if not rest.strip():
            raise VideoError(f"video source {spec!r}: an NDI source needs a name (ndi:NAME)")
        return "ndi", rest
    if sep and kind == "camera":
        if rest.isdigit() and len(rest) <= 2:
            return "camera", int(rest)
        if rest.startswith("/dev/") and len(rest) > 5:
            return "camera", rest
        raise VideoError(f"video source {spec!r}: a camera is camera:INDEX (0..99) or camera:/dev/videoN")
    if sep and kind == "file":
        if not rest.strip():
            raise VideoError(f"video source {spec!r}: file:PATH needs a path")
        return "file", rest
    return "file", spec


def spec_problem(spec: Any) -> str | None:
    """None when ``spec`` has the form of a video source, else the words for what is allowed (the preset schema's
    check)."""
    try:
        parse_spec(spec)
    except VideoError:
        return SPEC_WORDS
    return None


def open_video(spec: str, *, extra_ips: Sequence[str] = (), bandwidth: str = DEFAULT_BANDWIDTH,
               resolve: Callable[[str], Path] | None = None) -> VideoSource:
    """The source ``spec`` names, not yet started. ``extra_ips`` and ``bandwidth`` apply to NDI; ``resolve`` turns
    a file's path into the one to open (a preset resolves against its own folder; default: as given, ``~``
    expanded). Raises :class:`VideoError` for a spec of the wrong form."""
    kind, target = parse_spec(spec)
    if kind == "ndi":
        return NDIVideo(str(target), extra_ips=extra_ips, bandwidth=bandwidth, spec=spec)
    if kind == "camera":
        return CameraVideo(target, spec=spec)
    path = resolve(str(target)) if resolve is not None else Path(str(target)).expanduser()
    return CameraVideo(path, spec=spec)


@dataclass(frozen=True)
class VideoSection:
    """A preset's ``[video]`` table: its keys, types and defaults (the preset schema's checks are derived from
    them, :func:`performer.presets.checks.schema_of`)."""

    source: str | None = field(default=None, metadata={"check": spec_problem})
    """ndi:NAME, camera:N or a file; None: no video."""
    extra_ips: list[str] = field(default_factory=list,
                                 metadata={"items": "IP addresses or host names NDI asks for sources besides mDNS"})
    bandwidth: str = field(default=DEFAULT_BANDWIDTH, metadata={"choices": BANDWIDTHS})


def video_from_preset(preset: Any, spec: str | None = None) -> VideoSource | None:
    """The video source of ``preset.video`` (its ``source``, ``extra_ips``, ``bandwidth``), ``spec`` replacing the
    source when given (``serve --video``); None when neither names one. A file the preset names is found relative
    to the preset; one given as ``spec``, relative to the working folder."""
    table = VideoSection(**(getattr(preset, "video", None) or {}))
    source = spec or table.source
    if not source:
        return None
    bandwidth = table.bandwidth
    if bandwidth not in BANDWIDTHS:
        raise VideoError(f"video bandwidth {bandwidth!r} is not one of {', '.join(BANDWIDTHS)}")
    return open_video(source, extra_ips=list(table.extra_ips), bandwidth=bandwidth,
                      resolve=None if spec else preset.resolve)
