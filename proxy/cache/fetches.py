"""Upstream fetches of slice runs: single-flight claims, delivering chunks into slices, keeping complete ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from proxy.cache.buffers import SliceBuffer
from proxy.cache.piece import FetchRun, PieceState
from proxy.events import SliceStored, UpstreamProgress, next_id
from proxy.full_stream import hold_at_boundary, whole_answer
from proxy.upstream_body import UpstreamBody
from proxy.upstream_errors import UpstreamError

log = logging.getLogger(__name__)


class SliceFetches:
    """Part of :class:`~proxy.cache.slice_cache.SliceCache`: running one upstream range into the slices it covers."""

    def _start_fetch(self, piece: PieceState, first: int, last: int, reason: str) -> FetchRun:
        fetch = FetchRun(next_id(), first, last, reason, first * self.slice_size)
        if piece.size is not None:
            for index in range(first, last + 1):
                self._claim(piece, fetch, index)
        piece.fetches.add(fetch)
        fetch.task = asyncio.get_running_loop().create_task(self._run_fetch(piece, fetch))
        # A task cancelled before it ever ran skips its own cleanup: release its slices here, or their readers
        # would wait forever (a client that connects and leaves within one loop tick).
        fetch.task.add_done_callback(lambda _: self._end_fetch(piece, fetch, None))
        return fetch

    def _claim(self, piece: PieceState, fetch: FetchRun, index: int) -> SliceBuffer:
        buffer = SliceBuffer(index, self.slice_length(piece, index))
        buffer.owner = fetch
        fetch.buffers[index] = buffer
        piece.inflight[index] = buffer
        return buffer

    async def _run_fetch(self, piece: PieceState, fetch: FetchRun) -> None:
        body: UpstreamBody | None = None
        error: UpstreamError | None = None
        try:
            async with self._fetch_slots:
                if piece.size is not None and not self.fetch_wanted(piece, fetch):
                    return
                opened = asyncio.get_running_loop().time()
                body = await self._open(piece, fetch)
                if body is None:
                    return
                fetch.ttfb = asyncio.get_running_loop().time() - opened
                await self._check_version(piece, fetch, body)
                self._learn(piece, fetch, body)
                if fetch.whole:
                    self.whole.started(body.socket())
                async with contextlib.aclosing(body.chunks()) as chunks:
                    async for chunk in chunks:
                        rest = self.deliver(piece, fetch, chunk)
                        if rest is not None and not await hold_at_boundary(self, piece, fetch, body, rest):
                            break
                        if (
                            not self.fetch_wanted(piece, fetch)
                            and not self._mid_slice(fetch)
                            and not self._holds(fetch)
                        ):
                            break
                        if self.disk.backlog > self.config.write_backlog:  # rare: no coroutine per chunk otherwise
                            await self._pause_for_disk(piece, fetch)
        except UpstreamError as exc:
            error = exc
            if exc.status == 416 and exc.size is not None and piece.size is None:
                self._set_size(piece, exc.size)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug must not leave readers waiting forever
            log.exception("fetch %d of %s failed unexpectedly", fetch.id, piece.key[:16])
            error = UpstreamError(502, "The proxy failed while fetching this piece", str(exc))
        finally:
            if body is not None:
                body.close()
            self._end_fetch(piece, fetch, error)

    async def _open(self, piece: PieceState, fetch: FetchRun) -> UpstreamBody | None:
        """Open the fetch's range on the best source. None: nothing to read, the piece's running stream from
        byte 0 brings these bytes."""
        start = fetch.first * self.slice_size
        end = (fetch.last + 1) * self.slice_size - 1
        if piece.size is not None:
            end = min(end, piece.size - 1)
        opening = dict(size=piece.size, fetch_id=fetch.id, reason=fetch.reason)
        urgent = fetch.reason == "read"
        body = await self.upstream.open(
            piece.cid, piece.key, start, end, sources=self.routing.order(piece.key, start, urgent=urgent), **opening
        )
        self.whole.answered(piece.key, body.source.name, body.status, start)
        if body.status == 200:
            return await whole_answer(self, piece, fetch, body, start, end, opening)
        return body

    def _holds(self, fetch: FetchRun) -> bool:
        """Is this a whole stream, held rather than closed when nobody wants its bytes (``proxy.full_stream``)?
        Even one a reader took slices back from: if that reader's own request gets a 200 too, it rejoins it."""
        return fetch.whole

    def _learn(self, piece: PieceState, fetch: FetchRun, body: UpstreamBody) -> None:
        if piece.size is None:
            self._set_size(piece, body.size)
            for index in range(fetch.first, min(fetch.last, (body.size - 1) // self.slice_size) + 1):
                if self.slice_missing(piece, index):
                    self._claim(piece, fetch, index)
        fetch.pos = body.start
        fetch.body_end = body.end
        fetch.whole = body.status == 200
        fetch.source = body.source
        piece.source = body.source.name
        if body.etag and piece.etags.get(body.source.name) != body.etag:
            piece.etags[body.source.name] = body.etag

    def deliver(self, piece: PieceState, fetch: FetchRun, chunk: bytes) -> bytes | None:
        """Route a contiguous chunk into the slices it covers; keep complete slices that were missing.

        A whole stream that reaches a slice boundary nobody wants yet stops there: the bytes from the boundary on
        are returned, to be delivered once it is wanted again (``hold_at_boundary``): no slice is passed half-kept."""
        view = memoryview(chunk)
        size = self.slice_size
        if fetch.first_byte_at is None:
            fetch.first_byte_at = asyncio.get_running_loop().time()
        fetch.received += len(chunk)
        while view:
            index, offset = divmod(fetch.pos, size)
            if offset == 0 and self._holds(fetch) and not self.fetch_wanted(piece, fetch):
                fetch.received -= len(view)
                return bytes(view)
            length = self.slice_length(piece, index)
            take = min(len(view), length - offset)
            buffer = fetch.buffers.get(index)
            if (
                buffer is None
                and offset == 0
                and (fetch.limit is None or fetch.pos <= fetch.limit)
                and self.slice_missing(piece, index)
                and self.fetch_wanted(piece, fetch)
            ):
                buffer = self._claim(piece, fetch, index)
            elif buffer is None and not self.slice_missing(piece, index):  # cached already, or another fetch brings it
                self.stats.fetched_twice[piece.key] = self.stats.fetched_twice.get(piece.key, 0) + take
            if buffer is not None:
                if buffer.data is None:
                    self.memory.reserve(buffer.length)
                buffer.append(view[:take])
                if index == 0 and not piece.head_seen and self.hooks.on_head is not None:
                    assert buffer.data is not None
                    head = memoryview(buffer.data)[: buffer.filled]
                    piece.head_seen = self.hooks.on_head(self._info(piece), head)
                if buffer.complete:
                    self._complete(piece, fetch, buffer)
            fetch.pos += take
            view = view[take:]
        return None

    def _complete(self, piece: PieceState, fetch: FetchRun, buffer: SliceBuffer) -> None:
        del fetch.buffers[buffer.index]
        if piece.inflight.get(buffer.index) is buffer:
            del piece.inflight[buffer.index]
        assert buffer.data is not None
        by_reason = self.stats.fetched_by_reason
        by_reason[fetch.reason] = by_reason.get(fetch.reason, 0) + buffer.length
        self.bus.publish(UpstreamProgress(fetch_id=fetch.id, piece=piece.key, bytes_received=fetch.received))
        self.memory.release(buffer.length)
        self.keep_slice(piece, buffer.index, buffer.data, fetch.reason, served=buffer.served)

    def keep_slice(self, piece: PieceState, index: int, data: bytes | bytearray, reason: str, *, served: bool) -> None:
        """A complete slice, fetched under ``reason``, goes to memory and disk (``data`` never changes after this).
        ``served``: a player request read its bytes already (else it counts as fetched ahead until one does)."""
        if not served:
            piece.unserved[index] = reason
        self.memory.put(piece.key, index, data)
        self.hooks.on_slice_stored(piece.key, index)
        self.bus.publish(SliceStored(piece=piece.key, index=index, tier="memory"))
        self.disk.write(piece.key, index, data)

    def _end_fetch(self, piece: PieceState, fetch: FetchRun, error: UpstreamError | None) -> None:
        """Release what the fetch still claims (idempotent: the task's finally and its done-callback both call)."""
        for buffer in fetch.buffers.values():
            if piece.inflight.get(buffer.index) is buffer:
                del piece.inflight[buffer.index]
            if buffer.data is not None:
                self.memory.release(buffer.length)
            buffer.end(error)
        fetch.buffers.clear()
        piece.fetches.discard(fetch)
        if piece.size is None and piece.discovery is not None and not piece.discovery.done():
            piece.discovery.set_exception(error or UpstreamError(502, "The piece's size could not be learnt"))
            piece.discovery.exception()  # retrieved here; awaiting describers re-raise it
