"""The preview server's ``/control`` routes: the page, and one page's WebSocket session on the handler's thread.

A session sends ``hello``, then loops: messages from the page are applied through the hub (each reply sent back),
the values changed since the last turn go out as one ``set``, and the analysis as it changes (at most
``ANALYSIS_RATE`` a second). A page may send at most ``MAX_RATE`` messages a second (a fader drag sends about
30), and all pages together at most the hub's ``INTAKE_RATE`` (each page its share); a page past it waits before
it reads on (its messages stay in its socket), so neither one page nor many can take the CPU from the renderer.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from performer.httpd import GuardedHandler, RateLimit
from performer.outputs.preview.hub import ANALYSIS_RATE, ControlHub

log = logging.getLogger(__name__)

TURN = 0.03
"""Seconds a session waits for a page's message before it sends what changed (the most an echo waits)."""
MAX_RATE = 200.0

_pages: dict[tuple[int, str], bytes] = {}


def _page(hub: ControlHub, title: str) -> bytes:
    """The page for ``hub``'s registry, generated once per registry and title."""
    from performer.outputs.preview.control_page import control_page

    key = (id(hub.store.registry), title)
    if key not in _pages:
        _pages[key] = control_page(hub.store.registry, title).encode()
    return _pages[key]


def serve_control(handler: GuardedHandler, hub: ControlHub | None, title: str, websocket: bool,
                  reply: Callable[[int, str, bytes], None], closing: Callable[[], bool]) -> None:
    """Answer ``/control`` (the page) or ``/control/ws`` (a session, until the page or the server closes)."""
    if hub is None:
        reply(503, "text/plain; charset=utf-8",
              b"the control page needs the engine's parameters: this preview was not attached to an engine "
              b"(`performer serve` attaches it)\n")
        return
    if not websocket:
        reply(200, "text/html; charset=utf-8", _page(hub, title))
        return
    if handler.headers.get("Upgrade", "").lower() != "websocket":
        reply(426, "text/plain; charset=utf-8", b"/control/ws is the control page's WebSocket; open /control\n")
        return
    from performer.outputs.preview.ws import upgrade

    ws = upgrade(handler)
    if ws is None:
        return
    client = hub.join()
    limit = RateLimit(hub.page_rate(MAX_RATE), burst=50)
    log.info("control page connected from %s (%d open)", handler.address_string(), hub.clients)
    try:
        ws.send(json.dumps(hub.hello()))
        next_analysis = 0.0
        while not ws.closed:
            if closing():
                ws.close(1001, "the server is stopping")
                break
            texts = ws.recv(TURN)
            limit.rate = hub.page_rate(MAX_RATE)  # this page's share of what all pages may send
            delay = 0.0
            for text in texts:
                delay = limit.delay()  # the slot of the batch's last message
                # a page that closed right after sending: its sets still count, unanswered
                answer = hub.handle(text, answer=not ws.closed)
                if answer is not None:
                    ws.send(json.dumps(answer, default=str))
            if delay > 0:  # one wait a batch (a read holds at most ws.READ_BYTES, so it is short)
                hub.hold(delay, handler.address_string())
            for message in hub.outgoing(client):
                ws.send(json.dumps(message))
            now = time.monotonic()
            if now >= next_analysis:
                next_analysis = now + 1.0 / ANALYSIS_RATE
                analysis = hub.analysis(client)
                if analysis is not None:
                    ws.send(analysis)
    except OSError as e:  # the page went away or stopped reading
        log.debug("control page %s: %s", handler.address_string(), e)
    except Exception as e:  # a broken protocol state: drop this page, keep the server
        log.warning("control page %s dropped: %s", handler.address_string(), e)
        _close_quietly(ws)
    finally:
        hub.leave(client)
        log.info("control page from %s closed (%d open)", handler.address_string(), hub.clients)


def _close_quietly(ws: Any) -> None:
    try:
        ws.close(1011, "server error")
    except Exception as e:  # the socket is already broken: nothing more to say to it
        log.debug("control page: closing a broken session: %s", e)
