"""Run a proxy on its own thread with its own asyncio loop, for embedding (the GUI, tests, benchmarks).

Why a thread: bytes must keep flowing while the GUI thread is busy (a modal dialog, a long paint, Qt opening
media). The embedding code gets the base URL, the event bus and the few named controls below (sources, cache
clearing, hover prefetch, counters), each of which hops onto the proxy's loop itself; nothing else crosses the
thread boundary, so an embedder never holds the server or calls it from the wrong thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from proxy.events import EventBus
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import Source

T = TypeVar("T")
_START_TIMEOUT = 30.0


class ProxyRunner:
    """``start()`` → base URL; ``stop()`` shuts down cleanly; ``call(fn)`` runs a coroutine on the proxy loop."""

    def __init__(self, config: ProxyConfig, bus: EventBus | None = None) -> None:
        self.bus = bus or EventBus()
        self.server = ProxyServer(config, self.bus)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def token(self) -> str:
        """The secret path segment every URL of this proxy starts with ("" when it runs without one)."""
        return self.server.token

    def start(self) -> str:
        self._thread = threading.Thread(target=self._main, name="pieceplayer-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the proxy did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the proxy could not start: {self._error}") from self._error
        return self.base_url

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await self.server.stop()

    def call(self, make: Callable[[], Awaitable[T]], timeout: float | None = 30.0) -> T:
        """Run ``make()`` on the proxy loop from another thread and wait for its result."""
        return self.submit(make).result(timeout)

    def submit(self, make: Callable[[], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Start ``make()`` on the proxy loop from another thread; the future resolves with its result.

        For a caller with a loop of its own (the GUI's qasync loop): ``await asyncio.wrap_future(...)``.
        """
        assert self.loop is not None

        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run a plain function on the proxy loop (fire and forget)."""
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(fn)

    # --- named controls for the embedding program (any thread) ---------------------------------------------

    def set_sources(self, sources: list[Source], timeout: float | None = 10.0) -> None:
        """Replace the upstreams, in order; returns once the proxy uses them (the next request sees them)."""
        self.call(_now(lambda: self.server.set_sources(sources)), timeout)

    def clear_cache(self, timeout: float | None = 10.0) -> None:
        """Forget every cached slice (memory and disk); returns once done."""
        self.call(_now(self.server.clear_cache), timeout)

    def warm(self, cid_text: str) -> None:
        """Fetch a piece's first slice now, ahead of the player's first request for it (fire and forget)."""
        self.submit(lambda: self.server.warm(cid_text))

    def hover(self, piece_key: str, time_s: float) -> None:
        """Prefetch what a seek to ``time_s`` would read (fire and forget; nothing before the piece's map)."""
        self.call_soon(lambda: self.server.hover(piece_key, time_s))

    def republish_media(self, piece_key: str) -> None:
        """Publish again the byte ↔ time map already built for a piece opened again (fire and forget)."""
        self.call_soon(lambda: self.server.republish_media(piece_key))

    def snapshot(self) -> concurrent.futures.Future[dict]:
        """The proxy's counters (the ``/stats`` document), taken on its loop; await with ``asyncio.wrap_future``."""
        return self.submit(_now(self.server.snapshot))

    def bytes_served(self, timeout: float | None = 10.0) -> int:
        """All bytes this proxy has served to players so far."""
        return self.call(_now(lambda: self.server.stats.bytes_served), timeout)

    def stop(self) -> None:
        if self.loop is None or self._thread is None or self._stopped is None:
            return
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)
        self._thread = None


def _now(fn: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """``fn`` as a coroutine factory, so a plain call on the proxy's state runs on the proxy's loop."""

    async def run() -> T:
        return fn()

    return run
