"""Bytes fetched twice: which fetches to skip because a stream already brings their bytes, and how to count the
ones paid for again anyway.

Why (issue 17, goal "bytes fetched twice = 0"): upstream egress is paid by the byte. Two paths asked for bytes
another fetch was already bringing and were not counted: the prefetcher's exact range of an index found in the
head (``SliceCache.fetch_fragment``) while a CDN cache miss streamed the whole piece from byte 0 (the MP4 moov
and the Matroska Tags at the end, pulled twice), and a broken whole stream resumed where the CDN answers the
resume with the whole piece from byte 0 again (``UpstreamBody._resume``). The first is avoided here; the second
is steered to a true-range source when there is one, and otherwise counted (``ResumeAccounting``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.cache import FetchRun, PieceState, SliceCache
    from proxy.sources import Source

#: How long a fetch must have been receiving before its speed tells whether it reaches a byte before a new request
#: could (``ranged_fetch_brings_sooner``): its first chunk alone looks like an instant transfer.
EARLY_RATE_WINDOW = 0.01


def whole_stream_brings(cache: SliceCache, piece: PieceState, start: int, end: int) -> bool:
    """Is a whole stream (a 200 from byte 0) under way that has not passed ``start`` yet and will deliver every
    byte up to ``end``, close enough that the routing rules let a reader wait for it? Then asking for those
    bytes again would pay for them twice."""
    for fetch in piece.fetches:
        if not fetch.whole or fetch.body_end is None or fetch.pos > start or cache.fetch_target_end(fetch) < end:
            continue
        allowance = cache.routing.gap_allowance(piece.key, fetch.source)
        if allowance is None or start - fetch.pos <= allowance:
            return True
    return False


def covering_fetch(cache: SliceCache, piece: PieceState, start: int, end: int) -> FetchRun | None:
    """A ranged fetch (not a whole stream) under way that fills every slice holding ``start … end`` and has not
    passed ``start``, if any."""
    size = cache.slice_size
    for fetch in piece.fetches:
        if fetch.whole or fetch.pos > start or cache.fetch_target_end(fetch) < end:
            continue
        buffers = [piece.inflight.get(index) for index in range(start // size, end // size + 1)]
        if all(buffer is not None and buffer.owner is fetch for buffer in buffers):
            return fetch
    return None


def ranged_fetch_brings_sooner(cache: SliceCache, piece: PieceState, start: int, end: int) -> bool:
    """Will a ranged fetch under way (``covering_fetch``) reach ``start`` before an exact range asked now would
    answer (one first-byte time, as that fetch measured it)? Then asking would pay for those bytes twice, and get
    them later.

    Why (issue 19): a piece of two slices is fetched whole by the player's first request (its read-ahead covers
    it), so an MP4's index at its end is on its way with the head. Measured on the bench's 2 MiB piece (50 ms to
    first byte, 100 MB/s): the exact range of the index arrived 42 ms after the slice that holds it, and the
    player's index request waited for it. A fetch whose speed cannot be told yet (``EARLY_RATE_WINDOW``), or that
    is too far from the bytes, leaves the exact range to be asked (a slow link: 1 MB before the index at 1 MB/s is
    a second).
    """
    fetch = covering_fetch(cache, piece, start, end)
    if fetch is None:
        return False
    rate = fetch.rate(asyncio.get_running_loop().time(), EARLY_RATE_WINDOW)
    return rate is not None and (start - fetch.pos) / rate <= fetch.ttfb


def already_brought(cache: SliceCache, piece: PieceState, start: int, end: int) -> int:
    """How many of bytes ``start … end``, arriving now outside the slice machinery, some other fetch brings or
    brought: those in slices already cached, or ahead of a whole stream that will pass them."""
    size = cache.slice_size
    twice = 0
    cached = cache.cached_indexes(piece.key)
    for index in range(start // size, end // size + 1):
        low, high = max(start, index * size), min(end, (index + 1) * size - 1)
        if index in cached or whole_stream_brings(cache, piece, low, high):
            twice += high - low + 1
    return twice


@dataclass
class ResumeAccounting:
    """What ``UpstreamBody._resume`` asks of the cache's rules, wired at the composition root.

    ``sources(key, position)``: the sources to ask for the rest of a broken body, true-range ones first (None:
    any). ``admit_restart(key, source)``: a resume was answered from byte 0 again, a paid restart: None to read
    it, or why it must not be (the restart limit). ``repulled(key, n)``: ``n`` bytes before the break point were
    pulled a second time.
    """

    sources: Callable[[str, int], list[Source] | None]
    admit_restart: Callable[[str, str], str | None]
    repulled: Callable[[str, int], None]


def resume_accounting(cache: SliceCache) -> ResumeAccounting:
    """The cache's rules for a resumed whole stream: true-range sources first (they send only the rest, at no
    egress charge for a provider), a resume answered from byte 0 again is a paid restart under the piece's
    limit (``WholeStreams.admit``), and the bytes it pulls again before the break count as fetched twice."""

    def sources(key: str, position: int) -> list[Source] | None:
        ranged = cache.routing.true_range_sources(key)
        return ranged + [s for s in cache.upstream.candidates(key) if s not in ranged] if ranged else None

    def repulled(key: str, n: int) -> None:
        cache.stats.fetched_twice[key] = cache.stats.fetched_twice.get(key, 0) + n

    return ResumeAccounting(sources, cache.whole.admit, repulled)
