"""The slice cache: aligned slices, single-flight upstream fetches, streaming readers, bounded read-ahead.

This is nginx's slice module in Python: a piece is cut into aligned slices (default 1 MiB), each cached on its
own, keyed by (piece, index). What it adds for a paid, high-latency upstream:

* **Single-flight.** A slice is either cached (memory LRU, disk), in flight (a :class:`SliceBuffer` some fetch is
  filling), or missing. Any number of readers of a slice in flight share its one upstream fetch.
* **One range per run.** Consecutive missing slices are fetched with one upstream request, so a cold open costs
  one round trip, not one per slice.
* **Streaming.** Readers take bytes from a slice buffer as they land: the first byte to the player is the first
  byte from upstream, never "after the slice downloaded".
* **Bounded read-ahead, and cancellation.** Every reader has a cursor (position, end, read-ahead window). A fetch
  runs only while some cursor's window covers the bytes it is about to pull; when the last interested reader
  leaves, the upstream connection is closed at once, because upstream egress is paid by the byte.
* **200 from byte 0.** FilBeam answers a ranged request on a CDN miss with the whole piece. The fetch keeps every
  complete slice that streams past (those bytes are billed anyway); readers ahead of it ride it, and it is held
  rather than closed when nobody wants more yet (``proxy.full_stream``: one paid stream per piece, no loop).

Memory stays bounded whatever the piece size or the number of viewers: the memory tier's cap also counts the
slices fetches are filling; a reader holds one block (128 KiB) of a slice, never the slice; slices waiting for
the disk writer are bounded (read-ahead pauses while the disk is behind); at most ``max_fetches`` fetches run.

The package, one idea per module: ``config`` (settings, ``PieceInfo``), ``memory`` (the RAM tier), ``buffers``
(slices being filled, fragments, cursors), ``piece`` (per-piece and per-fetch state), ``pieces`` (identity,
size, records, sniffing, verdicts), ``windows`` (readers' read-ahead and what is wanted), ``fetches`` (upstream
runs into slices), ``fragments`` (exact off-grid ranges), ``versions`` (ETag changes), ``hooks`` (what the cache
tells other parts), ``reader`` (``SliceReader``) and ``slice_cache`` (the ``SliceCache`` facade). Callers
import from ``proxy.cache``.
"""

from proxy.cache.buffers import Cursor, Fragment, SliceBuffer
from proxy.cache.config import (
    DEFAULT_DISK_CAP,
    DEFAULT_MAX_FETCHES,
    DEFAULT_MEMORY_CAP,
    DEFAULT_READAHEAD,
    DEFAULT_SLICE_SIZE,
    MAX_RUN_SLICES,
    MIN_RATE_WINDOW,
    RAMP_START,
    STEAL_CHECK_SECONDS,
    WRITE_BACKLOG,
    CacheConfig,
    CacheStats,
    PieceInfo,
)
from proxy.cache.hooks import CacheHooks
from proxy.cache.memory import MemoryLRU
from proxy.cache.piece import FetchRun, PieceState
from proxy.cache.reader import SliceReader
from proxy.cache.slice_cache import SliceCache

__all__ = [
    "DEFAULT_DISK_CAP",
    "DEFAULT_MAX_FETCHES",
    "DEFAULT_MEMORY_CAP",
    "DEFAULT_READAHEAD",
    "DEFAULT_SLICE_SIZE",
    "MAX_RUN_SLICES",
    "MIN_RATE_WINDOW",
    "RAMP_START",
    "STEAL_CHECK_SECONDS",
    "WRITE_BACKLOG",
    "CacheConfig",
    "CacheHooks",
    "CacheStats",
    "Cursor",
    "FetchRun",
    "Fragment",
    "MemoryLRU",
    "PieceInfo",
    "PieceState",
    "SliceBuffer",
    "SliceCache",
    "SliceReader",
]
