"""The Spout output: a named Spout sender, Windows only.

:class:`SpoutOutput` sends each frame through SpoutGL, which Windows VJ software lists by name; an invisible
GLFW window provides the OpenGL context SpoutGL needs. Both are imported only when the output opens; on
other platforms opening fails with a message pointing at the NDI output.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.base import FrameOutput
from performer.outputs.convert import sender_name, to_rgba
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout

log = logging.getLogger(__name__)


class SpoutOutput(FrameOutput):
    """A named Spout sender (Windows only, SpoutGL; an invisible GLFW window provides the OpenGL context)."""

    kind = "spout"

    def __init__(self, name: str = "spout", *, sender: str | None = None, layout: Layout | None = None,
                 required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        self.sender = sender_name("spout", sender or "Performer", limit=255)
        self._spout: Any = None
        self._window: Any = None
        self._buf: np.ndarray | None = None

    def _open(self) -> None:
        if sys.platform != "win32":
            raise OutputError(f"spout output {self.name!r}: Spout exists only on Windows, this is {sys.platform}; "
                              "use an ndi output here (or syphon on macOS)")
        try:
            import SpoutGL
        except ImportError as e:
            raise OutputError(f"spout output {self.name!r} needs SpoutGL "
                              f"(pip install 'performer[spout]'): {e}") from None
        try:  # SpoutGL shares OpenGL textures: it needs a current context
            import glfw

            if glfw.init():
                glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
                self._window = glfw.create_window(16, 16, f"spout {self.sender}", None, None)
                glfw.make_context_current(self._window)
        except ImportError:
            log.warning("spout output %r: glfw is not installed; SpoutGL needs a current OpenGL context", self.name)
        self._spout = SpoutGL.SpoutSender()
        self._spout.setSenderName(self.sender)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        GL_RGBA = 0x1908
        self._buf = to_rgba(frame, self._buf)
        h, w = frame.shape[:2]
        if not self._spout.sendImage(self._buf, w, h, GL_RGBA, False, 0):
            raise OutputError(f"spout output {self.name!r}: SpoutGL did not send a {w}x{h} frame")
        self._spout.setFrameSync(self.sender)

    def _close(self) -> None:
        if self._spout is not None:
            self._spout.releaseSender()
            self._spout = None
        if self._window is not None:
            import glfw

            glfw.destroy_window(self._window)
            self._window = None
