"""The NDI output: a named NDI sender on the network, on any platform.

:class:`NDIOutput` creates a sender that receivers list as ``HOST (name)`` and sends each frame as RGBX at its
own size, paced by the renderer; ndi-python's ``NDIlib`` is loaded once per process, when an NDI output opens
(:func:`performer.ndi.ndi_library`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.ndi import ndi_library
from performer.outputs.base import FrameOutput
from performer.outputs.convert import sender_name, to_rgba
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout


class NDIOutput(FrameOutput):
    """A named NDI sender. Receivers list it as ``HOST (name)``; frames go out as RGBX at their own size."""

    kind = "ndi"

    def __init__(self, name: str = "ndi", *, sender: str | None = None, fps: float = 30.0,
                 layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.sender = sender_name("ndi", sender or "Performer")
        if not 0.1 <= float(fps) <= 240:
            raise OutputError(f"ndi output {name!r}: fps {fps!r} is not in 0.1..240")
        self.fps = float(fps)
        self._inst: Any = None
        self._frame: Any = None
        self._buf: np.ndarray | None = None
        self._ndi: Any = None

    def _open(self) -> None:
        ndi = self._ndi = ndi_library()
        settings = ndi.SendCreate()
        settings.ndi_name = self.sender
        settings.clock_video = False  # the renderer sets the pace
        settings.clock_audio = False
        self._inst = ndi.send_create(settings)
        if self._inst is None:
            raise OutputError(f"ndi output {self.name!r}: the NDI runtime refused a sender named {self.sender!r}")
        vf = self._frame = ndi.VideoFrameV2()
        vf.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        vf.frame_rate_N, vf.frame_rate_D = int(round(self.fps * 1000)), 1000
        vf.frame_format_type = ndi.FRAME_FORMAT_TYPE_PROGRESSIVE

    @property
    def source_name(self) -> str:
        """The full name receivers see (``HOST (sender)``), once open."""
        if self._inst is None:
            return ""
        return str(self._ndi.send_get_source_name(self._inst).ndi_name)

    @property
    def connections(self) -> int:
        """Receivers connected right now."""
        return 0 if self._inst is None else int(self._ndi.send_get_no_connections(self._inst, 0))

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        self._buf = to_rgba(frame, self._buf)
        self._frame.data = self._buf
        self._ndi.send_send_video_v2(self._inst, self._frame)  # synchronous: the buffer is free afterwards

    def _close(self) -> None:
        if self._inst is not None:
            self._ndi.send_destroy(self._inst)
            self._inst = None
