"""A local FilBeam-compatible origin (or Curio storage provider) with latency, bandwidth caps and faults.

Nobody can reach Filecoin from a test machine, and a first-time user should see PiecePlayer work before they own
a payer address, so this serves the files of a folder under their real PieceCIDs, answering as the real services
do (``shared/research/filbeam.md`` §2 and §4):

* ``filbeam`` mode: the first request for a piece is a CDN cache miss — a **200 with the whole piece from byte 0**
  whatever ``Range`` says, without ``Content-Length`` (FilBeam streams it through a TransformStream); later
  requests are cache hits with true 206 answers. ``ETag: "<cid>"``, one-year ``Cache-Control``, ``X-Data-Set-ID``,
  FilBeam's own 402/404 wording, and 401 for any ``Authorization`` header.
* ``curio`` mode: a storage provider's ``/piece/{cid}`` with complete Range support as Go's ``http.ServeContent``
  gives it (single, suffix, multipart, 416, ``If-Range``; a Range on HEAD is honoured, as Go does).

Knobs (flags, and the :class:`Knobs` object tests and benchmarks change at run time): time to first byte,
bandwidth per connection and in total, and faults. Counters (requests, bytes sent per piece, a request log) are
how tests and benchmarks measure egress. ``GET /_emulator/stats`` and ``POST /_emulator/knobs`` expose both to
other processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import random
import secrets
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from aiohttp import web

from proxy.cid import CidError, parse_piece_cid
from proxy.commp import commp_of_file
from proxy.sniff import SNIFF_BYTES, sniff_content_type

log = logging.getLogger(__name__)

#: A manifest written next to served files (or in the user cache when the folder is read-only), so start-up
#: does not recompute CommP for files it has seen.
COMMP_CACHE_NAME = ".pieceplayer-commp.json"
#: The demo folder's manifest (``resources/demo/manifest.json``) also names each file's PieceCID.
DEMO_MANIFEST_NAME = "manifest.json"
FILBEAM_CACHE_CONTROL = "public, max-age=31536000"
CURIO_CACHE_CONTROL = "public, max-age=29030400, immutable"
EPOCH_HTTP_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"
_WRITE_CHUNK = 64 * 1024
_LOG_LENGTH = 10_000


@dataclass
class Knobs:
    """Everything a test or benchmark may turn. Fractions are probabilities per request."""

    mode: str = "filbeam"
    latency_ms: float = 50.0
    bandwidth: int | None = None  # bytes/s per connection
    total_bandwidth: int | None = None  # bytes/s across all connections
    #: When FilBeam's edge counts a piece as cached: after the first request for it, after the first complete
    #: transfer, or never (every request is a miss).
    edge_fill: str = "first-request"
    miss_content_length: bool = False
    # faults
    drop_after: int | None = None  # close the connection after this many body bytes
    error_rate: float = 0.0
    error_status: int = 502
    quota_rate: float = 0.0  # answer 402 "CDN egress quota exhausted"
    not_found_rate: float = 0.0  # answer 404 "not indexed yet"
    ignore_range: bool = False  # 200 with the whole body, always
    wrong_content_range: bool = False  # announce start+1…end+1 while sending start…end
    wrong_total: bool = False  # announce a total one byte larger than the piece
    short_body: bool = False  # announce the full length, send half, close
    etag_change: bool = False  # a different ETag than before
    stall_ms: float = 0.0  # extra wait before the first byte
    seed: int | None = None

    def update(self, **changes: object) -> None:
        names = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown emulator knob {name!r}")
            setattr(self, name, value)


@dataclass(frozen=True)
class ServedPiece:
    path: Path
    size: int
    v1: str
    v2: str
    content_type: str
    data_set_id: int


@dataclass
class PieceCounters:
    requests: int = 0
    bytes_sent: int = 0


@dataclass
class Counters:
    requests: int = 0
    head_requests: int = 0
    bytes_sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_piece: dict[str, PieceCounters] = field(default_factory=dict)
    log: deque = field(default_factory=lambda: deque(maxlen=_LOG_LENGTH))

    def as_json(self) -> dict:
        return {
            "requests": self.requests,
            "head_requests": self.head_requests,
            "bytes_sent": self.bytes_sent,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "by_piece": {k: asdict(v) for k, v in self.by_piece.items()},
        }


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    piece: str
    range: str | None
    status: int
    bytes_sent: int
    complete: bool


class _TokenBucket:
    """Paces writes to ``rate`` bytes/s (burst of 1/20 s), shared by whoever holds it."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._allowance = 0.0
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        async with self._lock:
            now = time.monotonic()
            self._allowance = min(self.rate / 20, self._allowance + (now - self._last) * self.rate)
            self._last = now
            self._allowance -= n
            if self._allowance < 0:
                await asyncio.sleep(-self._allowance / self.rate)


def load_pieces(directory: Path) -> dict[str, ServedPiece]:
    """Every regular file in ``directory`` under its v1 and v2 PieceCIDs (CommP cached in a manifest)."""
    known = _load_known_cids(directory)
    pieces: dict[str, ServedPiece] = {}
    updated = False
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == DEMO_MANIFEST_NAME:
            continue
        stat = path.stat()
        fingerprint = f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}"
        v2 = known.get(fingerprint) or known.get(f"{path.name}:{stat.st_size}")
        if v2 is None:
            log.info("computing the PieceCID of %s (%d bytes)…", path.name, stat.st_size)
            v2 = commp_of_file(path).v2()
            known[fingerprint] = v2
            updated = True
        cid = parse_piece_cid(v2)
        with open(path, "rb") as handle:
            content_type = sniff_content_type(handle.read(SNIFF_BYTES))
        served = ServedPiece(path, stat.st_size, cid.v1(), v2, content_type, 1000 + len(pieces) // 2)
        pieces[served.v2] = pieces[served.v1] = served
    if updated:
        _save_known_cids(directory, known)
    return pieces


def _commp_cache_path(directory: Path) -> Path:
    local = directory / COMMP_CACHE_NAME
    if _writable(directory):
        return local
    from proxy.config import default_cache_dir

    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    return default_cache_dir() / "emulator" / f"{digest}.json"


def _writable(directory: Path) -> bool:
    probe = directory / f".probe-{secrets.token_hex(4)}"
    try:
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def _load_known_cids(directory: Path) -> dict[str, str]:
    known: dict[str, str] = {}
    demo = directory / DEMO_MANIFEST_NAME
    if demo.exists():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            for entry in json.loads(demo.read_text())["pieces"]:
                known[f"{entry['file']}:{entry['size']}"] = entry["piece_cid"]
    with contextlib.suppress(OSError, ValueError):
        known.update(json.loads(_commp_cache_path(directory).read_text()))
    return known


def _save_known_cids(directory: Path, known: dict[str, str]) -> None:
    path = _commp_cache_path(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1, sort_keys=True))
    except OSError as exc:
        log.warning("could not cache PieceCIDs in %s: %s", path, exc)


class Emulator:
    """The origin. ``await start()`` returns its base URL; change ``knobs`` at any time; read ``counters``."""

    def __init__(self, directory: Path | str, knobs: Knobs | None = None) -> None:
        self.directory = Path(directory)
        self.knobs = knobs or Knobs()
        self.counters = Counters()
        self.pieces = load_pieces(self.directory)
        self.base_url = ""
        self._edge: set[str] = set()
        self._etag_generation = 0
        self._rng = random.Random(self.knobs.seed)
        self._total_bucket: _TokenBucket | None = None
        self._runner: web.AppRunner | None = None

    def reset(self) -> None:
        """Forget counters and the CDN edge cache (the next request per piece is a miss again)."""
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
        real_port = site._server.sockets[0].getsockname()[1]
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
            self.knobs.update(**await request.json())
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
        response = await self._answer(request, cid, knobs)
        self.counters.by_status[response.status] = self.counters.by_status.get(response.status, 0) + 1
        return response

    async def _answer(self, request: web.Request, cid: str, knobs: Knobs) -> web.StreamResponse:
        filbeam = knobs.mode == "filbeam"
        if filbeam and "Authorization" in request.headers:
            return self._text(request, cid, 401, "Unauthorized")
        if filbeam and not cid.startswith(("baga", "bafk")):
            return self._text(request, cid, 404, f"Invalid CID: {cid}. It is not a valid CommP (v1 or v2).")
        if not filbeam:
            try:
                parse_piece_cid(cid)
            except CidError as exc:
                return self._text(request, cid, 400, f"invalid piece CID: {exc}")
        piece = self.pieces.get(cid)
        roll = self._rng.random()
        if piece is None or roll < knobs.not_found_rate:
            text = (
                f"Piece_cid '{cid}' does not exist or may not have been indexed yet."
                if filbeam
                else "piece not found"  # Curio: ErrNoDeal → 404
            )
            return self._text(request, cid, 404, text)
        roll -= knobs.not_found_rate
        if roll < knobs.quota_rate:
            return self._text(
                request,
                cid,
                402,
                f"CDN egress quota exhausted for payer {'0x' + '0' * 40} and data set {piece.data_set_id}.",
            )
        roll -= knobs.quota_rate
        if roll < knobs.error_rate:
            await asyncio.sleep(knobs.latency_ms / 1000)
            text = (
                "No available service provider found. Attempted: ID=1 (Service URL=http://127.0.0.1)"
                if filbeam
                else "internal error"
            )
            return self._text(request, cid, knobs.error_status, text)
        return await self._send_piece(request, cid, piece, knobs)

    def _text(self, request: web.Request, cid: str, status: int, text: str) -> web.Response:
        headers = {"Cache-Control": FILBEAM_CACHE_CONTROL} if self.knobs.mode == "filbeam" else {}
        self.counters.log.append(LoggedRequest(request.method, cid, request.headers.get("Range"), status, 0, True))
        return web.Response(status=status, text=text, headers=headers)

    def _headers(self, cid: str, piece: ServedPiece, knobs: Knobs) -> dict[str, str]:
        etag = f'"{cid}"' if not knobs.etag_change else f'"{cid}-{self._next_generation()}"'
        headers = {
            "Content-Type": piece.content_type,
            "ETag": etag,
            "Last-Modified": EPOCH_HTTP_DATE,
            "Accept-Ranges": "bytes",
        }
        if knobs.mode == "filbeam":
            headers.update(
                {
                    "Cache-Control": FILBEAM_CACHE_CONTROL,
                    "X-Data-Set-ID": str(piece.data_set_id),
                    "Content-Security-Policy": "default-src 'none'",
                }
            )
        else:
            headers.update(
                {
                    "Cache-Control": CURIO_CACHE_CONTROL,
                    "Vary": "Accept-Encoding",
                    "Access-Control-Allow-Origin": "*",
                }
            )
        return headers

    def _next_generation(self) -> int:
        self._etag_generation += 1
        return self._etag_generation

    async def _send_piece(self, request: web.Request, cid: str, piece: ServedPiece, knobs: Knobs) -> web.StreamResponse:
        headers = self._headers(cid, piece, knobs)
        size = piece.size
        edge_hit = knobs.mode != "filbeam" or piece.v2 in self._edge
        if knobs.mode == "filbeam" and knobs.edge_fill == "first-request":
            self._edge.add(piece.v2)
        ranges: list[tuple[int, int]] | None = None
        if edge_hit and not knobs.ignore_range:
            decision = go_serve_content_ranges(
                request.headers.get("Range"), request.headers.get("If-Range"), headers["ETag"], size
            )
            if isinstance(decision, int):
                await self._first_byte_wait(knobs)
                headers["Content-Range"] = f"bytes */{size}"
                return self._text_with(request, cid, decision, "invalid range", headers)
            ranges = decision
        status, parts, boundary = 200, [(0, size - 1)] if size else [], None
        if ranges:
            status, parts = 206, ranges
            if len(ranges) == 1:
                start, end = ranges[0]
                shown = (start + 1, end + 1) if knobs.wrong_content_range else (start, end)
                total = size + 1 if knobs.wrong_total else size
                headers["Content-Range"] = f"bytes {shown[0]}-{shown[1]}/{total}"
            else:
                boundary = secrets.token_hex(15)
                headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
        response = web.StreamResponse(status=status, headers=headers)
        framing = _multipart_framing(parts, boundary, piece.content_type, size) if boundary else None
        length = sum(e - s + 1 for s, e in parts) + (sum(len(a) + len(b) for a, b in framing) if framing else 0)
        miss_without_length = knobs.mode == "filbeam" and not edge_hit and not knobs.miss_content_length
        if miss_without_length and request.method == "GET":
            response.enable_chunked_encoding()
        else:
            response.content_length = length
        await self._first_byte_wait(knobs)
        await response.prepare(request)
        sent = 0
        complete = False
        try:
            if request.method == "GET":
                sent = await self._write_body(request, response, piece, parts, framing, knobs)
                complete = sent >= length
                if complete:
                    await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.counters.bytes_sent += sent
            counters = self.counters.by_piece.setdefault(piece.v2, PieceCounters())
            counters.requests += 1
            counters.bytes_sent += sent
            self.counters.log.append(
                LoggedRequest(request.method, cid, request.headers.get("Range"), status, sent, complete)
            )
            if complete and knobs.mode == "filbeam" and knobs.edge_fill == "complete" and status == 200:
                self._edge.add(piece.v2)
        return response

    def _text_with(self, request: web.Request, cid: str, status: int, text: str, headers: dict) -> web.Response:
        self.counters.log.append(LoggedRequest(request.method, cid, request.headers.get("Range"), status, 0, True))
        return web.Response(status=status, text=text, headers=headers)

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
    ) -> int:
        budget = _body_budget(parts, knobs)
        connection_bucket = _TokenBucket(knobs.bandwidth) if knobs.bandwidth else None
        if knobs.total_bandwidth and (self._total_bucket is None or self._total_bucket.rate != knobs.total_bandwidth):
            self._total_bucket = _TokenBucket(knobs.total_bandwidth)
        total_bucket = self._total_bucket if knobs.total_bandwidth else None
        chunk_size = _WRITE_CHUNK
        if knobs.bandwidth:
            chunk_size = max(1024, min(chunk_size, knobs.bandwidth // 50))
        sent = 0
        # Reads of a local file in 64 KiB blocks: page-cache fast, so inline like the proxy's disk tier.
        with open(piece.path, "rb") as handle:  # noqa: ASYNC230
            for i, (start, end) in enumerate(parts):
                pieces_of_part = [framing[i][0]] if framing else []
                for data in pieces_of_part:
                    sent += await self._pace_write(response, data, connection_bucket, total_bucket)
                handle.seek(start)
                remaining = end - start + 1
                while remaining > 0:
                    n = min(chunk_size, remaining)
                    if budget is not None:
                        n = min(n, budget - sent)
                        if n <= 0:
                            _drop(request)
                            return sent
                    data = handle.read(n)
                    if not data:
                        break
                    sent += await self._pace_write(response, data, connection_bucket, total_bucket)
                    remaining -= len(data)
                if framing:
                    sent += await self._pace_write(response, framing[i][1], connection_bucket, total_bucket)
        if budget is not None and sent >= budget:
            _drop(request)
        return sent

    async def _pace_write(
        self, response: web.StreamResponse, data: bytes, conn: _TokenBucket | None, total: _TokenBucket | None
    ) -> int:
        if conn is not None:
            await conn.take(len(data))
        if total is not None:
            await total.take(len(data))
        await response.write(data)
        return len(data)


def _body_budget(parts: list[tuple[int, int]], knobs: Knobs) -> int | None:
    """How many body bytes to send before dropping the connection (None: all of them)."""
    total = sum(e - s + 1 for s, e in parts)
    budget = knobs.drop_after
    if knobs.short_body:
        budget = total // 2 if budget is None else min(budget, total // 2)
    return budget


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _multipart_framing(
    parts: list[tuple[int, int]], boundary: str, content_type: str, size: int
) -> list[tuple[bytes, bytes]]:
    """Go's ``mime/multipart`` framing: each part's header block, and the closing delimiter after the last."""
    framing = []
    for i, (start, end) in enumerate(parts):
        head = (
            ("\r\n" if i else "")
            + f"--{boundary}\r\nContent-Range: bytes {start}-{end}/{size}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode() if i == len(parts) - 1 else b""
        framing.append((head, tail))
    return framing


def go_serve_content_ranges(
    range_header: str | None, if_range: str | None, etag: str, size: int
) -> list[tuple[int, int]] | int | None:
    """Go ``net/http`` ``serveContent`` range handling, as Curio answers: ranges, None (200) or 416.

    Go's rules that differ from a strict RFC reading, kept on purpose: the unit must be exactly ``bytes=``; an
    invalid header is a 416, not ignored; ranges that add up to more than the file are ignored (200); ranges are
    not coalesced.
    """
    if not range_header:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None
    if not range_header.startswith("bytes="):
        return 416
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for spec in range_header[len("bytes=") :].split(","):
        spec = spec.strip()
        if not spec:
            continue
        first, dash, last = spec.partition("-")
        first, last = first.strip(), last.strip()
        if not dash:
            return 416
        if not first:
            if not last.isdigit():
                return 416
            n = min(int(last), size)
            if n == 0:
                no_overlap = True
                continue
            ranges.append((size - n, size - 1))
            continue
        if not first.isdigit() or (last and not last.isdigit()):
            return 416
        start = int(first)
        if start >= size:
            no_overlap = True
            continue
        end = size - 1 if not last else int(last)
        if start > end:
            return 416
        ranges.append((start, min(end, size - 1)))
    if not ranges:
        return 416 if no_overlap else None
    if sum(e - s + 1 for s, e in ranges) > size:
        return None
    return ranges


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m proxy.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="folder of files to serve")
    parser.add_argument("--mode", choices=["filbeam", "curio"], default="filbeam")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="time to first byte (default 50 ms)")
    parser.add_argument("--bandwidth", type=int, help="bytes/s per connection")
    parser.add_argument("--total-bandwidth", type=int, help="bytes/s across all connections")
    parser.add_argument("--edge-fill", choices=["first-request", "complete", "never"], default="first-request")
    parser.add_argument("--miss-content-length", action="store_true", help="send Content-Length on a CDN miss")
    parser.add_argument("--drop-after", type=int, help="close each connection after N body bytes")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered with an error")
    parser.add_argument("--error-status", type=int, default=502)
    parser.add_argument("--quota-rate", type=float, default=0.0, help="fraction answered 402 quota exhausted")
    parser.add_argument("--not-found-rate", type=float, default=0.0, help="fraction answered 404 not indexed yet")
    parser.add_argument("--ignore-range", action="store_true", help="always 200 with the whole body")
    parser.add_argument("--wrong-content-range", action="store_true", help="announce a shifted Content-Range")
    parser.add_argument("--wrong-total", action="store_true", help="announce a wrong total size")
    parser.add_argument("--short-body", action="store_true", help="send half the body, then close")
    parser.add_argument("--etag-change", action="store_true", help="send a new ETag on every response")
    parser.add_argument("--stall-ms", type=float, default=0.0, help="extra wait before the first byte")
    parser.add_argument("--seed", type=int, help="seed for the fault dice")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    knob_names = {f.name for f in fields(Knobs)}
    knobs = Knobs(**{k: v for k, v in vars(args).items() if k in knob_names})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    emulator = Emulator(args.dir, knobs)
    base = await emulator.start(args.host, args.port)
    print(base, flush=True)
    for cid in emulator.piece_cids():
        piece = emulator.pieces[cid]
        print(f"{base}/{cid}  {piece.path.name}  {piece.size} bytes", file=sys.stderr)
    await stop.wait()
    await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    if not args.dir.is_dir():
        print(f"emulator: {args.dir} is not a folder", file=sys.stderr)
        return 2
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
