"""Browser preview: a small HTTP server with a page showing the live frame, the class probabilities as bars,
the spectrogram and the engine's status (the paper's Figure 2, live).

Endpoints (all on ``http://host:port``):

- ``/``                 the page (polls the two endpoints below; no external scripts or fonts)
- ``/frame.jpg``        the latest frame as JPEG; header ``X-Frame-Number``
- ``/stream.mjpg``      the frames as an MJPEG stream (for VLC, OBS, an ``<img>`` tag)
- ``/state.json``       frame number, top class, confidence, classes, probabilities, level, engine status, and the
                        engine panel as readable rows (``panel``)
- ``/spectrogram.png``  the latest analysis window's log-mel spectrogram, coloured
- ``/control``          the control page (every parameter, the presets, MIDI learn), once :meth:`attach` gave the
                        server the engine's store; ``/control/ws`` is its WebSocket (see ``preview/hub.py``)

Frames are encoded on request (once per frame, by one thread, then cached), so the renderer pays nothing when
nobody watches and the output's thread only keeps a reference to the newest frame. The server is a
:class:`~performer.httpd.GuardedHTTPServer`: bounded client threads (at most half of them per address), a deadline
for each request, idle clients timed out, ``Host`` checked; the control pages' WebSockets have slots of their own
(``max_sessions``), so open pages never keep plain requests out.
"""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from performer.errors import OutputError
from performer.httpd import GuardedHandler, GuardedHTTPServer
from performer.outputs.base import FrameOutput
from performer.outputs.frame_info import FrameInfo
from performer.outputs.layout import Layout, spectrogram_rgb

if TYPE_CHECKING:
    from performer.outputs.preview.hub import ControlHub, PageControl
    from performer.params import ParamStore

log = logging.getLogger(__name__)


def _plain(v: Any) -> Any:
    """JSON-safe copies of numpy scalars, arrays and non-finite floats."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class PreviewOutput(FrameOutput):
    """Serves the live frame and the analysis to a browser (127.0.0.1 by default; port 0 picks a free one)."""

    kind = "preview"

    def __init__(self, name: str = "preview", *, host: str = "127.0.0.1", port: int = 8765, fps: float = 30.0,
                 quality: int = 80, layout: Layout | None = None, title: str = "Performer",
                 required: bool = True, max_clients: int = 32, idle_timeout: float = 15.0,
                 max_rate: float = 120.0, max_sessions: int = 16) -> None:
        super().__init__(name, layout=layout, required=required)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise OutputError(f"preview output {name!r}: port {port!r} is not in 0..65535")
        if not 1 <= quality <= 100:
            raise OutputError(f"preview output {name!r}: JPEG quality {quality!r} is not in 1..100")
        if not isinstance(max_clients, int) or max_clients < 1:
            raise OutputError(f"preview output {name!r}: max_clients {max_clients!r} is not a whole number >= 1")
        if not isinstance(max_sessions, int) or max_sessions < 1:
            raise OutputError(f"preview output {name!r}: max_sessions {max_sessions!r} is not a whole number >= 1")
        if not isinstance(idle_timeout, (int, float)) or not 0 < idle_timeout <= 3600:
            raise OutputError(f"preview output {name!r}: idle_timeout {idle_timeout!r} is not in (0, 3600] seconds")
        self.host, self.port, self.fps, self.quality, self.title = host, port, float(fps), quality, title
        if not isinstance(max_rate, (int, float)) or not 1 <= max_rate <= 10_000:
            raise OutputError(f"preview output {name!r}: max_rate {max_rate!r} is not in 1..10000 requests a second")
        self.max_clients, self.idle_timeout, self.max_rate = max_clients, float(idle_timeout), float(max_rate)
        self.max_sessions = max_sessions
        self._server: GuardedHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._info: FrameInfo | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self._spec_png: tuple[int, bytes] | None = None
        self._spec_src: object | None = None  # the spectrogram array last seen, to number new ones
        self._spec_version = 0
        self._state_json: tuple[int, bytes] | None = None  # (frame number, /state.json body): built once a frame
        self._encode = threading.Lock()  # one encoder at a time: a frame is encoded once, however many ask
        self._closing = False
        self.requests = 0
        self.encode_ms = 0.0
        self.hub: ControlHub | None = None

    def attach(self, store: ParamStore, control: PageControl | None = None) -> None:
        """Serve the control page for ``store`` (and ``control``: presets, MIDI learn, tempo) at ``/control``."""
        from performer.outputs.preview.hub import ControlHub

        if self.hub is not None:
            self.hub.close()
        self.hub = ControlHub(store, control, self._frame_analysis)

    def _frame_analysis(self) -> dict[str, Any]:
        with self._cond:
            info = self._info
        if info is None:
            return {}
        probs = [] if info.probs is None else [round(float(p), 3) for p in np.asarray(info.probs).ravel()]
        return _plain({"classes": list(info.classes), "probs": probs, "top_class": info.top_class,
                       "confidence": round(float(info.confidence), 3)})

    @property
    def url(self) -> str:
        """The page's address (with the real port once open)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # --- the output side ------------------------------------------------------------------------------------
    def _open(self) -> None:
        handler = type("Handler", (_Handler,), {"output": self})
        try:
            server = GuardedHTTPServer((self.host, self.port), handler, label=f"preview {self.name!r}",
                                       max_clients=self.max_clients, idle_timeout=self.idle_timeout,
                                       max_rate=self.max_rate, max_sessions=self.max_sessions)
        except OSError as e:
            raise OutputError(f"preview output {self.name!r}: cannot listen on {self.host}:{self.port}: "
                              f"{e.strerror or e}; choose another port (outputs.{self.name}.port)") from None
        self._server, self._closing = server, False
        self.port = server.server_address[1]
        self._serve_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                              name=f"preview-{self.name}", daemon=True)
        self._serve_thread.start()
        log.info("preview output %r at %s", self.name, self.url)

    def _send(self, frame: np.ndarray, info: FrameInfo) -> None:
        frame = frame.copy()  # the renderer may reuse its buffer; served later, on request
        with self._cond:
            self._frame, self._info = frame, info
            if info.spectrogram is not None and info.spectrogram is not self._spec_src:
                self._spec_src, self._spec_version = info.spectrogram, self._spec_version + 1
            self._cond.notify_all()

    def _close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- what the handlers serve ------------------------------------------------------------------------------
    def jpeg(self) -> tuple[int, bytes] | None:
        """(frame number, JPEG bytes) of the newest frame, encoded once per frame."""
        with self._cond:
            frame, info, cached = self._frame, self._info, self._jpeg
        if frame is None or info is None:
            return None
        if cached is not None and cached[0] == info.number:
            return cached
        from PIL import Image

        with self._encode:
            cached = self._jpeg  # another request may have encoded this frame while this one waited
            if cached is not None and cached[0] >= info.number:
                return cached
            t0 = time.perf_counter()
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="JPEG", quality=self.quality)
            self.encode_ms = 1000.0 * (time.perf_counter() - t0)
            item = (info.number, buf.getvalue())
            with self._cond:
                if self._jpeg is None or self._jpeg[0] < item[0]:
                    self._jpeg = item
        return item

    def state(self) -> dict[str, Any]:
        from performer.outputs.preview.panel import engine_panel

        with self._cond:
            frame, info, spec_version = self._frame, self._info, self._spec_version
        if info is None:
            return {"frame": None, "title": self.title, "top_class": None, "classes": [], "probs": [],
                    "status": {}, "output": self.name, "spectrogram": None, "panel": engine_panel({})}
        level = None if info.level_db is None else round(float(info.level_db), 1)
        probs = [] if info.probs is None else [round(float(p), 4) for p in np.asarray(info.probs).ravel()]
        return _plain({
            "title": self.title, "output": self.name, "frame": info.number, "time": round(info.time, 3),
            "top_class": info.top_class, "confidence": round(float(info.confidence), 4),
            "classes": list(info.classes), "probs": probs,
            "level_db": level, "spectrogram": None if info.spectrogram is None else spec_version,
            "size": None if frame is None else [int(frame.shape[1]), int(frame.shape[0])],
            "status": info.status, "fps": self.fps, "panel": engine_panel(_plain(info.status), info.number, level),
        })

    def state_json(self) -> bytes:
        """The ``/state.json`` body, built once per frame however often it is asked for."""
        with self._cond:
            info, cached = self._info, self._state_json
        if info is not None and cached is not None and cached[0] == info.number:
            return cached[1]
        body = json.dumps(self.state()).encode()
        if info is not None:
            self._state_json = (info.number, body)
        return body

    def spectrogram_png(self) -> bytes | None:
        with self._cond:
            info, version = self._info, self._spec_version
        if info is None or info.spectrogram is None:
            return None
        from PIL import Image

        with self._encode:
            cached = self._spec_png
            if cached is not None and cached[0] == version:
                return cached[1]
            buf = io.BytesIO()
            Image.fromarray(spectrogram_rgb(info.spectrogram)).save(buf, format="PNG")
            self._spec_png = (version, buf.getvalue())
            return self._spec_png[1]

    def wait_newer(self, number: int, timeout: float) -> bool:
        """Wait until a frame newer than ``number`` arrives (False on timeout or close)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closing or (self._info is not None and self._info.number > number),
                                timeout)
            return not self._closing and self._info is not None and self._info.number > number


class _Handler(GuardedHandler):
    output: PreviewOutput
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("preview %s: " + format, self.address_string(), *args)

    def _reply(self, code: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        out = self.output
        out.requests += 1
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html"):
                from performer.outputs.preview.page import page

                self._reply(200, "text/html; charset=utf-8", page(out.title, out.fps, out.state()).encode())
            elif path == "/frame.jpg":
                item = out.jpeg()
                if item is None:
                    self._reply(503, "text/plain", b"no frame yet\n", {"Retry-After": "1"})
                else:
                    self._reply(200, "image/jpeg", item[1], {"X-Frame-Number": str(item[0])})
            elif path == "/state.json":
                self._reply(200, "application/json", out.state_json())
            elif path == "/spectrogram.png":
                png = out.spectrogram_png()
                if png is None:
                    self._reply(503, "text/plain", b"no spectrogram yet\n", {"Retry-After": "1"})
                else:
                    self._reply(200, "image/png", png)
            elif path == "/stream.mjpg":
                self._stream()
            elif path in ("/control", "/control/ws"):
                from performer.outputs.preview.control_session import serve_control

                if path == "/control/ws" and out.hub is not None and not self._session():
                    return
                serve_control(self, out.hub, out.title, path == "/control/ws", self._reply, lambda: out._closing)
            else:
                self._reply(404, "text/plain", f"no such page: {path}; try / /control /frame.jpg /stream.mjpg "
                                               f"/state.json /spectrogram.png\n".encode())
        except OSError as e:  # the client went away, or stopped reading for idle_timeout seconds
            self.close_connection = True
            log.debug("preview %s: %s", self.address_string(), e)

    def _session(self) -> bool:
        """Move a control page's WebSocket to the server's session slots (so pages never take the threads plain
        requests need); False when they are all taken (answered 503, one counted line a second)."""
        if "websocket" not in self.headers.get("Upgrade", "").lower():
            return True  # not a WebSocket: serve_control answers 426
        server = self.server
        problem = server.start_session(self.request)
        if problem is None:
            return True
        server.say("session_refusals", f"{server.label}: {problem}; refused a control page from "
                                       f"{self.client_address[0]}", server.refused_sessions)
        self.close_connection = True
        self._reply(503, "text/plain; charset=utf-8", f"{server.label} is busy: {problem}; try again\n".encode(),
                    {"Retry-After": "1", "Connection": "close"})
        return False

    def _stream(self) -> None:
        out = self.output
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command == "HEAD":
            return
        last, period = -1, 1.0 / max(0.1, out.fps)
        while True:
            if not out.wait_newer(last, 1.0):
                if out._closing:
                    return
                continue
            self.server.pace()  # a stream's frames count against max_rate like requests
            item = out.jpeg()
            if item is None:
                continue
            last = item[0]
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(item[1])).encode()
                             + b"\r\nX-Frame-Number: " + str(last).encode() + b"\r\n\r\n" + item[1] + b"\r\n")
            self.wfile.flush()
            time.sleep(period)
