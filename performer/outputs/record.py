"""The recorder: a PNG sequence with a timestamp index and, with ffmpeg, an H.264 video.

:class:`RecordOutput` extends the folder output with a rate limit (at most ``fps`` frames a second, by
render time) and pipes the frames to an ffmpeg process that stamps each with the wall clock, so the video
plays back in real time whatever rate the renderer reaches. Without ffmpeg it records PNG frames only,
unless the video was required.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.convert import resize
from performer.outputs.folder import FolderOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout

log = logging.getLogger(__name__)


class RecordOutput(FolderOutput):
    """Records a PNG sequence with a timestamp index and, when ffmpeg is on PATH, an H.264 video.

    At most ``fps`` frames a second are recorded (by render time; frames in between are skipped, counted in
    ``stats.skipped``). The video has a variable frame rate: ffmpeg stamps each frame with the wall clock as it
    reads it (millisecond time base), so the video plays back in real time whatever rate the renderer reaches,
    and ffmpeg encodes each frame once (a slow encoder makes the recorder drop frames, counted, never spiral).
    ``video=None`` records video when ffmpeg exists and says so in the log when it does not; ``True`` requires it.
    """

    kind = "record"
    close_while_busy = True  # closing ffmpeg's stdin unblocks a stuck write

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
        self._ffmpeg: subprocess.Popen | None = None
        self._ffmpeg_exe: str | None = None
        self._size: tuple[int, int] | None = None
        self._next_time: float | None = None
        self._log: Any = None

    def _open(self) -> None:
        self._ffmpeg_exe = shutil.which("ffmpeg") if self.video is not False else None
        if self.video and self._ffmpeg_exe is None:
            raise OutputError(f"record output {self.name!r}: video needs ffmpeg on PATH (Debian package ffmpeg)")
        if self.video is None and self._ffmpeg_exe is None:
            log.warning("record output %r: ffmpeg is not on PATH, recording PNG frames only "
                        "(install the Debian package ffmpeg for video)", self.name)
        super()._open()
        self._next_time, self._size, self.video_frames = None, None, 0

    def _start_ffmpeg(self, width: int, height: int) -> None:
        assert self._ffmpeg_exe is not None
        self._log = open(self.folder / "ffmpeg.log", "wb")  # closed in _close
        cmd = [self._ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "1000",
               "-use_wallclock_as_timestamps", "1", "-i", "-",
               # even sizes for yuv420p; strictly increasing times (two frames read within a millisecond keep
               # both, 1 ms apart); no B-frames, which reorder frames whose times are that close
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2,setpts='if(isnan(PREV_OUTPTS),PTS,max(PTS,PREV_OUTPTS+1))'",
               "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-crf", "18",
               "-pix_fmt", "yuv420p", "-video_track_timescale", "1000", "-movflags", "+faststart",
               str(self.video_path)]
        self._ffmpeg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        self._size = (width, height)

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
        if self._ffmpeg_exe is None:
            return None
        if self._ffmpeg is None:
            self._start_ffmpeg(frame.shape[1], frame.shape[0])
        assert self._ffmpeg is not None and self._ffmpeg.stdin is not None and self._size is not None
        if self._ffmpeg.poll() is not None:
            raise OutputError(f"record output {self.name!r}: ffmpeg stopped (exit {self._ffmpeg.returncode}); "
                              f"see {self.folder / 'ffmpeg.log'}")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = resize(frame, *self._size)
        self._ffmpeg.stdin.write(np.ascontiguousarray(frame).data)
        self._ffmpeg.stdin.flush()
        self.video_frames += 1
        return None

    def _close(self) -> None:
        super()._close()
        if self._ffmpeg is not None:
            try:
                assert self._ffmpeg.stdin is not None
                self._ffmpeg.stdin.close()
            except OSError:
                pass
            try:
                code = self._ffmpeg.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._ffmpeg.kill()
                code = self._ffmpeg.wait()
            self._ffmpeg = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if code != 0:
                raise OutputError(f"record output {self.name!r}: ffmpeg exited with {code}; "
                                  f"see {self.folder / 'ffmpeg.log'}")
            log.info("record output %r: %d video frames in %s", self.name, self.video_frames, self.video_path)
