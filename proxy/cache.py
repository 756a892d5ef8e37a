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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from proxy.cid import CidError, PieceCid
from proxy.disk import BLOCK as READ_BLOCK
from proxy.disk import DiskSliceStore
from proxy.events import (
    CacheCleared,
    Event,
    EventBus,
    PieceKnown,
    RequestProgress,
    SliceEvicted,
    SliceRead,
    SliceRejected,
    SliceStored,
    UpstreamProgress,
    next_id,
)
from proxy.full_stream import WholeStreamRules, WholeStreams, hold_at_boundary, take_back_if_slow, whole_answer
from proxy.head_sniff import sniff_head
from proxy.routing import DEFAULT_STREAM_GAP, RoutingPolicy
from proxy.sniff import OCTET_STREAM, SNIFF_BYTES, SNIFFED_TYPES
from proxy.store import PieceRecord, PieceStore
from proxy.twice import already_brought, whole_stream_brings
from proxy.upstream import Source, Upstream, UpstreamBody, UpstreamError
from proxy.verify import QUIET_S, PieceToVerify, PieceVerifier

log = logging.getLogger(__name__)

MiB = 1 << 20
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
    #: Bytes upstream sent again for slices already cached or being fetched, per piece (the goal is none).
    fetched_twice: dict[str, int] = field(default_factory=dict)


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
        self.owner: _Fetch | None = None
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

    async def wait(self) -> None:
        await self._changed.wait()


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
class _Fetch:
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

    def rate(self, now: float) -> float | None:
        """Bytes per second since the first body byte, once there is enough to tell."""
        if self.first_byte_at is None or now - self.first_byte_at < MIN_RATE_WINDOW or not self.received:
            return None
        return self.received / (now - self.first_byte_at)


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

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    async def grown(self) -> None:
        """Until more bytes arrived or the fetch ended."""
        await self._grew.wait()


@dataclass(eq=False)
class _Piece:
    key: str
    cid: PieceCid
    size: int | None
    content_type: str | None = None
    source: str | None = None
    etags: dict[str, str] = field(default_factory=dict)
    inflight: dict[int, SliceBuffer] = field(default_factory=dict)
    fetches: set[_Fetch] = field(default_factory=set)
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


HeadListener = Callable[[PieceInfo, memoryview], bool]


class MemoryLRU:
    """Complete slices in RAM, least recently used evicted first, at most ``cap`` bytes.

    Slices being filled by a fetch count against the same cap (:meth:`reserve`): the memory tier and the fetch
    buffers are one budget, so a crowd of viewers whose fetches run at once makes the tier smaller instead of
    making the process bigger.
    """

    def __init__(self, cap: int, bus: EventBus) -> None:
        self.cap = cap
        self.used = 0
        #: Bytes of slice buffers being filled by fetches (they become complete slices, or are dropped).
        self.reserved = 0
        self._bus = bus
        self._items: OrderedDict[tuple[str, int], bytes | bytearray] = OrderedDict()

    def get(self, key: str, index: int) -> bytes | bytearray | None:
        data = self._items.get((key, index))
        if data is not None:
            self._items.move_to_end((key, index))
        return data

    def has(self, key: str, index: int) -> bool:
        return (key, index) in self._items

    def put(self, key: str, index: int, data: bytes | bytearray) -> None:
        if len(data) > self.cap:
            return
        old = self._items.pop((key, index), None)
        if old is not None:
            self.used -= len(old)
        self._items[(key, index)] = data
        self.used += len(data)
        self._evict_to(self.cap)

    def reserve(self, length: int) -> None:
        """A fetch starts filling a slice buffer of ``length`` bytes: make room for it."""
        self.reserved += length
        self._evict_to(self.cap)

    def release(self, length: int) -> None:
        """A reserved buffer became a complete slice (``put`` it next) or was dropped."""
        self.reserved -= length

    def _evict_to(self, budget: int) -> None:
        while self._items and self.used + self.reserved > budget:
            (k, i), evicted = self._items.popitem(last=False)
            self.used -= len(evicted)
            self._bus.publish(SliceEvicted(piece=k, index=i, tier="memory"))

    def indexes(self, key: str) -> set[int]:
        return {i for (k, i) in self._items if k == key}

    def discard_piece(self, key: str) -> None:
        for k, i in [item for item in self._items if item[0] == key]:
            self.used -= len(self._items.pop((k, i)))

    def clear(self) -> None:
        self._items.clear()
        self.used = 0


class SliceCache:
    """Serve any byte range of any piece from cached slices, fetching only what is missing."""

    def __init__(self, config: CacheConfig, upstream: Upstream, store: PieceStore, bus: EventBus) -> None:
        self.config = config
        self.slice_size = config.slice_size
        self.upstream = upstream
        self.store = store
        self.bus = bus
        self.memory = MemoryLRU(config.memory_cap, bus)
        self.disk = DiskSliceStore(
            Path(config.directory) / "slices", config.slice_size, config.disk_cap, bus, 4 * config.write_backlog
        )
        self.stats = CacheStats()
        self.whole = WholeStreams(bus, config.whole_streams)
        self.routing = RoutingPolicy(upstream, config.stream_gap, whole=self.whole)
        #: Called with a piece and its first bytes as they arrive, until it returns True (``proxy.prefetch``).
        self.head_listener: HeadListener | None = None
        #: Called when a player opens a piece at byte 0 whose first slice is not cached (a first-ever open).
        self.cold_open_listener: Callable[[PieceInfo], None] | None = None
        self._pieces: dict[str, _Piece] = {}
        self.verifier = PieceVerifier(
            store,
            bus,
            config.slice_size,
            self._read_cached,
            self.cached_indexes,
            self._verified,
            quiet_s=config.verify_quiet_s,
        )
        bus.subscribe(self._on_slice_lost)
        self._fetch_slots = asyncio.Semaphore(config.max_fetches)
        #: Set by :meth:`close`: readers still being answered during shutdown must not start new paid fetches.
        self._closing = False

    # --- pieces --------------------------------------------------------------------------------------------

    def _piece(self, cid: PieceCid) -> _Piece:
        key = cid.root.hex()
        piece = self._pieces.get(key)
        if piece is not None and cid.payload_size is not None and piece.size not in (None, cid.payload_size):
            self._correct_size(piece, cid)
        if piece is None:
            record = self.store.get(key)
            size = cid.payload_size if cid.payload_size is not None else (record.size if record else None)
            if size is not None and cid.height is None:
                try:
                    cid = cid.with_payload_size(size)
                except CidError:  # an earlier version stored a size no CID can carry: learn it again
                    size = None
            piece = _Piece(key, cid, size)
            if record is not None:
                piece.content_type = record.content_type if record.content_type in SNIFFED_TYPES else None
                piece.source = record.source
                piece.etags, piece.verified = dict(record.etags), record.verified
            self._pieces[key] = piece
        return piece

    def _correct_size(self, piece: _Piece, cid: PieceCid) -> None:
        """A v2 CID carries the size: an upstream's claim for the v1 spelling that disagrees was a lie.

        Everything learnt under the wrong size goes: fetches, cached slices (their ends were cut at the wrong
        place), and the recorded size.
        """
        log.warning(
            "piece %s: an upstream claimed %s bytes, the CID says %d; dropping what was cached under the wrong size",
            cid,
            piece.size,
            cid.payload_size,
        )
        for fetch in list(piece.fetches):
            if fetch.task is not None:
                fetch.task.cancel()
        self.purge(piece.key)
        piece.size, piece.cid = cid.payload_size, cid
        piece.unserved.clear()
        piece.head_seen = False

    async def describe(self, cid: PieceCid) -> PieceInfo:
        """Size (from the CID, the store, or one upstream answer), type if known, and the piece's key."""
        piece = self._piece(cid)
        if piece.size is None:
            if piece.discovery is None or piece.discovery.done():
                piece.discovery = asyncio.get_running_loop().create_future()
                self._start_fetch(piece, 0, 0, "discover")
            await asyncio.shield(piece.discovery)
            self._settle(piece)
        else:
            # Already known (this run, or the store on a warm re-open): the bookkeeping waits until the caller
            # has sent its first bytes. In a fresh process it cost 6 ms before the first byte: a SQLite write,
            # the verifier's scan of the cached chunks, and reading and sniffing the head.
            asyncio.get_running_loop().call_soon(self._settle, piece)
        return self._info(piece)

    def _settle(self, piece: _Piece) -> None:
        """Record the access (the history and eviction order), follow the piece for verification, and hand a
        cached head to the head listener (the container's layout) if it has not seen it yet."""
        assert piece.size is not None
        self._remember(piece)
        if piece.verified is not True:
            self.verifier.track(PieceToVerify(piece.key, piece.cid, piece.size))
        if not piece.head_seen and self.head_listener is not None and not self._missing(piece, 0):
            head = self._read_cached(piece.key, 0, self._slice_length(piece, 0) - 1)
            if head is not None:
                piece.head_seen = self.head_listener(self._info(piece), memoryview(head))

    def _verified(self, key: str, ok: bool) -> None:
        """The verifier's verdict: remember it; a piece whose bytes do not match its CID is purged."""
        piece = self._pieces.get(key)
        if piece is None:
            return
        piece.verified = ok
        if not ok:
            self.purge(key)
        self._remember(piece)

    def _on_slice_lost(self, event: Event) -> None:
        """A slice of a verified piece left the disk: the piece must be verified again once it is whole."""
        if isinstance(event, (SliceEvicted, SliceRejected)) and getattr(event, "tier", "disk") == "disk":
            piece = self._pieces.get(event.piece)
            if piece is not None and piece.verified is True and piece.size is not None:
                piece.verified = None
                self._remember(piece)
                self.verifier.track(PieceToVerify(piece.key, piece.cid, piece.size))

    def _read_cached(self, key: str, start: int, end: int) -> bytes | None:
        """Bytes ``start … end`` from memory or disk, or None if any slice of them is not cached."""
        piece = self._pieces[key]
        parts = []
        for index in range(start // self.slice_size, end // self.slice_size + 1):
            data = self.memory.get(key, index)
            if data is None:
                data = self.disk.read(key, index, self._slice_length(piece, index))
            if data is None:
                return None
            base = index * self.slice_size
            parts.append(memoryview(data)[max(start - base, 0) : end - base + 1])
        return b"".join(parts)

    def info(self, key: str) -> PieceInfo | None:
        """What is known of a piece already described, or None."""
        piece = self._pieces.get(key)
        return self._info(piece) if piece is not None and piece.size is not None else None

    def _info(self, piece: _Piece) -> PieceInfo:
        assert piece.size is not None
        return PieceInfo(piece.key, piece.cid, piece.size, piece.content_type, piece.source)

    def _remember(self, piece: _Piece) -> None:
        record = PieceRecord(
            key=piece.key,
            cid=str(piece.cid),
            size=piece.size,
            content_type=piece.content_type,
            source=piece.source,
            etags=piece.etags,
            verified=piece.verified,
        )
        self.store.put(record)
        assert piece.size is not None
        self.bus.publish(
            PieceKnown(
                piece=piece.key,
                size=piece.size,
                slice_size=self.slice_size,
                content_type=piece.content_type,
                cached_slices=tuple(sorted(self.cached_indexes(piece.key))),
            )
        )

    def unserved_bytes_by_reason(self) -> dict[str, int]:
        """Bytes fetched ahead (read-ahead, prefetch, streamed past) that no player request has read yet."""
        totals: dict[str, int] = {}
        for piece in self._pieces.values():
            for index, reason in piece.unserved.items():
                totals[reason] = totals.get(reason, 0) + self._slice_length(piece, index)
            for fragment in piece.fragments:
                if not fragment.served:
                    totals[fragment.reason] = totals.get(fragment.reason, 0) + len(fragment.data)
        return totals

    def cached_indexes(self, key: str) -> set[int]:
        return self.disk.indexes(key) | self.memory.indexes(key)

    async def content_type(self, info: PieceInfo, *, fetch_head: bool = True) -> str:
        """The piece's type, sniffed from its first bytes — never an upstream's claim, which anyone can make.

        When the head is neither cached nor on its way and ``fetch_head`` is False (a first request in the middle
        of a piece), the answer is a provisional ``application/octet-stream`` rather than a round trip and a slice
        of egress just to sniff; when the head arrives too slowly, a sniff of what came. Neither is kept: a later
        request sniffs again.
        """
        piece = self._pieces[info.key]
        if piece.content_type is None:
            if not fetch_head and 0 not in piece.inflight and self._missing(piece, 0):
                return OCTET_STREAM
            length = min(info.size, SNIFF_BYTES)
            async with contextlib.aclosing(self.read(info, 0, length - 1)) as chunks:
                sniffed = await sniff_head(chunks, length)
            if not sniffed.final:
                return sniffed.content_type
            piece.content_type = sniffed.content_type
            self._remember(piece)
        return piece.content_type

    # --- reading -------------------------------------------------------------------------------------------

    def open(
        self,
        info: PieceInfo,
        start: int,
        end: int,
        *,
        request_id: int | None = None,
        window: int | None = None,
        reason: str | None = None,
    ) -> SliceReader:
        """A reader of bytes ``start … end``; it starts the fetches it needs right away.

        An open-ended reader (to the piece's end) reads ahead by the piece's window; a closed range wants all of
        its bytes. ``reason`` marks a prefetch: its fetches and the slices they bring are accounted to it.
        """
        piece = self._pieces[info.key]
        end = min(end, info.size - 1)  # a span past the piece (a lying index) reads to its end, never beyond
        open_ended = window is None and end >= info.size - 1
        if window is None:
            window = self._readahead(piece) if open_ended else end - start
        cursor = Cursor(start, end, window, request_id, reason, open_ended)
        piece.cursors.add(cursor)
        if request_id is not None:
            self.verifier.hold()  # a player waits for a frame now: hashing gives way
        cold = start == 0 and reason is None and self._missing(piece, 0)
        self._ensure(piece, cursor)
        if cold and self.cold_open_listener is not None:
            self.cold_open_listener(info)
        return SliceReader(self, piece, cursor)

    def _readahead(self, piece: _Piece) -> int:
        return piece.readahead if piece.readahead is not None else self.config.readahead

    def set_readahead(self, key: str, window: int) -> None:
        """Read-ahead for this piece's open-ended readers, now and later (set from the media's byte rate)."""
        piece = self._pieces[key]
        piece.readahead = window
        for cursor in piece.cursors:
            if cursor.open_ended:
                cursor.window = window

    async def read(self, info: PieceInfo, start: int, end: int, **kwargs) -> AsyncIterator[memoryview]:
        reader = self.open(info, start, end, **kwargs)
        try:
            async for chunk in reader:
                yield chunk
        finally:
            reader.close()

    def _slice_length(self, piece: _Piece, index: int) -> int:
        assert piece.size is not None
        return min(self.slice_size, piece.size - index * self.slice_size)

    def _missing(self, piece: _Piece, index: int) -> bool:
        return (
            index not in piece.inflight
            and not self.memory.has(piece.key, index)
            and not self.disk.has(piece.key, index)
        )

    def _ensure(self, piece: _Piece, cursor: Cursor) -> None:
        """Start a fetch for the first missing run inside the cursor's window, with hysteresis.

        The slice the reader needs now is always fetched at once. Read-ahead waits until half the window is
        used, so runs are several slices long instead of one slice per step.
        """
        if self._closing:
            raise UpstreamError(503, "The proxy is shutting down")
        if piece.reader_asked is not None:
            piece.reader_asked.set()
        size = self.slice_size
        here = cursor.pos // size
        last = cursor.window_end // size
        if self._missing(piece, here) and (stream := self._covering(piece, here)) is not None:
            self._claim(piece, stream, here)  # the reader waits on the stream; if it is too slow, it steals back
        first_missing = next(
            (i for i in range(here, last + 1) if self._missing(piece, i) and self._covering(piece, i) is None), None
        )
        if first_missing is None:
            return
        if first_missing != here and first_missing - here > (last - here) // 2:
            return
        run_end = first_missing
        while run_end < last and run_end - first_missing + 1 < MAX_RUN_SLICES and self._missing(piece, run_end + 1):
            run_end += 1
        reason = cursor.reason or ("read" if first_missing == here else "readahead")
        self._start_fetch(piece, first_missing, run_end, reason)

    def _release(self, piece: _Piece, cursor: Cursor) -> None:
        """A reader left: stop every fetch nobody wants any more (one midway through a slice finishes it)."""
        piece.cursors.discard(cursor)
        for fetch in list(piece.fetches):
            if not (self._wanted(piece, fetch) or self._mid_slice(fetch) or fetch.whole) and fetch.task is not None:
                fetch.task.cancel()  # a whole stream holds itself (``_hold``) and ends when its hold runs out

    def _mid_slice(self, fetch: _Fetch) -> bool:
        """Is the fetch partway through a slice it claimed? Finishing it costs at most one slice of egress and
        keeps bytes already paid for; dropping it would throw them away."""
        buffer = fetch.buffers.get(fetch.pos // self.slice_size)
        return buffer is not None and 0 < buffer.filled < buffer.length

    def _wanted(self, piece: _Piece, fetch: _Fetch) -> bool:
        """Does any reader want the bytes this fetch is about to pull (or is it racing through a gap to them)?

        Wanted means: the fetch has not passed the end of the slice holding the last byte of some reader's
        window (slices are the unit of caching, so a slice a reader touches is finished), and the fetch will
        reach that reader's position.
        """
        size = self.slice_size
        target_end = self._target_end(fetch)
        allowance = self.routing.gap_allowance(piece.key, fetch.source)
        return fetch.pos <= target_end and any(
            fetch.pos < (c.window_end // size + 1) * size
            and target_end >= c.pos
            and (allowance is None or c.pos - fetch.pos <= allowance)
            for c in piece.cursors
        )

    async def _pause_for_disk(self, piece: _Piece, fetch: _Fetch) -> None:
        """Hold a fetch that runs ahead of every reader while the disk writer is behind.

        When upstream delivers faster than the disk writes (a crowd of viewers seeking at once), the slices waiting
        for the writer pile up in memory: 87 MiB of them with 50 viewers here. Pausing read-ahead bounds that; a
        fetch some reader waits on never pauses, and a paused one resumes as soon as a reader reaches it.
        """
        limit = self.config.write_backlog
        while self.disk.backlog > limit and not self._awaited(piece, fetch):
            asked = piece.reader_asked = piece.reader_asked or asyncio.Event()
            waits = {asyncio.ensure_future(self.disk.drained(limit)), asyncio.ensure_future(asked.wait())}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if asked.is_set():
                piece.reader_asked = None

    def _awaited(self, piece: _Piece, fetch: _Fetch) -> bool:
        """Is a reader at (or within a slice behind) the bytes this fetch delivers next? Such a fetch is what a
        player waits for; only fetches running ahead of every reader slow down for the disk."""
        low, high = fetch.pos - self.slice_size, self._target_end(fetch)
        return any(low <= c.pos <= high for c in piece.cursors)

    def _target_end(self, fetch: _Fetch) -> int:
        """The last byte this fetch will deliver: its body's end, or its claimed run before the answer came."""
        end = fetch.body_end if fetch.body_end is not None else (fetch.last + 1) * self.slice_size - 1
        return end if fetch.limit is None else min(end, fetch.limit)

    def _covering(self, piece: _Piece, index: int) -> _Fetch | None:
        """A whole-piece stream already under way that will pass this slice (read-ahead must not ask twice)."""
        start = index * self.slice_size
        for fetch in piece.fetches:
            allowance = self.routing.gap_allowance(piece.key, fetch.source)
            if (
                fetch.body_end is not None
                and fetch.pos <= start <= self._target_end(fetch)
                and (allowance is None or start - fetch.pos <= allowance)
            ):
                return fetch
        return None

    def steal_if_slow(self, piece: _Piece, buffer: SliceBuffer) -> bool:
        """A reader waits for a slice a fetch has not reached: take it back if the fetch is too slow and the
        rules for streams from byte 0 allow it (``proxy.full_stream``)."""
        return take_back_if_slow(self, piece, buffer)

    # --- fragments -----------------------------------------------------------------------------------------

    async def fetch_fragment(self, info: PieceInfo, start: int, end: int, reason: str) -> bool:
        """Fetch bytes ``start … end`` exactly, off the slice grid, and serve players from them as they arrive.

        Why: an MP4's index at the end of a piece sits at the end of a slice of up to 1 MiB, and the player asks
        for it a few milliseconds after the head arrives and then waits. A slice-aligned fetch streams the
        slice's first part (media data) before the index: 10 ms at 100 MB/s, 50 ms on a 20 MB/s home link. The
        exact range starts arriving one first-byte time after it is asked for. The slice itself is still fetched
        (for a later re-open from disk and for verification); a fragment lives in memory only, at most one slice
        long, and is dropped with the piece's cache. Returns whether all bytes arrived; on any doubt (a 200 from
        byte 0, a changed ETag, a short body, an error) the fragment fails and its readers go on from the slices.
        """
        piece = self._pieces[info.key]
        if not self.fragment_needed(info.key, start, end):
            return False
        fragment = Fragment(start, end, reason)
        piece.fragments.append(fragment)
        version = piece.version
        try:
            async with self._exact_range(
                piece, start, end, reason, self.routing.order(piece.key, start, urgent=True)
            ) as body:
                known = piece.etags.get(body.source.name)
                if body.start != start or (known is not None and body.etag is not None and body.etag != known):
                    return False  # a whole-piece answer (nothing gained) or another version (never mixed)
                async with contextlib.aclosing(body.chunks()) as chunks:
                    async for chunk in chunks:  # to its end, so the connection goes back to the pool
                        if piece.version != version:
                            return False
                        at = start + len(fragment.data)
                        if twice := already_brought(self, piece, at, min(end, at + len(chunk) - 1)):
                            self.stats.fetched_twice[piece.key] = self.stats.fetched_twice.get(piece.key, 0) + twice
                        fragment.append(chunk)
            if not fragment.done:
                return False
            by_reason = self.stats.fetched_by_reason
            by_reason[reason] = by_reason.get(reason, 0) + len(fragment.data)
            return True
        except UpstreamError as exc:
            log.info("piece %s: fragment %d-%d not fetched: %s", piece.key[:16], start, end, exc)
            return False
        finally:
            if not fragment.done:
                fragment.fail()
                if fragment in piece.fragments:
                    piece.fragments.remove(fragment)

    def fragment_needed(self, key: str, start: int, end: int) -> bool:
        """Would :meth:`fetch_fragment` fetch anything? Not when the slices holding the range are cached (a warm
        re-open), a fragment already covers it, or it is longer than a slice."""
        piece = self._pieces[key]
        cached = self.cached_indexes(key)
        return (
            end - start + 1 <= self.slice_size
            and not all(i in cached for i in range(start // self.slice_size, end // self.slice_size + 1))
            and not any(f.holds(start) or f.holds(end) for f in piece.fragments)
            and not whole_stream_brings(self, piece, start, end)  # riding it costs nothing; asking pays twice
        )

    @contextlib.asynccontextmanager
    async def _exact_range(
        self, piece: _Piece, start: int, end: int, reason: str, sources: list[Source]
    ) -> AsyncIterator[UpstreamBody]:
        """One upstream answer for bytes ``start … end``, outside the slice machinery; closed on exit."""
        body = await self.upstream.open(
            piece.cid, piece.key, start, end, size=piece.size, fetch_id=next_id(), reason=reason, sources=sources
        )
        try:
            yield body
        finally:
            body.close()

    def _fragment(self, piece: _Piece, pos: int) -> Fragment | None:
        return next((f for f in piece.fragments if f.holds(pos)), None)

    # --- fetching ------------------------------------------------------------------------------------------

    def _start_fetch(self, piece: _Piece, first: int, last: int, reason: str) -> _Fetch:
        fetch = _Fetch(next_id(), first, last, reason, first * self.slice_size)
        if piece.size is not None:
            for index in range(first, last + 1):
                self._claim(piece, fetch, index)
        piece.fetches.add(fetch)
        fetch.task = asyncio.get_running_loop().create_task(self._run_fetch(piece, fetch))
        # A task cancelled before it ever ran skips its own cleanup: release its slices here, or their readers
        # would wait forever (a client that connects and leaves within one loop tick).
        fetch.task.add_done_callback(lambda _: self._end_fetch(piece, fetch, None))
        return fetch

    def _claim(self, piece: _Piece, fetch: _Fetch, index: int) -> SliceBuffer:
        buffer = SliceBuffer(index, self._slice_length(piece, index))
        buffer.owner = fetch
        fetch.buffers[index] = buffer
        piece.inflight[index] = buffer
        return buffer

    async def _run_fetch(self, piece: _Piece, fetch: _Fetch) -> None:
        body: UpstreamBody | None = None
        error: UpstreamError | None = None
        try:
            async with self._fetch_slots:
                if piece.size is not None and not self._wanted(piece, fetch):
                    return
                opened = asyncio.get_running_loop().time()
                body = await self._open(piece, fetch)
                if body is None:
                    return
                fetch.ttfb = asyncio.get_running_loop().time() - opened
                await self._check_version(piece, fetch, body)
                self._learn(piece, fetch, body)
                if fetch.whole:
                    self.whole.started(body.socket())
                async with contextlib.aclosing(body.chunks()) as chunks:
                    async for chunk in chunks:
                        rest = self._deliver(piece, fetch, chunk)
                        if rest is not None and not await hold_at_boundary(self, piece, fetch, body, rest):
                            break
                        if not self._wanted(piece, fetch) and not self._mid_slice(fetch) and not self._holds(fetch):
                            break
                        if self.disk.backlog > self.config.write_backlog:  # rare: no coroutine per chunk otherwise
                            await self._pause_for_disk(piece, fetch)
        except UpstreamError as exc:
            error = exc
            if exc.status == 416 and exc.size is not None and piece.size is None:
                self._set_size(piece, exc.size)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug must not leave readers waiting forever
            log.exception("fetch %d of %s failed unexpectedly", fetch.id, piece.key[:16])
            error = UpstreamError(502, "The proxy failed while fetching this piece", str(exc))
        finally:
            if body is not None:
                body.close()
            self._end_fetch(piece, fetch, error)

    async def _open(self, piece: _Piece, fetch: _Fetch) -> UpstreamBody | None:
        """Open the fetch's range on the best source. None: nothing to read, the piece's running stream from
        byte 0 brings these bytes."""
        start = fetch.first * self.slice_size
        end = (fetch.last + 1) * self.slice_size - 1
        if piece.size is not None:
            end = min(end, piece.size - 1)
        opening = dict(size=piece.size, fetch_id=fetch.id, reason=fetch.reason)
        urgent = fetch.reason == "read"
        body = await self.upstream.open(
            piece.cid, piece.key, start, end, sources=self.routing.order(piece.key, start, urgent=urgent), **opening
        )
        self.whole.answered(piece.key, body.source.name, body.status, start)
        if body.status == 200:
            return await whole_answer(self, piece, fetch, body, start, end, opening)
        return body

    def _holds(self, fetch: _Fetch) -> bool:
        """Is this a whole stream, held rather than closed when nobody wants its bytes (``proxy.full_stream``)?
        Even one a reader took slices back from: if that reader's own request gets a 200 too, it rejoins it."""
        return fetch.whole

    async def _check_version(self, piece: _Piece, fetch: _Fetch, body: UpstreamBody) -> None:
        """A source's ETag for a piece changed: compare one cached slice with what it serves now.

        Pieces are content-addressed, so a new ETag with the same bytes is cosmetic (accepted). Different bytes
        mean one of the two versions is wrong, and nothing can tell which before the whole piece is hashed;
        the only safe move is to never mix them: the old version is dropped from the cache, responses that
        already sent old bytes are cut, and this fetch fails so its readers see a clean error.
        """
        known = piece.etags.get(body.source.name)
        if known is None or body.etag is None or body.etag == known:
            return
        cached = sorted(self.cached_indexes(piece.key) - set(fetch.buffers))
        if not cached:
            return
        index = cached[0]
        start = index * self.slice_size
        end = start + self._slice_length(piece, index) - 1
        ours = self._read_cached(piece.key, start, end)
        theirs = await self._probe(piece, body.source, start, end)
        if ours is None or theirs == ours:
            log.info("piece %s: %s changed its ETag but not its bytes", piece.key[:16], body.source.name)
            return
        body.close()
        self._new_version(piece, body.source.name, body.etag)
        raise UpstreamError(
            502,
            f"{body.source.name} now serves different bytes for this piece than before; the cached copy was "
            "dropped and no answer mixes the two versions (play again to get the new bytes)",
            f"ETag {known} became {body.etag}; slice {index} differs",
            source=body.source.name,
        )

    async def _probe(self, piece: _Piece, source: Source, start: int, end: int) -> bytes:
        """Bytes ``start … end`` straight from one source, bypassing the cache (a 200 from zero is skipped)."""
        data = bytearray()
        async with (
            self._exact_range(piece, start, end, "probe: ETag changed", [source]) as body,
            contextlib.aclosing(body.chunks()) as chunks,
        ):
            async for chunk in chunks:
                data += chunk
                if body.start + len(data) > end:
                    break
        return bytes(data[start - body.start : end - body.start + 1])

    def _new_version(self, piece: _Piece, source: str, etag: str) -> None:
        piece.version += 1
        piece.etags[source] = etag
        for fetch in list(piece.fetches):
            if fetch.task is not None and fetch.task is not asyncio.current_task():
                fetch.task.cancel()
        self.purge(piece.key)
        piece.unserved.clear()
        piece.verified = None
        self._remember(piece)

    def _learn(self, piece: _Piece, fetch: _Fetch, body: UpstreamBody) -> None:
        if piece.size is None:
            self._set_size(piece, body.size)
            for index in range(fetch.first, min(fetch.last, (body.size - 1) // self.slice_size) + 1):
                if self._missing(piece, index):
                    self._claim(piece, fetch, index)
        fetch.pos = body.start
        fetch.body_end = body.end
        fetch.whole = body.status == 200
        fetch.source = body.source
        piece.source = body.source.name
        if body.etag and piece.etags.get(body.source.name) != body.etag:
            piece.etags[body.source.name] = body.etag

    def _set_size(self, piece: _Piece, size: int) -> None:
        # The CID first: a size it cannot carry raises before the piece looks sized, so the fetch's end fails
        # the discovery and no describer waits forever.
        piece.cid = piece.cid.with_payload_size(size) if piece.cid.height is None else piece.cid
        piece.size = size
        if piece.discovery is not None and not piece.discovery.done():
            piece.discovery.set_result(None)

    def _deliver(self, piece: _Piece, fetch: _Fetch, chunk: bytes) -> bytes | None:
        """Route a contiguous chunk into the slices it covers; keep complete slices that were missing.

        A whole stream that reaches a slice boundary nobody wants yet stops there: the bytes from the boundary on
        are returned, to be delivered once it is wanted again (``_hold``), so no slice is passed half-kept."""
        view = memoryview(chunk)
        size = self.slice_size
        if fetch.first_byte_at is None:
            fetch.first_byte_at = asyncio.get_running_loop().time()
        fetch.received += len(chunk)
        while view:
            index, offset = divmod(fetch.pos, size)
            if offset == 0 and self._holds(fetch) and not self._wanted(piece, fetch):
                fetch.received -= len(view)
                return bytes(view)
            length = self._slice_length(piece, index)
            take = min(len(view), length - offset)
            buffer = fetch.buffers.get(index)
            if (
                buffer is None
                and offset == 0
                and (fetch.limit is None or fetch.pos <= fetch.limit)
                and self._missing(piece, index)
                and self._wanted(piece, fetch)
            ):
                buffer = self._claim(piece, fetch, index)
            elif buffer is None and not self._missing(piece, index):  # cached already, or another fetch brings it
                self.stats.fetched_twice[piece.key] = self.stats.fetched_twice.get(piece.key, 0) + take
            if buffer is not None:
                if buffer.data is None:
                    self.memory.reserve(buffer.length)
                buffer.append(view[:take])
                if index == 0 and not piece.head_seen and self.head_listener is not None:
                    assert buffer.data is not None
                    head = memoryview(buffer.data)[: buffer.filled]
                    piece.head_seen = self.head_listener(self._info(piece), head)
                if buffer.complete:
                    self._complete(piece, fetch, buffer)
            fetch.pos += take
            view = view[take:]
        return None

    def _complete(self, piece: _Piece, fetch: _Fetch, buffer: SliceBuffer) -> None:
        del fetch.buffers[buffer.index]
        if piece.inflight.get(buffer.index) is buffer:
            del piece.inflight[buffer.index]
        assert buffer.data is not None
        by_reason = self.stats.fetched_by_reason
        by_reason[fetch.reason] = by_reason.get(fetch.reason, 0) + buffer.length
        self.bus.publish(UpstreamProgress(fetch_id=fetch.id, piece=piece.key, bytes_received=fetch.received))
        if not buffer.served:
            piece.unserved[buffer.index] = fetch.reason
        self.memory.release(buffer.length)
        self.memory.put(piece.key, buffer.index, buffer.data)
        self.bus.publish(SliceStored(piece=piece.key, index=buffer.index, tier="memory"))
        self.disk.write(piece.key, buffer.index, buffer.data)

    def _end_fetch(self, piece: _Piece, fetch: _Fetch, error: UpstreamError | None) -> None:
        """Release what the fetch still claims (idempotent: the task's finally and its done-callback both call)."""
        for buffer in fetch.buffers.values():
            if piece.inflight.get(buffer.index) is buffer:
                del piece.inflight[buffer.index]
            if buffer.data is not None:
                self.memory.release(buffer.length)
            buffer.end(error)
        fetch.buffers.clear()
        piece.fetches.discard(fetch)
        if piece.size is None and piece.discovery is not None and not piece.discovery.done():
            piece.discovery.set_exception(error or UpstreamError(502, "The piece's size could not be learnt"))
            piece.discovery.exception()  # retrieved here; awaiting describers re-raise it

    # --- maintenance ---------------------------------------------------------------------------------------

    def purge(self, key: str) -> None:
        self.memory.discard_piece(key)
        self.disk.purge_piece(key)
        piece = self._pieces.get(key)
        if piece is not None:
            piece.fragments.clear()

    def clear(self) -> None:
        """Forget every cached byte (the settings' "clear cache"); pieces being read refetch what they need."""
        self.memory.clear()
        self.disk.clear()
        for piece in self._pieces.values():
            piece.unserved.clear()
        self.bus.publish(CacheCleared())

    async def close(self) -> None:
        self._closing = True
        self.verifier.close()
        tasks = [f.task for p in self._pieces.values() for f in p.fetches if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.disk.close()


class SliceReader:
    """Async iterator over one byte range, from cache or from the fetch filling it. Close it when done."""

    def __init__(self, cache: SliceCache, piece: _Piece, cursor: Cursor) -> None:
        self._cache = cache
        self._piece = piece
        self.cursor = cursor
        self.from_cache = 0
        self.from_upstream = 0
        self._closed = False
        #: The piece version this reader started on; its bytes must all come from one version.
        self._version = piece.version
        self._start = cursor.pos
        #: The slice whose read was last published (a slice is announced once, not once per block).
        self._announced: int | None = None
        #: The slice in which progress was last published.
        self._progressed: int | None = None

    def __aiter__(self) -> AsyncIterator[memoryview]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[memoryview]:
        cache, piece, cursor = self._cache, self._piece, self.cursor
        size = cache.slice_size
        while cursor.pos <= min(cursor.end, piece.size - 1 if piece.size is not None else cursor.end):
            self._same_version()
            cache._ensure(piece, cursor)
            index, offset = divmod(cursor.pos, size)
            stop = min(cache._slice_length(piece, index), cursor.end - index * size + 1)
            if cursor.request_id is not None and index != self._progressed:
                # once per slice, as documented: once per block was 8× the events, and every event costs the GUI
                # thread a wake-up and the GIL while the player is waiting for its first frame
                self._progressed = index
                cache.bus.publish(RequestProgress(request_id=cursor.request_id, piece=piece.key, position=cursor.pos))
            block = self._cached(index, offset, min(stop, offset + READ_BLOCK))
            if block is not None:
                cursor.pos += len(block)
                self.from_cache += len(block)
                cache.stats.bytes_from_cache += len(block)
                yield block
                continue
            # Fragments answer players; a prefetch reads on into the slices, which it is there to fill.
            fragment = cache._fragment(piece, cursor.pos) if cursor.reason is None else None
            if fragment is not None:
                have = fragment.start + len(fragment.data) - 1
                if have < cursor.pos:
                    await fragment.grown()  # if it fails, the next turn reads the slice from here on
                    continue
                last = min(have, index * size + stop - 1)
                chunk = memoryview(bytes(fragment.data[cursor.pos - fragment.start : last - fragment.start + 1]))
                cursor.pos += len(chunk)
                self.from_upstream += len(chunk)
                fragment.served = True
                self._publish_read(index, "fragment")
                yield chunk
                continue
            buffer = piece.inflight.get(index)
            if buffer is None:
                await asyncio.sleep(0)  # never spin without letting the fetches run
                continue
            self._publish_read(index, "inflight" if buffer.filled > 0 else "upstream")
            buffer.served = buffer.served or cursor.request_id is not None
            stream = self._stream(buffer, offset, stop)
            del buffer  # only the stream holds the buffer, and lets go of it as soon as the slice is kept
            at = cursor.pos
            async for chunk in stream:
                yield chunk
            if cursor.pos == at:
                await asyncio.sleep(0)  # a turn that moved nothing lets the loop run before looking again

    def _same_version(self) -> None:
        """Cut a reader off when the piece changed under it after it sent bytes (never mix two versions)."""
        if self._piece.version == self._version:
            return
        if self.cursor.pos == self._start:
            self._version = self._piece.version
            return
        raise UpstreamError(
            502,
            "The upstream changed this piece while it was being served; the answer was cut off so that it never "
            "mixes two versions",
        )

    def _cached(self, index: int, start: int, stop: int) -> memoryview | None:
        """A copy of bytes ``start … stop-1`` of a cached slice (memory, else disk), or None if it is not cached.

        A copy, because a player that reads slowly keeps what it was given alive while its socket drains: a view
        into a slice would keep the whole slice in memory after the memory tier evicted it, one per viewer.
        Disk slices are read a block at a time and do not enter the memory tier: the page cache holds them
        already, and the memory tier is kept for slices that exist nowhere else yet.
        """
        cache, piece = self._cache, self._piece
        slice_bytes = cache.memory.get(piece.key, index)
        if slice_bytes is not None:
            block, tier = bytes(memoryview(slice_bytes)[start:stop]), "memory"
        else:
            length = cache._slice_length(piece, index)
            block, tier = cache.disk.read_range(piece.key, index, length, start, stop), "disk"
            if block is None:
                return None
        if index != self._announced:
            cache.stats.hits += 1
            self._publish_read(index, tier)
        return memoryview(block)

    def _publish_read(self, index: int, tier: str) -> None:
        self._announced = index
        if self.cursor.request_id is not None:
            self._piece.unserved.pop(index, None)
        if tier in ("upstream", "inflight"):
            self._cache.stats.misses += 1
        self._cache.bus.publish(
            SliceRead(piece=self._piece.key, index=index, tier=tier, request_id=self.cursor.request_id)
        )

    async def _stream(self, buffer: SliceBuffer, offset: int, stop: int) -> AsyncIterator[memoryview]:
        """Bytes of a slice being filled, as they land. Once the slice is complete and kept, the reader goes back
        to reading it from the cache block by block: a player reading slowly must not hold a whole slice the
        memory tier has since evicted (one per viewer, measured as the largest share of RSS beyond the cap)."""
        cursor, cache, key = self.cursor, self._cache, self._piece.key
        while offset < stop:
            if buffer.complete and (cache.memory.has(key, buffer.index) or cache.disk.has(key, buffer.index)):
                return
            if buffer.filled > offset:
                assert buffer.data is not None  # a copy, for the reason given in _cached
                chunk = memoryview(
                    bytes(memoryview(buffer.data)[offset : min(buffer.filled, stop, offset + READ_BLOCK)])
                )
                offset += len(chunk)
                cursor.pos += len(chunk)
                self.from_upstream += len(chunk)
                self._cache.stats.bytes_from_upstream += len(chunk)
                yield chunk
            elif buffer.ended:
                if buffer.error is not None:
                    raise buffer.error
                return  # abandoned without error: the caller looks again and refetches if still needed
            else:
                try:
                    async with asyncio.timeout(STEAL_CHECK_SECONDS):
                        await buffer.wait()
                except TimeoutError:
                    self._cache.steal_if_slow(self._piece, buffer)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cache._release(self._piece, self.cursor)
