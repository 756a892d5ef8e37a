"""A reader of one byte range: cached blocks, fragments, and slices as their fetch fills them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

from proxy.cache.buffers import Cursor, SliceBuffer
from proxy.cache.config import STEAL_CHECK_SECONDS
from proxy.cache.piece import PieceState
from proxy.disk import BLOCK as READ_BLOCK
from proxy.events import RequestProgress, SliceRead
from proxy.slice_file import SliceFile
from proxy.upstream_errors import UpstreamError

if TYPE_CHECKING:
    from proxy.cache.slice_cache import SliceCache


class SliceReader:
    """Async iterator over one byte range, from cache or from the fetch filling it. Close it when done."""

    def __init__(self, cache: SliceCache, piece: PieceState, cursor: Cursor, *, files: bool = False) -> None:
        self._cache = cache
        #: Hand out cached slices on disk as open files (:class:`SliceFile`) for ``sendfile``, not as bytes.
        self._files = files
        self._piece = piece
        self.cursor = cursor
        self.from_cache = 0
        self.from_upstream = 0
        self._closed = False
        #: The piece version this reader started on; its bytes must all come from one version.
        self._version = piece.version
        self._start = cursor.pos
        #: The slice whose read was last published (a slice is announced once, not once per block).
        self._announced: int | None = None
        #: The slice in which progress was last published.
        self._progressed: int | None = None

    def __aiter__(self) -> AsyncIterator[memoryview | SliceFile]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[memoryview | SliceFile]:
        cache, piece, cursor = self._cache, self._piece, self.cursor
        size = cache.slice_size
        while cursor.pos <= min(cursor.end, piece.size - 1 if piece.size is not None else cursor.end):
            self._same_version()
            cache.ensure_fetching(piece, cursor)
            index, offset = divmod(cursor.pos, size)
            stop = min(cache.slice_length(piece, index), cursor.end - index * size + 1)
            if cursor.request_id is not None and index != self._progressed:
                # once per slice, as documented: once per block was 8× the events, and every event costs the GUI
                # thread a wake-up and the GIL while the player is waiting for its first frame
                self._progressed = index
                cache.bus.publish(RequestProgress(request_id=cursor.request_id, piece=piece.key, position=cursor.pos))
            block = self._cached(index, offset, stop)
            if block is not None:
                cursor.pos += len(block)
                self.from_cache += len(block)
                cache.stats.bytes_from_cache += len(block)
                yield block
                continue
            # Fragments answer players; a prefetch reads on into the slices, which it is there to fill — or waits
            # for a fragment that brings this whole slice and becomes it.
            if cursor.reason is not None and (bringing := cache.fragment_bringing(piece, index)) is not None:
                await bringing.ended()
                continue
            fragment = cache.fragment_at(piece, cursor.pos) if cursor.reason is None else None
            if fragment is not None and fragment.start + len(fragment.data) <= cursor.pos:
                racing = piece.inflight.get(index)
                if racing is None or racing.filled <= offset:
                    # whichever brings this byte first serves it (if the fragment fails, the slice does)
                    waits = fragment.grown(), racing.wait() if racing is not None else None
                    del racing  # a reader holds a slice being filled only while it streams it (``_stream``)
                    await _first_of(*waits)
                    continue
                fragment = None  # the slice's fetch got here first: the exact range was not needed after all
                del racing
            if fragment is not None:
                have = fragment.start + len(fragment.data) - 1
                last = min(have, index * size + stop - 1)
                chunk = memoryview(bytes(fragment.data[cursor.pos - fragment.start : last - fragment.start + 1]))
                cursor.pos += len(chunk)
                self.from_upstream += len(chunk)
                fragment.served = True
                self._publish_read(index, "fragment")
                yield chunk
                continue
            buffer = piece.inflight.get(index)
            if buffer is None:
                await asyncio.sleep(0)  # never spin without letting the fetches run
                continue
            self._publish_read(index, "inflight" if buffer.filled > 0 else "upstream")
            buffer.served = buffer.served or cursor.request_id is not None
            stream = self._stream(buffer, offset, stop)
            del buffer  # only the stream holds the buffer, and lets go of it as soon as the slice is kept
            at = cursor.pos
            async for chunk in stream:
                yield chunk
            if cursor.pos == at:
                await asyncio.sleep(0)  # a turn that moved nothing lets the loop run before looking again

    def _same_version(self) -> None:
        """Cut a reader off when the piece changed under it after it sent bytes (never mix two versions)."""
        if self._piece.version == self._version:
            return
        if self.cursor.pos == self._start:
            self._version = self._piece.version
            return
        raise UpstreamError(
            502,
            "The upstream changed this piece while it was being served; the answer was cut off so that it never "
            "mixes two versions",
        )

    def _cached(self, index: int, start: int, stop: int) -> memoryview | SliceFile | None:
        """Bytes ``start …`` of a cached slice, up to ``stop``: a copy of one block (memory, else disk), or with
        ``files`` the rest of a disk slice as a :class:`SliceFile`; None if it is not cached.

        A copy, because a player that reads slowly keeps what it was given alive while its socket drains: a view
        into a slice would keep the whole slice in memory after the memory tier evicted it, one per viewer.
        Disk slices are read a block at a time and do not enter the memory tier: the page cache holds them
        already, and the memory tier is kept for slices that exist nowhere else yet. A file holds no bytes in
        the proxy at all, so it spans the rest of the slice, and is preferred to a copy from memory.
        """
        cache, piece = self._cache, self._piece
        length = cache.slice_length(piece, index)
        # a file on disk goes by the kernel even when memory holds the slice too: no copy through Python at all
        block: memoryview | SliceFile | None = (
            cache.disk.open_file(piece.key, index, length, start, stop) if self._files else None
        )
        tier, end = "disk", min(stop, start + READ_BLOCK)
        if block is None:
            slice_bytes = cache.memory.get(piece.key, index)
            if slice_bytes is not None:
                block, tier = memoryview(bytes(memoryview(slice_bytes)[start:end])), "memory"
            else:
                data = cache.disk.read_range(piece.key, index, length, start, end)
                if data is None:
                    return None
                block = memoryview(data)
        if index != self._announced:
            cache.stats.hits += 1
            self._publish_read(index, tier)
        return block

    def _publish_read(self, index: int, tier: str) -> None:
        self._announced = index
        if self.cursor.request_id is not None:
            self._piece.unserved.pop(index, None)
        if tier in ("upstream", "inflight"):
            self._cache.stats.misses += 1
        self._cache.bus.publish(
            SliceRead(piece=self._piece.key, index=index, tier=tier, request_id=self.cursor.request_id)
        )

    async def _stream(self, buffer: SliceBuffer, offset: int, stop: int) -> AsyncIterator[memoryview]:
        """Bytes of a slice being filled, as they land. Once the slice is complete and kept, the reader goes back
        to reading it from the cache block by block: a player reading slowly must not hold a whole slice the
        memory tier has since evicted (one per viewer, measured as the largest share of RSS beyond the cap)."""
        cursor, cache, key = self.cursor, self._cache, self._piece.key
        while offset < stop:
            if buffer.complete and (cache.memory.has(key, buffer.index) or cache.disk.has(key, buffer.index)):
                return
            if buffer.filled > offset:
                assert buffer.data is not None  # a copy, for the reason given in _cached
                chunk = memoryview(
                    bytes(memoryview(buffer.data)[offset : min(buffer.filled, stop, offset + READ_BLOCK)])
                )
                offset += len(chunk)
                cursor.pos += len(chunk)
                self.from_upstream += len(chunk)
                self._cache.stats.bytes_from_upstream += len(chunk)
                yield chunk
            elif buffer.ended:
                if buffer.error is not None:
                    raise buffer.error
                return  # abandoned without error: the caller looks again and refetches if still needed
            else:
                try:
                    async with asyncio.timeout(STEAL_CHECK_SECONDS):
                        await buffer.wait()
                except TimeoutError:
                    self._cache.steal_if_slow(self._piece, buffer)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cache._release(self._piece, self.cursor)


async def _first_of(*waits: Coroutine[Any, Any, object] | None) -> None:
    """Until the first of these waits ends (the others are cancelled): a fragment and the slice holding the same
    bytes race, and a player must not wait for the slower one (issue 19: an exact range asked for an index the
    head's own fetch was already bringing arrived 42 ms after the slice did)."""
    tasks = [asyncio.ensure_future(wait) for wait in waits if wait is not None]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
