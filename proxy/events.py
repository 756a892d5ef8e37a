"""What the proxy is doing, as plain frozen dataclasses on a tiny synchronous bus. No Qt.

Why a bus and not callbacks into the GUI: the proxy must stay usable on its own (``python -m proxy``, tests,
benchmarks). The GUI adapts the bus into queued Qt signals in ``player/bridge.py``; tests subscribe a list.

Events are published on the proxy's loop thread. Subscribers must be quick and must not block; an exception
in a subscriber is logged and never reaches the proxy — which is why the bus only feeds observers (panel, logs,
stats): a call that changes what the proxy does goes through an explicit hook (``proxy.cache.hooks.CacheHooks``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
_ids = itertools.count(1)


def next_id() -> int:
    """A process-wide id for a request or an upstream fetch, so events about one thing can be joined."""
    return next(_ids)


@dataclass(frozen=True, kw_only=True)
class Event:
    #: Wall-clock time (seconds since the epoch) when the event happened; HAR export needs wall time.
    at: float = field(default_factory=time.time)


# --- player → proxy requests ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RequestStarted(Event):
    request_id: int
    method: str
    path: str
    piece: str
    range_header: str | None
    client: str


@dataclass(frozen=True, kw_only=True)
class RequestHeaders(Event):
    """The proxy decided its answer and sent the headers; ``ranges`` are the byte ranges it will send."""

    request_id: int
    piece: str
    status: int
    ranges: tuple[tuple[int, int], ...]
    size: int
    content_type: str


@dataclass(frozen=True, kw_only=True)
class RequestProgress(Event):
    """A response body reached ``position`` (published when it crosses a slice boundary)."""

    request_id: int
    piece: str
    position: int


@dataclass(frozen=True, kw_only=True)
class RequestFinished(Event):
    request_id: int
    piece: str
    status: int
    bytes_sent: int
    #: Seconds from the request's arrival to its first body byte (or to the headers, for a body-less answer).
    ttfb: float | None
    duration: float
    #: Bytes of the body that came from the slice cache, and bytes that had to wait for an upstream fetch.
    bytes_from_cache: int = 0
    bytes_from_upstream: int = 0
    #: Why the response ended early ("client disconnected", an upstream error), or None if it completed.
    error: str | None = None


# --- slices ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PieceKnown(Event):
    """Size and type of a piece became known (from the CID, the metadata store, or an upstream answer)."""

    piece: str
    size: int
    slice_size: int
    content_type: str | None
    cached_slices: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SliceRead(Event):
    """A reader needed a slice; ``tier`` says where it came from: memory, disk, inflight, upstream, or fragment
    (an exact range fetched off the slice grid)."""

    piece: str
    index: int
    tier: str
    request_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class SliceStored(Event):
    piece: str
    index: int
    tier: str  # "memory" or "disk"


@dataclass(frozen=True, kw_only=True)
class SliceEvicted(Event):
    piece: str
    index: int
    tier: str


@dataclass(frozen=True, kw_only=True)
class SliceRejected(Event):
    """A slice on disk failed its length or checksum check and was deleted instead of served."""

    piece: str
    index: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class CacheCleared(Event):
    """Every cached slice was dropped (the settings' "clear cache")."""


@dataclass(frozen=True, kw_only=True)
class CacheProblem(Event):
    """The disk cache could not do its job (full, read-only…); the proxy keeps serving from memory."""

    message: str


# --- proxy → upstream fetches ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UpstreamStarted(Event):
    fetch_id: int
    piece: str
    source: str
    url: str
    start: int
    end: int
    #: Why these bytes are fetched: "read" (a reader needs them now), "readahead", or a prefetch reason.
    reason: str
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class UpstreamResponse(Event):
    """Upstream answered: status and where its body really starts (0 for a FilBeam 200 to a range)."""

    fetch_id: int
    piece: str
    source: str
    status: int
    body_start: int
    body_end: int
    ttfb: float


@dataclass(frozen=True, kw_only=True)
class UpstreamProgress(Event):
    """A fetch completed another slice; ``bytes_received`` is its running total (at most one event per slice)."""

    fetch_id: int
    piece: str
    bytes_received: int


@dataclass(frozen=True, kw_only=True)
class UpstreamFinished(Event):
    fetch_id: int
    piece: str
    source: str
    bytes_received: int
    duration: float
    #: "complete", "cancelled" (nobody wanted the rest), or "failed".
    outcome: str
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpstreamRetry(Event):
    """An attempt failed and another follows (same source after a backoff, or the next source)."""

    fetch_id: int
    piece: str
    source: str
    error: str
    resume_from: int
    delay: float


@dataclass(frozen=True, kw_only=True)
class SourceRefused(Event):
    """A source refused a piece (402 payment, 404 not indexed yet, …) and is not asked for it for a while."""

    piece: str
    source: str
    reason: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class WholeStreamWait(Event):
    """A reader waits for a stream that answers only from byte 0 to reach its bytes; ``message`` says how long."""

    piece: str
    fetch_id: int
    source: str
    stream_at: int
    target: int
    eta_s: float
    message: str


@dataclass(frozen=True, kw_only=True)
class PaidRestartsStopped(Event):
    """A source restarted this piece from byte 0 too often; the proxy stopped paying for more restarts."""

    piece: str
    source: str
    restarts: int
    message: str


@dataclass(frozen=True, kw_only=True)
class PieceVerified(Event):
    """The fully cached piece was hashed against its CommP root: ``ok`` or purged for refetching."""

    piece: str
    ok: bool
    seconds: float
    bytes_hashed: int


# --- what the proxy learnt from the container --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MediaLayoutKnown(Event):
    """The container's shape from the piece's head: kind, where its index is, what will be read out of order."""

    piece: str
    kind: str
    reason: str
    index_range: tuple[int, int] | None  # inclusive
    prefetch: tuple[tuple[int, int, str], ...]  # (start, end inclusive, what)
    duration_s: float | None


@dataclass(frozen=True, kw_only=True)
class MediaTrack:
    """One track's units in decode order, as plain numbers: the same position in each tuple is the same unit.

    ``start``/``duration`` are presentation time in seconds, ``offset``/``size`` bytes in the piece, ``key`` marks
    units a decoder can start at (sync samples, cue points, subsegments starting with a SAP).
    """

    kind: str
    start: tuple[float, ...] = field(repr=False)
    duration: tuple[float, ...] = field(repr=False)
    offset: tuple[int, ...] = field(repr=False)
    size: tuple[int, ...] = field(repr=False)
    key: tuple[bool, ...] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class MediaIndexed(Event):
    """The piece's byte ↔ time map is built, as plain numbers (never the proxy's map object itself).

    ``keyframes`` are ``(time_s, byte_offset)`` of the main track in time order; ``tracks`` hold the units that
    decide what is playable, the main track (video, else audio) first. ``proxy.media.playable`` answers questions
    over them (which moments the cached bytes play, the byte a seek reads first) with the proxy's own code.
    """

    piece: str
    duration_s: float
    byte_rate: float
    keyframes: tuple[tuple[float, int], ...]
    readahead: int
    tracks: tuple[MediaTrack, ...] = field(repr=False)
    #: The piece holds less than its index promises: its media stops at this time (seconds), else None.
    ends_early_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class Prefetch(Event):
    """The proxy decided to fetch bytes nobody asked for yet, and why (``moov`` after ``mdat``, Cues, hover…)."""

    piece: str
    start: int
    end: int
    reason: str


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe. ``subscribe`` returns the function that unsubscribes."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not subscriber]

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
