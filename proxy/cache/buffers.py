"""Where bytes wait between upstream and readers: a slice being filled, an off-grid fragment, a reader's cursor."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proxy.cache.config import RAMP_START
from proxy.upstream_errors import UpstreamError

if TYPE_CHECKING:
    from proxy.cache.piece import FetchRun


class SliceBuffer:
    """A slice being filled by one fetch. Readers stream from it while it fills; it never changes once full.

    If the fetch ends early (``ended`` without ``complete``) the bytes already filled stay readable, so a reader
    that is behind finishes what it can and then asks again; ``error`` says why, if it was a failure.
    """

    __slots__ = ("_changed", "data", "ended", "error", "filled", "index", "length", "owner", "served")

    def __init__(self, index: int, length: int) -> None:
        self.index = index
        self.length = length
        self.data: bytearray | None = None
        self.filled = 0
        self.ended = False
        #: A player request read from it while it was filling (it is not "fetched but never served").
        self.served = False
        self.error: UpstreamError | None = None
        #: The fetch filling it.
        self.owner: FetchRun | None = None
        self._changed = asyncio.Event()

    @property
    def complete(self) -> bool:
        return self.filled == self.length

    def append(self, chunk: memoryview) -> None:
        if self.data is None:
            self.data = bytearray(self.length)
        self.data[self.filled : self.filled + len(chunk)] = chunk
        self.filled += len(chunk)
        self._wake()

    def end(self, error: UpstreamError | None = None) -> None:
        self.ended = True
        self.error = error
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def wait(self) -> Coroutine[Any, Any, bool]:
        """Until the buffer changes after this call. The event is taken now, not when the wait first runs: wrapped
        in a task (a reader racing a fragment against this slice), a change in between would otherwise be missed,
        and the last one — the slice complete — never comes again."""
        return self._changed.wait()


@dataclass(eq=False)
class Cursor:
    """Where one reader is (``pos``), where it stops (``end``, inclusive) and how far ahead it wants bytes."""

    pos: int
    end: int
    window: int
    request_id: int | None = None
    #: Why this reader exists when it is not a player's request (a prefetch); its fetches carry the reason.
    reason: str | None = None
    #: Open-ended readers (a player's ``bytes=N-``) get the piece's read-ahead window, which may change.
    open_ended: bool = False
    #: Where the reader started: an open-ended reader's window grows with what it has read since (see below).
    origin: int = -1

    def __post_init__(self) -> None:
        if self.origin < 0:
            self.origin = self.pos

    @property
    def window_end(self) -> int:
        return min(self.end, self.pos + self.ahead)

    @property
    def ahead(self) -> int:
        """How far ahead this reader wants bytes now.

        An open-ended reader starts with a quarter of its window (at least ``RAMP_START``) and earns more as it
        reads: ahead = what it has read since it started, up to the full window — the kernel's read-ahead ramp.
        A viewer who seeks and leaves a second later costs a small window of paid egress, not a full one; a viewer
        who keeps watching soon has the full window, long before the first ramp step could run dry.
        """
        if not self.open_ended:
            return self.window
        start = max(RAMP_START, self.window // 4)
        return min(self.window, max(start, self.pos - self.origin))


@dataclass(eq=False)
class Fragment:
    """Bytes ``start … end`` of a piece, fetched as they are rather than as whole slices, held in memory.

    Readers take its bytes as they arrive (``data`` grows); ``failed`` sends them back to the slices, from the
    position they reached (the fragment's ETag was checked before its first byte, so both are one version).
    """

    start: int
    end: int
    #: Why it was fetched; a fragment no player read from counts as fetched ahead and never served.
    reason: str = ""
    data: bytearray = field(default_factory=bytearray)
    failed: bool = False
    served: bool = False
    _grew: asyncio.Event = field(default_factory=asyncio.Event)
    _finished: asyncio.Event = field(default_factory=asyncio.Event)

    def holds(self, pos: int) -> bool:
        return self.start <= pos <= self.end

    @property
    def done(self) -> bool:
        return self.failed or len(self.data) == self.end - self.start + 1

    def append(self, chunk: bytes | memoryview) -> None:
        self.data += chunk[: self.end - self.start + 1 - len(self.data)]
        self._wake()

    def fail(self) -> None:
        self.failed = True
        self._wake()

    @property
    def finished(self) -> bool:
        """Its fetch is over (complete and kept, or failed): nothing more will arrive."""
        return self._finished.is_set()

    def finish(self) -> None:
        self._finished.set()
        self._wake()  # a reader waiting for bytes of it looks again: they are kept as a slice now, or gone

    async def ended(self) -> None:
        """Until its fetch is over (its whole slice, if it holds one, is cached by then unless it failed)."""
        await self._finished.wait()

    def keep_only(self, start: int, end: int) -> None:
        """Hold bytes ``start … end`` only (a done fragment whose other bytes became a cached slice)."""
        self.data = self.data[start - self.start : end - self.start + 1]
        self.start, self.end = start, end

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    def grown(self) -> Coroutine[Any, Any, bool]:
        """Until more bytes arrived or the fetch ended, after this call (the event is taken now, as in
        :meth:`SliceBuffer.wait`: issue 19, a player's index request waited forever for a fragment that had
        completed between the call and the wait's first step)."""
        return self._grew.wait()
