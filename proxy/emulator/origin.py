"""The emulated origin: an aiohttp server that answers piece requests as FilBeam or a Curio provider does.

It decides each answer from the parts beside it — the catalogue (which pieces), the knobs (what to emulate),
FilBeam's edge and Curio's ranges (how to answer), faults and throttling (how badly) — and counts what it sent.
"""

from __future__ import annotations

import asyncio
import http
import mimetypes
import random
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from proxy.cid import CidError, parse_piece_cid
from proxy.emulator.catalogue import ServedPiece, load_pieces
from proxy.emulator.counters import Counters, LoggedRequest, PieceCounters
from proxy.emulator.curio import (
    CURIO_CACHE_CONTROL,
    CURIO_TOO_MANY,
    EPOCH_HTTP_DATE,
    ConcurrencyGate,
    GoRangeError,
    go_check_preconditions,
    go_if_range_holds,
    go_parse_range,
    multipart_framing,
)
from proxy.emulator.faults import TokenBucket, body_budget, drop_connection, roll_fault
from proxy.emulator.filbeam import (
    EMULATED_PAYER,
    FILBEAM_CACHE_CONTROL,
    EdgeCache,
    EdgeLookup,
    filbeam_unauthorized,
)
from proxy.emulator.knobs import Knobs
from proxy.http_library import web
from proxy.sniff import OCTET_STREAM

_WRITE_CHUNK = 64 * 1024


@dataclass
class _Transfer:
    """Body bytes written so far by one answer (kept outside the writer so a broken write still counts)."""

    sent: int = 0


class Emulator:
    """The origin. ``await start()`` returns its base URL; change ``knobs`` at any time; read ``counters``."""

    def __init__(self, directory: Path | str, knobs: Knobs | None = None) -> None:
        self.directory = Path(directory)
        self.knobs = knobs or Knobs()
        self.counters = Counters()
        self.pieces = load_pieces(self.directory)
        self.base_url = ""
        self._etag_generation = 0
        self._rng = random.Random(self.knobs.seed)
        self._edge = EdgeCache(self._rng)
        #: Requests in flight, and how many a provider's limit refused (``Knobs.max_concurrent``).
        self.gate = ConcurrencyGate()
        self._total_bucket: TokenBucket | None = None
        self._runner: web.AppRunner | None = None

    def reset(self) -> None:
        """Forget counters and the CDN edge cache (the next GET per piece is a miss again)."""
        self.counters = Counters()
        self._edge.clear()

    def piece_cids(self) -> list[str]:
        """The v2 CID of every served file, in file-name order."""
        return sorted({p.v2 for p in self.pieces.values()}, key=lambda c: self.pieces[c].path.name)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/_emulator/stats", self._stats)
        app.router.add_post("/_emulator/knobs", self._set_knobs)
        app.router.add_post("/_emulator/reset", self._reset)
        for route in ("/piece/{cid}", "/{cid}", "/{cid}/{rest:.*}"):
            app.router.add_route("GET", route, self._serve)
            app.router.add_route("HEAD", route, self._serve)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        real_port = self._runner.addresses[0][1]  # the real port when 0 was asked for
        self.base_url = f"http://{host}:{real_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- control endpoints -----------------------------------------------------------------------------------

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"counters": self.counters.as_json(), "knobs": asdict(self.knobs)})

    async def _set_knobs(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of knob names and values")
            self.knobs.update(**changes)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(asdict(self.knobs))

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    # --- pieces ----------------------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        knobs = self.knobs
        cid = request.match_info["cid"]
        self.counters.requests += 1
        if request.method == "HEAD":
            self.counters.head_requests += 1
        limited = knobs.mode == "curio"
        if limited and not self.gate.enter(knobs.max_concurrent):
            response: web.StreamResponse = self._plain(request, cid, 429, CURIO_TOO_MANY)
        else:
            try:
                await self._first_byte_wait(knobs)
                answer = self._answer_filbeam if knobs.mode == "filbeam" else self._answer_curio
                response = await answer(request, cid, knobs)
            finally:
                if limited:
                    self.gate.leave()
        self.counters.by_status[response.status] = self.counters.by_status.get(response.status, 0) + 1
        return response

    async def _answer_filbeam(self, request: web.Request, cid: str, knobs: Knobs) -> web.StreamResponse:
        # The worker's order: the path's CID shape, then Authorization, then the index lookup.
        if not cid.startswith(("baga", "bafk")):
            return self._plain(request, cid, 404, f"Invalid CID: {cid}. It is not a valid CommP (v1 or v2).")
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            return self._plain(request, cid, 401, filbeam_unauthorized(authorization))
        piece = self.pieces.get(cid)
        fault = roll_fault(self._rng, knobs)
        if piece is None or fault == "not_found":
            return self._plain(request, cid, 404, f"Piece_cid '{cid}' does not exist or may not have been indexed yet.")
        if fault == "quota":
            return self._quota_exhausted(request, cid, piece)
        if fault == "error":
            if knobs.error_status != 502:
                return self._plain(request, cid, knobs.error_status, http.HTTPStatus(knobs.error_status).phrase)
            text = f"No available service provider found. Attempted: ID=1 (Service URL={self.base_url})"
            headers = {"X-Data-Set-ID": str(piece.data_set_id), "Content-Security-Policy": "default-src 'none'"}
            return self._plain(request, cid, 502, text, headers)
        return await self._send_piece(request, cid, piece, knobs)

    async def _answer_curio(self, request: web.Request, cid: str, knobs: Knobs) -> web.StreamResponse:
        # Curio's piece handler answers its own errors with a bare status line and no body.
        try:
            parse_piece_cid(cid)
        except CidError:
            return self._plain(request, cid, 400, "")
        piece = self.pieces.get(cid)
        fault = roll_fault(self._rng, knobs)
        if piece is None and cid.startswith("baga"):
            return self._plain(request, cid, 500, "")  # Curio cannot size an unknown v1: not ErrNoDeal, a 500
        if piece is None or fault == "not_found":
            return self._plain(request, cid, 404, "")
        if fault == "quota":
            return self._quota_exhausted(request, cid, piece)
        if fault == "error":
            return self._plain(request, cid, knobs.error_status, "")
        return await self._send_piece(request, cid, piece, knobs)

    def _quota_exhausted(self, request: web.Request, cid: str, piece: ServedPiece) -> web.Response:
        text = (
            f"CDN egress quota exhausted for payer '{EMULATED_PAYER}' and data set '{piece.data_set_id}'. "
            "Please top up your CDN egress quota."
        )
        return self._plain(request, cid, 402, text)

    def _plain(
        self, request: web.Request, cid: str, status: int, text: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        """A body-less or short plain-text answer (errors, 304, 412, 416)."""
        self.counters.log.append(LoggedRequest(request.method, cid, request.headers.get("Range"), status, 0, True))
        if not text:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, text=text, headers=headers)

    def _headers(self, cid: str, piece: ServedPiece, knobs: Knobs) -> dict[str, str]:
        etag = f'"{cid}"' if not knobs.etag_change else f'"{cid}-{self._next_generation()}"'
        headers = {
            "Content-Type": piece.content_type,
            "ETag": etag,
            "Last-Modified": EPOCH_HTTP_DATE,
            "Accept-Ranges": "bytes",
            "Vary": "Accept-Encoding",
        }
        extension = mimetypes.guess_extension(piece.content_type) if piece.content_type != OCTET_STREAM else None
        if extension:
            name = f"{cid}{extension}"
            headers["Content-Disposition"] = f"inline; filename=\"{name}\"; filename*=UTF-8''{name}"
        if knobs.mode == "filbeam":
            # The worker passes the provider's headers through, then sets its own Cache-Control and adds these.
            headers["Cache-Control"] = FILBEAM_CACHE_CONTROL
            headers["X-Data-Set-ID"] = str(piece.data_set_id)
            headers["Content-Security-Policy"] = "default-src 'none'"
        else:
            headers["Cache-Control"] = CURIO_CACHE_CONTROL
            headers["Access-Control-Allow-Origin"] = "*"
        return headers

    def _next_generation(self) -> int:
        self._etag_generation += 1
        return self._etag_generation

    async def _send_piece(self, request: web.Request, cid: str, piece: ServedPiece, knobs: Knobs) -> web.StreamResponse:
        headers = self._headers(cid, piece, knobs)
        size = piece.size
        is_get = request.method == "GET"
        edge = self._edge.lookup(piece.v2, size, knobs, is_get)
        hit = edge.hit
        ranges: list[tuple[int, int]] = []
        if hit:
            precondition = go_check_preconditions(request.method, request.headers, headers["ETag"])
            if precondition is not None:
                for name in ("Content-Type", "Content-Disposition", "Last-Modified"):
                    headers.pop(name, None)
                return self._plain(request, cid, precondition, "", headers)
            if not knobs.ignore_range:
                range_header = request.headers.get("Range", "")
                if range_header and not go_if_range_holds(request.headers.get("If-Range"), headers["ETag"]):
                    range_header = ""
                try:
                    ranges = go_parse_range(range_header, size)
                except GoRangeError as exc:
                    if not (exc.no_overlap and size == 0):
                        return self._unsatisfiable(request, cid, exc, headers, size)
                if sum(length for _, length in ranges) > size:
                    ranges = []  # Go: "probably an attack, or a dumb client. Ignore the range request."
        status, parts, framing = 200, [(0, size)], None
        if len(ranges) == 1:
            status, parts = 206, ranges
            start, length = ranges[0]
            shift = 1 if knobs.wrong_content_range else 0
            total = size + 1 if knobs.wrong_total else size
            headers["Content-Range"] = f"bytes {start + shift}-{start + length - 1 + shift}/{total}"
        elif ranges:
            status, parts = 206, ranges
            boundary = secrets.token_hex(30)
            headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
            framing = multipart_framing(parts, boundary, piece.content_type, size)
        response = web.StreamResponse(status=status, headers=headers)
        length = sum(n for _, n in parts) + (sum(len(a) + len(b) for a, b in framing) if framing else 0)
        if knobs.mode == "filbeam" and not hit and not knobs.miss_content_length and is_get:
            response.enable_chunked_encoding()
        else:
            response.content_length = length
        transfer = _Transfer()
        complete = False
        try:
            await response.prepare(request)  # the client may have left during the first-byte wait
            if is_get:
                await self._write_body(request, response, piece, parts, framing, knobs, transfer)
                complete = transfer.sent >= length
                if complete:
                    await response.write_eof()
        except ConnectionError:
            pass  # the client went away; what was sent is counted below
        finally:
            self._count(request, cid, piece, status, transfer.sent, complete, edge)
            self._edge.answered(edge, complete)
        return response

    def _unsatisfiable(
        self, request: web.Request, cid: str, exc: GoRangeError, headers: dict[str, str], size: int
    ) -> web.Response:
        """Go's ``Error(w, err.Error(), 416)``: plain text, ``Content-Range`` only when nothing overlapped."""
        headers = {**headers, "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
        headers.pop("Content-Disposition", None)
        if exc.no_overlap:
            headers["Content-Range"] = f"bytes */{size}"
        self.counters.log.append(LoggedRequest(request.method, cid, request.headers.get("Range"), 416, 0, True))
        return web.Response(status=416, body=f"{exc}\n".encode(), headers=headers)

    def _count(
        self,
        request: web.Request,
        cid: str,
        piece: ServedPiece,
        status: int,
        sent: int,
        complete: bool,
        edge: EdgeLookup,
    ) -> None:
        self.counters.bytes_sent += sent
        counters = self.counters.by_piece.setdefault(piece.v2, PieceCounters())
        counters.requests += 1
        counters.bytes_sent += sent
        hit = edge.hit if edge.provider is not None else None
        logged = LoggedRequest(request.method, cid, request.headers.get("Range"), status, sent, complete, hit)
        self.counters.log.append(replace(logged, provider=edge.provider))

    async def _first_byte_wait(self, knobs: Knobs) -> None:
        delay = (knobs.latency_ms + knobs.stall_ms) / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    async def _write_body(
        self,
        request: web.Request,
        response: web.StreamResponse,
        piece: ServedPiece,
        parts: list[tuple[int, int]],
        framing: list[tuple[bytes, bytes]] | None,
        knobs: Knobs,
        transfer: _Transfer,
    ) -> None:
        budget = body_budget(parts, knobs)
        connection_bucket = TokenBucket(knobs.bandwidth) if knobs.bandwidth else None
        if knobs.total_bandwidth and (self._total_bucket is None or self._total_bucket.rate != knobs.total_bandwidth):
            self._total_bucket = TokenBucket(knobs.total_bandwidth)
        total_bucket = self._total_bucket if knobs.total_bandwidth else None
        chunk_size = _WRITE_CHUNK
        if knobs.bandwidth:
            chunk_size = max(1024, min(chunk_size, knobs.bandwidth // 50))

        async def write(data: bytes) -> None:
            if connection_bucket is not None:
                await connection_bucket.take(len(data))
            if total_bucket is not None:
                await total_bucket.take(len(data))
            await response.write(data)
            transfer.sent += len(data)

        body_sent = 0
        # Reads of a local file in 64 KiB blocks: page-cache fast, so inline like the proxy's disk tier.
        with open(piece.path, "rb") as handle:  # noqa: ASYNC230
            for i, (start, length) in enumerate(parts):
                if framing:
                    await write(framing[i][0])
                handle.seek(start)
                remaining = length
                while remaining > 0:
                    n = min(chunk_size, remaining)
                    if budget is not None:
                        n = min(n, budget - body_sent)
                        if n <= 0:
                            drop_connection(request)
                            return
                    data = handle.read(n)
                    if not data:
                        break
                    await write(data)
                    body_sent += len(data)
                    remaining -= len(data)
                if framing:
                    await write(framing[i][1])
        if budget is not None and body_sent >= budget:
            drop_connection(request)
