"""Readers and their read-ahead windows: which slices are wanted, when a fetch starts, pauses or stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from proxy.cache.buffers import Cursor, SliceBuffer
from proxy.cache.config import MAX_RUN_SLICES, RAMP_START, PieceInfo
from proxy.cache.piece import FetchRun, PieceState
from proxy.cache.reader import SliceReader
from proxy.events import Prefetch
from proxy.full_stream import take_back_if_slow
from proxy.upstream_errors import UpstreamError

#: Why a piece's first slice was fetched before any player asked (``ReadWindows.warm_head``).
LAUNCH_HEAD = "launch: head (fetched while the window is built)"


class ReadWindows:
    """Part of :class:`~proxy.cache.slice_cache.SliceCache`: opening readers and deciding what they want fetched."""

    def open(
        self,
        info: PieceInfo,
        start: int,
        end: int,
        *,
        request_id: int | None = None,
        window: int | None = None,
        reason: str | None = None,
        ranged: bool = False,
        files: bool = False,
    ) -> SliceReader:
        """A reader of bytes ``start … end``; it starts the fetches it needs right away.

        ``ranged``: the client asked with a ``Range`` header, as a player opening a piece does (``bytes=0-``); only
        such an open from byte 0 to the end is a cold *open* (``on_cold_open``), not a download or a probe.

        An open-ended reader (to the piece's end) reads ahead by the piece's window; a closed range wants all of
        its bytes. ``reason`` marks a prefetch: its fetches and the slices they bring are accounted to it.
        ``files``: cached slices on disk come as open files for the kernel to send (``SliceReader``).
        """
        piece = self._pieces[info.key]
        end = min(end, info.size - 1)  # a span past the piece (a lying index) reads to its end, never beyond
        open_ended = window is None and end >= info.size - 1
        if window is None:
            window = self._readahead(piece) if open_ended else end - start
        cursor = Cursor(start, end, window, request_id, reason, open_ended)
        piece.cursors.add(cursor)
        if request_id is not None:
            self.hooks.on_player_request()  # a player waits for a frame now: hashing gives way
        cold = ranged and start == 0 and open_ended and reason is None and self.slice_missing(piece, 0)
        self.ensure_fetching(piece, cursor)
        if cold:
            self.hooks.on_cold_open(info)
        return SliceReader(self, piece, cursor, files=files)

    async def warm_head(self, info: PieceInfo) -> None:
        """Fetch the first slice of a piece the player is about to open, as its opening request would.

        Why: a launch that opens a piece spends a few hundred milliseconds importing, building and painting the
        window before the player's first request. Started here instead, the head's round trip to the CDN — and
        what a cold open starts with it (the tail bet, ``on_cold_open``; the container's index, once the head
        shows where it is) — runs inside that time, and the player's first request reads what came or joins the
        fetch still under way (one fetch per slice). Bounded to one slice (plus the bet the player's own open
        would place), fetched under ``LAUNCH_HEAD``: if the player never asks for it, it counts as fetched ahead
        and never served. Nothing is fetched for a head already cached or on its way. CommP hashing gives way
        from here, cached head or not, as from a player's request: it started the hashing process while the window
        was painted.

        A piece no longer than the opening request's first read-ahead (``RAMP_START``, two slices) is fetched whole,
        as that request would: its first slice alone left the second to a fetch of its own once the head showed an
        index at the end, one more round trip on the first frame (issue 19, the bench's 2 MiB moov-at-end piece:
        ×0.54 of direct play without the launch head, ×0.78 with it).
        """
        self.hooks.on_player_request()  # the player opens this piece in a moment: hashing gives way from now
        piece = self._pieces[info.key]
        if not self.slice_missing(piece, 0):
            return
        last = (info.size if info.size <= RAMP_START else self.slice_size) - 1
        self.bus.publish(Prefetch(piece=info.key, start=0, end=last, reason=LAUNCH_HEAD))
        reader = self.open(info, 0, last, reason=LAUNCH_HEAD)
        try:
            self.hooks.on_cold_open(info)
            async for _ in reader:
                pass
        finally:
            reader.close()

    def _readahead(self, piece: PieceState) -> int:
        return piece.readahead if piece.readahead is not None else self.config.readahead

    def set_readahead(self, key: str, window: int) -> None:
        """Read-ahead for this piece's open-ended readers, now and later (set from the media's byte rate)."""
        piece = self._pieces[key]
        piece.readahead = window
        for cursor in piece.cursors:
            if cursor.open_ended:
                cursor.window = window

    async def read(self, info: PieceInfo, start: int, end: int, **kwargs) -> AsyncIterator[memoryview]:
        reader = self.open(info, start, end, **kwargs)
        try:
            async for chunk in reader:
                yield chunk
        finally:
            reader.close()

    def slice_length(self, piece: PieceState, index: int) -> int:
        """Bytes in slice ``index`` of a piece of known size (the last slice is usually short)."""
        assert piece.size is not None
        return min(self.slice_size, piece.size - index * self.slice_size)

    def slice_missing(self, piece: PieceState, index: int) -> bool:
        """Neither cached (memory, disk) nor being filled by a fetch: a reader of it would start a fetch."""
        return (
            index not in piece.inflight
            and not self.memory.has(piece.key, index)
            and not self.disk.has(piece.key, index)
        )

    def _unfetched(self, piece: PieceState, index: int) -> bool:
        """Missing, and no fragment under way brings it whole (``fragment_bringing``): a reader needs a fetch of it."""
        return self.slice_missing(piece, index) and self.fragment_bringing(piece, index) is None

    def ensure_fetching(self, piece: PieceState, cursor: Cursor) -> None:
        """Start a fetch for the first missing run inside the cursor's window, with hysteresis.

        The slice the reader needs now is always fetched at once. Read-ahead waits until half the window is
        used, so runs are several slices long instead of one slice per step.
        """
        if self._closing:
            raise UpstreamError(503, "The proxy is shutting down")
        if piece.reader_asked is not None:
            piece.reader_asked.set()
        size = self.slice_size
        here = cursor.pos // size
        last = cursor.window_end // size
        if self._unfetched(piece, here) and (stream := self._covering(piece, here)) is not None:
            self._claim(piece, stream, here)  # the reader waits on the stream; if it is too slow, it steals back
        first_missing = next(
            (i for i in range(here, last + 1) if self._unfetched(piece, i) and self._covering(piece, i) is None),
            None,
        )
        if first_missing is None:
            return
        if first_missing != here and first_missing - here > (last - here) // 2:
            return
        run_end = first_missing
        while run_end < last and run_end - first_missing + 1 < MAX_RUN_SLICES and self._unfetched(piece, run_end + 1):
            run_end += 1
        reason = cursor.reason or ("read" if first_missing == here else "readahead")
        self._start_fetch(piece, first_missing, run_end, reason)

    def _release(self, piece: PieceState, cursor: Cursor) -> None:
        """A reader left: stop every fetch nobody wants any more (one midway through a slice finishes it)."""
        piece.cursors.discard(cursor)
        for fetch in list(piece.fetches):
            if (
                not (self.fetch_wanted(piece, fetch) or self._mid_slice(fetch) or fetch.whole)
                and fetch.task is not None
            ):
                fetch.task.cancel()  # a whole stream holds itself (``hold_at_boundary``), ends when its hold runs out

    def _mid_slice(self, fetch: FetchRun) -> bool:
        """Is the fetch partway through a slice it claimed? Finishing it costs at most one slice of egress and
        keeps bytes already paid for; dropping it would throw them away."""
        buffer = fetch.buffers.get(fetch.pos // self.slice_size)
        return buffer is not None and 0 < buffer.filled < buffer.length

    def fetch_wanted(self, piece: PieceState, fetch: FetchRun) -> bool:
        """Does any reader want the bytes this fetch is about to pull (or is it racing through a gap to them)?

        Wanted means: the fetch has not passed the end of the slice holding the last byte of some reader's
        window (slices are the unit of caching, so a slice a reader touches is finished), and the fetch will
        reach that reader's position.
        """
        size = self.slice_size
        target_end = self.fetch_target_end(fetch)
        allowance = self.routing.gap_allowance(piece.key, fetch.source)
        return fetch.pos <= target_end and any(
            fetch.pos < (c.window_end // size + 1) * size
            and target_end >= c.pos
            and (allowance is None or c.pos - fetch.pos <= allowance)
            for c in piece.cursors
        )

    async def _pause_for_disk(self, piece: PieceState, fetch: FetchRun) -> None:
        """Hold a fetch that runs ahead of every reader while the disk writer is behind.

        When upstream delivers faster than the disk writes (a crowd of viewers seeking at once), the slices waiting
        for the writer pile up in memory: 87 MiB of them with 50 viewers here. Pausing read-ahead bounds that; a
        fetch some reader waits on never pauses, and a paused one resumes as soon as a reader reaches it.
        """
        limit = self.config.write_backlog
        while self.disk.backlog > limit and not self._awaited(piece, fetch):
            asked = piece.reader_asked = piece.reader_asked or asyncio.Event()
            waits = {asyncio.ensure_future(self.disk.drained(limit)), asyncio.ensure_future(asked.wait())}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if asked.is_set():
                piece.reader_asked = None

    def _awaited(self, piece: PieceState, fetch: FetchRun) -> bool:
        """Is a reader at (or within a slice behind) the bytes this fetch delivers next? Such a fetch is what a
        player waits for; only fetches running ahead of every reader slow down for the disk."""
        low, high = fetch.pos - self.slice_size, self.fetch_target_end(fetch)
        return any(low <= c.pos <= high for c in piece.cursors)

    def fetch_target_end(self, fetch: FetchRun) -> int:
        """The last byte this fetch will deliver: its body's end, or its claimed run before the answer came."""
        end = fetch.body_end if fetch.body_end is not None else (fetch.last + 1) * self.slice_size - 1
        return end if fetch.limit is None else min(end, fetch.limit)

    def _covering(self, piece: PieceState, index: int) -> FetchRun | None:
        """A whole-piece stream already under way that will pass this slice (read-ahead must not ask twice)."""
        start = index * self.slice_size
        for fetch in piece.fetches:
            allowance = self.routing.gap_allowance(piece.key, fetch.source)
            if (
                fetch.body_end is not None
                and fetch.pos <= start <= self.fetch_target_end(fetch)
                and (allowance is None or start - fetch.pos <= allowance)
            ):
                return fetch
        return None

    def steal_if_slow(self, piece: PieceState, buffer: SliceBuffer) -> bool:
        """A reader waits for a slice a fetch has not reached: take it back if the fetch is too slow and the
        rules for streams from byte 0 allow it (``proxy.full_stream``)."""
        return take_back_if_slow(self, piece, buffer)
