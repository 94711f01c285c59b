"""Opening the input named on the command line: ``demo``, a sound file, or a PortAudio device."""

from __future__ import annotations

from pathlib import Path

from performer.audio.demo import demo_source
from performer.audio.device_source import DeviceSource
from performer.audio.files import AUDIO_SUFFIXES, file_source
from performer.audio.source import AudioSource
from performer.errors import AudioError


def open_source(spec: str | None, *, loop: bool = False, realtime: bool = True,
                min_seconds: float = 0.0) -> AudioSource:
    """``demo``, a sound file path, or a PortAudio device (index, name or name substring; None: default input).

    ``min_seconds``: a file shorter than this is followed by silence up to it (see :func:`file_source`).
    An empty or blank ``spec`` is an error, not the default input.
    """
    if spec is not None and not spec.strip():
        raise AudioError("audio input '' is empty: name 'demo', a sound file or a device "
                         "(see `performer devices`), or leave --input out for the default input")
    if spec == "demo":
        return demo_source(realtime=realtime)
    if spec is not None and (Path(spec).suffix.lower() in AUDIO_SUFFIXES or Path(spec).is_file()):
        return file_source(spec, loop=loop, realtime=realtime, min_seconds=min_seconds)
    return DeviceSource(spec)
