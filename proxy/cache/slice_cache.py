"""The slice cache's facade: one object that composes the parts, each in its own module.

``SliceCache`` is what the server, the prefetcher and the verifier hold; what it tells them goes through
``CacheHooks`` (``proxy.cache.hooks``), wired in ``proxy/server.py``. Its behaviour lives in the mixins it is made
of, one idea each: the pieces it knows (``pieces``), readers and their windows (``windows``), upstream fetches of
slice runs (``fetches``), exact off-grid ranges (``fragments``) and ETag changes (``versions``). This module builds
the tiers and keeps the maintenance: purge, clear, close.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from proxy.cache.config import CacheConfig, CacheStats
from proxy.cache.fetches import SliceFetches
from proxy.cache.fragments import FragmentFetches
from proxy.cache.hooks import CacheHooks
from proxy.cache.memory import MemoryLRU
from proxy.cache.piece import PieceState
from proxy.cache.pieces import PieceBook
from proxy.cache.versions import VersionChecks
from proxy.cache.windows import ReadWindows
from proxy.disk import DiskSliceStore
from proxy.events import CacheCleared, EventBus
from proxy.full_stream import WholeStreams
from proxy.routing import RoutingPolicy
from proxy.store import PieceStore
from proxy.upstream import Upstream


class SliceCache(PieceBook, ReadWindows, FragmentFetches, SliceFetches, VersionChecks):
    """Serve any byte range of any piece from cached slices, fetching only what is missing."""

    def __init__(
        self,
        config: CacheConfig,
        upstream: Upstream,
        store: PieceStore,
        bus: EventBus,
        *,
        routing: RoutingPolicy,
        whole: WholeStreams,
    ) -> None:
        self.config = config
        self.slice_size = config.slice_size
        self.upstream = upstream
        self.store = store
        self.bus = bus
        self.memory = MemoryLRU(config.memory_cap, bus)
        self.disk = DiskSliceStore(
            Path(config.directory) / "slices",
            config.slice_size,
            config.disk_cap,
            bus,
            4 * config.write_backlog,
            on_lost=self._slice_lost,
        )
        self.stats = CacheStats()
        self.whole = whole
        self.routing = routing
        #: What the cache tells other parts; the composition root sets them once with :meth:`connect`.
        self.hooks = CacheHooks()
        self._pieces: dict[str, PieceState] = {}
        self._fetch_slots = asyncio.Semaphore(config.max_fetches)
        #: Set by :meth:`close`: readers still being answered during shutdown must not start new paid fetches.
        self._closing = False

    def connect(self, hooks: CacheHooks) -> None:
        """Wire the cache to the parts that answer its hooks (once, at the composition root, before serving).

        Not a constructor argument because those parts (prefetcher, verifier) read through the cache themselves.
        """
        self.hooks = hooks

    # --- maintenance ---------------------------------------------------------------------------------------

    def purge(self, key: str) -> None:
        self.memory.discard_piece(key)
        self.disk.purge_piece(key)
        piece = self._pieces.get(key)
        if piece is not None:
            piece.fragments.clear()

    def clear(self) -> None:
        """Forget every cached byte (the settings' "clear cache"); pieces being read refetch what they need."""
        self.memory.clear()
        self.disk.clear()
        for piece in self._pieces.values():
            piece.unserved.clear()
        self.bus.publish(CacheCleared())

    async def close(self) -> None:
        self._closing = True
        for piece in self._pieces.values():
            if piece.settling is not None:  # a closed store and prefetcher have nothing to settle it with
                piece.settling.cancel()
        tasks = [f.task for p in self._pieces.values() for f in p.fetches if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.disk.close()
