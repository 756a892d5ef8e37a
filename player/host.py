"""The proxy (and, for the demo, the emulated CDN) that the window plays from, on the proxy's own thread.

The GUI never touches proxy objects directly: it plays ``piece_url(cid)``, listens to the event bus through
``bridge.py``, and asks for everything else (counters, cache clearing, new sources) through this class, which
runs the work on the proxy's loop.

Source order: in demo mode the emulator comes first (the demo pieces are there, and a real CID falls through to
the configured upstreams); otherwise the configured upstreams are used, and the emulator is only a fallback when
nothing is configured, so a first run without a payer address still plays the demo.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from player.target import piece_path
from proxy.api import (
    DEFAULT_DISK_CAP,
    DEFAULT_MEMORY_CAP,
    DEFAULT_SLICE_SIZE,
    PieceCid,
    ProxyConfig,
    Source,
    UpstreamError,
    template_source,
)
from proxy.events import EventBus
from proxy.runner import ProxyRunner

if TYPE_CHECKING:
    from proxy.api import Emulator

log = logging.getLogger(__name__)
T = TypeVar("T")

EMULATOR_LABEL = "emulator"


@dataclass
class HostConfig:
    cache_dir: Path
    sources: list[Source] = field(default_factory=list)
    #: A folder the emulated CDN serves (the demo pieces); None runs no emulator.
    demo_dir: Path | None = None
    #: Demo mode puts the emulator before the configured sources.
    demo_first: bool = True
    demo_latency_ms: float = 50.0
    slice_size: int = DEFAULT_SLICE_SIZE
    disk_cap: int = DEFAULT_DISK_CAP
    memory_cap: int = DEFAULT_MEMORY_CAP


class ProxyHost:
    """``start()`` → base URL; ``piece_url(cid)``; ``set_sources``; ``snapshot()``; ``clear_cache()``; ``stop()``."""

    def __init__(self, config: HostConfig, bus: EventBus | None = None) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.emulator: Emulator | None = None
        self.runner: ProxyRunner | None = None
        self._extra: list[Source] = []
        #: The sources the running proxy was last given (None: not yet, or a new proxy).
        self._applied: list[Source] | None = None

    def start(self) -> str:
        config = self.config
        proxy_config = ProxyConfig(
            sources=[],  # set once the demo CDN (if it is used) is listening
            cache_dir=config.cache_dir,
            cache={"slice_size": config.slice_size, "disk_cap": config.disk_cap, "memory_cap": config.memory_cap},
        )
        self.runner = ProxyRunner(proxy_config, self.bus)
        base = self.runner.start()
        self._applied = None
        self._apply_sources()
        log.info("proxy at %s, sources: %s", base, ", ".join(s.name for s in self.sources()))
        return base

    @property
    def base_url(self) -> str:
        assert self.runner is not None
        return self.runner.base_url

    @property
    def running(self) -> bool:
        """Whether a proxy is up (between ``start()`` and ``stop()``)."""
        return self.runner is not None

    @property
    def token(self) -> str:
        """The proxy's secret path segment, which the request log strips from the URLs it shows ("" when down)."""
        return self.runner.token if self.runner is not None else ""

    # --- sources -------------------------------------------------------------------------------------------

    @property
    def emulator_source(self) -> Source | None:
        if self.emulator is None or not self.emulator.base_url:
            return None
        return template_source(self.emulator.base_url + "/{cid}")

    def sources(self) -> list[Source]:
        """The order the proxy tries: a pasted URL's host, then the demo CDN or the configured upstreams."""
        emulator = self.emulator_source
        configured = list(self.config.sources)
        ordered = [*self._extra]
        if emulator is not None and (self.config.demo_first or not configured):
            ordered.append(emulator)
        ordered.extend(configured)
        return ordered

    def set_sources(self, configured: list[Source], extra_first: list[Source] | None = None) -> None:
        """Replace the configured upstreams (settings changed) and the per-piece extra ones (a pasted URL)."""
        self.config.sources = list(configured)
        self._extra = list(extra_first or [])
        self._apply_sources()

    def has_sources(self) -> bool:
        return bool(self.sources())

    def _apply_sources(self) -> None:
        if self.emulator is None and self._emulator_used():
            self._start_emulator()
        sources = self.sources()
        if self.runner is None or sources == self._applied:
            return
        # Synchronous for the caller (the next request sees the new sources), so only when they changed: every
        # open applies its piece's sources, and the wait for the proxy's loop (1–11 ms at launch, while the head
        # fetched ahead is arriving) held the GUI thread before the player was even given its URL.
        self.runner.set_sources(sources)
        self._applied = sources

    def _emulator_used(self) -> bool:
        """Would ``sources`` list the demo CDN (demo mode, or nothing configured to fall back on)?"""
        return self.config.demo_dir is not None and (self.config.demo_first or not self.config.sources)

    def _start_emulator(self) -> None:
        """Start the demo CDN when its source is first used, not at every start.

        Why: a launch that opens a CID from configured upstreams never asks the demo CDN (``sources`` leaves it
        out); starting it anyway cost that launch 25–30 ms (its server's import, reading and hashing the demo
        folder's manifest) before the first frame. It starts as soon as demo mode or an empty upstream list needs it.
        """
        from proxy.api import Emulator, Knobs  # the emulator's server: imported only when the demo CDN is used

        assert self.config.demo_dir is not None and self.runner is not None
        emulator = self.emulator = Emulator(self.config.demo_dir, Knobs(latency_ms=self.config.demo_latency_ms))
        self.runner.call(lambda: emulator.start())

    def source_label(self, name: str) -> str:
        """A short name for the status bar: FilBeam, SP <host>, emulator, or the upstream's host."""
        emulator = self.emulator_source
        if emulator is not None and name == emulator.name:
            return EMULATOR_LABEL
        if name.startswith("FilBeam"):
            return name
        if name.startswith("provider "):
            return "SP " + name.removeprefix("provider ")
        host = name.removeprefix("upstream ")
        return "FilBeam" if host.endswith("filbeam.io") else host

    # --- URLs ----------------------------------------------------------------------------------------------

    def piece_url(self, cid_text: str) -> str:
        return self.base_url + piece_path(cid_text)

    def direct_url(self, cid: PieceCid) -> str | None:
        """The first upstream's own URL for a piece: what ``--direct`` plays without the proxy."""
        for source in self.sources():
            try:
                return source.url(cid)
            except UpstreamError:  # a v1 CID cannot be asked of FilBeam; try the next source
                continue
        return None

    def is_local(self, url: str) -> bool:
        return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")

    # --- work on the proxy loop ----------------------------------------------------------------------------

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        assert self.runner is not None
        return self.runner.call(make, timeout)

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await ``make()`` on the proxy loop from the GUI's (qasync) loop without blocking the GUI."""
        assert self.runner is not None
        return await asyncio.wrap_future(self.runner.submit(make))

    async def snapshot(self) -> dict:
        """The proxy's counters (the ``/stats`` document)."""
        assert self.runner is not None
        return await asyncio.wrap_future(self.runner.snapshot())

    def bytes_served(self) -> int:
        """The proxy's all-time served-bytes counter (a quick call to the proxy thread); 0 when it is down."""
        return self.runner.bytes_served() if self.runner is not None else 0

    def warm(self, cid_text: str) -> None:
        """Ask the proxy to fetch this piece's first slice now: the player will open it soon (fire and forget)."""
        if self.runner is not None:
            self.runner.warm(cid_text)

    def hover(self, key: str, time_s: float) -> None:
        """Ask the proxy's prefetcher for the bytes a seek to ``time_s`` would read (fire and forget)."""
        if self.runner is not None:
            self.runner.hover(key, time_s)

    def republish_media(self, key: str) -> None:
        """Ask the proxy for the byte ↔ time map it already built for this piece (a re-open in the same run)."""
        if self.runner is not None:
            self.runner.republish_media(key)

    def clear_cache(self) -> None:
        if self.runner is not None:
            self.runner.clear_cache()

    def set_demo_latency(self, latency_ms: float) -> None:
        self.config.demo_latency_ms = latency_ms
        if self.emulator is not None:
            emulator = self.emulator

            async def change() -> None:
                emulator.knobs.update(latency_ms=latency_ms)

            self.call(change)

    def stop(self) -> None:
        if self.runner is None:
            return
        if self.emulator is not None and self.runner.loop is not None:
            emulator = self.emulator
            try:
                self.runner.call(lambda: emulator.stop(), timeout=5)
            except Exception as exc:  # shutting down anyway; say why the emulator did not stop cleanly
                log.warning("the demo CDN did not stop cleanly: %s", exc)
        self.runner.stop()
        self.runner = None
