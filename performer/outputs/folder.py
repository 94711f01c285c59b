"""The folder output: each frame as an image file, with an index of times.

:class:`FolderOutput` writes ``frame-000001.jpg`` (or ``.png``), ... into a folder and one line per frame to
``index.csv``: frame number, render time, wall time, file, top class, confidence, ``engine_frame`` (the output
clock's frame number) and ``dropped`` (frames lost just before this one). The recorder
(:class:`~performer.outputs.record.RecordOutput`) builds on it.

Encoding is the slow part (a 1280x720 JPEG about 6 ms on one core, a PNG 50 to 100 ms), and a busy machine can
leave a thread unscheduled for longer than a frame, so frames are not handed over through the base class's one
slot: ``send`` puts them in a queue of up to :data:`QUEUE_BYTES` (about 0.8 s of 1280x720 frames at 30 fps) and
:data:`WRITERS` threads lay them out, encode and write them; files are named and indexed in the order the frames
came. Only a full queue drops frames (counted, never blocking the sender). A subclass with its own ``_send`` (the
recorder: a rate limit and a video) keeps the base class's hand-off and queues only the file writing.

Files are numbered without gaps: file N is the N-th frame written, whatever was dropped, and a frame that could not
be written takes no number. The ``dropped`` column and the jumps in ``engine_frame`` say where frames were lost;
closing logs how many of how many, and why (:meth:`FolderOutput.summary`).

A folder that already holds frames is refused unless ``overwrite`` is given, which deletes the frame files and the
index first: a second run appending to the first, its times starting again from zero, reads as one broken run.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from performer.errors import OutputError
from performer.outputs.base import FrameOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout
from performer.runtime import RateMeter

log = logging.getLogger(__name__)

QUEUE_BYTES = 64 << 20
"""Frames waiting for a writer, at most (23 frames at 1280x720, 10 at 1920x1080; never fewer than 2)."""
WRITERS = 2
"""Writer threads (Pillow encodes into a file without holding the GIL, so they can use two cores)."""
DRAIN_SECONDS = 15.0
"""How long closing waits for the queued frames to be written."""
HEADER = "frame,time,wall_time,file,top_class,confidence,engine_frame,dropped\n"
_FRAME_FILE = re.compile(r"frame-(\d+)\.(jpg|png)")
_PNG_HUFFMAN_ONLY = 2
"""zlib's Z_HUFFMAN_ONLY: on dreamed 1280x720 frames PNGs no larger than deflate level 1's, about 1.6x as fast."""


def existing_frames(folder: str | Path) -> list[Path]:
    """The frame files (``frame-NNNNNN.jpg`` or ``.png``) already in ``folder``."""
    path = Path(folder)
    if not path.is_dir():
        return []
    return sorted(f for f in path.iterdir() if _FRAME_FILE.fullmatch(f.name))


def refuse_used_folder(folder: str | Path, what: str) -> None:
    """Raise :class:`OutputError` (one line naming the folder) when ``folder`` holds an earlier run's frames."""
    found = existing_frames(folder)
    index = Path(folder) / "index.csv"
    rows = 0
    if index.is_file():
        with open(index, "rb") as f:
            rows = max(0, sum(1 for _ in f) - 1)  # a header alone (a run that wrote nothing) is no earlier run
    if found or rows:
        held = f"{len(found)} frame file(s)" if found else f"an index.csv of {rows} frame(s)"
        raise OutputError(f"{what} {folder} already holds {held} from an earlier run; give --overwrite to "
                          "replace them, or name another folder")


class FolderOutput(FrameOutput):
    """Writes each frame as an image file (frame-000001.jpg, ...) into a folder, with an index of times."""

    kind = "frames"

    def __init__(self, folder: str | Path, *, name: str = "frames", fmt: str = "jpg", quality: int = 90,
                 layout: Layout | None = None, required: bool = True, overwrite: bool = False,
                 writers: int = WRITERS, queue_bytes: int = QUEUE_BYTES) -> None:
        super().__init__(name, layout=layout, required=required)
        if fmt not in ("jpg", "png"):
            raise OutputError(f"frames output {name!r}: format {fmt!r} is not one of jpg, png")
        if not isinstance(writers, int) or writers < 1:
            raise OutputError(f"{self.kind} output {name!r}: writers {writers!r} must be a whole number >= 1")
        self.folder = Path(folder)
        self.fmt = fmt
        self.quality = quality
        self.overwrite = overwrite
        """Whether :meth:`open` may delete the frame files and index an earlier run left in the folder."""
        self.writers = writers
        self.queue_bytes = queue_bytes
        self._direct = type(self)._send is FolderOutput._send
        """Frames go from ``send`` straight into the queue (else through the base class's slot and ``_send``)."""
        self._index: Any = None
        self.written = 0
        """Files written: file N is the N-th frame written, with no gaps where frames were dropped."""
        self.queue_full = 0
        """Frames dropped because the queue was full (the writers fell behind)."""
        self.failed = 0
        """Frames whose file could not be written (they take no number)."""
        self.unwritten = 0
        """Frames still queued when closing gave up waiting for the writers."""
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[int, np.ndarray, FrameInfo, int]] = collections.deque()
        self._queued_bytes = 0
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._seq = 0
        self._pending_drops = 0
        self._commit_lock = threading.Lock()
        self._layout_lock = threading.Lock()
        self._done: dict[int, tuple[Path, FrameInfo, int, BaseException | None, float]] = {}
        self._next_commit = 0
        self._carry = 0
        self._dropped_seen = 0
        self._warned = False
        self._write_ms = 0.0
        self._sent_meter = RateMeter(2.0)

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self.overwrite:
                for f in existing_frames(self.folder) + sorted(self.folder.glob(".writing-*")):
                    f.unlink()
            else:
                refuse_used_folder(self.folder, f"{self.kind} output {self.name!r}:")
            self._index = open(self.folder / "index.csv", "w", buffering=1)
            self._index.write(HEADER)
        except OSError as e:
            raise OutputError(f"{self.kind} output {self.name!r}: cannot write to {self.folder}: "
                              f"{e.strerror or e}") from None
        self.written = self.queue_full = self.failed = self.unwritten = 0
        self._seq = self._pending_drops = self._next_commit = self._carry = self._queued_bytes = 0
        self._dropped_seen, self._warned, self._closing = self.stats.dropped, False, False
        self._queue.clear()
        self._done.clear()
        self._threads = [threading.Thread(target=self._writer, name=f"output-{self.name}-writer-{i}", daemon=True)
                         for i in range(self.writers)]
        for t in self._threads:
            t.start()

    # --- in: the sender's thread (direct), or the output's thread (through _send) ---------------------------
    def send(self, frame: np.ndarray, info: FrameInfo) -> None:
        """Queue a frame (HxWx3 uint8 RGB) for the writers; never blocks (a full queue drops it, counted)."""
        valid = isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        if not (self._direct and valid and self.stats.state == "open"):
            super().send(frame, info)  # checks, a failed output's count, a subclass's own _send
            return
        with self._cond:
            full = len(self._queue) >= self._room(frame)
            if full:
                self.queue_full += 1
                self._pending_drops += 1
                self.stats.dropped += 1
        if full:
            self._warn_once(frame)
        else:
            self._enqueue(frame, info)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> bool | None:
        """The base class's path (a subclass's ``_send`` calls it): queue the laid-out frame, waiting for room
        (frames meanwhile wait in the base class's slot, the newest kept, the rest dropped and counted)."""
        with self._cond:
            while len(self._queue) >= self._room(frame) and self._worker.running:
                self._cond.wait(0.1)
        self._pending_drops += self.stats.dropped - self._dropped_seen  # lost in the slot since the last one
        self._dropped_seen = self.stats.dropped
        if self._pending_drops:
            self._warn_once(frame)
        self._enqueue(frame, info)
        return None

    def _written_size(self, frame: np.ndarray) -> tuple[int, int]:
        """(width, height) of the file ``frame`` becomes."""
        if self._direct and self.layout is not None:
            return self.layout.size_for(frame.shape)
        return frame.shape[1], frame.shape[0]

    def _room(self, frame: np.ndarray) -> int:
        """How many frames like ``frame`` the queue holds (counted at the size they are written)."""
        width, height = self._written_size(frame)
        return max(2, self.queue_bytes // max(1, frame.nbytes, width * height * 3))

    def _enqueue(self, frame: np.ndarray, info: FrameInfo) -> None:
        if frame.flags.writeable:  # the sender may reuse its buffer; a layout's scaling is read-only and kept
            frame = frame.copy()
        with self._cond:
            self._queue.append((self._seq, frame, info, self._pending_drops))
            self._seq += 1
            self._pending_drops = 0
            self._queued_bytes += frame.nbytes
            self._cond.notify_all()

    def _warn_once(self, frame: np.ndarray) -> None:
        if not self._warned:
            self._warned = True
            width, height = self._written_size(frame)
            log.warning("%s output %r is dropping frames: writing %dx%d frames as %s (%.0f ms each) falls behind; "
                        "the count comes when it closes", self.kind, self.name, width, height, self.fmt,
                        self._write_ms)

    # --- the writers ----------------------------------------------------------------------------------------
    def _writer(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait(0.25)
                if not self._queue:
                    return
                seq, frame, info, dropped = self._queue.popleft()
                self._queued_bytes -= frame.nbytes
                self._cond.notify_all()
            tmp = self.folder / f".writing-{seq:09d}.{self.fmt}"
            error: BaseException | None = None
            t0 = time.perf_counter()
            try:
                if self._direct and self.layout is not None:
                    with self._layout_lock:  # a layout keeps caches (the composite's background)
                        frame = self.layout(frame, info)
                self._write_image(frame, tmp)
            except Exception as e:
                error = e
            ms = 1000.0 * (time.perf_counter() - t0)
            self._write_ms = ms if not self._write_ms else 0.9 * self._write_ms + 0.1 * ms
            self._commit(seq, tmp, info, dropped, error, ms)

    def _commit(self, seq: int, tmp: Path, info: FrameInfo, dropped: int, error: BaseException | None,
                ms: float) -> None:
        """Name and index the written frames in the order they came (the writers finish out of order)."""
        with self._commit_lock:
            self._done[seq] = (tmp, info, dropped, error, ms)
            while self._next_commit in self._done:
                tmp, info, dropped, error, ms = self._done.pop(self._next_commit)
                self._next_commit += 1
                dropped, self._carry = dropped + self._carry, 0
                if error is None:
                    number = self.written + 1
                    file = f"frame-{number:06d}.{self.fmt}"
                    try:
                        os.replace(tmp, self.folder / file)
                    except OSError as e:
                        error = e
                    else:
                        self.written = number
                        if self._index is not None:
                            self._index.write(f"{number},{info.time:.3f},{time.time():.3f},{file},"
                                              f"{info.top_class or ''},{info.confidence:.3f},{info.number},"
                                              f"{dropped}\n")
                        if self._direct:  # else the base class counts what _send queued
                            self._count_sent(ms)
                        continue
                self._failed(tmp, info, error)
                self._carry = dropped + 1  # the next row written counts this one as dropped too

    def _count_sent(self, ms: float) -> None:
        st = self.stats
        st.send_ms = ms if st.sent == 0 else 0.9 * st.send_ms + 0.1 * ms
        st.sent += 1
        rate = self._sent_meter.add(time.monotonic())
        if rate is not None:
            st.fps = rate

    def _failed(self, tmp: Path, info: FrameInfo, error: BaseException) -> None:
        self.failed += 1
        if self.stats.failed(str(error)):
            log.error("%s output %r could not write frame %d: %s", self.kind, self.name, info.number, error)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass

    def _write_image(self, frame: np.ndarray, path: Path) -> None:
        from PIL import Image

        if self.fmt == "png":
            Image.fromarray(frame).save(path, format="PNG", compress_level=1, compress_type=_PNG_HUFFMAN_ONLY)
        else:
            Image.fromarray(frame).save(path, format="JPEG", quality=self.quality)

    # --- out ------------------------------------------------------------------------------------------------
    def _close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        deadline = time.monotonic() + DRAIN_SECONDS
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        with self._cond:
            self.unwritten = len(self._queue)
            self._queue.clear()
            self._queued_bytes = 0
        with self._commit_lock:
            lost = self.failed + self.unwritten
            if not self._direct:  # the base class counted them as sent when they were queued
                self.stats.sent = max(0, self.stats.sent - lost)
            self.stats.dropped += lost
            if self._index is not None:
                self._index.close()
                self._index = None
        if self._direct or self._seq:  # (a recorder writing video alone says what it wrote itself)
            (log.warning if self.stats.dropped else log.info)("%s", self.summary())

    def summary(self) -> str:
        """One line: the frames written, and how many of all handed over were dropped, and why."""
        st = self.stats
        total = self.written + st.dropped
        head = f"{self.kind} output {self.name!r}: {self.written} frames written to {self.folder}"
        if st.skipped:
            head += f" ({st.skipped} skipped by the rate limit)"
        if not st.dropped:
            return f"{head}; none of {total} dropped"
        behind = st.dropped - self.failed - self.unwritten
        speed = f"{self.fmt} at {self._write_ms:.0f} ms a frame on {self.writers} writer thread(s)"
        why = []
        if self.queue_full:
            why.append(f"{self.queue_full} with the queue full: the writers fell behind ({speed})")
        if behind - self.queue_full:
            why.append(f"{behind - self.queue_full} replaced in the hand-off while the output was busy or down "
                       f"({speed})")
        if self.failed:
            why.append(f"{self.failed} could not be written ({st.last_error})")
        if self.unwritten:
            why.append(f"{self.unwritten} still queued when the output closed")
        return f"{head}; {st.dropped} of {total} dropped: " + "; ".join(why)
