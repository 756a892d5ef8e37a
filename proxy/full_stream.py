"""A stream that answers only from byte 0: ride it, hold it, and never pay for its bytes twice.

Why (``shared/research/filbeam.md`` §2 and §8): FilBeam answers a range on an edge-cache miss with the whole piece
from byte 0, and bills every byte it streams. A piece above Cloudflare's object cap (512 MB on most plans) is a
miss on every request; with two providers per piece, a piece can miss again until both edge entries are filled.
So every new request for such a piece may be a new paid stream from byte 0. A proxy that asks again whenever a
stream looks slow pays for the same bytes over and over and answers nobody: measured before these rules, one
request for bytes 48-49 MiB of a 128 MiB piece at 20 MB/s sent 198 requests and pulled 556 MiB in 40 s without
an answer. The rules here keep it to one paid stream per piece:

* **Ride.** A reader whose bytes lie ahead of a running whole stream waits for it and is told in words how long
  (:class:`~proxy.events.WholeStreamWait`). A slice is taken back from the stream only when another source can
  answer the range, or when this source's last answer for the piece was a true 206 (its edge holds the piece now),
  or once per piece as a probe while that is unknown. A reader whose own request is answered from byte 0 again
  rejoins the running stream, which is kept (held) for exactly that.
* **Hold.** A whole stream no reader needs right now is held — not read, so the kernel's buffers stop it and
  nothing more is paid — rather than closed: while any reader has the piece open (a viewer who paused), and for
  ``linger_s`` after the last one left (a seek forward usually follows a seek), because restarting it would cost
  every byte before its position again.
* **Stop.** Restarts from byte 0 are counted per piece; past ``max_restarts`` in ``restart_window_s`` the proxy
  refuses to pay for another and says so (:class:`~proxy.events.PaidRestartsStopped`), whatever the rules above
  miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxy.events import EventBus, PaidRestartsStopped, UpstreamRetry, WholeStreamWait
from proxy.units import MiB
from proxy.upstream_body import UpstreamBody
from proxy.upstream_errors import UpstreamError

if TYPE_CHECKING:
    from proxy.cache import FetchRun, PieceState, SliceBuffer, SliceCache

log = logging.getLogger(__name__)

#: A reader takes its slice back from a fetch that would need longer than this to reach it (or twice that fetch's
#: first-byte time), when the rules allow a take-back at all.
STEAL_AFTER_SECONDS = 0.5
#: How often a held stream looks again whether a reader wants it (a reader's request also wakes it at once).
HOLD_POLL_SECONDS = 0.25
#: Receive buffer of a whole stream's connection (see :meth:`WholeStreams.started`).
WHOLE_STREAM_RECEIVE_BUFFER = 2 * MiB
#: Receive buffer of a held stream's connection, so the kernel stops accepting bytes nobody reads.
HELD_RECEIVE_BUFFER = 64 * 1024


@dataclass(frozen=True)
class WholeStreamRules:
    """How long a whole stream is held, and how many paid restarts from byte 0 a piece may cost."""

    #: Seconds a whole stream is held after its last reader left.
    linger_s: float = 5.0
    #: Seconds a whole stream is held while readers have the piece open but none needs its bytes (paused).
    hold_s: float = 120.0
    #: Paid restarts from byte 0 allowed per piece within ``restart_window_s``.
    max_restarts: int = 4
    restart_window_s: float = 600.0


@dataclass
class _Learnt:
    """What the proxy learnt about one piece's sources."""

    #: Status of each source's last answer to a fetch that did not start at byte 0.
    last_status: dict[str, int] = field(default_factory=dict)
    #: Sources that answered this piece with a true 206 at least once.
    partial: set[str] = field(default_factory=set)
    #: Whole answers (200 from byte 0) each source gave, read or not.
    whole_answers: dict[str, int] = field(default_factory=dict)
    #: Whole answers the proxy read (paid streams), per source.
    whole: dict[str, int] = field(default_factory=dict)
    #: When each paid restart from byte 0 happened (monotonic seconds).
    restarts: deque[float] = field(default_factory=deque)
    #: Sources a reader already took a slice back from once without knowing they answer ranges (one probe).
    probed: set[str] = field(default_factory=set)
    #: (fetch, slice) pairs a waiting reader was already told about.
    told: set[tuple[int, int]] = field(default_factory=set)
    stopped: bool = False


class WholeStreams:
    """Per piece: how its sources answer, the paid restarts it cost, and the words for a reader who waits."""

    def __init__(
        self, bus: EventBus, rules: WholeStreamRules | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.bus = bus
        self.rules = rules or WholeStreamRules()
        self._clock = clock
        self._pieces: dict[str, _Learnt] = {}

    def _learnt(self, key: str) -> _Learnt:
        return self._pieces.setdefault(key, _Learnt())

    def answered(self, key: str, source: str, status: int, start: int) -> None:
        """A source answered a fetch of this piece starting at ``start`` with ``status`` (200 or 206)."""
        learnt = self._learnt(key)
        if status == 206:
            learnt.partial.add(source)
        elif status == 200:
            learnt.whole_answers[source] = learnt.whole_answers.get(source, 0) + 1
        if start > 0:
            learnt.last_status[source] = status

    def may_take_back(self, key: str, source: str) -> bool:
        """May a reader ask this source for its range instead of waiting for the source's stream from byte 0?

        Yes when its last answer for the piece was a true 206 (its edge holds the piece). Yes once when nothing
        is known yet — a CDN usually fills its edge on a miss, so the next answer is a 206 one round trip away;
        if it is a 200 again, the reader rejoins the running stream (``whole_answer``) having paid only the
        bytes in flight when that answer is closed, and the source's last answer is now a 200: no more probes.
        """
        learnt = self._learnt(key)
        last = learnt.last_status.get(source)
        if last == 206:
            return True
        if last is None and source not in learnt.probed:
            learnt.probed.add(source)
            return True
        return False

    def keeps_answering_whole(self, key: str, source: str) -> bool:
        """Has this source answered this piece from byte 0 again and again, never with a 206 (above the CDN's
        object cap, or providers picked at random)? One miss is not enough: the edge usually fills after it."""
        learnt = self._learnt(key)
        return learnt.whole_answers.get(source, 0) >= 2 and source not in learnt.partial

    def admit(self, key: str, source: str) -> str | None:
        """The proxy is about to read a whole answer from ``source``: count it. Every whole answer after the
        piece's first is a paid restart from byte 0; past the limit, returns why it must not be read."""
        learnt = self._learnt(key)
        if sum(learnt.whole.values()) > 0:
            now = self._clock()
            while learnt.restarts and now - learnt.restarts[0] > self.rules.restart_window_s:
                learnt.restarts.popleft()
            if len(learnt.restarts) >= self.rules.max_restarts:
                return self._stop(key, source, learnt)
            learnt.restarts.append(now)
        learnt.whole[source] = learnt.whole.get(source, 0) + 1
        return None

    def _stop(self, key: str, source: str, learnt: _Learnt) -> str:
        restarts = len(learnt.restarts)
        minutes = self.rules.restart_window_s / 60
        message = (
            f"{source} sent this piece from byte 0 again {restarts} times in {minutes:.0f} min (a CDN cache miss "
            "every time); the proxy stopped paying for more restarts. Add a storage provider, or play on from "
            "what is cached"
        )
        if not learnt.stopped:
            learnt.stopped = True
            log.warning("piece %s: %s", key[:16], message)
            self.bus.publish(PaidRestartsStopped(piece=key, source=source, restarts=restarts, message=message))
        return message

    def tell_wait(self, key: str, fetch_id: int, source: str, index: int, stream_at: int, target: int, rate: float):
        """Tell (once per stream and slice) that a reader waits for a whole stream, and for how long."""
        learnt = self._learnt(key)
        if (fetch_id, index) in learnt.told:
            return
        learnt.told.add((fetch_id, index))
        eta = (target - stream_at) / rate
        message = (
            f"{source} answers this piece only from byte 0 (a CDN cache miss); its stream is at "
            f"{stream_at / MiB:.1f} MiB and needs about {eta:.1f} s to reach {target / MiB:.1f} MiB. Waiting for "
            "it rather than paying for another stream from byte 0"
        )
        log.info("piece %s: %s", key[:16], message)
        self.bus.publish(
            WholeStreamWait(
                piece=key, fetch_id=fetch_id, source=source, stream_at=stream_at, target=target, eta_s=eta,
                message=message,
            )
        )  # fmt: skip

    def started(self, sock: socket.socket | None) -> None:
        """A whole stream starts: cap its connection's receive buffer. Autotuned, the kernel's window grows to
        tens of MiB, and that much is in flight — paid — past the byte where the stream is held; capped, a
        held stream costs at most this plus the sender's own buffer. 2 MiB still carries 40 MB/s at 50 ms."""
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, WHOLE_STREAM_RECEIVE_BUFFER)

    async def hold(
        self,
        wanted: Callable[[], bool],
        readers: Callable[[], bool],
        asked: Callable[[], asyncio.Event],
        sock: socket.socket | None = None,
    ) -> bool:
        """Hold a whole stream (not reading it) until a reader wants its bytes again: True. False when the hold
        ran out — ``linger_s`` without readers, or ``hold_s`` with readers none of whom wants more.

        While held, the connection's receive buffer is shrunk: the kernel would otherwise keep accepting, and the
        CDN keep billing, up to its autotuned buffer (32 MiB here) of bytes nobody asked for; with it, a held
        stream costs at most the sender's own buffer past the byte it was held at."""
        with _small_receive_buffer(sock):
            return await self._hold(wanted, readers, asked)

    async def _hold(
        self, wanted: Callable[[], bool], readers: Callable[[], bool], asked: Callable[[], asyncio.Event]
    ) -> bool:
        loop = asyncio.get_running_loop()
        since = loop.time()
        alone_since: float | None = None
        while not wanted():
            now = loop.time()
            if readers():
                alone_since = None
                if now - since >= self.rules.hold_s:
                    return False
            else:
                alone_since = now if alone_since is None else alone_since
                if now - alone_since >= self.rules.linger_s:
                    return False
            event = asked()
            # asyncio.wait rather than asyncio.timeout: no cancellation of the stream's own task is ever involved
            waiter = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({waiter}, timeout=HOLD_POLL_SECONDS)
            finally:
                waiter.cancel()
            event.clear()
        return True


@contextlib.contextmanager
def _small_receive_buffer(sock: socket.socket | None) -> Iterator[None]:
    if sock is None:
        yield
        return
    try:
        before = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, HELD_RECEIVE_BUFFER)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, max(before // 2, HELD_RECEIVE_BUFFER)
            )  # Linux doubles it


def take_back_if_slow(cache: SliceCache, piece: PieceState, buffer: SliceBuffer) -> bool:
    """A reader waits for a slice a fetch has not reached: take the slice back if the fetch is too slow.

    This happens when a whole answer streams from byte 0 and the player seeks ahead of it. The slice and those
    after it are released from the slow fetch (which stops short of them) and the reader's next look starts a
    fetch of its own — but from a stream that answers only from byte 0, only when another source can answer the
    range or this source's last answer was a true 206: otherwise the new fetch would be one more paid stream
    from byte 0, as slow as this one, and the reader waits (told how long) instead.
    """
    owner = buffer.owner
    if owner is None or buffer.filled or buffer.ended:
        return False
    now = asyncio.get_running_loop().time()
    rate = owner.rate(now)
    start = buffer.index * cache.slice_size
    if rate is None or owner.pos >= start:
        return False
    eta = (start - owner.pos) / rate
    if eta <= max(STEAL_AFTER_SECONDS, 2 * owner.ttfb):
        return False
    if owner.whole and owner.source is not None:
        others = cache.routing.true_range_sources(piece.key, exclude=owner.source)
        if not others and not cache.whole.may_take_back(piece.key, owner.source.name):
            cache.whole.tell_wait(piece.key, owner.id, owner.source.name, buffer.index, owner.pos, start, rate)
            return False
    owner.limit = start - 1
    for index in [i for i in owner.buffers if i >= buffer.index]:
        taken = owner.buffers.pop(index)
        if taken.filled:
            owner.buffers[index] = taken
            continue
        if piece.inflight.get(index) is taken:
            del piece.inflight[index]
        taken.end()
    log.info("piece %s: fetch %d would need %.1f s to reach slice %d; asking again", piece.key[:16], owner.id,
             eta, buffer.index)  # fmt: skip
    return True


async def whole_answer(
    cache: SliceCache, piece: PieceState, fetch: FetchRun, body: UpstreamBody, start: int, end: int, opening: dict
) -> UpstreamBody | None:
    """A source answered with the whole piece from byte 0: read it, rejoin the stream already running, or
    ask a true-range source — never pay for a second stream when one is on its way (``proxy.full_stream``)."""
    alternatives = cache.routing.true_range_sources(piece.key, exclude=body.source)
    running = next((f for f in piece.fetches if f is not fetch and f.whole and f.pos <= start), None)
    if running is not None and not alternatives:
        running.limit = None  # the stream a reader took a slice back from brings it after all
        body.close()
        log.info("piece %s: %s answered from byte 0 again; fetch %d rides fetch %d", piece.key[:16],
                 body.source.name, fetch.id, running.id)  # fmt: skip
        return None
    gap_cached = any(not cache.slice_missing(piece, i) for i in range(fetch.first))
    refusal = None
    if cache.routing.accept_full_body(piece.key, body.source, start, gap_cached=gap_cached):
        refusal = cache.whole.admit(piece.key, body.source.name)
        if refusal is None:
            return body
    body.close()
    if not alternatives:
        raise UpstreamError(502, refusal or "no source answers this range", source=body.source.name)
    why = refusal or (
        f"{body.source.name} answered with the whole piece from byte 0 (a CDN cache miss); "
        f"asking {alternatives[0].name} for the range instead of paying to stream {start} bytes"
    )
    cache.bus.publish(
        UpstreamRetry(
            fetch_id=fetch.id, piece=piece.key, source=body.source.name, resume_from=start, delay=0.0, error=why
        )
    )
    return await cache.upstream.open(piece.cid, piece.key, start, end, sources=alternatives, **opening)


async def hold_at_boundary(
    cache: SliceCache, piece: PieceState, fetch: FetchRun, body: UpstreamBody, rest: bytes
) -> bool:
    """Hold a whole stream at the slice boundary nobody wants yet, and deliver ``rest`` (the chunk's bytes from
    the boundary on) once a reader wants them; False when the hold ran out and the stream is to be closed."""

    def asked() -> asyncio.Event:
        piece.reader_asked = piece.reader_asked or asyncio.Event()
        return piece.reader_asked

    def wanted() -> bool:
        return cache.fetch_wanted(piece, fetch)

    left: bytes | None = rest
    while left is not None:
        if not await cache.whole.hold(wanted, lambda: bool(piece.cursors), asked, body.socket()):
            return False
        left = cache.deliver(piece, fetch, left)
    return True
