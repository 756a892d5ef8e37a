"""What a session costs: bytes paid per piece and source, FilBeam's hits and misses, and an estimate in money.

Why: upstream egress is paid by the byte, and the costly mistakes (a loop of streams from byte 0, a piece above
the CDN's object cap fetched again) are invisible unless the bill is shown where the viewer looks. Prices are
FilBeam's published ones (``shared/research/filbeam.md`` §3, ``filbeam/docs explanation/pricing.md``): a CDN
byte costs $7/TiB on a cache hit and $14/TiB on a miss (CDN rail plus cache-miss rail); a storage provider's
direct retrieval has "no egress charges" (Synapse docs). A template source's price is unknown and not counted.

How a FilBeam byte is told hit from miss: the status of the answer that carried it. A 206 comes from the edge
cache (a hit); a 200 is the miss path streaming the whole piece from byte 0 (research §2). The bytes each fetch
received come from the fetch events (``UpstreamProgress`` as slices complete, ``UpstreamFinished`` at its end);
the totals per source are :class:`~proxy.upstream.EgressCounter`'s, counted as the bytes arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.events import Event, EventBus, UpstreamFinished, UpstreamProgress, UpstreamResponse
from proxy.upstream import EgressCounter

TiB = float(1 << 40)
#: US dollars per TiB (FilBeam's published prices; providers charge no egress).
CDN_HIT_USD_PER_TIB = 7.0
CDN_MISS_USD_PER_TIB = 14.0
PROVIDER_USD_PER_TIB = 0.0


@dataclass
class _FetchSeen:
    piece: str
    source: str
    status: int
    received: int = 0


class EgressLedger:
    """Listens to fetch events; :meth:`by_piece` is the bill, per piece and source, at any moment."""

    def __init__(self, bus: EventBus, egress: EgressCounter, kind_of: Callable[[str], str | None]) -> None:
        self._egress = egress
        self._kind_of = kind_of
        self._fetches: dict[int, _FetchSeen] = {}
        #: Bytes received by finished fetches answered with a 200 (a CDN miss), per (piece, source).
        self._miss_done: dict[tuple[str, str], int] = {}
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, UpstreamResponse):
            self._fetches[event.fetch_id] = _FetchSeen(event.piece, event.source, event.status)
        elif isinstance(event, UpstreamProgress):
            seen = self._fetches.get(event.fetch_id)
            if seen is not None:
                seen.received = max(seen.received, event.bytes_received)
        elif isinstance(event, UpstreamFinished):
            seen = self._fetches.pop(event.fetch_id, None)
            if seen is not None and seen.status == 200:
                key = (seen.piece, seen.source)
                self._miss_done[key] = self._miss_done.get(key, 0) + max(seen.received, event.bytes_received)

    def _miss_bytes(self, piece: str, source: str) -> int:
        fetches = self._fetches.values()
        running = sum(f.received for f in fetches if (f.piece, f.source, f.status) == (piece, source, 200))
        return self._miss_done.get((piece, source), 0) + running

    def by_piece(self, fetched_twice: dict[str, int]) -> dict[str, dict]:
        """Per piece: each source's bytes (FilBeam's split into hit and miss), dollars, and bytes fetched twice."""
        bill: dict[str, dict] = {}
        for piece, sources in self._egress.by_piece.items():
            rows: dict[str, dict] = {}
            for source, paid in sources.items():
                kind = self._kind_of(source)
                row: dict = {"kind": kind, "bytes": paid}
                if kind == "filbeam":
                    miss = min(paid, self._miss_bytes(piece, source))
                    row.update(cdn_miss_bytes=miss, cdn_hit_bytes=paid - miss)
                    row["usd"] = (miss * CDN_MISS_USD_PER_TIB + (paid - miss) * CDN_HIT_USD_PER_TIB) / TiB
                elif kind == "provider":
                    row["usd"] = paid * PROVIDER_USD_PER_TIB / TiB
                else:
                    row["usd"] = None  # a URL template: its price is not known
                rows[source] = row
            bill[piece] = {
                "sources": rows,
                "usd": sum(r["usd"] or 0.0 for r in rows.values()),
                "bytes_fetched_twice": fetched_twice.get(piece, 0),
            }
        return bill
