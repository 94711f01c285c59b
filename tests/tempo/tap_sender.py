"""Taps over OSC from a process of its own, the way a controller app sends them.

``python tests/tempo/tap_sender.py PORT BPM COUNT [LATE]``: ``COUNT`` ``/tempo/tap`` messages at exactly ``BPM``
(the first 0.3 s from now). With ``LATE`` (seconds) each tap goes in a bundle whose time tag is the moment it was
played and is sent up to ``LATE`` seconds after it (a busy client, Wi-Fi), each one late by a different amount.
Prints the monotonic time of the first tap, then exits.
"""

from __future__ import annotations

import random
import sys
import time

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import UDPClient


def main(port: int, bpm: float, count: int, late: float) -> None:
    client = UDPClient("127.0.0.1", port)
    rng = random.Random(23)
    first = time.monotonic() + 0.3
    wall_offset = time.time() - time.monotonic()
    for i in range(count):
        played = first + i * 60.0 / bpm
        send_at = played + (rng.uniform(0.0, late) if late else 0.0)
        while (delay := send_at - time.monotonic()) > 0:
            time.sleep(min(delay, 0.002) if delay < 0.01 else delay - 0.005)
        msg = OscMessageBuilder("/tempo/tap").build()
        if late:
            bundle = OscBundleBuilder(played + wall_offset)
            bundle.add_content(msg)
            client.send(bundle.build())
        else:
            client.send(msg)
    print(first, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
