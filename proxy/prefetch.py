"""Act on the container before the player asks: prefetch its index, size read-ahead by bitrate, map bytes to time.

A plain range proxy is only as fast as its upstream's round trips. This one reads the piece's head as it
arrives (``proxy.media.sniff_layout``, off the loop: a millisecond for a real file) and:

* **moov after mdat**: FFmpeg opens such an MP4 with three requests (start, tail, start again). The tail range
  is fetched the moment the head shows ``mdat`` first, in parallel with serving the head, so the player's
  second request finds it cached or in flight. Matroska ``Cues`` (read at the first seek) likewise.
* **bitrate-aware read-ahead**: once the duration is known, read-ahead for open-ended readers becomes
  ``readahead_seconds`` of media at the piece's average byte rate (clamped), instead of a fixed byte count:
  enough not to stall at the played rate, little enough not to waste paid egress when the viewer leaves.
* **byte ↔ time map**: the container index is built (off the loop) and published as :class:`MediaIndexed`, so
  the GUI paints cached *time*, shows keyframes, and can ask for a hover prefetch of a seek target's bytes. A
  fragmented MP4 is mapped from its ``sidx`` (at the head), its ``moof`` boxes (when the head holds them all) or
  its ``mfra`` (at the tail: the last 16 bytes, ``mfro``, give its size).

Every prefetch is a :class:`Prefetch` event with its reason, and its upstream fetches carry the same reason,
so the side panel shows why bytes moved that nobody asked for. Malformed containers give an "unknown" layout
and the piece is proxied plainly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace

from proxy.cache import PieceInfo, SliceCache
from proxy.events import EventBus, MediaIndexed, MediaLayoutKnown, Prefetch
from proxy.media import MFRO_SIZE, ContainerError, ContainerLayout, MediaIndex, build_index, mfra_span, sniff_layout
from proxy.media.playable import media_track
from proxy.routing import RoutingPolicy
from proxy.units import KiB, MiB
from proxy.upstream_errors import UpstreamError

log = logging.getLogger(__name__)

#: The reason the bet on a tail's fetch carries (events, ``/stats``, the side panel).
TAIL_BET = "prefetch: tail (asked with the head, before its layout)"


@dataclass(frozen=True)
class PrefetchConfig:
    enabled: bool = True
    #: Seconds of media fetched ahead of an open-ended reader once the byte rate is known. 3 s, measured on the
    #: bench's watch session (1 GiB, 8 Mbit/s, 16 MiB watched after each seek): bytes fetched ahead and never
    #: served fell from 9.9 % (6 s) to 1.8 % of bytes served, at 4 s 7.4 %. A player reading at the media's
    #: rate is 3 s ahead of a stall; what it costs is a bulk read's speed (cold sequential 56 → 33 MB/s).
    readahead_seconds: float = 3.0
    #: Fetch the piece's last bytes with the head on a piece's first open (see ``on_cold_open``); False: never.
    speculative_tail: bool = True
    #: …when the piece is at least this large. Every size (issue 19): on a 21.8 MB moov-at-end MP4 the bet took
    #: the first frame from ×0.78–0.91 to ×0.58–0.66 of direct; on a faststart one it is withdrawn as soon as
    #: the head shows the index in front, so a lost bet costs what arrived by then, not the whole slice.
    speculative_min_size: int = 0
    #: How much of the tail the bet fetches: this share of the piece, at least ``tail_bet_min`` bytes, at most a
    #: slice. Why not the whole last slice: on loopback the bet's bytes arrive before the head is parsed, so a lost
    #: bet (a faststart file) costs all it asked for — 1 MiB was 6 % of the quick bench's 16 MiB watch session.
    #: An ``moov`` is about 0.09 % of an 8 Mbit/s MP4 (bench files 2 MiB … 1 GiB), ~1 % at 1 Mbit/s; when it starts
    #: before the bet, the rest of it is fetched as soon as the head shows where (``_act``).
    tail_bet_share: float = 1 / 256
    tail_bet_min: int = 64 * KiB
    #: How long the byte/time map waits before it is built (see ``_index``).
    index_defer_s: float = 0.2
    min_readahead: int = 2 * MiB
    max_readahead: int = 64 * MiB
    #: The most bytes prefetched out of order at open, per piece (an index larger than this is left to the player).
    max_index_bytes: int = 64 * MiB
    #: A hover prefetch covers the keyframe before the target through this many seconds after it…
    hover_seconds: float = 2.0
    #: …and never more than this many bytes.
    hover_max_bytes: int = 8 * MiB


class MediaPrefetcher:
    """Answers the cache's ``on_head``/``on_cold_open`` hooks (wired in ``proxy/server.py``) and prefetches."""

    def __init__(
        self, cache: SliceCache, routing: RoutingPolicy, bus: EventBus, config: PrefetchConfig | None = None
    ) -> None:
        self.cache = cache
        self.routing = routing
        self.bus = bus
        self.config = config or PrefetchConfig()
        self.layouts: dict[str, ContainerLayout] = {}
        self.indexes: dict[str, MediaIndex] = {}
        #: The map each piece was published with, for a later open of it (``republish``).
        self._published: dict[str, MediaIndexed] = {}
        self._tasks: set[asyncio.Task] = set()
        self._hovers: dict[str, asyncio.Task] = {}
        #: Bets on a tail still running, per piece: withdrawn when the head shows the index is not there.
        self._bets: dict[str, asyncio.Task] = {}
        #: Where each piece's bet starts, until the head's layout settles it (the bet may be complete by then).
        self._bet_starts: dict[str, int] = {}

    # --- the tail, before the head ------------------------------------------------------------------------

    def on_cold_open(self, info: PieceInfo) -> None:
        """A player opens a piece never cached: fetch its last bytes now, next to the head (``_bet_start``).

        Why before the head shows the layout: an MP4 with its index at the end costs the player a second round
        trip for the index, and asked after the head that round trip is on the critical path whatever the proxy
        does — measured, the proxy asking 3 ms after the head arrives (as soon as the layout is known) still left
        the first frame at ×0.83 of direct play against a goal of ×0.75, while asking with the head gave ×0.68.
        The bet costs at most its own size (``tail_bet_share`` of the piece, 64 KiB … one slice) on the first open
        of a piece whose index turns out to be at the front, or what arrived before the head showed that
        (``_settle_bet`` withdraws it); either way it is counted as fetched and never served, under its reason,
        and costs nothing on later opens. Not asked of a CDN that may answer a range with the whole piece
        (FilBeam's cache miss), where it would cost far more.
        """
        size = info.size
        if not self.config.speculative_tail or size < self.config.speculative_min_size or info.key in self.layouts:
            return
        if size <= 2 * self.cache.slice_size:  # the tail is the head's own slice, or the next one on its fetch
            return
        sources = self.routing.order(info.key, size - 1, urgent=True)
        if not sources or sources[0].kind == "filbeam":
            return
        start = self._bet_starts[info.key] = self._bet_start(size)
        bet = self._spawn(self._fragment(info, start, size - 1, TAIL_BET))
        self._bets[info.key] = bet
        bet.add_done_callback(lambda done: self._bets.pop(info.key, None) if self._bets.get(info.key) is done else None)

    def _bet_start(self, size: int) -> int:
        """The first byte the tail bet asks for (see ``PrefetchConfig.tail_bet_share``)."""
        share = max(self.config.tail_bet_min, int(size * self.config.tail_bet_share))
        return size - min(size, self.cache.slice_size, share)

    def _settle_bet(self, info: PieceInfo, layout: ContainerLayout) -> int | None:
        """The head decided the layout: a bet on a tail the player will not read while opening is withdrawn.

        Why: on a faststart MP4 (index in front) or anything else whose index is not at the end, the tail's bytes
        would be fetched ahead and never served. Cancelling the fetch closes its upstream connection when the head's
        first bytes are parsed, a few milliseconds after the tail's first bytes arrive; what came by then is
        counted as fetched ahead and never served (``abandoned_by_reason``), like any lost prefetch.

        Returns the first byte of a bet that stands (the index is at the end), else None.
        """
        bet, tail = self._bets.pop(info.key, None), self._bet_starts.pop(info.key, None)
        if tail is None or layout.needs_more is not None:
            return None
        if not any(span.at_open and span.last >= tail for span in layout.prefetch):
            if bet is not None:  # still running (on loopback it is often complete by now)
                bet.cancel()
            return None
        return tail

    # --- the head -------------------------------------------------------------------------------------------

    def on_head(self, info: PieceInfo, head: memoryview) -> bool:
        """The first bytes of a piece arrived: decide its layout off the loop, from a copy (always True: once).

        Parsing a head is bounded (``proxy.media.budget``) but can still take tens of milliseconds for a crafted
        one (16 k SeekHead entries, a megabyte of tiny boxes): on the loop, that would stall every other request.
        """
        self._spawn(self._sniff(info, bytes(head)))
        return True

    async def _sniff(self, info: PieceInfo, head: bytes) -> None:
        """Decide the layout from the head, then act on it. A whole first slice is a head handed over from the cache
        (``PieceBook._settle_after_open``: after the open, not in it): nothing here waits or reads it again."""
        first_slice = min(info.size, self.cache.slice_size)
        whole = len(head) >= first_slice
        if self._within_one_slice(info) and not whole:
            head = await self._whole_small_piece(info)
            whole = True
        layout = await asyncio.to_thread(sniff_layout, head, info.size)
        while layout.needs_more is not None and len(head) < layout.needs_more <= first_slice:
            # the answer is in the first slice: read more of it (joining its fetch) and decide again
            head = await self._bytes(info, 0, layout.needs_more - 1, "index: head")
            layout = await asyncio.to_thread(sniff_layout, head, info.size)
        self._act(info, layout, head if whole else None)

    def _within_one_slice(self, info: PieceInfo) -> bool:
        """The whole piece comes with the head's own fetch: its layout waits for all of it (``_whole_small_piece``)."""
        return info.size <= self.cache.slice_size

    async def _whole_small_piece(self, info: PieceInfo) -> bytes:
        """A piece no larger than a slice, once it is all here and not before ``index_defer_s``.

        Such a piece comes whole with the head's own fetch: nothing fetched out of order can reach the player
        sooner (an index fetched beside it is paid twice), and parsing its head as the first bytes land holds the
        GIL while the proxy's loop streams the rest to the player, which is parsing and decoding it for its first
        frame — measured on the corpus's small files, a parse of 6–15 ms inside that window.
        """
        await asyncio.sleep(self.config.index_defer_s)
        return await self._bytes(info, 0, info.size - 1, "index: head")

    def _act(self, info: PieceInfo, layout: ContainerLayout, head: bytes | None = None) -> None:
        """Publish the layout and start its prefetches, within one index's worth of bytes for the whole piece.
        ``head``: the whole first slice, when the layout came from it (the map reads it no more, and waits no more)."""
        self.layouts[info.key] = layout
        bet_start = self._settle_bet(info, layout)
        self.bus.publish(
            MediaLayoutKnown(
                piece=info.key,
                kind=str(layout.kind),
                reason=layout.reason,
                index_range=(layout.index.start, layout.index.last) if layout.index else None,
                prefetch=tuple((s.start, s.last, s.what) for s in layout.prefetch),
                duration_s=layout.duration_s,
            )
        )
        if layout.duration_s:
            self._set_readahead(info, info.size / layout.duration_s)
        budget = self.config.max_index_bytes  # per piece, not per span: a SeekHead can list thousands of spans
        for span in layout.prefetch:
            if span.length > budget:
                continue
            budget -= span.length
            when = "read while opening" if span.at_open else "read at the first seek"
            reason = f"prefetch: {span.what} ({when})"
            if span.at_open and span.start % self.cache.slice_size:
                # the player asks for exactly this range within milliseconds: its bytes first, the slices too;
                # an index that starts before the tail bet's bytes: the part the bet does not bring
                last = bet_start - 1 if bet_start is not None and span.start < bet_start <= span.last else span.last
                self._spawn(self._fragment(info, span.start, last, f"{reason}, exact range"))
            if not self._cached(info, span.start, span.last):  # a warm re-open reads it from disk when asked
                self._spawn(self._prefetch(info, span.start, span.last, reason))
        if (layout.known and not layout.fragmented) or layout.index is not None:
            self._spawn(self._index(info, layout, head))
        elif layout.fragmented:
            self._spawn(self._fragments_index(info, head))

    def _cached(self, info: PieceInfo, start: int, end: int) -> bool:
        """Every slice holding bytes ``start … end`` is cached (memory or disk): prefetching them reads, not fetches.

        Why skip: on a warm re-open the read would take the slices from disk on the loop while the player's own
        requests for the same bytes are being answered, inside the first frame's window, for nothing.
        """
        cached = self.cache.cached_indexes(info.key)
        size = self.cache.slice_size
        return all(index in cached for index in range(start // size, end // size + 1))

    def _set_readahead(self, info: PieceInfo, byte_rate: float) -> int:
        window = int(byte_rate * self.config.readahead_seconds)
        window = max(self.config.min_readahead, min(self.config.max_readahead, window))
        self.cache.set_readahead(info.key, window)
        return window

    def _map_wait(self, head: bytes | None) -> float:
        """How long the map waits: ``index_defer_s``, unless the layout already waited (a whole head: a piece within
        one slice, ``_whole_small_piece``, or a head from the cache after the open) — waiting twice left a damaged
        piece's end unknown when the player's first seek came (``ends_early_s``)."""
        return 0.0 if head is not None else self.config.index_defer_s

    async def _index(self, info: PieceInfo, layout: ContainerLayout, whole_head: bytes | None) -> None:
        """Read the head and the index through the cache (joining fetches in flight), then build the map.

        The player is parsing the same index right now, on the same two cores (and, in the app, under the same
        GIL): its first frame comes first, the map (for the GUI and the read-ahead) a moment later. The wait comes
        before the reads too: on a warm re-open they are a megabyte of disk reads inside the first frame's window,
        and on a first open the fetches they would join are already under way (``on_head`` started them).
        """
        await asyncio.sleep(self._map_wait(whole_head))
        head_end = min(info.size, self.cache.slice_size) - 1
        head = whole_head if whole_head is not None else await self._bytes(info, 0, head_end, "index: head")
        index_bytes, index_offset = b"", 0
        span = layout.index
        if span is not None and span.stop > head_end + 1:
            if span.length > self.config.max_index_bytes:
                log.info("index of %s is %d bytes: not mapped", info.key[:16], span.length)
                return
            index_bytes, index_offset = await self._bytes(info, span.start, span.last, "index"), span.start
        elif span is not None:
            index_bytes, index_offset = head[span.start : span.stop], span.start
        await self._build(info, head, index_bytes, index_offset)

    async def _fragments_index(self, info: PieceInfo, whole_head: bytes | None) -> None:
        """A fragmented MP4 without a ``sidx``: its ``moof`` boxes when the head holds them all, else its ``mfra``.

        The ``mfra`` sits at the piece's end and its last 16 bytes (``mfro``) give its size: two exact spans are
        read, the second only when it fits the piece's index budget. A piece with neither is proxied plainly.
        ``whole_head``: the whole first slice when the layout came from it, which is not read again.
        """
        await asyncio.sleep(self._map_wait(whole_head))
        head_end = min(info.size, self.cache.slice_size) - 1
        head = whole_head if whole_head is not None else await self._bytes(info, 0, head_end, "index: head")
        if await self._build(info, head, quiet=head_end + 1 < info.size):
            return
        if head_end + 1 >= info.size:
            return
        tail = await self._bytes(info, info.size - MFRO_SIZE, info.size - 1, "index: mfro (the last 16 bytes)")
        span = mfra_span(tail, info.size)
        if span is None:
            log.info("no byte/time map for %s: fragmented MP4 with neither sidx nor mfra", info.key[:16])
            return
        if span.length > self.config.max_index_bytes:
            log.info("mfra of %s is %d bytes: not mapped", info.key[:16], span.length)
            return
        await self._build(info, head, await self._bytes(info, span.start, span.last, "index: mfra"), span.start)

    async def _build(
        self, info: PieceInfo, head: bytes, index_bytes: bytes = b"", index_offset: int = 0, quiet: bool = False
    ) -> bool:
        """Build the map off the loop and publish it; False (logged unless ``quiet``) when the bytes hold none."""
        try:
            index = await asyncio.to_thread(build_index, head, info.size, index_bytes, index_offset)
        except ContainerError as exc:
            if not quiet:
                log.info("no byte/time map for %s: %s", info.key[:16], exc)
            return False
        self.indexes[info.key] = index
        window = self._set_readahead(info, index.byte_rate) if index.duration_s > 0 else self.cache.config.readahead
        event = self._published[info.key] = MediaIndexed(
            piece=info.key,
            duration_s=index.duration_s,
            byte_rate=index.byte_rate,
            keyframes=tuple(index.keyframes()),
            readahead=window,
            tracks=tuple(media_track(track) for track in (index.primary, *index.secondary)),
            ends_early_s=index.ends_early_s,
        )
        self.bus.publish(event)
        return True

    async def _bytes(self, info: PieceInfo, start: int, end: int, reason: str) -> bytes:
        parts = bytearray()
        async with contextlib.aclosing(self.cache.read(info, start, end, reason=reason)) as chunks:
            async for chunk in chunks:
                parts += chunk
        return bytes(parts)

    # --- prefetches -----------------------------------------------------------------------------------------

    async def _prefetch(self, info: PieceInfo, start: int, end: int, reason: str) -> None:
        """Pull bytes into the cache (nobody is waiting for them yet); best effort, errors only logged."""
        self.bus.publish(Prefetch(piece=info.key, start=start, end=end, reason=reason))
        async with contextlib.aclosing(self.cache.read(info, start, end, reason=reason)) as chunks:
            async for _ in chunks:
                pass

    async def _fragment(self, info: PieceInfo, start: int, end: int, reason: str) -> None:
        if await self.cache.fragment_wanted(info.key, start, end):  # a warm re-open has the slices: no event, no fetch
            self.bus.publish(Prefetch(piece=info.key, start=start, end=end, reason=reason))
            await self.cache.fetch_fragment(info, start, end, reason)

    def republish(self, key: str) -> None:
        """A player opens a piece mapped earlier in this run (the head is read once per run): its map again, for
        the views of the new open (cached time, keyframes, where a damaged piece ends)."""
        event = self._published.get(key)
        if event is not None:
            self.bus.publish(replace(event, at=time.time()))

    def hover(self, key: str, time_s: float) -> tuple[int, int] | None:
        """Prefetch what a seek to ``time_s`` would read (opt-in, from the GUI's slider); one per piece at a time.

        Returns the byte range asked for, or None when the piece has no map yet.
        """
        index = self.indexes.get(key)
        info = self.cache.info(key)
        if index is None or info is None:
            return None
        start, stop = index.seek_range(time_s, self.config.hover_seconds)  # inside the piece (MediaIndex)
        end = min(stop, start + self.config.hover_max_bytes, info.size) - 1
        if end < start:
            return None
        previous = self._hovers.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._hovers[key] = self._spawn(self._prefetch(info, start, end, f"prefetch: hover at {time_s:.1f} s"))
        return start, end

    def _spawn(self, work) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _task: work.close())  # cancelled before it began: no "never awaited"
        return task

    @staticmethod
    async def _guard(work) -> None:
        try:
            await work
        except UpstreamError as exc:
            log.info("prefetch gave up: %s", exc)
        except Exception:
            log.exception("prefetch failed")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
