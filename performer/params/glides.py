"""Following glides: what a controller shows while the store glides a parameter (a preset's morph, a recall's slew).

The store tells its subscribers the value a change heads for; a controller that showed only that would jump its
fader to the target while the picture takes seconds to get there. :class:`GlideFollow` gives a controller the
glide's live value instead, as often as the controller sends (OSC out at ``control.osc_out_rate``, the control
page's sessions every turn). A hand on a control (:data:`HANDS`) is not followed: its controller hears the value
it set, so a fader is never pulled back under the finger by its own slew.
"""

from __future__ import annotations

import threading
from typing import Any

from performer.params.store import Change, ParamStore

HANDS = frozenset({"osc", "midi", "page"})
"""Change sources that are a hand on a control: their glides (a parameter's own slew) are not followed, so a
controller's fader is not pulled back under the finger; the controller hears the value it set, as before."""


class GlideFollow:
    """The live values of glides a controller should follow: a morph, a recall's slews (any change not made by a
    hand on a control, :data:`HANDS`), so that faders move with the picture instead of jumping to the target.

    The controller (OSC out, the control page's hub) calls :meth:`shown` from its store subscriber: the value to
    show for a change now (the glide's start when it glides, else the value set), and :meth:`due` on each tick:
    the current value of every followed glide, the last time with its target. Thread-safe.
    """

    def __init__(self, store: ParamStore, hands: frozenset[str] = HANDS) -> None:
        self.store = store
        self.hands = hands
        self._lock = threading.Lock()
        self._gliding: set[str] = set()

    def shown(self, change: Change) -> Any:
        """The value to show for ``change`` (a :class:`~performer.params.Change`) now."""
        name = change.name
        if change.source in self.hands or not self.store.registry.get(name).numeric:
            with self._lock:
                self._gliding.discard(name)  # a hand took over: what it set is shown
            return change.value
        now = self.store.get(name)
        if now == change.value:
            with self._lock:
                self._gliding.discard(name)
            return change.value
        with self._lock:
            self._gliding.add(name)
        return now

    def due(self) -> dict[str, Any]:
        """The current value of every followed glide; a glide that has arrived is given once more and dropped."""
        out: dict[str, Any] = {}
        with self._lock:  # the store never calls back into this one while holding its own lock
            for name in list(self._gliding):
                out[name] = value = self.store.get(name)
                if value == self.store.target(name):
                    self._gliding.discard(name)
        return out

    def now(self) -> dict[str, Any]:
        """The current value of every followed glide (none is dropped: :meth:`due` does that)."""
        with self._lock:
            return {name: self.store.get(name) for name in self._gliding}

    @property
    def following(self) -> int:
        with self._lock:
            return len(self._gliding)
