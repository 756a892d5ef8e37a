"""The calls the cache makes into other parts, named in one place and wired at the composition root.

Like mitmproxy's named addon hooks: the cache does not know the prefetcher or the verifier; it calls these, and
``proxy/server.py`` decides who answers them. The event bus only feeds observers (panel, logs, stats): nothing
that changes what the proxy does rides on it, so a failing subscriber can never silently break a control path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.cache.config import PieceInfo
from proxy.verify import PieceToVerify


def _ignore(*_args: object) -> None:
    """The default for a hook nobody answers."""


@dataclass(frozen=True)
class CacheHooks:
    """What the cache tells the rest of the proxy, each at the moment it happens (synchronously, on the loop)."""

    #: A piece's first bytes, as they arrive or from the cache, until it returns True (the prefetcher reads the
    #: container's layout from them). None: nobody listens, and the head is not read for it.
    on_head: Callable[[PieceInfo, memoryview], bool] | None = None
    #: A player opens a piece with ``Range: bytes=0-`` (how players open) whose first slice is not cached (a
    #: first-ever open); a closed range from byte 0 is a probe and a whole-body GET a download, not an open.
    on_cold_open: Callable[[PieceInfo], None] = _ignore
    #: A player's request starts reading (an open, a seek): background hashing gives way.
    on_player_request: Callable[[], None] = _ignore
    #: A sized piece whose bytes are not known to match its CID: follow it for verification.
    on_unverified: Callable[[PieceToVerify], None] = _ignore
    #: A slice became complete in memory (piece key, slice index).
    on_slice_stored: Callable[[str, int], None] = _ignore
    #: A slice left the disk, evicted or rejected as damaged (piece key, slice index).
    on_slice_lost: Callable[[str, int], None] = _ignore
