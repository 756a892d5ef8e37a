"""The measuring client: what a player's HTTP stack does after a seek, timed, with every answer checked.

A probe asks ``Range: bytes=N-`` (what FFmpeg sends after a seek), times the arrival of byte N, optionally reads
on (as fast as it comes, or paced like a player draining its buffer), checks the bytes against the file, and
leaves by closing the connection, as Qt's FFmpeg backend does on a seek. Each probe uses a new connection.

An answer of 200 (the whole piece from byte 0, as FilBeam sends on a CDN miss) is accepted the way FFmpeg
accepts it: the client reads and discards up to byte N, so "first byte" is the arrival of byte N.

Sequential throughput is measured with curl, a C client, so the client is never the bottleneck on 2 cores.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import aiohttp

from bench.media import Piece

_CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
PROBE_TIMEOUT_S = 600.0
#: A contender that sends nothing for this long has stalled; the probe fails with that fact instead of hanging.
STALL_TIMEOUT_S = 30.0


@dataclass
class Probe:
    """One request. ``ttfb_s`` is the time from sending it to receiving byte ``offset``; ``read`` counts body
    bytes from ``offset`` on that the client took (bytes skipped in a 200 are not counted)."""

    offset: int
    status: int = 0
    ttfb_s: float | None = None
    read: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def new_session() -> aiohttp.ClientSession:
    """No connection reuse (each probe is a new player connection), no pool limit, no decompression."""
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S, sock_connect=10, sock_read=STALL_TIMEOUT_S)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)


async def probe(
    session: aiohttp.ClientSession,
    url: str,
    piece: Piece,
    offset: int,
    *,
    read: int = 1,
    pace: float | None = None,
    end: int | None = None,
) -> Probe:
    """Ask for ``bytes=offset-`` (or ``offset-end``), take ``read`` bytes from ``offset`` on, then leave.

    ``pace`` (bytes/s) throttles reading after the first byte, like a player whose buffer is full.
    """
    result = Probe(offset)
    t0 = time.perf_counter()
    range_header = f"bytes={offset}-" if end is None else f"bytes={offset}-{end}"
    try:
        async with session.get(url, headers={"Range": range_header}) as response:
            result.status = response.status
            position = _body_start(response, offset)
            if position is None:
                result.error = f"HTTP {response.status} Content-Range {response.headers.get('Content-Range')!r}"
                return result
            await _read_body(response, piece, position, offset, read, pace, result, t0)
            response.close()
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        result.error = f"{type(exc).__name__}: {exc}" if str(exc) else f"{type(exc).__name__} (stalled?)"
        result.error += f" after {result.read} bytes, {time.perf_counter() - t0:.1f} s"
    return result


def _body_start(response: aiohttp.ClientResponse, offset: int) -> int | None:
    if response.status == 200:
        return 0
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return offset
    return None


async def _read_body(
    response: aiohttp.ClientResponse,
    piece: Piece,
    position: int,
    offset: int,
    want: int,
    pace: float | None,
    result: Probe,
    t0: float,
) -> None:
    paced_from = 0.0
    while result.read < want:
        if position < offset:
            chunk = await response.content.read(min(_CHUNK * 16, offset - position))
        else:
            chunk = await response.content.read(min(_CHUNK, want - result.read))
        if not chunk:
            result.error = f"body ended at byte {position}"
            return
        if position < offset:
            position += len(chunk)
            continue
        if result.ttfb_s is None:
            result.ttfb_s = time.perf_counter() - t0
            paced_from = time.perf_counter()
        if chunk != piece.read(position, len(chunk)):
            result.error = f"wrong bytes at offset {position}"
            return
        position += len(chunk)
        result.read += len(chunk)
        if pace:
            ahead = paced_from + result.read / pace - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)


@dataclass
class Download:
    status: int
    size: int
    ttfb_s: float
    total_s: float
    error: str | None = None

    @property
    def throughput(self) -> float:
        """Bytes per second over the whole transfer."""
        return self.size / self.total_s if self.total_s > 0 else 0.0


async def curl_download(url: str, expected_size: int) -> Download:
    """GET the whole piece with curl into /dev/null; curl's own timers."""
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "--max-time", str(int(PROBE_TIMEOUT_S)),
        "--speed-limit", "1", "--speed-time", str(int(STALL_TIMEOUT_S)),
        "-w", "%{http_code} %{size_download} %{time_starttransfer} %{time_total}", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    try:
        code, size, ttfb, total = out.decode().split()
        download = Download(int(code), int(size), float(ttfb), float(total))
    except ValueError:
        return Download(0, 0, 0.0, 0.0, f"curl failed: {err.decode().strip() or out.decode()!r}")
    if download.status != 200 or download.size != expected_size:
        download.error = f"HTTP {download.status}, {download.size} of {expected_size} bytes"
    return download
