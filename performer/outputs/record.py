"""The recorder: a PNG sequence with a timestamp index and an H.264 video.

:class:`RecordOutput` extends the folder output with a rate limit (at most ``fps`` frames a second, by
render time) and encodes the frames with PyAV (FFmpeg's libraries, libx264), stamping each with its render
time, so the video plays back in real time whatever rate the renderer reaches.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.convert import resize
from performer.outputs.folder import FolderOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout

log = logging.getLogger(__name__)

_TIME_BASE = Fraction(1, 1000)  # millisecond stamps


def _pyav() -> Any:
    """The PyAV module, or None where it cannot be imported."""
    try:
        import av
    except ImportError:
        return None
    return av


class RecordOutput(FolderOutput):
    """Records a PNG sequence with a timestamp index and an H.264 video (``video.mp4``).

    At most ``fps`` frames a second are recorded (by render time; frames in between are skipped, counted in
    ``stats.skipped``). The video has a variable frame rate: each frame carries its render time (millisecond
    time base, counted from the first recorded frame), so the video plays back in real time whatever rate the
    renderer reaches, each frame is encoded once, and a late start or a busy encoder never squeezes the
    timeline (a slow encoder makes the recorder drop frames, counted, never spiral). The encoding runs on the
    output's own thread. ``video=None`` records video when PyAV is importable and says so in the log when it is
    not; ``True`` requires it.
    """

    kind = "record"

    def __init__(self, folder: str | Path, *, name: str = "record", fps: float = 30.0, video: bool | None = None,
                 png: bool = True, layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(folder, name=name, fmt="png", layout=layout, required=required)
        if not 0.1 <= float(fps) <= 240:
            raise OutputError(f"record output {name!r}: fps {fps!r} is not in 0.1..240")
        if not png and video is False:
            raise OutputError(f"record output {name!r}: records neither PNG frames nor video; enable one")
        self.fps = float(fps)
        self.video = video
        self.png = png
        self.video_path = self.folder / "video.mp4"
        self.video_frames = 0
        self._av: Any = None
        self._container: Any = None
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self._next_time: float | None = None
        self._first_time = 0.0
        self._last_pts = -1

    def _open(self) -> None:
        self._av = _pyav() if self.video is not False else None
        if self.video and self._av is None:
            raise OutputError(f"record output {self.name!r}: video needs PyAV (pip install av)")
        if self.video is None and self._av is None:
            log.warning("record output %r: PyAV is not installed, recording PNG frames only "
                        "(pip install av for video)", self.name)
        super()._open()
        self._next_time, self._size, self.video_frames, self._last_pts = None, None, 0, -1

    def _start_video(self, width: int, height: int, first_time: float) -> None:
        av = self._av
        # yuv420p needs even sizes: odd ones are padded with black
        even = (width + width % 2, height + height % 2)
        try:
            container = av.open(str(self.video_path), mode="w", options={"movflags": "+faststart"})
            # no B-frames: frames are written as they come, and their stamps may be only a millisecond apart
            stream = container.add_stream("libx264", options={"preset": "veryfast", "crf": "18", "bf": "0"})
            stream.width, stream.height, stream.pix_fmt = even[0], even[1], "yuv420p"
            stream.time_base = _TIME_BASE
            stream.codec_context.time_base = _TIME_BASE
        except (av.FFmpegError, ValueError) as exc:
            raise OutputError(f"record output {self.name!r}: cannot start the video {self.video_path}: {exc}") from exc
        self._container, self._stream = container, stream
        self._size, self._first_time = (width, height), first_time

    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        period = 1.0 / self.fps
        if self._next_time is not None and info.time < self._next_time - 0.25 * period:
            self.stats.skipped += 1
            return False
        # a schedule, not a minimum gap: a frame a little early is kept, and the long-run rate stays <= fps
        self._next_time = max(self._next_time or info.time, info.time) + period
        if self.png:
            super()._send(frame, info)
        elif self._index is not None:
            self._index.write(f"{info.number},{info.time:.3f},{time.time():.3f},,{info.top_class or ''},"
                              f"{info.confidence:.3f},{info.number}\n")
        if self._av is None:
            return None
        if self._container is None:
            self._start_video(frame.shape[1], frame.shape[0], info.time)
        assert self._size is not None
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = resize(frame, *self._size)
        width, height = self._size
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))
        # strictly increasing stamps: two frames within a millisecond keep both, 1 ms apart
        pts = max(round((info.time - self._first_time) * 1000), self._last_pts + 1)
        av = self._av
        try:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts, video_frame.time_base = pts, _TIME_BASE
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        except av.FFmpegError as exc:
            raise OutputError(f"record output {self.name!r}: encoding frame {info.number} into "
                              f"{self.video_path} failed: {exc}") from exc
        self._last_pts = pts
        self.video_frames += 1
        return None

    def _close(self) -> None:
        super()._close()
        if self._container is None:
            return
        container, stream, self._container, self._stream = self._container, self._stream, None, None
        try:
            for packet in stream.encode(None):  # the frames the encoder still holds
                container.mux(packet)
        except self._av.FFmpegError as exc:
            raise OutputError(f"record output {self.name!r}: finishing {self.video_path} failed: {exc}") from exc
        finally:
            container.close()
        log.info("record output %r: %d video frames in %s", self.name, self.video_frames, self.video_path)
