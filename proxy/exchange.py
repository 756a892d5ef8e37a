"""One request to the proxy, answered: decide from what is known, then stream, then report what happened.

Why its own module: ``proxy/server.py`` builds the parts and routes requests; this is the walk of one Range
request through them — parse the CID, learn size and type, decide the response (``proxy.ranges``), stream it from
the cache in bounded writes, and publish what it cost — which a newcomer should be able to read in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from proxy.cache import PieceInfo, SliceCache, SliceReader
from proxy.cid import CidError, parse_piece_cid
from proxy.events import RequestFinished, RequestHeaders
from proxy.http_library import web
from proxy.ranges import RangePlan, decide_response
from proxy.slice_file import SliceFile
from proxy.sniff import SNIFF_BYTES
from proxy.upstream_errors import UpstreamError

if TYPE_CHECKING:
    from proxy.server import ProxyServer

log = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Socket send buffer for piece responses (Linux doubles it for bookkeeping).
SEND_BUFFER_BYTES = 256 * 1024
#: Largest single write to a response (see ``Exchange._write``).
WRITE_PIECE = 128 * 1024


class Exchange:
    """One request/response: decide, then stream, then report what happened."""

    def __init__(self, server: ProxyServer, request: web.Request, request_id: int, t0: float) -> None:
        self.server = server
        self.cache: SliceCache = server.cache  # type: ignore[assignment]
        self.request = request
        self.request_id = request_id
        self.t0 = t0
        self.piece = request.match_info["cid"]
        self.status = 0
        self.sent = 0
        self.ttfb: float | None = None
        self.error: str | None = None
        self.from_cache = 0
        self.from_upstream = 0
        #: True once the status line has gone out; from then on a failure can only cut the body short.
        self.started = False

    def finish(self) -> None:
        if self.sent:
            by_piece = self.server.stats.served_by_piece
            by_piece[self.piece] = by_piece.get(self.piece, 0) + self.sent
        self.server.bus.publish(
            RequestFinished(
                request_id=self.request_id,
                piece=self.piece,
                status=self.status,
                bytes_sent=self.sent,
                ttfb=self.ttfb,
                duration=time.monotonic() - self.t0,
                bytes_from_cache=self.from_cache,
                bytes_from_upstream=self.from_upstream,
                error=self.error,
            )
        )

    def fail(self, status: int, error: str, detail: str = "", headers: dict | None = None) -> web.Response:
        self.status, self.error = status, error
        self.ttfb = time.monotonic() - self.t0
        if status >= 500:
            self.server.stats.errors += 1
        return error_response(status, error, detail, headers)

    async def run(self, raw_cid: str) -> web.StreamResponse:
        try:
            cid = parse_piece_cid(raw_cid)
        except CidError as exc:
            return self.fail(400, f"Not a piece CID: {exc}", raw_cid[:120])
        try:
            info = await self.cache.describe(cid)
        except UpstreamError as exc:
            return self.fail(exc.status, exc.error, exc.detail)
        self.piece = info.key
        headers = self.request.headers
        # Decide first (status and ranges, from the request, the size and the ETag), then do I/O, then render the
        # headers once, with the type learnt from the first bytes if the store did not know it.
        decision = decide_response(
            method=self.request.method,
            size=info.size,
            etag=info.etag,
            range_header=headers.get("Range"),
            if_range=headers.get("If-Range"),
            if_match=headers.get("If-Match"),
            if_none_match=headers.get("If-None-Match"),
            boundary=secrets.token_hex(12),
        )
        if decision.status == 416:
            return self.fail(
                416,
                "The requested range is outside the piece",
                f"the piece has {info.size} bytes",
                {**decision.plan(None).headers, **_constant_headers(info)},
            )
        if decision.status in (304, 412):
            self.status = decision.status
            self.ttfb = time.monotonic() - self.t0
            return web.Response(status=decision.status, headers=_constant_headers(info))
        reader = None
        if self.request.method == "GET" and decision.ranges:
            first = decision.ranges[0]
            # a player asks with a Range (to seek later); a whole-body GET is a download: no bet on its tail
            reader = self.cache.open(
                info, first.start, first.end, request_id=self.request_id, ranged=decision.status == 206, files=True
            )
        head = None
        try:
            chunks = aiter(reader) if reader is not None else None
            # The first byte decides the status: an upstream failure before it is still a proper error answer.
            head = await anext(chunks, memoryview(b"")) if chunks is not None else None
            start = decision.ranges[0].start if decision.ranges else 0
            content_type = (
                info.content_type
                or self.cache.type_from_head(info, start, _bytes_of(head))
                or await self.cache.content_type(info, fetch_head=reader is None)
            )
            return await self._respond(info, decision.plan(content_type), reader, chunks, head)
        except UpstreamError as exc:
            return self.fail(exc.status, exc.error, exc.detail)
        finally:
            if isinstance(head, SliceFile):
                head.close()  # sent and closed by now, unless the answer failed before its first byte went out
            if reader is not None:
                reader.close()

    async def _respond(
        self,
        info: PieceInfo,
        plan: RangePlan,
        first: SliceReader | None,
        chunks: AsyncIterator[memoryview | SliceFile] | None,
        head: memoryview | SliceFile | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=plan.status, headers={**plan.headers, **_constant_headers(info)})
        response.content_length = plan.content_length
        self.status = plan.status
        if first is None or chunks is None or head is None:  # HEAD, or an empty piece
            self.ttfb = time.monotonic() - self.t0
            self.started = True
            with contextlib.suppress(ConnectionError):  # the client may be gone already
                await response.prepare(self.request)
            return response
        self.server.bus.publish(
            RequestHeaders(
                request_id=self.request_id,
                piece=info.key,
                status=plan.status,
                ranges=tuple((p.range.start, p.range.end) for p in plan.parts),
                size=info.size,
                content_type=plan.headers["Content-Type"],
            )
        )
        self.server.stats.open_streams += 1
        try:
            self.started = True
            await response.prepare(self.request)
            _limit_send_buffer(self.request)
            self.ttfb = time.monotonic() - self.t0
            await self._write(response, plan.parts[0].prefix)
            await self._write(response, head)
            async for chunk in chunks:
                await self._write(response, chunk)
            self._count(first)
            for part in plan.parts[1:]:
                await self._write(response, part.prefix)
                reader = self.cache.open(info, part.range.start, part.range.end, request_id=self.request_id, files=True)
                try:
                    async for chunk in reader:
                        await self._write(response, chunk)
                finally:
                    reader.close()
                    self._count(reader)
            await self._write(response, plan.epilogue)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError) as exc:
            self.error = "client disconnected"
            self._count(first)
            if isinstance(exc, asyncio.CancelledError):
                raise
        except UpstreamError as exc:
            self.error = exc.error
            self.server.stats.errors += 1
            log.warning("aborting response for %s after %d bytes: %s", info.key[:16], self.sent, exc)
            self._count(first)
            _drop_connection(self.request)
        finally:
            self.server.stats.open_streams -= 1
            with contextlib.suppress(Exception):
                await chunks.aclose()  # type: ignore[attr-defined]
        return response

    async def _write(self, response: web.StreamResponse, data: bytes | memoryview | SliceFile) -> None:
        """Write in pieces of :data:`WRITE_PIECE`: the transport copies whatever the socket does not take at
        once, so a slow player would otherwise park a whole slice in the proxy's memory per connection. A slice
        file goes by ``sendfile`` (and is closed): the kernel copies it from the page cache as the socket drains."""
        if isinstance(data, SliceFile):
            try:
                await self._send_file(response, data)
            finally:
                data.close()
            return
        view = memoryview(data)
        for start in range(0, len(view), WRITE_PIECE):
            piece = view[start : start + WRITE_PIECE]
            await response.write(piece)
            self._sent(len(piece))

    async def _send_file(self, response: web.StreamResponse, part: SliceFile) -> None:
        """Send a slice file: what the socket takes now straight from the page cache (``os.sendfile``), the next
        block through the transport whenever the socket is full (which waits for it to drain), until all is sent.

        Why not ``loop.sendfile``: it takes the socket from the transport for the whole file, and a peer that
        resets meanwhile, or a cancellation, leaves the transport's state broken (CPython's
        ``_call_connection_lost`` on a finished waiter: an ``InvalidStateError``, found by the 200-viewer churn
        test). A non-blocking ``sendfile`` made only while the transport holds no bytes of its own cannot reorder
        or lose anything, and never waits.
        """
        transport = self.request.transport
        offset, end = part.offset, part.offset + part.count
        while offset < end:
            if transport is None or transport.is_closing():
                raise ConnectionResetError("client disconnected")
            sent = 0
            if transport.get_write_buffer_size() == 0:
                sent = _send_now(transport, part, offset, end - offset)
            if sent == 0:  # the socket is full: one block through the transport, which waits for room
                sent = len(block := part.read_at(offset, min(WRITE_PIECE, end - offset)))
                if not sent:
                    raise ConnectionResetError("the slice file ended early")  # checked files do not; never loop
                await response.write(block)
            offset += sent
            self._sent(sent)

    def _sent(self, count: int) -> None:
        self.sent += count
        self.server.stats.bytes_served += count

    def _count(self, reader: SliceReader) -> None:
        self.from_cache += reader.from_cache
        self.from_upstream += reader.from_upstream
        reader.from_cache = reader.from_upstream = 0


#: ``sendfile`` errors that say the kernel cannot send this file, not that the player left.
_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


def _send_now(transport: asyncio.BaseTransport, part: SliceFile, offset: int, count: int) -> int:
    """Bytes of ``part`` from ``offset`` the socket took at once (0: it is full, or the kernel cannot send it)."""
    sock = transport.get_extra_info("socket")
    try:
        return os.sendfile(sock.fileno(), part.file.fileno(), offset, count)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError as exc:
        if exc.errno in _NO_SENDFILE:
            return 0  # a file system that cannot: the block path sends it
        raise ConnectionResetError(f"sendfile: {exc.strerror or exc}") from exc  # a peer gone (EPIPE, ECONNRESET)


def _bytes_of(chunk: memoryview | SliceFile | None) -> memoryview | None:
    """A first chunk's bytes for sniffing (a slice file's first ones; the type is known on a warm open)."""
    return memoryview(chunk.read(SNIFF_BYTES)) if isinstance(chunk, SliceFile) else chunk


def _constant_headers(info: PieceInfo) -> dict[str, str]:
    return {"Accept-Ranges": "bytes", "ETag": info.etag, "Cache-Control": CACHE_CONTROL}


def error_response(status: int, error: str, detail: str = "", headers: dict | None = None) -> web.Response:
    body = json.dumps({"error": error, "detail": detail})
    response = web.Response(status=status, text=body, content_type="application/json", headers=headers)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _limit_send_buffer(request: web.Request) -> None:
    """Keep the kernel from buffering megabytes ahead of the player.

    Qt resets the connection on every seek, so bytes parked in a large send buffer are bytes the player never
    reads; a modest buffer also keeps the byte map's "reading now" position honest. Loopback throughput is
    unaffected at this size.
    """
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


def _drop_connection(request: web.Request) -> None:
    """End a response that cannot be completed: closing the connection short of Content-Length tells the client
    the body is incomplete, which is the only honest signal once the status line has gone out."""
    transport = request.transport
    if transport is not None:
        transport.close()


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:199] + "…"
