"""One checked upstream body: bytes in order, resumed across breaks, never a silent gap.

Why its own module: the failover loop (``proxy.upstream``) decides where to ask; this reads what came back — the
checks on every chunk, the body's overall deadline, and the resume from the next byte after a break (on any
source, counted when a resume is answered from byte 0 again: ``proxy.twice``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from proxy.cid import PieceCid
from proxy.events import UpstreamFinished, UpstreamRetry
from proxy.http_library import aiohttp
from proxy.sources import Source
from proxy.upstream_errors import UpstreamError, describe_exception

if TYPE_CHECKING:
    from proxy.upstream import Upstream

#: A source that missed a body's deadline is not asked for that piece again for this long (others are, if any).
SLOW_SOURCE_SECONDS = 120.0


class UpstreamBody:
    """A checked upstream body: bytes ``start … end`` of a piece of ``size`` bytes, contiguous, in order.

    A broken connection is resumed transparently with a new range from the next byte (on any source), so
    readers see either every byte or an :class:`UpstreamError`, never a silent gap.
    """

    def __init__(
        self,
        upstream: Upstream,
        piece: PieceCid,
        key: str,
        response: aiohttp.ClientResponse,
        source: Source,
        start: int,
        end: int,
        size: int,
        fetch_id: int,
        reason: str,
    ) -> None:
        self._upstream = upstream
        self._piece = piece
        self._key = key
        self._response: aiohttp.ClientResponse | None = response
        self.source = source
        self.status = response.status
        self.start = start
        self.end = end
        self.size = size
        self.etag = response.headers.get("ETag")
        self.fetch_id = fetch_id
        self.reason = reason
        self.received = 0
        self._t0 = time.monotonic()
        self._deadline = self._t0 + upstream.timeouts.body_deadline(end - start + 1)
        self._finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body, resuming broken transfers; raises :class:`UpstreamError` when it cannot."""
        position = self.start
        resumes = 0  # consecutive breaks without a byte of progress in between
        total_resumes = 0
        while position <= self.end:
            response = self._response
            assert response is not None
            try:
                chunk, broken = await response.content.readany(), None
                if not chunk:
                    broken = "body ended early"
            except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
                # Bytes that arrived before the break are paid for: keep them, resume after them.
                chunk, broken = _salvage(response), f"connection broke: {describe_exception(exc)}"
            if chunk:
                if len(chunk) > self.end - position + 1:
                    self._finish("failed", error="upstream sent more bytes than it announced")
                    raise UpstreamError(
                        502,
                        f"{self.source.name} sent more bytes than it announced; the piece was not served from it",
                        source=self.source.name,
                    )
                position += len(chunk)
                resumes = 0
                self.received += len(chunk)
                self._upstream.egress.add(self.source.name, self._key, len(chunk))
                yield chunk
            if position <= self.end and time.monotonic() > self._deadline:
                broken = self._too_slow(position)
            if broken is None or position > self.end:
                continue
            resumes += 1
            total_resumes += 1
            if resumes > self._upstream.retry.max_resumes or total_resumes > self._upstream.retry.max_resumes_total:
                self._finish("failed", error=broken)
                raise UpstreamError(
                    502,
                    f"{self.source.name} kept breaking the transfer off; gave up after {resumes - 1} resumes in a row",
                    broken,
                    source=self.source.name,
                )
            await self._resume(position, broken, resumes)
        self._finish("complete")

    def _too_slow(self, position: int) -> str:
        """The body missed its deadline: stop asking this source for the piece, and resume on another if there is
        one; raises :class:`UpstreamError` when there is none."""
        elapsed = time.monotonic() - self._t0
        why = (
            f"{self.source.name} sent {position - self.start} of {self.end - self.start + 1} bytes in {elapsed:.0f} s, "
            "far too slowly to play"
        )
        self._upstream.block(self._key, self.source.name, SLOW_SOURCE_SECONDS, why)
        if not self._upstream.candidates(self._key):
            self._finish("failed", error=why)
            raise UpstreamError(504, why, source=self.source.name)
        self._deadline = time.monotonic() + self._upstream.timeouts.body_deadline(self.end - position + 1)
        return why

    async def _resume(self, position: int, why: str, attempt: int) -> None:
        """Replace the broken response with a new one starting at ``position`` (any source may answer)."""
        self._drop_response()
        delay = self._upstream.retry.delay(attempt)
        self._upstream.bus.publish(
            UpstreamRetry(
                fetch_id=self.fetch_id,
                piece=self._key,
                source=self.source.name,
                error=why,
                resume_from=position,
                delay=delay,
            )
        )
        await asyncio.sleep(delay)
        accounting = self._upstream.resume_accounting
        # A broken whole stream (a 200 from byte 0): a true-range source sends only the rest, FilBeam may send all
        sources = accounting.sources(self._key, position) if accounting is not None and self.status == 200 else None
        resumed = await self._upstream.open(
            self._piece,
            self._key,
            position,
            self.end,
            size=self.size,
            fetch_id=self.fetch_id,
            reason="resume",
            sources=sources,
        )
        skip = position - resumed.start  # a 200 from zero again: skip what we already have
        self._response, resumed._response = resumed._response, None
        self.source, self.status = resumed.source, resumed.status
        resumed._finished = True
        refusal = accounting.admit_restart(self._key, self.source.name) if accounting and skip > 0 else None
        if refusal is not None:  # a paid restart from byte 0, past the piece's limit: not read
            self._finish("failed", error=refusal)
            raise UpstreamError(502, refusal, source=self.source.name)
        while skip > 0:
            chunk = await self._response.content.read(min(skip, 1 << 16))
            if not chunk:
                raise UpstreamError(502, f"{self.source.name} ended the body while resuming", source=self.source.name)
            self._upstream.egress.add(self.source.name, self._key, len(chunk))
            if accounting is not None:  # bytes before the break point, paid for a second time
                accounting.repulled(self._key, len(chunk))
            skip -= len(chunk)

    def close(self) -> None:
        """Stop pulling now: the connection is closed, not returned to the pool, so upstream stops sending."""
        if not self._finished:
            self._finish("cancelled")
        self._drop_response()

    def socket(self) -> socket.socket | None:
        """The connection's socket, to shrink its receive buffer while the body is held unread
        (``proxy.full_stream``); None when there is no open connection."""
        connection = self._response.connection if self._response is not None else None
        transport = connection.transport if connection is not None else None
        return transport.get_extra_info("socket") if transport is not None else None

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def _finish(self, outcome: str, error: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        if outcome == "complete" and self._response is not None:
            self._response.release()
            self._response = None
        self._upstream.bus.publish(
            UpstreamFinished(
                fetch_id=self.fetch_id,
                piece=self._key,
                source=self.source.name,
                bytes_received=self.received,
                duration=time.monotonic() - self._t0,
                outcome=outcome,
                status=self.status,
                error=error,
            )
        )


def _salvage(response: aiohttp.ClientResponse) -> bytes:
    """The bytes aiohttp buffered before the connection broke.

    ``StreamReader.readany()`` raises a recorded connection error before returning data already buffered
    (aiohttp 3.x), which would throw away bytes the upstream has already billed; its internal
    ``_read_nowait`` hands them over. Without it (a future aiohttp), nothing is salvaged and the resume simply
    starts earlier — slower, never wrong.
    """
    read_buffered = getattr(response.content, "_read_nowait", None)
    if read_buffered is None:
        return b""
    try:
        return bytes(read_buffered(-1))
    except Exception:  # the internal API changed shape: fall back to resuming earlier
        return b""
