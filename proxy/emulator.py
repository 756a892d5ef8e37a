"""A local FilBeam-compatible origin (or Curio storage provider) with latency, bandwidth caps and faults.

Nobody can reach Filecoin from a test machine, and a first-time user should see PiecePlayer work before they own
a payer address, so this serves the files of a folder under their real PieceCIDs, answering as the real services
do (``shared/research/filbeam.md`` §2 and §4):

* ``filbeam`` mode: the first GET of a piece is a CDN cache miss — a **200 with the whole piece from byte 0**
  whatever ``Range`` says, without ``Content-Length`` (FilBeam streams it through a TransformStream); later GETs
  are cache hits with true 206 answers. A HEAD never matches the cached GET, so it always gets the miss headers.
  ``ETag: "<cid>"``, one-year ``Cache-Control``, ``X-Data-Set-ID``, and the worker's own words for its 401, 402,
  404 and 502 answers (``filbeam/worker`` ``piece-retriever/lib/{request,store}.js``, ``bin/piece-retriever.js``).
* ``curio`` mode: a storage provider's ``/piece/{cid}`` with Range support exactly as Go's ``http.ServeContent``
  gives it (``src/net/http/fs.go``: single, suffix, multipart, 416, ``If-Range``, ``If-None-Match``…), including
  Go's quirks, because a proxy must survive the real server, not an idealised one.

Knobs (flags, and the :class:`Knobs` object tests and benchmarks change at run time): time to first byte,
bandwidth per connection and in total, faults, and the edge as FilBeam really runs it — several providers per
piece picked at random with an edge entry each, a 512 MB object cap, fills cancelled by a client that leaves —
and Curio's 429 above 256 requests in flight (``proxy.emulator_edge``). Counters (requests, bytes sent per
piece, a request log) are how tests and benchmarks measure egress. ``GET /_emulator/stats`` and
``POST /_emulator/knobs`` expose both to other processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http
import json
import logging
import mimetypes
import random
import re
import secrets
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiohttp import web

from proxy.cid import CidError, parse_piece_cid
from proxy.commp import commp_of_file
from proxy.emulator_edge import (
    CURIO_CONCURRENCY,
    CURIO_TOO_MANY,
    DEFAULT_OBJECT_CAP,
    ConcurrencyGate,
    EdgeCache,
    EdgeLookup,
    add_edge_arguments,
)
from proxy.sniff import OCTET_STREAM, SNIFF_BYTES, sniff_content_type

log = logging.getLogger(__name__)

#: A cache of computed PieceCIDs written next to served files (or in the user cache when the folder is read-only),
#: so start-up does not recompute CommP for files it has seen.
COMMP_CACHE_NAME = ".pieceplayer-commp.json"
#: The demo folder's manifest (``resources/demo/manifest.json``) also names each file's PieceCID.
DEMO_MANIFEST_NAME = "manifest.json"
FILBEAM_CACHE_CONTROL = "public, max-age=31536000"
CURIO_CACHE_CONTROL = "public, max-age=29030400, immutable"
#: Curio's constant modification time is ``time.UnixMilli(1)``; Go prints it with second precision.
EPOCH_HTTP_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"
#: The payer an emulated FilBeam names in its 402 answers (the real one reads it from the host name).
EMULATED_PAYER = "0x" + "0" * 40
MODES = ("filbeam", "curio")
#: When the emulated CDN edge holds a piece: after the first GET, after the first complete 200, never, always.
EDGE_FILL_MODES = ("first-request", "complete", "never", "always")
_WRITE_CHUNK = 64 * 1024
_LOG_LENGTH = 10_000
_HASH_BLOCK = 1 << 20


@dataclass
class Knobs:
    """Everything a test or benchmark may turn. Fractions are probabilities per request."""

    mode: str = "filbeam"
    latency_ms: float = 50.0  # time to first byte (headers) of every answer
    bandwidth: int | None = None  # bytes/s per connection
    total_bandwidth: int | None = None  # bytes/s across all connections
    edge_fill: str = "first-request"
    miss_content_length: bool = False  # send Content-Length on a CDN miss (FilBeam's is UNVERIFIED)
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
    etag_change: bool = False  # a different ETag on every answer
    stall_ms: float = 0.0  # extra wait before the first byte
    seed: int | None = None
    # FilBeam and Curio as they really run (proxy.emulator_edge)
    providers: int = 1  # providers per piece behind the CDN: a random pick per request, an edge entry each
    object_cap: int | None = DEFAULT_OBJECT_CAP  # pieces larger than this are never cached at the edge
    fill_cancelled_on_disconnect: bool = False  # a client leaving a miss early cancels the edge fill
    max_concurrent: int | None = CURIO_CONCURRENCY  # curio mode: more requests in flight get a 429

    def __post_init__(self) -> None:
        self._check()

    def update(self, **changes: object) -> None:
        """Change knobs by name; an unknown name or value raises ValueError and changes nothing."""
        names = {f.name for f in fields(self)}
        for name in changes:
            if name not in names:
                raise ValueError(f"unknown emulator knob {name!r} (known: {', '.join(sorted(names))})")
        before = asdict(self)
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            self._check()
        except ValueError:
            for name, value in before.items():
                setattr(self, name, value)
            raise

    def _check(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"emulator mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.edge_fill not in EDGE_FILL_MODES:
            raise ValueError(f"edge_fill must be one of {', '.join(EDGE_FILL_MODES)}, not {self.edge_fill!r}")
        for name in ("error_rate", "quota_rate", "not_found_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} is a fraction between 0 and 1, not {value!r}")
        if not isinstance(self.error_status, int) or not 400 <= self.error_status <= 599:
            raise ValueError(f"error_status must be an HTTP error status (400–599), not {self.error_status!r}")
        for name in ("bandwidth", "total_bandwidth", "drop_after", "object_cap", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (0 if name == "drop_after" else 1)):
                raise ValueError(f"{name} must be a positive whole number of bytes or None, not {value!r}")
        if not isinstance(self.providers, int) or self.providers < 1:
            raise ValueError(f"providers must be a whole number of at least 1, not {self.providers!r}")
        for name in ("latency_ms", "stall_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of milliseconds, not {value!r}")


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


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    piece: str
    range: str | None
    status: int
    bytes_sent: int
    complete: bool
    #: For a piece answer in filbeam mode: whether the emulated CDN edge held the piece (None otherwise).
    edge_hit: bool | None = None
    #: For a piece answer in filbeam mode: which of the piece's providers the worker picked (0-based).
    provider: int | None = None


@dataclass
class Counters:
    requests: int = 0
    head_requests: int = 0
    bytes_sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_piece: dict[str, PieceCounters] = field(default_factory=dict)
    log: deque[LoggedRequest] = field(default_factory=lambda: deque(maxlen=_LOG_LENGTH))

    def as_json(self) -> dict:
        return {
            "requests": self.requests,
            "head_requests": self.head_requests,
            "bytes_sent": self.bytes_sent,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "by_piece": {k: asdict(v) for k, v in self.by_piece.items()},
        }


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


@dataclass
class _Transfer:
    """Body bytes written so far by one answer (kept outside the writer so a broken write still counts)."""

    sent: int = 0


# --- which files, under which CIDs ---------------------------------------------------------------------------


def load_pieces(directory: Path) -> dict[str, ServedPiece]:
    """Every regular file in ``directory`` under its v1 and v2 PieceCIDs.

    A PieceCID comes from the demo manifest when the file still has the size and SHA-256 recorded there, else
    from the CommP cache when name, size and modification time still match, else it is computed (and cached).
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"the emulator serves a folder, and {directory} is not one")
    manifest = _manifest_entries(directory)
    cache = _load_commp_cache(directory)
    pieces: dict[str, ServedPiece] = {}
    updated = False
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == DEMO_MANIFEST_NAME:
            continue
        stat = path.stat()
        key = _fingerprint(path)
        v2 = _manifest_cid(manifest.get(path.name), path, stat.st_size) or cache.get(key)
        if v2 is None:
            log.info("computing the PieceCID of %s (%d bytes)…", path.name, stat.st_size)
            v2 = commp_of_file(path).v2()
            cache[key] = v2
            updated = True
        cid = parse_piece_cid(v2)
        with open(path, "rb") as handle:
            content_type = sniff_content_type(handle.read(SNIFF_BYTES))
        served = ServedPiece(path, stat.st_size, cid.v1(), v2, content_type, 1000 + len(pieces) // 2)
        pieces[served.v2] = pieces[served.v1] = served
    if updated:
        _save_commp_cache(directory, cache)
    return pieces


def remember_piece_cid(path: Path, v2: str) -> None:
    """Record a PieceCID computed elsewhere (``make_demo.py --large``), so serving its folder starts at once."""
    cache = _load_commp_cache(path.parent)
    cache[_fingerprint(path)] = v2
    _save_commp_cache(path.parent, cache)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"


def _manifest_entries(directory: Path) -> dict[str, dict]:
    manifest = directory / DEMO_MANIFEST_NAME
    if not manifest.exists():
        return {}
    try:
        entries = json.loads(manifest.read_text())["pieces"]
        return {entry["file"]: entry for entry in entries if isinstance(entry, dict) and "file" in entry}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring %s, which cannot be read as a demo manifest: %s", manifest, exc)
        return {}


def _manifest_cid(entry: dict | None, path: Path, size: int) -> str | None:
    """The manifest's CID for this file, if the file is still the one the manifest describes."""
    if entry is None or entry.get("size") != size:
        return None
    try:
        cid = parse_piece_cid(str(entry.get("piece_cid")))
    except CidError:
        return None
    if cid.payload_size != size:
        return None
    expected = entry.get("sha256")
    if expected is not None and _sha256_of(path) != expected:
        log.info("%s changed since the manifest was written; its PieceCID is computed again", path.name)
        return None
    return cid.v2()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


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


def _load_commp_cache(directory: Path) -> dict[str, str]:
    with contextlib.suppress(OSError, ValueError):
        known = json.loads(_commp_cache_path(directory).read_text())
        if isinstance(known, dict):
            return {str(k): str(v) for k, v in known.items()}
    return {}


def _save_commp_cache(directory: Path, known: dict[str, str]) -> None:
    path = _commp_cache_path(directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1, sort_keys=True))
    except OSError as exc:
        log.warning("could not cache PieceCIDs in %s: %s", path, exc)


# --- the origin ---------------------------------------------------------------------------------------------


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
        self._total_bucket: _TokenBucket | None = None
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

    def _roll_fault(self, knobs: Knobs) -> str | None:
        roll = self._rng.random()
        rates = (("not_found", knobs.not_found_rate), ("quota", knobs.quota_rate), ("error", knobs.error_rate))
        for name, rate in rates:
            if roll < rate:
                return name
            roll -= rate
        return None

    async def _answer_filbeam(self, request: web.Request, cid: str, knobs: Knobs) -> web.StreamResponse:
        # The worker's order: the path's CID shape, then Authorization, then the index lookup.
        if not cid.startswith(("baga", "bafk")):
            return self._plain(request, cid, 404, f"Invalid CID: {cid}. It is not a valid CommP (v1 or v2).")
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            return self._plain(request, cid, 401, _filbeam_unauthorized(authorization))
        piece = self.pieces.get(cid)
        fault = self._roll_fault(knobs)
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
        fault = self._roll_fault(knobs)
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
            framing = _multipart_framing(parts, boundary, piece.content_type, size)
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
        budget = _body_budget(parts, knobs)
        connection_bucket = _TokenBucket(knobs.bandwidth) if knobs.bandwidth else None
        if knobs.total_bandwidth and (self._total_bucket is None or self._total_bucket.rate != knobs.total_bandwidth):
            self._total_bucket = _TokenBucket(knobs.total_bandwidth)
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
                            _drop(request)
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
            _drop(request)


def _filbeam_unauthorized(authorization: str) -> str:
    """The worker's 401 wording: only known bot Bearer tokens pass, and the emulator knows none."""
    prefix, _, token = authorization.partition(" ")
    if prefix != "Bearer" or not token or " " in token:
        return "Unauthorized: Authorization header must use Bearer scheme"
    return f"Unauthorized: Invalid Access Token {token[:1]}...{token[-1:]}"


def _body_budget(parts: list[tuple[int, int]], knobs: Knobs) -> int | None:
    """How many body bytes to send before dropping the connection (None: all of them)."""
    total = sum(length for _, length in parts)
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
    for i, (start, length) in enumerate(parts):
        head = (
            ("\r\n" if i else "")
            + f"--{boundary}\r\nContent-Range: bytes {start}-{start + length - 1}/{size}\r\n"
            + f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode() if i == len(parts) - 1 else b""
        framing.append((head, tail))
    return framing


# --- Go net/http serveContent, as Curio answers (golang/go src/net/http/fs.go) ---------------------------------

_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_GO_INT64_MAX = (1 << 63) - 1
_ETAG = re.compile(r'^\s*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")')


class GoRangeError(ValueError):
    """Go's ``parseRange`` error: ``no_overlap`` is ``errNoOverlap`` (416 with ``bytes */N``), else syntax."""

    def __init__(self, message: str, no_overlap: bool = False) -> None:
        super().__init__(message)
        self.no_overlap = no_overlap


def _go_parse_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: ASCII digits with an optional sign, within int64; None on error."""
    if not _GO_INT.match(text):
        return None
    value = int(text)
    return value if -_GO_INT64_MAX - 1 <= value <= _GO_INT64_MAX else None


def go_parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Go's ``parseRange``: (start, length) per range, in request order, not coalesced; raises GoRangeError.

    Kept quirks: only the exact prefix ``bytes=`` is a byte range (anything else is a 416, not ignored); a range
    past the end is skipped, and only when every range is skipped is it ``errNoOverlap``; ``bytes=-0`` yields a
    zero-length range at the end, which Go then answers 206 with ``Content-Range: bytes N-(N-1)/N``.
    """
    if not header:
        return []
    if not header.startswith("bytes="):
        raise GoRangeError("invalid range")
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for spec in header[len("bytes=") :].split(","):
        spec = spec.strip(" \t")
        if not spec:
            continue
        first, dash, last = spec.partition("-")
        if not dash:
            raise GoRangeError("invalid range")
        first, last = first.strip(" \t"), last.strip(" \t")
        if not first:
            if not last or last[0] == "-":
                raise GoRangeError("invalid range")
            suffix = _go_parse_int(last)
            if suffix is None or suffix < 0:
                raise GoRangeError("invalid range")
            start = size - min(suffix, size)
            ranges.append((start, size - start))
            continue
        start = _go_parse_int(first)
        if start is None or start < 0:
            raise GoRangeError("invalid range")
        if start >= size:
            no_overlap = True
            continue
        if not last:
            ranges.append((start, size - start))
            continue
        end = _go_parse_int(last)
        if end is None or start > end:
            raise GoRangeError("invalid range")
        ranges.append((start, min(end, size - 1) - start + 1))
    if no_overlap and not ranges:
        raise GoRangeError("invalid range: failed to overlap", no_overlap=True)
    return ranges


def go_if_range_holds(if_range: str | None, etag: str, last_modified_unix: int = 0) -> bool:
    """Go's ``checkIfRange``: a strong ETag match, or a date equal to Last-Modified (to the second)."""
    if not if_range:
        return True
    match = _ETAG.match(if_range)
    if match:
        candidate = match.group(1)
        return candidate == etag and candidate.startswith('"')
    try:
        return int(parsedate_to_datetime(if_range).timestamp()) == last_modified_unix
    except (TypeError, ValueError, IndexError):
        return False


def go_check_preconditions(
    method: str, headers: Mapping[str, str], etag: str, last_modified_unix: int = 0
) -> int | None:
    """Go's ``checkPreconditions`` (RFC 7232 §6): 412, 304, or None to go on.

    Curio's modification time is 1 ms after the epoch, so any valid If-Modified-Since date means "not modified"
    and If-Unmodified-Since never fails.
    """
    if_match = headers.get("If-Match")
    if if_match and not _etag_list_matches(if_match, etag, weak=False):
        return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        if _etag_list_matches(if_none_match, etag, weak=True):
            return 304 if method in ("GET", "HEAD") else 412
        return None
    since = headers.get("If-Modified-Since")
    if since and method in ("GET", "HEAD"):
        try:
            if last_modified_unix <= parsedate_to_datetime(since).timestamp():
                return 304
        except (TypeError, ValueError, IndexError):
            return None
    return None


def _etag_list_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether a comma-separated ETag list (or ``*``) names ``etag``; Go stops at the first malformed entry."""
    rest = header
    while True:
        rest = rest.strip(" \t")
        if rest.startswith(","):
            rest = rest[1:]
            continue
        if not rest:
            return False
        if rest.startswith("*"):
            return True
        match = _ETAG.match(rest)
        if match is None:
            return False
        candidate = match.group(1)
        if weak and candidate.removeprefix("W/") == etag.removeprefix("W/"):
            return True
        if not weak and candidate == etag and candidate.startswith('"'):
            return True
        rest = rest[match.end() :]


# --- command line ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m proxy.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="folder of files to serve")
    parser.add_argument("--mode", choices=MODES, default="filbeam")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="time to first byte (default 50 ms)")
    parser.add_argument("--bandwidth", type=int, help="bytes/s per connection")
    parser.add_argument("--total-bandwidth", type=int, help="bytes/s across all connections")
    parser.add_argument("--edge-fill", choices=EDGE_FILL_MODES, default="first-request")
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
    add_edge_arguments(parser)
    return parser


async def _serve(args: argparse.Namespace) -> None:
    knob_names = {f.name for f in fields(Knobs)}
    knobs = Knobs(**{k: v for k, v in vars(args).items() if k in knob_names})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the URL is printed: a caller may signal at once
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    emulator = Emulator(args.dir, knobs)
    base = await emulator.start(args.host, args.port)
    print(base, flush=True)
    cids = emulator.piece_cids()
    if not cids:
        print(f"emulator: {args.dir} has no files to serve", file=sys.stderr)
    for cid in cids:
        piece = emulator.pieces[cid]
        print(f"{base}/{cid}  {piece.path.name}  {piece.size} bytes", file=sys.stderr, flush=True)
    await stop.wait()
    await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    if not args.dir.is_dir():
        print(f"emulator: {args.dir} is not a folder", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args))
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
