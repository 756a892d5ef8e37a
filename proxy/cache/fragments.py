"""Off-grid fragments: an exact byte range fetched as it is (an MP4 index at a slice's end), held in memory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from proxy.cache.buffers import Fragment
from proxy.cache.config import PieceInfo
from proxy.cache.piece import PieceState
from proxy.events import next_id
from proxy.sources import Source
from proxy.twice import (
    EARLY_RATE_WINDOW,
    already_brought,
    covering_fetch,
    ranged_fetch_brings_sooner,
    whole_stream_brings,
)
from proxy.upstream_body import UpstreamBody
from proxy.upstream_errors import UpstreamError

log = logging.getLogger(__name__)


class FragmentFetches:
    """Part of :class:`~proxy.cache.slice_cache.SliceCache`: exact ranges outside the slice grid."""

    async def fetch_fragment(self, info: PieceInfo, start: int, end: int, reason: str) -> bool:
        """Fetch bytes ``start … end`` exactly, off the slice grid, and serve players from them as they arrive.

        Why: an MP4's index at the end of a piece sits at the end of a slice of up to 1 MiB, and the player asks
        for it a few milliseconds after the head arrives and then waits. A slice-aligned fetch streams the
        slice's first part (media data) before the index: 10 ms at 100 MB/s, 50 ms on a 20 MB/s home link. The
        exact range starts arriving one first-byte time after it is asked for. The slice itself is still fetched
        (for a later re-open from disk and for verification); a fragment lives in memory only, at most one slice
        long, and is dropped with the piece's cache — except a whole grid slice it holds, which becomes that slice
        (``_keep_whole_slice``) instead of being fetched again. Returns whether all bytes arrived; on any doubt (a
        200 from byte 0, a changed ETag, a short body, an error) the fragment fails and its readers go on from the
        slices.
        """
        piece = self._pieces[info.key]
        if not self.fragment_needed(info.key, start, end):
            return False
        fragment = Fragment(start, end, reason)
        piece.fragments.append(fragment)
        version = piece.version
        complete = False
        try:
            async with self._exact_range(
                piece, start, end, reason, self.routing.order(piece.key, start, urgent=True)
            ) as body:
                source, etag = body.source.name, body.etag
                if body.start != start or not self.etag_agrees(piece, source, etag):
                    return False  # a whole-piece answer (nothing gained) or another version (never mixed)
                async with contextlib.aclosing(body.chunks()) as chunks:
                    async for chunk in chunks:  # to its end, so the connection goes back to the pool
                        if piece.version != version:
                            return False
                        at = start + len(fragment.data)
                        if twice := already_brought(self, piece, at, min(end, at + len(chunk) - 1)):
                            self.stats.fetched_twice[piece.key] = self.stats.fetched_twice.get(piece.key, 0) + twice
                        fragment.append(chunk)
            # short, or the piece learnt meanwhile that this source serves another version
            if not fragment.done or piece.version != version or not self.etag_agrees(piece, source, etag):
                return False
            complete = True
            by_reason = self.stats.fetched_by_reason
            by_reason[reason] = by_reason.get(reason, 0) + len(fragment.data)
            self._keep_whole_slice(piece, fragment)
            return True
        except UpstreamError as exc:
            log.info("piece %s: fragment %d-%d not fetched: %s", piece.key[:16], start, end, exc)
            return False
        finally:
            if not complete:
                if fragment.data and not fragment.served:  # paid for and thrown away: waste, under its reason
                    lost = self.stats.abandoned_by_reason
                    lost[reason] = lost.get(reason, 0) + len(fragment.data)
                fragment.fail()
                if fragment in piece.fragments:
                    piece.fragments.remove(fragment)
            fragment.finish()

    def _keep_whole_slice(self, piece: PieceState, fragment: Fragment) -> None:
        """A complete fragment that holds a whole grid slice hands it to the cache as that slice, and keeps the rest.

        Why (issue 19): the tail bet asks for a piece's last MiB, which holds its whole last slice (1,007,288 bytes
        on the bench's 1 GiB piece), and that slice was then fetched again on the grid by the player's index
        request and the index prefetch: about 1 MB of egress paid twice on every cold open. The bytes are one
        version (the ETag was checked before the first byte and again at the end), and the verifier hashes them
        with the rest of the piece like any fetched slice. A fragment is at most a slice long, so it holds at most
        one whole slice, and what is left of it is one run of bytes.
        """
        index = self._whole_slice_in(piece, fragment)
        if index is None or not self.slice_missing(piece, index):
            return  # a fetch under way brings it, or it is cached already
        low = index * self.slice_size
        high = low + self.slice_length(piece, index) - 1
        data = bytes(fragment.data[low - fragment.start : high - fragment.start + 1])
        self.keep_slice(piece, index, data, fragment.reason, served=fragment.served)
        if fragment.start < low:
            fragment.keep_only(fragment.start, low - 1)
        elif high < fragment.end:
            fragment.keep_only(high + 1, fragment.end)
        else:
            piece.fragments.remove(fragment)

    def _whole_slice_in(self, piece: PieceState, fragment: Fragment) -> int | None:
        """The grid slice lying wholly inside the fragment's range, if there is one."""
        assert piece.size is not None
        index = -(-fragment.start // self.slice_size)
        low = index * self.slice_size
        if low >= piece.size or low + self.slice_length(piece, index) - 1 > fragment.end:
            return None
        return index

    def fragment_bringing(self, piece: PieceState, index: int) -> Fragment | None:
        """A fragment under way that holds all of slice ``index``, if any. It becomes that slice when it ends
        (``_keep_whole_slice``): fetching the slice too pays for its bytes twice. If it fails, the slice is missing
        again and its readers fetch it."""
        if not piece.fragments:  # nearly always: this is asked for every slice a reader's window looks at
            return None
        return next((f for f in piece.fragments if not f.finished and self._whole_slice_in(piece, f) == index), None)

    def fragment_needed(self, key: str, start: int, end: int) -> bool:
        """Would :meth:`fetch_fragment` fetch anything? Not when the slices holding the range are cached (a warm
        re-open), a fragment already covers it, it is longer than a slice, or a fetch under way brings it first."""
        piece = self._pieces[key]
        cached = self.cached_indexes(key)
        return (
            end - start + 1 <= self.slice_size
            and not all(i in cached for i in range(start // self.slice_size, end // self.slice_size + 1))
            and not any(f.holds(start) or f.holds(end) for f in piece.fragments)
            and not whole_stream_brings(self, piece, start, end)  # riding it costs nothing; asking pays twice
            and not ranged_fetch_brings_sooner(self, piece, start, end)
        )

    async def fragment_wanted(self, key: str, start: int, end: int) -> bool:
        """:meth:`fragment_needed`, asked once a fetch under way that fills the range's slices has been receiving
        long enough to tell whether it brings the bytes first (``EARLY_RATE_WINDOW``, 10 ms at most).

        Why wait: the head shows an MP4's layout in its first chunk, when nothing says yet whether the head's own
        fetch (a piece of two slices is fetched whole) reaches the index sooner than an exact range would answer.
        """
        piece = self._pieces[key]
        fetch = covering_fetch(self, piece, start, end)
        if fetch is not None and fetch.first_byte_at is not None:
            wait = fetch.first_byte_at + EARLY_RATE_WINDOW - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
        return self.fragment_needed(key, start, end)

    @contextlib.asynccontextmanager
    async def _exact_range(
        self, piece: PieceState, start: int, end: int, reason: str, sources: list[Source]
    ) -> AsyncIterator[UpstreamBody]:
        """One upstream answer for bytes ``start … end``, outside the slice machinery; closed on exit."""
        body = await self.upstream.open(
            piece.cid, piece.key, start, end, size=piece.size, fetch_id=next_id(), reason=reason, sources=sources
        )
        try:
            yield body
        finally:
            body.close()

    def fragment_at(self, piece: PieceState, pos: int) -> Fragment | None:
        """The exact off-grid range fetched for this piece that holds byte ``pos``, if any (readers serve from it)."""
        return next((f for f in piece.fragments if f.holds(pos)), None)
