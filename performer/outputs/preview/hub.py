"""What the control page's WebSockets share: the parameter store, the optional controller, and each page's queue.

Pages send JSON messages; the hub applies them to the store (source ``"page"``) or hands them to the controller:

- ``{"type": "set", "name": NAME, "value": V}``  set a parameter (a trigger fires)
- ``{"type": "fire", "name": NAME}``             fire a trigger
- ``{"type": "recall", "name": PRESET}``         recall a preset (only a name the page was offered)
- ``{"type": "learn", "name": NAME}``            arm MIDI learn for a parameter
- ``{"type": "ping"}``

Every page hears ``hello`` (all values, the presets) when it connects, then ``set`` (the values that changed,
coalesced: a burst costs one message; while a recall or a morph glides a parameter, its live value every
``GLIDE_PERIOD`` until it arrives, so the page's fader moves with the picture), ``analysis`` (class
probabilities and tempo, when they change, at most ``ANALYSIS_RATE`` a second), ``ok`` and ``error`` (one line
naming the thing, the value and what is allowed). A bad message changes nothing; the hub counts it (``rejected``).

What the pages cost together is bounded twice: their sets reach the store through one
:class:`~performer.outputs.preview.intake.SetCoalescer` (each parameter written at most ``APPLY_RATE`` times a
second, the newest value winning), and all pages together are read at most ``INTAKE_RATE`` messages a second,
each page its share (:meth:`ControlHub.page_rate`, at most the page's own limit): a page past its share waits
before its session reads on (:meth:`ControlHub.hold`, counted in ``held``, one log line a second), so its flood
stays in its socket, costing the server nothing; nothing it sent is dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from performer.errors import PerformerError
from performer.outputs.preview.intake import APPLY_RATE, SetCoalescer
from performer.params import Change, ParamStore
from performer.params.glides import GlideFollow

log = logging.getLogger(__name__)

ANALYSIS_RATE = 10.0
GLIDE_PERIOD = 1.0 / 30.0
"""Seconds between two live values of a gliding parameter sent to the pages."""
INTAKE_RATE = 800.0
"""Messages a second read from all control pages together (a page dragging a fader sends about 30)."""
MAX_LOGGED = 20  # rejected messages logged as warnings; later ones at debug level (a page cannot flood the log)


class PageControl(Protocol):
    """What the control page needs beyond the store; ``performer serve`` gives it one built around ``Controls``."""

    def presets(self) -> Sequence[str]:
        """The preset names a page may recall."""
        ...

    def recall(self, name: str) -> None:
        """Recall (or queue the recall of) preset ``name``; raises PerformerError to refuse it."""
        ...

    def learn(self, param: str) -> None:
        """Arm MIDI learn for ``param``; raises PerformerError when there is no MIDI input."""
        ...

    def analysis(self) -> Mapping[str, Any]:
        """The newest analysis as plain values: any of ``classes``, ``probs``, ``top_class``, ``confidence``,
        ``bpm``, ``beat_phase``, ``bar_phase``, ``preset``."""
        ...


def _short(value: Any, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


class PageClient:
    """One connected page: the values changed since it last heard (newest wins) and its last analysis."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}
        self.fired: list[str] = []
        self.last_analysis = ""


class ControlHub:
    """The store and controller behind every control page of one preview server."""

    def __init__(self, store: ParamStore, control: PageControl | None = None,
                 frame_analysis: Callable[[], Mapping[str, Any]] | None = None, *,
                 apply_rate: float = APPLY_RATE, intake_rate: float = INTAKE_RATE) -> None:
        self.store, self.control = store, control
        self.sets = SetCoalescer(store, apply_rate)
        self.intake_rate = float(intake_rate)
        self._kind_log: Any = None  # a KindLog, made when first needed (as httpd.py does: no import of control/)
        self.held = 0  # times a page's session waited for its share of the pages' intake
        self._frame_analysis = frame_analysis
        self._lock = threading.Lock()
        self._clients: list[PageClient] = []
        self.messages = 0
        self.rejected = 0
        self.glides = GlideFollow(store)
        self._glide_at = 0.0
        self._unsubscribe = store.subscribe(self._changed)

    def close(self) -> None:
        self.sets.flush()
        self._unsubscribe()

    def page_rate(self, limit: float) -> float:
        """Messages a second one page may send now: its share of ``intake_rate``, at most ``limit``."""
        return min(limit, self.intake_rate / max(1, self.clients))

    def hold(self, seconds: float, who: str = "a page") -> None:
        """Wait ``seconds`` on a page's session (past its share), counted and logged once a second at most."""
        with self._lock:
            self.held += 1
            held = self.held
            if self._kind_log is None:
                from performer.throttle import KindLog

                self._kind_log = KindLog(log)
        self._kind_log("held", f"control page from {who} sends more than its share of {self.intake_rate:g} "
                       f"messages a second ({self.clients} pages open); it is read on only as the share allows",
                       held, level=logging.INFO)
        time.sleep(seconds)

    # --- store -> pages ------------------------------------------------------------------------------------------
    def _changed(self, change: Change) -> None:  # on the writer's thread: quick, never raises
        trigger = self.store.registry.get(change.name).type == "trigger"
        value = None if trigger else self.glides.shown(change)  # a glide's start, not its target
        with self._lock:
            for c in self._clients:
                if trigger:
                    c.fired.append(change.name)
                else:
                    c.pending[change.name] = value

    def join(self) -> PageClient:
        client = PageClient()
        with self._lock:
            self._clients.append(client)
        return client

    def leave(self, client: PageClient) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def hello(self) -> dict[str, Any]:
        values = {p.name: self.store.target(p.name) for p in self.store.registry if p.type != "trigger"}
        values.update(self.glides.now())  # a page opened mid-morph starts where the glide is
        presets: list[str] = []
        if self.control is not None:
            try:
                presets = [str(n) for n in self.control.presets()]
            except Exception as e:  # an unreadable folder: the page still controls parameters
                log.warning("control page: cannot list presets: %s", e)
        return {"type": "hello", "values": values, "presets": presets, "control": self.control is not None}

    def outgoing(self, client: PageClient) -> list[dict[str, Any]]:
        """What ``client`` has not heard yet: changed values and fired triggers (then taken)."""
        self._follow_glides()
        with self._lock:
            pending, fired = client.pending, client.fired
            client.pending, client.fired = {}, []
        out: list[dict[str, Any]] = []
        if pending:
            out.append({"type": "set", "values": pending})
        out += [{"type": "fired", "name": n} for n in fired]
        return out

    def _follow_glides(self) -> None:
        """Every ``GLIDE_PERIOD``: the live values of gliding parameters to every page (a newer set wins)."""
        now = time.monotonic()
        with self._lock:
            if now - self._glide_at < GLIDE_PERIOD:
                return
            self._glide_at = now
        glides = self.glides.due()
        if glides:
            with self._lock:
                for c in self._clients:
                    for name, value in glides.items():
                        c.pending.setdefault(name, value)

    def analysis(self, client: PageClient) -> str | None:
        """The analysis message as JSON text when it differs from what ``client`` last heard, else None."""
        data: dict[str, Any] = {}
        try:
            if self._frame_analysis is not None:
                data.update(self._frame_analysis())
            if self.control is not None:
                data.update(self.control.analysis())
        except Exception as e:  # a half-started engine: try again next time
            log.debug("control page: no analysis: %s", e)
        text = json.dumps({"type": "analysis", **data}, allow_nan=False, default=str)
        if text == client.last_analysis:
            return None
        client.last_analysis = text
        return text

    # --- pages -> store ------------------------------------------------------------------------------------------
    def handle(self, text: str, answer: bool = True) -> dict[str, Any] | None:
        """Apply one message from a page; the reply (``ok`` or ``error``) or None. Without ``answer`` (the page
        has closed) only a set is taken, as its parameter's newest value; anything else is dropped."""
        self.messages += 1
        if not answer:
            self._take_unanswered(text)
            return None
        try:
            return self._apply(text)
        except PerformerError as e:
            return self._reject(" ".join(str(e).split()))

    def _take_unanswered(self, text: str) -> None:
        """A set as its parameter's newest value; a bad one counted (``rejected``, logged at debug level only)."""
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if isinstance(msg, dict) and msg.get("type") != "set":
            return  # fire, recall, learn, ping: dropped
        name = msg.get("name") if isinstance(msg, dict) else None
        if not isinstance(name, str) or name not in self.store.registry or "value" not in msg:  # no guessing
            self.rejected += 1  # at the name meant: that costs a millisecond
            log.debug("control page (unanswered): %s is not a set of a parameter", _short(text))
            return
        p = self.store.registry.get(name)
        if p.type == "trigger":
            return
        try:
            self.sets.offer(p.name, p.validate(msg["value"]))
        except PerformerError as e:
            self.rejected += 1
            log.debug("control page (unanswered): %s", e)

    def _reject(self, message: str) -> dict[str, Any]:
        self.rejected += 1
        if self.rejected <= MAX_LOGGED:
            log.warning("control page: %s", message)
        else:
            log.debug("control page: %s", message)
        return {"type": "error", "message": message[:300]}

    def _apply(self, text: str) -> dict[str, Any] | None:
        try:
            msg = json.loads(text)
        except ValueError:
            return self._reject(f"message {_short(text)} is not JSON; send an object like "
                                '{"type": "set", "name": "dream.strength", "value": 0.5}')
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "ping":
            return None
        if kind not in ("set", "fire", "recall", "learn"):
            return self._reject(f"message type {_short(kind)} is not known; allowed: set, fire, recall, learn, ping")
        name = msg.get("name")
        if not isinstance(name, str) or not name:
            what = "preset" if kind == "recall" else "parameter"
            return self._reject(f"{kind}: name {_short(name)} is not a name; send a {what} name as a string")
        if kind == "set":
            if "value" not in msg:
                return self._reject(f"set {name}: no value; allowed: {self.store.registry.get(name).allowed()}")
            p = self.store.registry.get(name)
            if p.type == "trigger":
                self.store.fire(name, source="page")
                return None
            value = p.validate(msg["value"])
            self.sets.offer(name, value)  # stored now, or with the newest of this period's sets
            return {"type": "ok", "set": name, "value": value}
        if kind == "fire":
            self.store.fire(name, source="page")
            return None
        if self.control is None:
            return self._reject(f"{kind} {_short(name)}: no controller is attached to this preview "
                                "(`performer serve` attaches one)")
        if kind == "recall":
            offered = [str(n) for n in self.control.presets()]
            if name not in offered:
                return self._reject(f"recall: no preset named {_short(name)}; allowed: {', '.join(offered)[:200]}")
            self.control.recall(name)
            return {"type": "ok", "recall": name}
        self.store.registry.get(name)  # an unknown name is refused here, naming it
        self.control.learn(name)
        return {"type": "ok", "learn": name}
