"""Sound in: audio interfaces (captured in a child process), files, the built-in demo, and the ring they write into."""

from __future__ import annotations

from performer.audio.sources import (
    AUDIO_SUFFIXES,
    DEMO_RATE,
    DEMO_SCENE_SECONDS,
    ArraySource,
    AudioRing,
    AudioSource,
    demo_signal,
    demo_source,
    DeviceSource,
    file_source,
    find_input_device,
    list_input_devices,
    open_source,
    SourceStats,
)

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
