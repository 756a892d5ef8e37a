"""Which source to ask for which bytes of a piece: a policy that knows how FilBeam and storage providers behave.

Facts it rests on (``shared/research/filbeam.md``): FilBeam has the fast first byte but answers a range on a CDN
cache miss with the whole piece from byte 0, billed per byte streamed; a storage provider (Curio) answers true
ranges at no egress charge, with a slower first byte.

The policy:

* Start from the configured order (FilBeam first, for the fast first byte).
* When FilBeam answers a ranged fetch with a 200 from byte 0 and the bytes before the range are more than
  ``stream_gap`` — more than a reader will need soon — drop that answer and ask a true-range source for the
  range instead of paying to stream the gap. Remember the miss for a while: further fetches of that piece far
  from its start go to a true-range source first.
* With no true-range source left, streaming through the gap is the only way to the bytes, so it is allowed.
* A piece whose CDN has only ever answered from byte 0 (above the CDN's object cap, or providers picked at random
  whose edge entries are not filled) sends every fetch that does not start at byte 0 to a true-range source
  first, a player's seek included: asking the CDN again would most likely start one more paid stream from 0.
  What happens to a stream from byte 0 once it runs is :mod:`proxy.full_stream`'s business.
* Refusals (402, 404 "not indexed yet") are remembered per piece by :class:`~proxy.upstream.Upstream`, which
  takes the refusing source out of the candidates; this module only orders what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from proxy.full_stream import WholeStreams
from proxy.sources import Source
from proxy.upstream import Upstream

#: How long a FilBeam cache miss is remembered for a piece (its edge may fill meanwhile).
MISS_MEMORY_SECONDS = 120.0
#: Bytes of a 200-from-zero stream the proxy will pay for to reach a reader, when a provider could answer.
DEFAULT_STREAM_GAP = 16 << 20


class RoutingPolicy:
    def __init__(
        self,
        upstream: Upstream,
        stream_gap: int = DEFAULT_STREAM_GAP,
        clock: Callable[[], float] = time.monotonic,
        whole: WholeStreams | None = None,
    ) -> None:
        self.upstream = upstream
        self.whole = whole
        self.stream_gap = stream_gap
        self._clock = clock
        self._missed_at: dict[str, float] = {}

    def true_range_sources(self, key: str, exclude: Source | None = None) -> list[Source]:
        """Sources that answer ranges exactly (providers, templates), not refused for this piece."""
        return [s for s in self.upstream.candidates(key) if s.kind != "filbeam" and s != exclude]

    def order(self, key: str, start: int, *, urgent: bool) -> list[Source]:
        """Sources to try for a fetch starting at ``start``, best first.

        After a recent CDN miss on this piece, a fetch that is not from byte 0 would likely get the whole piece
        from byte 0 again: read-ahead (``urgent=False``, its latency is hidden) goes to a true-range source
        first, at no egress charge. A reader waiting right now still tries the CDN's fast first byte, because
        its edge may have filled meanwhile; a far 200 from it is dropped after one round trip — unless the CDN has
        only ever answered this piece from byte 0: then the reader goes to a true-range source first too.
        """
        candidates = self.upstream.candidates(key)
        if start > 0 and ((not urgent and self._recent_miss(key)) or self._keeps_answering_whole(key, candidates)):
            return sorted(candidates, key=lambda s: s.kind == "filbeam")
        return candidates

    def accept_full_body(self, key: str, source: Source, start: int, *, gap_cached: bool) -> bool:
        """A source answered a fetch starting at ``start`` with the whole piece from byte 0: stream it or not?

        Streaming is right when the range starts at 0, when no other source could answer, or when the gap is
        short and none of it is cached yet (the bytes streaming past are kept). Re-downloading cached bytes, or
        a long gap, is egress paid for nothing when a provider can answer the range.
        """
        if source.kind == "filbeam":
            self._missed_at[key] = self._clock()
        if start == 0 or not self.true_range_sources(key, exclude=source):
            return True
        return start <= self.stream_gap and not gap_cached

    def gap_allowance(self, key: str, source: Source | None) -> int | None:
        """How far a fetch from ``source`` may stream before reaching a reader that wants its bytes.

        None means without limit: no other source could answer the range, so streaming is the only way.
        """
        return self.stream_gap if self.true_range_sources(key, exclude=source) else None

    def _keeps_answering_whole(self, key: str, candidates: list[Source]) -> bool:
        if self.whole is None:
            return False
        return any(s.kind == "filbeam" and self.whole.keeps_answering_whole(key, s.name) for s in candidates)

    def _recent_miss(self, key: str) -> bool:
        missed = self._missed_at.get(key)
        return missed is not None and self._clock() - missed < MISS_MEMORY_SECONDS
