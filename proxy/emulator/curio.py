"""How a Curio storage provider answers ``/piece/{cid}``: Go's ``http.ServeContent`` ranges, and its limit.

Curio hands pieces to Go's ``net/http`` (``src/net/http/fs.go``), so the emulator reproduces Go's range parsing,
``If-Range`` and precondition rules and multipart framing — quirks included, because a proxy must survive the
real server, not an idealised one. Facts: ``shared/research/filbeam.md`` §4 and §8.

* **Curio's limit.** The piece route allows 256 concurrent requests, then answers 429 ``Service temporarily
  unavailable: too many concurrent requests`` with no Retry-After.
* **v1 CIDs on a provider.** Curio serves v1 PieceCIDs of PDP pieces; an unknown v1 ends in a 500 ("failed to
  determine piece size"), not a 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

#: Curio's ``retrieval.go`` concurrency limiter.
CURIO_CONCURRENCY = 256
CURIO_TOO_MANY = "Service temporarily unavailable: too many concurrent requests"
CURIO_CACHE_CONTROL = "public, max-age=29030400, immutable"
#: Curio's constant modification time is ``time.UnixMilli(1)``; Go prints it with second precision.
EPOCH_HTTP_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"

_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_GO_INT64_MAX = (1 << 63) - 1
_ETAG = re.compile(r'^\s*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")')


class ConcurrencyGate:
    """Curio's limiter: at most ``limit`` requests in flight, then 429 without Retry-After."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.refused = 0

    def enter(self, limit: int | None) -> bool:
        if limit is not None and self.in_flight >= limit:
            self.refused += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


def multipart_framing(
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
