"""Sound in: audio interfaces (captured in a child process), files, the built-in demo, and the ring they write into.

One concept per module: :mod:`~performer.audio.ring` (the ring buffer),
:mod:`~performer.audio.source` (the source contract and array playback),
:mod:`~performer.audio.files`, :mod:`~performer.audio.demo`,
:mod:`~performer.audio.devices` (finding PortAudio inputs),
:mod:`~performer.audio.device_source` (a device, through the child process in
:mod:`~performer.audio.capture`) and :mod:`~performer.audio.factory` (``--input``).
"""

from __future__ import annotations

from performer.audio.demo import DEMO_RATE, DEMO_SCENE_SECONDS, demo_signal, demo_source
from performer.audio.device_source import DeviceSource
from performer.audio.devices import find_input_device, list_input_devices
from performer.audio.factory import open_source
from performer.audio.files import AUDIO_SUFFIXES, file_source
from performer.audio.ring import AudioRing
from performer.audio.source import ArraySource, AudioSource, SourceStats

__all__ = [
    "AUDIO_SUFFIXES",
    "DEMO_RATE",
    "DEMO_SCENE_SECONDS",
    "ArraySource",
    "AudioRing",
    "AudioSource",
    "demo_signal",
    "demo_source",
    "DeviceSource",
    "file_source",
    "find_input_device",
    "list_input_devices",
    "open_source",
    "SourceStats",
]
