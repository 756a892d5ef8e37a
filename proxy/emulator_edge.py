"""The emulated CDN's edge cache and the emulated provider's concurrency limit, as FilBeam and Curio run them.

Facts (``shared/research/filbeam.md`` §2, §4 and §8):

* **One edge entry per provider.** The worker's cache key is the provider's URL ``{serviceUrl}/piece/{cid}``, and
  it picks one of the piece's providers at random on every request. Synapse stores two copies by default, so a
  piece can be a miss — a 200 with the whole piece from byte 0 — again until each provider's entry is filled.
* **Object cap.** Cloudflare caches objects up to 512 MB on most plans (5 GB on Enterprise): a piece above the cap
  is never cached, and every request for it is a miss.
* **Fills cancelled on disconnect** (UNVERIFIED, an option): the miss fetch that fills the edge runs inside the
  client's request with ``signal: request.signal``; a client that leaves before the end may cancel the fill.
* **Curio's limit.** The piece route allows 256 concurrent requests, then answers 429 ``Service temporarily
  unavailable: too many concurrent requests`` with no Retry-After.
* **v1 CIDs on a provider.** Curio serves v1 PieceCIDs of PDP pieces; an unknown v1 ends in a 500 ("failed to
  determine piece size"), not a 404.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from typing import Protocol

#: Cloudflare's cacheable-object limit on Free/Pro/Business plans ("512 MB"; taken as MiB, the smaller reading
#: would only move the line by 25 MB).
DEFAULT_OBJECT_CAP = 512 * 1024 * 1024
#: Curio's ``retrieval.go`` concurrency limiter.
CURIO_CONCURRENCY = 256
CURIO_TOO_MANY = "Service temporarily unavailable: too many concurrent requests"


class EdgeKnobs(Protocol):
    mode: str
    edge_fill: str
    providers: int
    object_cap: int | None
    fill_cancelled_on_disconnect: bool


@dataclass(frozen=True)
class EdgeLookup:
    """How the edge answers one request: from its cache (true ranges) or as a miss (200 from byte 0)."""

    hit: bool
    #: Which of the piece's providers the worker picked (0-based); None outside filbeam mode.
    provider: int | None
    #: The entry this miss fills when the answer completes (None: filled already, or never).
    fills_on_completion: tuple[str, int] | None = None


class EdgeCache:
    """The CDN's cache entries, one per (piece, provider), and the rules for when a miss fills one."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._entries: set[tuple[str, int]] = set()

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, piece_cid: str, size: int, knobs: EdgeKnobs, is_get: bool) -> EdgeLookup:
        if knobs.mode != "filbeam":
            return EdgeLookup(True, None)
        provider = self._rng.randrange(knobs.providers) if knobs.providers > 1 else 0
        if knobs.edge_fill == "always":
            return EdgeLookup(True, provider)
        if not is_get:
            return EdgeLookup(False, provider)  # a HEAD never matches the cached GET (research §2)
        key = (piece_cid, provider)
        if key in self._entries:
            return EdgeLookup(True, provider)
        cacheable = knobs.object_cap is None or size <= knobs.object_cap
        if not cacheable or knobs.edge_fill == "never":
            return EdgeLookup(False, provider)
        if knobs.edge_fill == "first-request" and not knobs.fill_cancelled_on_disconnect:
            self._entries.add(key)  # Cloudflare keeps filling even if the visitor leaves midway
            return EdgeLookup(False, provider)
        return EdgeLookup(False, provider, fills_on_completion=key)

    def answered(self, lookup: EdgeLookup, complete: bool) -> None:
        """The miss answer ended: its fill lands only if the whole body went out."""
        if lookup.fills_on_completion is not None and complete:
            self._entries.add(lookup.fills_on_completion)


class ConcurrencyGate:
    """Curio's limiter: at most ``limit`` requests in flight, then 429 without Retry-After."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.refused = 0

    def enter(self, limit: int | None) -> bool:
        if limit is not None and self.in_flight >= limit:
            self.refused += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


def add_edge_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line flags for these knobs (``python -m proxy.emulator --help``)."""
    parser.add_argument(
        "--providers",
        type=int,
        default=1,
        help="storage providers per piece behind the CDN: each request picks one at random, and each has its own "
        "edge cache entry, so a piece misses (200 from byte 0) until every provider's entry is filled (default 1)",
    )
    parser.add_argument(
        "--object-cap",
        type=int,
        default=DEFAULT_OBJECT_CAP,
        help="the CDN never caches a piece larger than this many bytes: every request for it is a miss "
        f"(Cloudflare's 512 MB; default {DEFAULT_OBJECT_CAP})",
    )
    parser.add_argument(
        "--no-object-cap",
        dest="object_cap",
        action="store_const",
        const=None,
        help="cache pieces of any size at the edge (Cloudflare Enterprise's 5 GB, roughly)",
    )
    parser.add_argument(
        "--fill-cancelled-on-disconnect",
        action="store_true",
        help="a client that leaves a miss before its end cancels the edge fill (the next request misses again)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=CURIO_CONCURRENCY,
        help=f"curio mode: requests in flight above this get a 429 without Retry-After (Curio's {CURIO_CONCURRENCY})",
    )
