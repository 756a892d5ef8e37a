"""How FilBeam answers: its edge cache with one entry per provider, the object cap, and the worker's own words.

Facts (``shared/research/filbeam.md`` §2, §4 and §8):

* **One edge entry per provider.** The worker's cache key is the provider's URL ``{serviceUrl}/piece/{cid}``, and
  it picks one of the piece's providers at random on every request. Synapse stores two copies by default, so a
  piece can be a miss — a 200 with the whole piece from byte 0 — again until each provider's entry is filled.
* **Object cap.** Cloudflare caches objects up to 512 MB on most plans (5 GB on Enterprise): a piece above the cap
  is never cached, and every request for it is a miss.
* **Fills cancelled on disconnect** (UNVERIFIED, an option): the miss fetch that fills the edge runs inside the
  client's request with ``signal: request.signal``; a client that leaves before the end may cancel the fill.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from proxy.units import MiB

#: Cloudflare's cacheable-object limit on Free/Pro/Business plans ("512 MB"; taken as MiB, the smaller reading
#: would only move the line by 25 MB).
DEFAULT_OBJECT_CAP = 512 * MiB
FILBEAM_CACHE_CONTROL = "public, max-age=31536000"
#: The payer an emulated FilBeam names in its 402 answers (the real one reads it from the host name).
EMULATED_PAYER = "0x" + "0" * 40


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


def filbeam_unauthorized(authorization: str) -> str:
    """The worker's 401 wording: only known bot Bearer tokens pass, and the emulator knows none."""
    prefix, _, token = authorization.partition(" ")
    if prefix != "Bearer" or not token or " " in token:
        return "Unauthorized: Authorization header must use Bearer scheme"
    return f"Unauthorized: Invalid Access Token {token[:1]}...{token[-1:]}"
