"""The cache's settings, its defaults, and what it tells a response about a piece."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxy.cid import PieceCid
from proxy.full_stream import WholeStreamRules
from proxy.routing import DEFAULT_STREAM_GAP
from proxy.units import MiB
from proxy.verify import QUIET_S

DEFAULT_SLICE_SIZE = 1 * MiB
DEFAULT_MEMORY_CAP = 64 * MiB
DEFAULT_DISK_CAP = 2048 * MiB
#: How far past an open-ended reader's position the cache fetches before the reader asks.
DEFAULT_READAHEAD = 8 * MiB
#: The least an open-ended reader reads ahead when it starts (its window then grows with what it reads).
RAMP_START = 2 * MiB
#: Bytes of complete slices that may wait in memory for the disk writer before fetches ahead of readers pause
#: (four times this, and slices are no longer queued for the disk at all: a stalled disk must not eat RAM).
WRITE_BACKLOG = 16 * MiB
#: Longest single upstream range, in slices, even for a reader that wants more.
MAX_RUN_SLICES = 32
DEFAULT_MAX_FETCHES = 16
#: A reader waiting on a slice checks this often whether the fetch that should bring it is too slow.
STEAL_CHECK_SECONDS = 0.2
#: A fetch's rate is measured once it has been receiving for this long.
MIN_RATE_WINDOW = 0.1


@dataclass(frozen=True)
class CacheConfig:
    directory: Path
    slice_size: int = DEFAULT_SLICE_SIZE
    memory_cap: int = DEFAULT_MEMORY_CAP
    disk_cap: int = DEFAULT_DISK_CAP
    readahead: int = DEFAULT_READAHEAD
    max_fetches: int = DEFAULT_MAX_FETCHES
    #: Bytes of a FilBeam 200-from-zero the proxy streams to reach a reader when a provider could answer.
    stream_gap: int = DEFAULT_STREAM_GAP
    #: Bytes of complete slices waiting for the disk writer above which fetches ahead of every reader pause.
    write_backlog: int = WRITE_BACKLOG
    #: Seconds CommP hashing waits after a player's request starts (``PieceVerifier.hold``).
    verify_quiet_s: float = QUIET_S
    #: Seconds a piece opened with its head cached waits before its bookkeeping (``PieceBook._settle_after_open``).
    settle_after_s: float = 0.2
    #: How long a stream from byte 0 is held for its readers, and how many paid restarts a piece may cost.
    whole_streams: WholeStreamRules = field(default_factory=WholeStreamRules)


@dataclass(frozen=True)
class PieceInfo:
    """What a response needs before its first byte: identity, size, type, validator."""

    key: str
    cid: PieceCid
    size: int
    content_type: str | None
    source: str | None

    @property
    def etag(self) -> str:
        """Strong, and the same for the v1 and v2 spellings of a piece: pieces are content-addressed."""
        return f'"{self.cid.v1()}"'


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bytes_from_cache: int = 0
    bytes_from_upstream: int = 0
    #: Bytes of complete slices fetched, by the reason of the fetch ("read", "readahead", "prefetch: …").
    fetched_by_reason: dict[str, int] = field(default_factory=dict)
    #: Bytes of fragments given up before they were complete and never served (a withdrawn bet on a tail), by
    #: reason: fetched and lost, so they count as fetched ahead and never served.
    abandoned_by_reason: dict[str, int] = field(default_factory=dict)
    #: Bytes upstream sent again for slices already cached or being fetched, per piece (the goal is none).
    fetched_twice: dict[str, int] = field(default_factory=dict)
