"""The network a live dream climbs, and switching it while the show goes on.

:class:`NetworkSlot` holds the loaded backbone. A change of ``dream.network`` loads the new network in a
background thread while the old one keeps rendering; a network chosen live is never downloaded (a client must not
start a download). When a load fails, the old network stays and the failure is queued in ``failures`` for the
engine, which sets the parameter back and tells the client why.

A failed network is remembered with the state of its weights file (:func:`weights_state`): asked for again, it is
refused from memory, the same reason queued again, without loading it (nor hashing its weights) once more, until
that file appears or changes. Every refusal is counted in ``refused`` and logged in one line at most once a
second with the count so far, so a client repeating the request cannot flood the log.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from performer.errors import PerformerError
from performer.throttle import KindLog

if TYPE_CHECKING:
    import torch

    from performer.dream.backbone import Backbone

log = logging.getLogger(__name__)


def weights_state(name: str) -> Hashable:
    """What another try at loading network ``name`` could find different: the files torchvision's cache holds
    for it (``$TORCH_HOME/hub/checkpoints/<name>-<hash>.pth`` and a partial download), with their sizes and times.
    ``efficientnet_lite0``'s weights come with a package, so nothing changes for it while the show runs."""
    if name == "efficientnet_lite0":
        return None
    import torch.hub

    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    try:
        with os.scandir(folder) as entries:
            files = [(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.name.startswith(name + "-")]
    except OSError:  # no cache folder (yet), or one we may not read
        files = []
    return folder, tuple(sorted(files))


class NetworkSlot:
    """The loaded backbone and its live replacement; see the module docstring."""

    def __init__(self, loader: Callable[..., Any] | None = None, *, download: bool = True, background: bool = True,
                 failures: deque[tuple[str, str, str]] | None = None) -> None:
        self._loader = loader
        self._download = download
        self._background = background
        self.failures: deque[tuple[str, str, str]] = failures if failures is not None else deque(maxlen=16)
        self.backbone: Backbone | None = None
        self.network: str | None = None
        self._device: torch.device | None = None
        self._failed: dict[str, tuple[Hashable, str]] = {}
        """Networks that failed to load: the state of their weights then, and why."""
        self.refused = 0
        """Requests for a network refused: failed loads, and repeats refused from memory."""
        self._log = KindLog(log, limit=1000)
        self._pending: tuple[str, Hashable, Future] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def load_now(self, name: str, device: torch.device) -> None:
        """Load ``name`` on ``device`` at once (start of a show: a download is allowed if the renderer allows it).
        Raises :class:`ModelError`."""
        self._device = device
        self._install(name, self._load(name, self._download))

    def _load(self, name: str, download: bool) -> Backbone:
        import torch

        from performer.dream.backbones import load_backbone

        assert self._device is not None  # set by load_now() before any live change
        bb = (self._loader or load_backbone)(name, download=download)
        bb.to(self._device)
        bb.stages.to(memory_format=torch.channels_last)
        bb.head.to(memory_format=torch.channels_last)
        return bb

    def _install(self, name: str, bb: Backbone) -> None:
        self.backbone = bb
        self.network = name
        log.info("dreaming with %s", name)

    def check(self, want: str) -> None:
        """Called each frame with the ``dream.network`` asked for: starts, finishes or refuses a switch."""
        if self._pending is not None:
            name, state, fut = self._pending
            if fut.done():
                self._pending = None
                try:
                    self._install(name, fut.result())
                except Exception as e:  # a failed load must not stop the show
                    self._fail(name, state, e)
            return
        if want == self.network or ("dream.network", want) in (f[:2] for f in self.failures):
            return  # nothing to do, or refused and not yet taken by the engine (which sets it back)
        state = weights_state(want)
        failed = self._failed.pop(want, None)
        if failed is not None:
            if failed[0] == state:
                self._failed[want] = failed
                self._refuse(want, failed[1], "refused again (remembered; tried again once its weights file changes)")
                return
            log.info("dream.network %s: its weights file changed since it failed to load; trying again", want)
        if self._background:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dream-load")
            log.info("loading dream.network %s in the background; %s keeps rendering", want, self.network)
            self._pending = (want, state, self._pool.submit(self._load, want, False))
        else:
            try:
                self._install(want, self._load(want, False))
            except Exception as e:  # a failed load must not stop the show
                self._fail(want, state, e)

    def _fail(self, network: str, state: Hashable, e: Exception) -> None:
        """Remember a failed load with the state its weights file had when it started, and refuse the request."""
        expected = isinstance(e, PerformerError)
        why = str(e) if expected else f"{type(e).__name__}: {e}"
        self._failed[network] = (state, why)
        self._refuse(network, why, "could not be loaded", exc_info=not expected)

    def _refuse(self, network: str, why: str, what: str, exc_info: bool = False) -> None:
        self.refused += 1
        self._log("network_refused", f"dream.network {network} {what}, keeping {self.network}: {why}", self.refused,
                  logging.ERROR, exc_info=exc_info)
        self.failures.append(("dream.network", network, f"{why}; keeping {self.network}"))

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background load has finished (for tests and tools)."""
        if self._pending is not None:
            self._pending[2].exception(timeout)  # an error is reported by the next check

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
