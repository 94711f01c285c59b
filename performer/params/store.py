"""The live store: thread-safe values of the registry's parameters, with slew and consistent snapshots.

A :class:`ParamStore` holds the live values; controllers (OSC, MIDI, glove,
presets, the mapping stage) write into it from any thread and the render loop
reads one consistent :class:`Snapshot` per frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from performer.errors import ParamTypeError, UnknownParamError
from performer.params.registry import REGISTRY, Registry
from performer.params.views import SectionViews

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One accepted change, as delivered to subscribers."""

    name: str
    value: Any
    previous: Any
    source: str


class Snapshot(SectionViews, Mapping[str, Any]):
    """An immutable, consistent view of every parameter at one instant.

    Values are the smoothed (slewed) values at the snapshot's time; triggers
    read as the number of times they have fired. ``snap["dream.lr"]`` reads one
    by name; ``snap.dream.lr`` reads it typed, from its section's view
    (:mod:`performer.params.views`), built once per snapshot when first read.
    """

    __slots__ = ("_values", "_views", "version", "time")

    def __init__(self, values: dict[str, Any], version: int, t: float) -> None:
        self._values = values
        self._views = {}
        self.version = version
        self.time = t

    def with_values(self, values: Mapping[str, Any]) -> Snapshot:
        """This snapshot (same version and time) with ``values`` in place of its own."""
        return Snapshot({**self._values, **values}, self.version, self.time)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise UnknownParamError(f"no parameter named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def fired(self, name: str, since: Snapshot | None) -> bool:
        """Whether trigger ``name`` fired between ``since`` and this snapshot."""
        if since is None:
            return bool(self._values[name] > 0)
        return bool(self._values[name] != since[name])


@dataclass
class _Ramp:
    start: float
    target: float
    t0: float
    duration: float

    def at(self, t: float) -> float:
        if self.duration <= 0 or t >= self.t0 + self.duration:
            return self.target
        k = max(0.0, (t - self.t0) / self.duration)
        return self.start + (self.target - self.start) * k


Subscriber = Callable[[Change], None]


class ParamStore:
    """Thread-safe live values of the registry's parameters.

    Writers call :meth:`set` (or :meth:`set_normalized`, :meth:`update`,
    :meth:`fire`) from any thread; the value is validated first and an invalid
    value leaves the store untouched. Readers take a :meth:`snapshot` per frame.
    Subscribers are called after each accepted change, outside the lock, on the
    writer's thread; they must be quick and must not raise (errors are logged).
    """

    def __init__(self, registry: Registry = REGISTRY, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: dict[str, Any] = registry.defaults()
        self._ramps: dict[str, _Ramp] = {}
        self._version = 0
        self._subscribers: list[Subscriber] = []

    # --- writing -------------------------------------------------------------
    def set(self, name: str, value: Any, *, source: str = "api", glide: bool = True) -> Any:
        """Validate and set one parameter; returns the value stored (clamped where allowed)."""
        p = self.registry.get(name)
        if p.type == "trigger":
            return self.fire(name, source=source)
        v = p.validate(value)
        change = self._commit({name: v}, source, glide)
        self._notify(change)
        return v

    def set_normalized(self, name: str, x: float, *, source: str = "api", glide: bool = True) -> Any:
        """Set a parameter from 0..1 (what MIDI CCs and Resolume-style clients send)."""
        p = self.registry.get(name)
        return self.set(name, p.denormalize(x), source=source, glide=glide)

    def update(self, values: Mapping[str, Any], *, source: str = "api", glide: bool = True,
               durations: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Set several parameters at once: all are validated first, and none is set if one fails.

        ``durations``: seconds over which the named numeric parameters glide from their current value to the
        new one (a preset's morph), instead of their own slew; the others move as ``glide`` says.
        """
        checked: dict[str, Any] = {}
        for name, value in values.items():
            p = self.registry.get(name)
            if p.type == "trigger":
                raise ParamTypeError(f"{name} is a trigger; fire it instead of setting it")
            checked[name] = p.validate(value)
        for name in durations or {}:
            if not self.registry.get(name).numeric:
                raise ParamTypeError(f"{name} is a {self.registry.get(name).type}; only numbers can glide")
        self._notify(self._commit(checked, source, glide, durations or {}))
        return checked

    def fire(self, name: str, *, source: str = "api") -> int:
        """Fire a trigger parameter; returns how many times it has fired."""
        p = self.registry.get(name)
        if p.type != "trigger":
            raise ParamTypeError(f"{name} is a {p.type}, not a trigger")
        with self._lock:
            count: int = self._targets[name] + 1
            self._targets[name] = count
            self._version += 1
        self._notify([Change(name, count, count - 1, source)])
        return count

    def reset(self, *, source: str = "reset") -> None:
        """Return every parameter (but triggers) to its declared default, without gliding."""
        self.update({p.name: p.default for p in self.registry if p.type != "trigger"}, source=source, glide=False)

    def _commit(self, values: dict[str, Any], source: str, glide: bool,
                durations: Mapping[str, float] | None = None) -> list[Change]:
        changes = []
        with self._lock:
            now = self._clock()
            for name, v in values.items():
                previous = self._targets[name]
                if previous == v:
                    continue
                p = self.registry.get(name)
                seconds = durations.get(name, 0.0) if durations else 0.0
                if seconds > 0 or (glide and p.slew > 0):
                    current = self._current(name, now)
                    self._ramps[name] = _Ramp(float(current), float(v), now, seconds if seconds > 0 else p.slew)
                else:
                    self._ramps.pop(name, None)
                self._targets[name] = v
                changes.append(Change(name, v, previous, source))
            if changes:
                self._version += 1
        return changes

    def _notify(self, changes: list[Change]) -> None:
        if not changes:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for change in changes:
            for fn in subscribers:
                try:
                    fn(change)
                except Exception:  # a broken listener must not stop the show
                    log.exception("parameter subscriber %r failed on %s", fn, change.name)

    # --- reading -------------------------------------------------------------
    def _current(self, name: str, now: float) -> Any:
        ramp = self._ramps.get(name)
        if ramp is None:
            return self._targets[name]
        v = ramp.at(now)
        if v == ramp.target:
            del self._ramps[name]
            return self._targets[name]
        return int(round(v)) if self.registry.get(name).type == "int" else v

    def get(self, name: str) -> Any:
        """The current value (mid-glide values included)."""
        self.registry.get(name)
        with self._lock:
            return self._current(name, self._clock())

    def target(self, name: str) -> Any:
        """The value last set, which a gliding parameter is heading for."""
        self.registry.get(name)
        with self._lock:
            return self._targets[name]

    def get_normalized(self, name: str) -> float:
        return self.registry.get(name).normalize(self.get(name))

    def snapshot(self) -> Snapshot:
        """Every parameter at one instant, consistent across parameters."""
        with self._lock:
            now = self._clock()
            values = {name: self._current(name, now) for name in self._targets}
            return Snapshot(values, self._version, now)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(change)`` after every accepted change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe
