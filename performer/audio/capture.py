"""The capture process: PortAudio in a child process that streams mono blocks to the engine.

Why a separate process: PortAudio's JACK host API aborts the whole process
(an ``assert`` in ``pa_jack.c``) when a stream is closed or PortAudio is
terminated after the audio server went away, and a PortAudio process only
sees devices that existed when it started. In a child, a vanished device or
server ends only the child; the engine reports the loss, keeps rendering, and
starts a fresh child (a fresh PortAudio) until the device is back.

Protocol on the child's stdout: one JSON line describing the opened device
(``{"name", "index", "hostapi", "rate", "channels"}``, or ``{"error": ...}``),
then binary blocks: a header of two little-endian uint32 (frames, total
overflows so far) followed by ``frames`` float32 mono samples. Run as
``python -m performer.audio.capture --device SPEC``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import struct
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import numpy as np

HEADER = struct.Struct("<II")


def _exit(code: int) -> NoReturn:
    # Skip sounddevice's atexit Pa_Terminate, which aborts if the JACK server died.
    sys.stdout.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    # Ctrl-C reaches the whole process group: the engine stops this child itself once its own shutdown has begun
    # (a capture that died first would be reported as a lost input).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m performer.audio.capture")
    parser.add_argument("--device", default=None, help="index, name or name substring; default input if omitted")
    parser.add_argument("--block", type=int, default=1024)
    args = parser.parse_args(argv)
    out = sys.stdout.buffer
    try:
        import sounddevice as sd

        from performer.audio.devices import find_input_device

        info = find_input_device(args.device)
        channels = min(2, int(info["channels"]))
        rate = int(info["rate"])
        blocks: queue.Queue[np.ndarray] = queue.Queue(maxsize=64)
        overflows = [0]

        def callback(indata: np.ndarray, frames: int, time_info: Any, status: sd.CallbackFlags) -> None:  # only copies
            if status.input_overflow:
                overflows[0] += 1
            try:
                blocks.put_nowait(indata.copy())
            except queue.Full:
                overflows[0] += 1

        # latency="high": PortAudio's larger buffer rides out the moments when the busy engine next door
        # keeps this process off the CPU (with the default low latency, a 10-minute run lost 6 of 28,200 blocks).
        stream = sd.InputStream(device=info["index"], channels=channels, samplerate=rate, blocksize=args.block,
                                dtype="float32", latency="high", callback=callback)
        stream.start()
    except Exception as e:  # AudioError, PortAudioError, missing library: tell the parent in words
        out.write((json.dumps({"error": str(e)}) + "\n").encode())
        _exit(2)
    out.write((json.dumps({"name": info["name"], "index": info["index"], "hostapi": info["hostapi"],
                           "rate": rate, "channels": channels}) + "\n").encode())
    out.flush()
    while True:
        try:
            block = blocks.get(timeout=0.5)
        except queue.Empty:
            if not stream.active:  # the device or the audio server went away
                _exit(3)
            continue
        mono = block.mean(axis=1) if block.ndim == 2 else block
        try:
            out.write(HEADER.pack(len(mono), overflows[0]))
            out.write(mono.astype("<f4", copy=False).tobytes())
            out.flush()
        except (BrokenPipeError, OSError):  # the engine is gone
            _exit(0)


if __name__ == "__main__":
    main()
