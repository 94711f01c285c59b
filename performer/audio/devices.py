"""PortAudio input devices: listing them and finding one by index, name or name substring.

PortAudio (through sounddevice) is loaded only when one of these is called:
the capture child process (:mod:`performer.audio.capture`) calls
:func:`find_input_device`, and ``performer devices`` lists the inputs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from performer.errors import AudioError


def list_input_devices() -> list[dict[str, Any]]:
    """Every PortAudio device with input channels: index, name, host API, channels, default rate."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0:
            out.append({"index": i, "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
                        "channels": d["max_input_channels"], "rate": d["default_samplerate"]})
    return out


def _sounddevice() -> ModuleType:
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library itself is missing
        raise AudioError(f"PortAudio is not available ({e}); install it (Debian: apt install libportaudio2)") from None
    return sd


def find_input_device(spec: str | int | None) -> dict[str, Any]:
    """The input device named by index, exact name or name substring (None: the default input)."""
    sd = _sounddevice()
    devices = list_input_devices()
    if not devices:
        asked = f"{spec!r} was asked for, but " if spec is not None else ""
        raise AudioError(f"{asked}no audio input device was found; use --input demo or --input FILE, "
                         "or connect an interface (list devices with `performer devices`)")
    if spec is None:
        default = sd.default.device[0]
        match = [d for d in devices if d["index"] == default] or devices[:1]
        return match[0]
    if isinstance(spec, int) or str(spec).isdigit():
        match = [d for d in devices if d["index"] == int(spec)]
    else:
        match = ([d for d in devices if d["name"] == spec]
                 or [d for d in devices if str(spec).lower() in d["name"].lower()])
    if not match:
        names = "; ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in devices)
        raise AudioError(f"no input device matches {spec!r}; inputs: {names}")
    return match[0]
