"""An NDI source in: the VJ's own content over the network, through ndi-python.

:class:`NDIVideo` finds its source by name with an NDI finder -- the full name receivers list (``HOST (name)``) or
just the part in brackets -- and receives its video on the source's thread. Discovery uses mDNS and, where mDNS
does not reach (a machine without it, another subnet, this one), the ``extra_ips`` it is given; local sources are
always shown and 127.0.0.1 is always asked, so a sender on the same machine is found either way. Until the source
appears the state is ``searching``; a source that goes away (no video and no connection for ``lost_after_s``) is
looked up again, and found when it comes back (on another port, another machine of the same name) within about a
second: while searching, a fresh finder is made every ``refind_s`` next to the one made at the start, because the
runtime's finder asks quickly only when it is new (one made 2 s before a sender appeared listed it 5 s later, one
made 0.3 s before in 0.2 s; a source that came back was picked up after about 10 s). Frames arrive as RGBX (the
runtime converts) or, with ``color="fastest"``, in the sender's own UYVY or BGRA, converted here;
``bandwidth="lowest"`` asks for the sender's small proxy stream (about 640x360), plenty for a dream of that size and
much lighter on the network.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from performer.video.base import VideoError, VideoSource
from performer.video.convert import to_rgb

log = logging.getLogger(__name__)

BANDWIDTHS = ("highest", "lowest")
COLORS = ("rgb", "fastest")
_FULL_NAME = re.compile(r"^(?P<host>.*) \((?P<name>.*)\)$")
_IP = re.compile(r"^[0-9A-Za-z.:\-]{1,253}$")


def name_matches(wanted: str, full: str) -> bool:
    """Whether NDI source ``full`` (``HOST (name)``) is the one asked for: the full name, or the name in brackets."""
    if full == wanted:
        return True
    m = _FULL_NAME.match(full)
    return m is not None and m.group("name") == wanted


class NDIVideo(VideoSource):
    """Receives the video of the NDI source named ``name`` (see :func:`name_matches`)."""

    kind = "ndi"
    lost_after_s = 1.0
    """Without video and without a connection for this long, the receiver is dropped and the source looked up again
    (the connection count falls to 0 within 0.1 s of a sender closing on loopback)."""
    connect_s = 5.0
    """A receiver that has not connected yet (a sender far away) is given this long before it is dropped."""
    refind_s = 1.0
    """While searching, a fresh finder is made this often (a new finder lists a source within about 0.2 s)."""

    def __init__(self, name: str, *, extra_ips: Sequence[str] = (), bandwidth: str = "highest",
                 color: str = "rgb", spec: str | None = None) -> None:
        super().__init__(spec or f"ndi:{name}")
        if not isinstance(name, str) or not name.strip():
            raise VideoError(f"video source {self.spec!r}: an NDI source needs a name (ndi:NAME)")
        if bandwidth not in BANDWIDTHS:
            raise VideoError(f"video source {self.spec!r}: bandwidth {bandwidth!r} is not one of "
                             f"{', '.join(BANDWIDTHS)}")
        if color not in COLORS:
            raise VideoError(f"video source {self.spec!r}: color {color!r} is not one of {', '.join(COLORS)}")
        ips = ["127.0.0.1", *(str(ip).strip() for ip in extra_ips)]
        bad = [ip for ip in ips if not _IP.match(ip)]
        if bad:
            raise VideoError(f"video source {self.spec!r}: extra IP {bad[0]!r} is not an address or host name")
        self.name = name
        self.extra_ips = tuple(dict.fromkeys(ip for ip in ips if ip))
        self.bandwidth = bandwidth
        self.color = color
        self.found = ""
        """The full name of the source received from (empty while searching)."""
        self._ndi: Any = None
        self._find: Any = None
        self._fresh: Any = None
        self._fresh_at = 0.0
        self._recv: Any = None
        self._formats: dict[Any, str] = {}
        self._since_video = 0.0
        self._linked = False  # the receiver has been connected (or had video) since it was made
        self.pixel_format = ""
        """The pixel format of the last frame as it arrived (RGBX, UYVY, ...)."""

    def _open(self) -> None:
        from performer.errors import OutputError
        from performer.ndi import ndi_library

        try:
            ndi = self._ndi = ndi_library()
        except OutputError as e:
            raise VideoError(f"video source {self.spec!r}: {e}") from None
        self._find = self._finder()
        if self._find is None:
            raise VideoError(f"video source {self.spec!r}: the NDI runtime refused to create a finder")
        self._formats = {getattr(ndi, f"FOURCC_VIDEO_TYPE_{f}"): f for f in ("RGBA", "RGBX", "BGRA", "BGRX", "UYVY")}
        self.stats.state = "searching"
        log.info("looking for NDI source %r (mDNS and %s)", self.name, ", ".join(self.extra_ips))

    def _finder(self) -> Any:
        ndi = self._ndi
        return ndi.find_create_v2(ndi.FindCreate(show_local_sources=True, p_extra_ips=",".join(self.extra_ips)))

    def _sources(self) -> list[Any]:
        """What the finder made at the start and a fresh one (renewed every ``refind_s``) list now."""
        ndi, now = self._ndi, time.monotonic()
        if now - self._fresh_at >= self.refind_s:
            self._destroy_fresh()
            self._fresh, self._fresh_at = self._finder(), now
        ndi.find_wait_for_sources(self._fresh if self._fresh is not None else self._find, 200)
        fresh = list(ndi.find_get_current_sources(self._fresh)) if self._fresh is not None else []
        return fresh + list(ndi.find_get_current_sources(self._find))

    def _destroy_fresh(self) -> None:
        if self._fresh is not None:
            self._ndi.find_destroy(self._fresh)
            self._fresh = None

    def _connect(self) -> bool:
        ndi = self._ndi
        for src in self._sources():
            full = str(src.ndi_name)
            if not name_matches(self.name, full):
                continue
            rc = ndi.RecvCreateV3()
            rc.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA if self.color == "rgb" else ndi.RECV_COLOR_FORMAT_FASTEST
            rc.bandwidth = ndi.RECV_BANDWIDTH_LOWEST if self.bandwidth == "lowest" else ndi.RECV_BANDWIDTH_HIGHEST
            rc.allow_video_fields = False
            rc.ndi_recv_name = "Performer video in"
            recv = ndi.recv_create_v3(rc)
            if recv is None:
                raise VideoError(f"video source {self.spec!r}: the NDI runtime refused a receiver for {full!r}")
            ndi.recv_connect(recv, src)
            self._recv, self.found, self._since_video, self._linked = recv, full, time.monotonic(), False
            self._destroy_fresh()
            self._fresh_at = 0.0  # the next search starts with a fresh finder
            log.info("NDI source %r found at %s: receiving", full, src.url_address)
            return True
        return False

    def _read(self) -> np.ndarray | None:
        ndi = self._ndi
        if self._recv is None:
            self.stats.state = "searching"
            self._connect()
            return None
        t, video, audio, meta = ndi.recv_capture_v2(self._recv, 200)
        if t == ndi.FRAME_TYPE_VIDEO:
            try:
                fmt = self._formats.get(video.FourCC)
                if fmt is None:
                    raise VideoError(f"video source {self.spec!r}: NDI pixel format {video.FourCC} is not one of "
                                     f"{', '.join(self._formats.values())}")
                frame = to_rgb(video.data, fmt)
                self.pixel_format = fmt
            finally:
                ndi.recv_free_video_v2(self._recv, video)
            self._since_video, self._linked = time.monotonic(), True
            return frame
        if t == ndi.FRAME_TYPE_AUDIO:
            ndi.recv_free_audio_v2(self._recv, audio)
        elif t == ndi.FRAME_TYPE_METADATA:
            ndi.recv_free_metadata(self._recv, meta)
        elif t == ndi.FRAME_TYPE_ERROR:
            self._drop_receiver()
            raise VideoError(f"video source {self.spec!r}: the connection to NDI source {self.found!r} failed")
        quiet = time.monotonic() - self._since_video
        if quiet <= self.lost_after_s:
            return None
        if ndi.recv_get_no_connections(self._recv) > 0:  # connected, just no video now: keep it
            self._linked = True
        elif quiet > (self.lost_after_s if self._linked else self.connect_s):
            log.warning("NDI source %r gone (no video and no connection for %g s); looking for %r again",
                        self.found, self.lost_after_s, self.name)
            self._drop_receiver()
        return None

    def _drop_receiver(self) -> None:
        if self._recv is not None:
            self._ndi.recv_destroy(self._recv)
        self._recv, self.found = None, ""
        self.stats.state = "searching"

    def _close(self) -> None:
        self._drop_receiver()
        self._destroy_fresh()
        if self._find is not None:
            self._ndi.find_destroy(self._find)
            self._find = None

    def details(self) -> dict[str, Any]:
        return {"ndi_source": self.found, "pixel_format": self.pixel_format}
