"""The folder output: each frame as an image file, with an index of times.

:class:`FolderOutput` writes ``frame-000001.jpg`` (or ``.png``), ... into a folder and appends one line per
frame to ``index.csv`` (frame number, render time, wall time, file, top class, confidence). The recorder
(:class:`~performer.outputs.record.RecordOutput`) builds on it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.base import FrameOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout


class FolderOutput(FrameOutput):
    """Writes each frame as an image file (frame-000001.jpg, ...) into a folder, with an index of times."""

    kind = "frames"

    def __init__(self, folder: str | Path, *, name: str = "frames", fmt: str = "jpg", quality: int = 90,
                 layout: Layout | None = None, required: bool = True) -> None:
        super().__init__(name, layout=layout, required=required)
        if fmt not in ("jpg", "png"):
            raise OutputError(f"frames output {name!r}: format {fmt!r} is not one of jpg, png")
        self.folder = Path(folder)
        self.fmt = fmt
        self.quality = quality
        self._index: Any = None
        self.written = 0
        """Files written: file N is the N-th frame written, with no gaps where frames were dropped."""

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._index = open(self.folder / "index.csv", "a", buffering=1)
        except OSError as e:
            raise OutputError(f"{self.kind} output {self.name!r}: cannot write to {self.folder}: "
                              f"{e.strerror}") from None
        if self._index.tell() == 0:
            self._index.write("frame,time,wall_time,file,top_class,confidence,engine_frame\n")
        # A folder used again goes on after its last file, so numbers stay unique and without gaps.
        numbers = [int(m.group(1)) for f in self.folder.glob(f"frame-*.{self.fmt}")
                   if (m := re.fullmatch(rf"frame-(\d+)\.{self.fmt}", f.name))]
        self.written = max(numbers, default=0)

    def _write_image(self, frame: np.ndarray, path: Path) -> None:
        from PIL import Image

        if self.fmt == "png":
            Image.fromarray(frame).save(path, compress_level=1)
        else:
            Image.fromarray(frame).save(path, quality=self.quality)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        number = self.written + 1
        file = f"frame-{number:06d}.{self.fmt}"
        self._write_image(frame, self.folder / file)
        self.written = number
        assert self._index is not None
        self._index.write(f"{number},{info.time:.3f},{time.time():.3f},{file},{info.top_class or ''},"
                          f"{info.confidence:.3f},{info.number}\n")
        return None

    def _close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
