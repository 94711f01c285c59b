"""The Syphon output: a named Syphon server, macOS only.

:class:`SyphonOutput` publishes each frame as a Metal texture through syphon-python's Metal server, which
macOS VJ software lists by name. syphon-python is imported only when the output opens; on other platforms
opening fails with a message pointing at the NDI output.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.base import FrameOutput
from performer.outputs.convert import sender_name, to_rgba
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout


class SyphonOutput(FrameOutput):
    """A named Syphon server (macOS only, syphon-python's Metal server)."""

    kind = "syphon"

    def __init__(self, name: str = "syphon", *, server: str | None = None, layout: Layout | None = None,
                 required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.server_name = sender_name("syphon", server or "Performer")
        self._server: Any = None
        self._texture: Any = None
        self._buf: np.ndarray | None = None

    def _open(self) -> None:
        if sys.platform != "darwin":
            raise OutputError(f"syphon output {self.name!r}: Syphon exists only on macOS, this is {sys.platform}; "
                              "use an ndi output here (or spout on Windows)")
        try:
            import syphon
        except ImportError as e:
            raise OutputError(f"syphon output {self.name!r} needs syphon-python "
                              f"(pip install 'performer[syphon]'): {e}") from None
        self._server = syphon.SyphonMetalServer(self.server_name)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        from syphon.utils.numpy import copy_image_to_mtl_texture
        from syphon.utils.raw import create_mtl_texture

        self._buf = to_rgba(frame, self._buf)
        h, w = frame.shape[:2]
        if self._texture is None or (self._texture.width(), self._texture.height()) != (w, h):
            self._texture = create_mtl_texture(self._server.device, w, h)
        copy_image_to_mtl_texture(self._buf, self._texture)
        self._server.publish_frame_texture(self._texture)

    def _close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
