"""Ableton Link through the LinkPython-extern binding: the session's tempo and its bar-aligned beat.

Joining a Link session makes this machine one of its peers: the tempo and the
phase of every 4-beat bar are the session's (Ableton Live, Resolume, Traktor,
phone apps on the same network). Link finds its peers by multicast on every
network interface. The show follows the session, and leads it too: a tempo set
here (``tempo.bpm``, ``tempo.double``, ``tempo.halve``) becomes the session's, as
in any Link app. With start/stop sync (``tempo.link_start_stop``) the session's
play state is followed: stopped, the beat stands still.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from performer.errors import ControlError
from performer.tempo.grid import BEATS_PER_BAR, BeatGrid

INSTALL_HINT = "pip install LinkPython-extern"


def load_binding() -> Any:
    """The ``link`` module of LinkPython-extern, or a :class:`ControlError` that says how to get it."""
    try:
        import link
    except ImportError as e:
        raise ControlError(f"tempo.source = link needs the Ableton Link binding LinkPython-extern, which is not "
                           f"installed ({e}); install it with `{INSTALL_HINT}`") from None
    if not hasattr(link, "Link"):
        raise ControlError(f"the module 'link' at {getattr(link, '__file__', '?')} is not LinkPython-extern's; "
                           f"install it with `{INSTALL_HINT}`")
    return link


class LinkSession:
    """One Link peer, enabled while the tempo follows Link."""

    def __init__(self, bpm: float = 120.0) -> None:
        self._binding = load_binding()
        self._link = self._binding.Link(float(bpm))
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._link.enabled)

    def enable(self, on: bool = True) -> None:
        with self._lock:
            self._link.enabled = on

    def peers(self) -> int:
        return int(self._link.numPeers())

    def set_tempo(self, bpm: float) -> None:
        """Propose ``bpm`` to the session (every peer follows; the beat goes on from where it is)."""
        with self._lock:
            state = self._link.captureAppSessionState()
            state.setTempo(float(bpm), self._link.clock().micros())
            self._link.commitAppSessionState(state)

    def start_stop_sync(self, on: bool) -> None:
        with self._lock:
            self._link.startStopSyncEnabled = bool(on)

    def playing(self) -> bool:
        """Whether the session plays (meaningful with start/stop sync)."""
        with self._lock:
            return bool(self._link.captureAppSessionState().isPlaying())

    def grid(self) -> BeatGrid:
        """The session's beat grid now, in monotonic seconds (Link's clock is read beside the monotonic one)."""
        with self._lock:
            state = self._link.captureAppSessionState()
            micros = self._link.clock().micros()
            mono = time.monotonic()
        bpm = float(state.tempo())
        beat = float(state.beatAtTime(micros, BEATS_PER_BAR))
        return BeatGrid(mono, beat, bpm)

    def close(self) -> None:
        self.enable(False)
