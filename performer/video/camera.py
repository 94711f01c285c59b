"""A camera or a video file in, through OpenCV (opencv-python-headless, a dependency).

:class:`CameraVideo` opens a camera by index (``camera:0``) or device path (``camera:/dev/video2``), or a video
file, and reads it on the source's own thread. A camera sets its own pace; a file is played at its own frame rate
and loops, so a clip can stand in for a camera when rehearsing (and in tests). A camera that is not there when the
show starts (not plugged in yet) is looked for every second (state ``searching``) and read from when it appears; one
that stops delivering (unplugged) is reopened every second until it is back; the dream keeps the last frame
meanwhile. What cannot be a camera (a file that is no video, ``/dev/zero``) is refused at once.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from performer.video.base import VideoError, VideoSource
from performer.video.convert import to_rgb

log = logging.getLogger(__name__)

DEFAULT_FILE_FPS = 25.0
"""The rate a file is played at when it does not say its own."""


def _cv2(spec: str) -> Any:
    try:
        import cv2
    except ImportError as e:
        raise VideoError(f"video source {spec!r}: cameras and video files need OpenCV "
                         f"(pip install 'performer[video]'): {e}") from None
    try:  # OpenCV prints a warning of its own for every camera it cannot open; the VideoError says it in one line
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass
    return cv2


def _kind(path: Path) -> str:
    """What a path that is no regular file is, in words (a folder, a character device ...)."""
    import stat

    mode = path.stat().st_mode
    for test, words in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe")):
        if test(mode):
            return words
    return "not a regular file"


class CameraVideo(VideoSource):
    """A camera (an index, or a device path under /dev) or a video file (looped at its own rate) through OpenCV."""

    kind = "camera"

    def __init__(self, target: int | str | Path, *, spec: str | None = None) -> None:
        self.is_file = not isinstance(target, int) and not str(target).startswith("/dev/")
        super().__init__(spec or (str(target) if self.is_file else f"camera:{target}"))
        if isinstance(target, int) and not 0 <= target <= 99:
            raise VideoError(f"video source {self.spec!r}: a camera index is a number in 0..99")
        self.target: int | str = target if isinstance(target, int) else str(target)
        self.fps = 0.0
        self._cv2: Any = None
        self._cap: Any = None
        self._next = 0.0
        self._opened = False  # the camera has been open at least once

    def _capture(self) -> Any:
        cv2 = self._cv2
        cap = cv2.VideoCapture(self.target)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _open(self) -> None:
        if self.is_file:
            path = Path(str(self.target))
            if not path.exists():
                raise VideoError(f"video file {self.spec!r}: no such file")
            if not path.is_file():
                raise VideoError(f"video file {self.spec!r}: {_kind(path)}, not a video file; allowed: a video file "
                                 "OpenCV reads, camera:INDEX or camera:/dev/videoN")
        self._cv2 = _cv2(self.spec)
        self._cap = self._capture()
        if self._cap is None:
            if self.is_file:
                raise VideoError(f"video file {self.spec!r}: OpenCV cannot read it as a video")
            path = Path(str(self.target))
            if isinstance(self.target, str) and not path.name.startswith("video"):  # e.g. /dev/zero
                what = f"{self.target} is {_kind(path)}, not a camera OpenCV can open" if path.exists() else (
                    f"no such device {self.target}")
                raise VideoError(f"video source {self.spec!r}: {what}; allowed: camera:INDEX, camera:/dev/videoN, "
                                 "ndi:NAME or a video file")
            # not plugged in yet (or held by another program): looked for on the source's thread until it appears
            msg = (f"video source {self.spec!r}: no camera at {self.target!r} could be opened (is it plugged in and "
                   f"not used by another program?); looking for it every {self.retry_s:g} s")
            log.warning("%s", msg)
            self.stats.state, self.stats.last_error = "searching", msg
            self.stats.errors += 1
            return
        self._opened = True
        if self.is_file:
            fps = float(self._cap.get(self._cv2.CAP_PROP_FPS) or 0.0)
            self.fps = fps if math.isfinite(fps) and 0.5 <= fps <= 240 else DEFAULT_FILE_FPS
            self._next = time.monotonic()

    def _read(self) -> np.ndarray | None:
        if self._cap is None:  # a camera not there yet, or gone: try again every retry_s
            self._cap = self._capture()
            if self._cap is None:
                if not self._opened:  # still searching: no new error, no new line in the log
                    self.stats.state = "searching"
                    self._worker.wait(self.retry_s)
                    return None
                raise VideoError(f"video source {self.spec!r}: the camera is gone (unplugged?); reopening")
            log.info("video source %s %s", self.spec, "is back" if self._opened else "plugged in: reading from it")
            self._opened = True
        if self.is_file:
            wait = self._next - time.monotonic()
            if wait > 0 and self._worker.wait(min(wait, 0.25)):
                return None
            if wait > 0.25:
                return None
            self._next = max(self._next + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        ok, frame = self._cap.read()
        if not ok and self.is_file:  # the end: from the start again (reopened where the file cannot seek)
            if not self._cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0):
                self._cap.release()
                self._cap = self._capture()
                if self._cap is None:
                    raise VideoError(f"video file {self.spec!r}: it could not be opened again at its end")
            ok, frame = self._cap.read()
            if not ok:
                raise VideoError(f"video file {self.spec!r}: no frame could be read from it")
        if not ok:
            self._cap.release()
            self._cap = None
            raise VideoError(f"video source {self.spec!r} stopped delivering frames (unplugged?); reopening")
        if frame.ndim == 2:
            frame = np.repeat(frame[..., None], 3, axis=2)
        return to_rgb(frame, "BGR" if frame.shape[2] == 3 else "BGRA")

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def details(self) -> dict[str, Any]:
        return {"file_fps": round(self.fps, 2)} if self.is_file else {}
