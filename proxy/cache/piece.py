"""What the cache knows of one piece, and of one upstream fetch of its slices."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from proxy.cache.buffers import Cursor, Fragment, SliceBuffer
from proxy.cache.config import MIN_RATE_WINDOW
from proxy.cid import PieceCid
from proxy.sources import Source


@dataclass(eq=False)
class FetchRun:
    id: int
    first: int
    last: int
    reason: str
    pos: int
    buffers: dict[int, SliceBuffer] = field(default_factory=dict)
    body_end: int | None = None
    source: Source | None = None
    task: asyncio.Task | None = None
    #: After a reader took over the slices from here on (this fetch was too slow to reach them), the last byte
    #: this fetch may still usefully deliver.
    limit: int | None = None
    received: int = 0
    #: The answer is the whole piece from byte 0 (a 200): its rules are in ``proxy.full_stream``.
    whole: bool = False
    #: Loop time of the first body byte, and seconds from the request to it.
    first_byte_at: float | None = None
    ttfb: float = 0.0

    def rate(self, now: float, window: float = MIN_RATE_WINDOW) -> float | None:
        """Bytes per second since the first body byte, once it has been receiving for ``window`` seconds."""
        if self.first_byte_at is None or now - self.first_byte_at < window or not self.received:
            return None
        return self.received / (now - self.first_byte_at)


@dataclass(eq=False)
class PieceState:
    key: str
    cid: PieceCid
    size: int | None
    content_type: str | None = None
    source: str | None = None
    etags: dict[str, str] = field(default_factory=dict)
    inflight: dict[int, SliceBuffer] = field(default_factory=dict)
    fetches: set[FetchRun] = field(default_factory=set)
    cursors: set[Cursor] = field(default_factory=set)
    verified: bool | None = None
    #: Read-ahead for open-ended readers of this piece (set from the media's byte rate), else the default.
    readahead: int | None = None
    #: Whether the head listener has seen enough of the piece's first bytes.
    head_seen: bool = False
    #: Slices fetched but not yet served to any player request, with the reason they were fetched.
    unserved: dict[int, str] = field(default_factory=dict)
    #: Bumped when an upstream turns out to serve different bytes: readers of the old version are cut off.
    version: int = 0
    #: Resolved when a discovery fetch learns the size of a piece whose CID does not carry it (v1).
    discovery: asyncio.Future | None = None
    #: Small byte ranges held outside the slice grid (see :meth:`SliceCache.fetch_fragment`).
    fragments: list[Fragment] = field(default_factory=list)
    #: Set while a fetch of this piece is paused for the disk: a reader asking for bytes wakes it to look again.
    reader_asked: asyncio.Event | None = None
    #: The piece's bookkeeping, waiting for its open to be answered (``PieceBook._settle_after_open``).
    settling: asyncio.TimerHandle | None = None
