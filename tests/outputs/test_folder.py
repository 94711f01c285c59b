"""The folder output: every frame written, in order, numbered without gaps; what is dropped is counted where it
happened and explained at the end; a folder holding an earlier run is refused unless told to overwrite it."""

from __future__ import annotations

import csv
import logging
import random
import time

import numpy as np
import pytest

from conftest import wait_until
from performer.errors import OutputError
from performer.outputs import FolderOutput, Layout
from performer.outputs.folder import existing_frames, refuse_used_folder
from performer.outputs.frame_info import FrameInfo


def frame(n: int, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.full((*size, 3), n % 256, np.uint8)


def rows(folder) -> list[dict[str, str]]:
    with open(folder / "index.csv") as f:
        return list(csv.DictReader(f))


def pixel(path) -> int:
    from PIL import Image

    return int(np.asarray(Image.open(path))[0, 0, 0])


class SlowFolder(FolderOutput):
    """Writes take 10 to 40 ms (so the writers finish out of order), or fail for the frames in ``fail``."""

    def __init__(self, *args, fail=(), **kw):
        super().__init__(*args, **kw)
        self.fail = set(fail)
        self.rng = random.Random(1)

    def _write_image(self, frame, path):
        time.sleep(self.rng.uniform(0.01, 0.04))
        if int(frame[0, 0, 0]) in self.fail:
            raise OSError(28, "No space left on device")
        super()._write_image(frame, path)


def test_a_burst_faster_than_the_writers_is_written_whole_and_in_order(tmp_path):
    out = SlowFolder(tmp_path / "seq", fmt="png")
    with out:
        for n in range(1, 41):  # 200 frames a second against 50 to 200 a second of writing
            out.send(frame(n), FrameInfo(n, n / 100))
            time.sleep(0.005)
    assert out.stats.dropped == 0 and out.stats.errors == 0
    assert out.written == out.stats.sent == 40
    files = [p.name for p in existing_frames(tmp_path / "seq")]
    assert files == [f"frame-{k:06d}.png" for k in range(1, 41)]
    assert [pixel(tmp_path / "seq" / f) for f in files] == list(range(1, 41))  # file N holds frame N
    r = rows(tmp_path / "seq")
    assert [x["frame"] for x in r] == [str(k) for k in range(1, 41)]
    assert [x["engine_frame"] for x in r] == [str(k) for k in range(1, 41)] and {x["dropped"] for x in r} == {"0"}
    assert not list((tmp_path / "seq").glob(".writing-*"))


def test_frames_dropped_by_a_full_queue_are_counted_where_they_fell_and_explained(tmp_path, caplog):
    out = SlowFolder(tmp_path / "seq", queue_bytes=1, writers=1)  # room for 2 frames
    with caplog.at_level(logging.INFO, logger="performer.outputs.folder"), out:
        for n in range(1, 41):
            out.send(frame(n), FrameInfo(n, n / 100))
            time.sleep(0.002)
    assert out.stats.dropped > 0 and out.queue_full == out.stats.dropped
    files = [p.name for p in existing_frames(tmp_path / "seq")]
    assert files == [f"frame-{k:06d}.jpg" for k in range(1, len(files) + 1)]  # no gaps in the numbering ...
    r = rows(tmp_path / "seq")
    assert len(r) == len(files) == out.written == out.stats.sent
    engine = [int(x["engine_frame"]) for x in r]
    dropped = [int(x["dropped"]) for x in r]
    assert engine[0] == 1 + dropped[0]
    assert all(b - a - 1 == d for a, b, d in zip(engine, engine[1:], dropped[1:]))  # ... the index says where
    assert sum(dropped) + (40 - engine[-1]) == out.stats.dropped
    summary = out.summary()
    assert f"{out.written} frames written" in summary and f"{out.stats.dropped} of 40 dropped" in summary
    assert "queue full" in summary and "writers fell behind" in summary
    assert summary in caplog.text and "is dropping frames" in caplog.text


def test_a_frame_that_cannot_be_written_takes_no_number(tmp_path, caplog):
    out = SlowFolder(tmp_path / "seq", fmt="png", fail={3})
    with caplog.at_level(logging.INFO, logger="performer.outputs.folder"), out:
        for n in range(1, 7):
            out.send(frame(n), FrameInfo(n, n / 10))
    assert out.written == 5 and out.failed == 1 and out.stats.errors == 1 and out.stats.dropped == 1
    r = rows(tmp_path / "seq")
    assert [x["frame"] for x in r] == ["1", "2", "3", "4", "5"]
    assert [x["engine_frame"] for x in r] == ["1", "2", "4", "5", "6"]
    assert [x["dropped"] for x in r] == ["0", "0", "1", "0", "0"]
    assert pixel(tmp_path / "seq" / "frame-000003.png") == 4
    assert "1 could not be written" in out.summary() and "No space left" in out.summary()
    assert "could not write frame 3" in caplog.text


def test_the_layout_runs_on_the_writers_and_a_sender_reusing_its_buffer_is_safe(tmp_path):
    out = FolderOutput(tmp_path / "seq", fmt="png", layout=Layout("dream", 64, 36, fit="scale"))
    buf = np.zeros((18, 32, 3), np.uint8)
    with out:
        for n in range(1, 11):
            buf[:] = n * 20  # the same array, changed in place after each send
            out.send(buf, FrameInfo(n, n / 30))
    files = existing_frames(tmp_path / "seq")
    assert len(files) == 10
    from PIL import Image

    pictures = [np.asarray(Image.open(f)) for f in files]
    assert {p.shape for p in pictures} == {(36, 64, 3)}
    assert [int(p[10, 10, 0]) for p in pictures] == [n * 20 for n in range(1, 11)]


def test_a_folder_holding_an_earlier_run_is_refused_unless_overwritten(tmp_path):
    folder = tmp_path / "seq"
    with FolderOutput(folder) as first:
        for n in range(1, 4):
            first.send(frame(n), FrameInfo(n, n / 30))
    assert wait_until(lambda: len(existing_frames(folder)) == 3, 5)
    (folder / "notes.txt").write_text("mine")

    with pytest.raises(OutputError, match=r"already holds 3 frame file\(s\).*--overwrite") as e:
        FolderOutput(folder, name="--frames").open()
    assert str(folder) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(OutputError, match="--frames"):
        refuse_used_folder(folder, "--frames")

    with FolderOutput(folder, overwrite=True) as again:  # starts afresh: old frames and index gone
        again.send(frame(9), FrameInfo(1, 0.0))
    assert [p.name for p in existing_frames(folder)] == ["frame-000001.jpg"]
    assert [x["engine_frame"] for x in rows(folder)] == ["1"]
    assert (folder / "notes.txt").read_text() == "mine"  # nothing else is touched


def test_an_index_without_frames_is_no_earlier_run(tmp_path):
    folder = tmp_path / "seq"
    with FolderOutput(folder):
        pass  # a run that wrote nothing leaves the header alone
    refuse_used_folder(folder, "--frames")
    with FolderOutput(folder) as out:
        out.send(frame(1), FrameInfo(1, 0.0))
    assert out.written == 1
