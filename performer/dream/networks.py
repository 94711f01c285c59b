"""The network a live dream climbs, and switching it while the show goes on.

:class:`NetworkSlot` holds the loaded backbone. A change of ``dream.network`` loads the new network in a
background thread while the old one keeps rendering; a network chosen live is never downloaded (a client must not
start a download). When a load fails, the old network stays, the failure is logged once, and it is queued in
``failures`` for the engine, which sets the parameter back and tells the client why.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from performer.errors import ModelError, PerformerError

if TYPE_CHECKING:
    import torch

    from performer.dream.backbone import Backbone

log = logging.getLogger(__name__)


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
        self._failed: set[str] = set()
        self._pending: tuple[str, Future] | None = None
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
            name, fut = self._pending
            if fut.done():
                self._pending = None
                try:
                    self._install(name, fut.result())
                    self._failed.discard(name)
                except PerformerError as e:
                    log.error("dream.network %s could not be loaded, keeping %s: %s", name, self.network, e)
                    self._fail(name, f"{e}; keeping {self.network}")
                except Exception as e:  # a failed load must not stop the show
                    log.exception("dream.network %s failed to load, keeping %s", name, self.network)
                    self._fail(name, f"{type(e).__name__}: {e}; keeping {self.network}")
            return
        if want == self.network:
            self._failed.clear()
            return
        if want in self._failed:
            return
        if self._background:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dream-load")
            log.info("loading dream.network %s in the background; %s keeps rendering", want, self.network)
            self._pending = (want, self._pool.submit(self._load, want, False))
        else:
            try:
                self._install(want, self._load(want, False))
            except ModelError as e:
                log.error("dream.network %s could not be loaded, keeping %s: %s", want, self.network, e)
                self._fail(want, f"{e}; keeping {self.network}")

    def _fail(self, network: str, why: str) -> None:
        self._failed.add(network)
        self.failures.append(("dream.network", network, why))

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background load has finished (for tests and tools)."""
        if self._pending is not None:
            self._pending[1].exception(timeout)  # an error is reported by the next check

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
