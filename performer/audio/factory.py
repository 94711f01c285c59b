"""Opening the input named on the command line: ``demo``, a sound file, or a PortAudio device."""

from __future__ import annotations

from pathlib import Path

from performer.audio.demo import demo_source
from performer.audio.device_source import DeviceSource
from performer.audio.files import AUDIO_SUFFIXES, file_source
from performer.audio.source import AudioSource


def open_source(spec: str | None, *, loop: bool = False, realtime: bool = True) -> AudioSource:
    """``demo``, a sound file path, or a PortAudio device (index, name or name substring; None: default input)."""
    if spec == "demo":
        return demo_source(realtime=realtime)
    if spec is not None and (Path(spec).suffix.lower() in AUDIO_SUFFIXES or Path(spec).is_file()):
        return file_source(spec, loop=loop, realtime=realtime)
    return DeviceSource(spec)
