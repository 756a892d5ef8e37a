"""RFC 9110 range requests, decided before any byte moves: pure functions, no I/O.

The proxy answers every range question itself, even when its upstream ignores ranges, because players depend
on exact answers (Qt's FFmpeg backend fails backward seeks against a server that answers 200 to a range).
aiohttp's ``FileResponse`` is not used: it answers 416 to multi-range requests and mishandles ``bytes=-0``.

Sections implemented, function by function:

* :func:`parse_range` — §14.1.1 (range-unit, ranges-specifier, int-range, suffix-range) and §5.6.1 (lists,
  with the empty elements a recipient must accept). A header that is not ``bytes`` or not valid is ``None``:
  §14.2 lets a server ignore it, and ignoring it means a 200 with the whole representation.
* :func:`satisfiable_ranges` — §14.1.2 (byte ranges against a size: last-pos clamped to the end, a suffix
  longer than the representation selects all of it, ``bytes=-0`` and a first-pos at or past the end are not
  satisfiable) and §14.2 / §15.3.7.2 (overlapping ranges may be coalesced; absurd sets may be ignored).
* :func:`if_range_matches` — §13.1.5 with the strong comparison of §8.8.3.2 (a weak tag never matches; a date
  cannot match because the proxy sends no ``Last-Modified``).
* :func:`decide_response` and :meth:`RangeDecision.plan` (its headers) — §13.2.2 (order of preconditions:
  ``If-Match`` → 412, ``If-None-Match`` → 304), §14.2 (only GET has range semantics: ``Range`` on HEAD is
  ignored, and HEAD gets the headers of a plain GET), §15.3.7 (206: ``Content-Range`` for one part; §14.6
  ``multipart/byteranges`` for several, never multipart for a single range), §15.5.17 (416 with
  ``Content-Range: bytes */N``). :func:`plan_response` does both when the type is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: More range-specs than this in one header is treated as abuse and answered with the whole representation.
MAX_RANGES = 64
_OWS = " \t"
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class ByteRange:
    """An inclusive byte range ``start … end`` of a representation."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class RangeSpec:
    """One range-spec as written: ``first-last``, ``first-`` (``last`` None) or ``-suffix`` (``first`` None)."""

    first: int | None
    last: int | None


@dataclass(frozen=True)
class Part:
    """One body part: its bytes come from ``range``, framed by ``prefix`` (multipart headers, or empty)."""

    range: ByteRange
    prefix: bytes = b""


@dataclass(frozen=True)
class RangePlan:
    """Everything the server needs to answer, decided before the body: status, headers, body layout.

    ``parts`` is empty for a response without a body from the representation (304, 412, 416, or an empty
    representation); ``epilogue`` closes a multipart body.
    """

    status: int
    parts: tuple[Part, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    epilogue: bytes = b""

    @property
    def content_length(self) -> int:
        return sum(len(p.prefix) + p.range.length for p in self.parts) + len(self.epilogue)


def parse_range(header: str | None) -> list[RangeSpec] | None:
    """The range-specs of a ``Range`` header, or None when it must be ignored (absent, other unit, invalid).

    Leniency beyond the grammar: optional whitespace around list elements (as nginx and Go accept).
    Strictness: digits are ASCII only, ``last-pos < first-pos`` makes the whole header invalid (§14.1.1),
    and a set with no range-spec at all is invalid.
    """
    if header is None:
        return None
    unit, eq, range_set = header.strip(_OWS).partition("=")
    if not eq or unit.lower() != "bytes":
        return None
    specs: list[RangeSpec] = []
    for element in range_set.split(","):
        element = element.strip(_OWS)
        if not element:
            continue
        spec = _parse_spec(element)
        if spec is None:
            return None
        specs.append(spec)
    return specs or None


def _parse_spec(text: str) -> RangeSpec | None:
    first, dash, last = text.partition("-")
    if not dash:
        return None
    if not first:
        return RangeSpec(None, _decimal(last)) if _is_digits(last) else None
    if not _is_digits(first) or (last and not _is_digits(last)):
        return None
    if last and _decimal_less(last, first):
        return None
    return RangeSpec(_decimal(first), _decimal(last) if last else None)


def _is_digits(text: str) -> bool:
    return bool(text) and all(c in _DIGITS for c in text)


#: Positions longer than this many digits are beyond any representation; they are saturated, not parsed,
#: so a header of thousands of digits cannot trip CPython's integer-string limit or cost quadratic time.
_MAX_DIGITS = 30
_SATURATED = 10**_MAX_DIGITS


def _decimal(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _SATURATED if len(digits) > _MAX_DIGITS else int(digits)


def _decimal_less(a: str, b: str) -> bool:
    """Exact ``int(a) < int(b)`` for ASCII digit strings of any length."""
    a, b = a.lstrip("0"), b.lstrip("0")
    return (len(a), a) < (len(b), b)


def satisfiable_ranges(specs: list[RangeSpec], size: int) -> list[ByteRange] | None:
    """The ranges to send, sorted and coalesced; ``[]`` when none is satisfiable (→ 416).

    None means "answer with the whole representation": too many ranges, or ranges whose total exceeds the
    representation (heavy overlap), which §14.2 allows a server to ignore; and a non-zero suffix on an empty
    representation, which §14.1.2 calls satisfiable although no 206 can frame zero bytes.
    """
    if len(specs) > MAX_RANGES:
        return None
    selected: list[ByteRange] = []
    for spec in specs:
        if spec.first is None:
            assert spec.last is not None
            if spec.last == 0:
                continue
            if size == 0:
                return None
            selected.append(ByteRange(max(0, size - spec.last), size - 1))
        elif spec.first < size:
            last = size - 1 if spec.last is None else min(spec.last, size - 1)
            selected.append(ByteRange(spec.first, last))
    if len(selected) > 1 and sum(r.length for r in selected) > size:
        return None
    return _coalesce(selected)


def _coalesce(ranges: list[ByteRange]) -> list[ByteRange]:
    merged: list[ByteRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end + 1:
            merged[-1] = ByteRange(merged[-1].start, max(merged[-1].end, r.end))
        else:
            merged.append(r)
    return merged


def if_range_matches(if_range: str | None, etag: str) -> bool:
    """Whether ``If-Range`` lets the range through (absent header: yes). Strong comparison only."""
    if if_range is None:
        return True
    value = if_range.strip(_OWS)
    return _is_strong_tag(value) and value == etag


def _is_strong_tag(value: str) -> bool:
    return len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1]


def _tag_list(header: str) -> list[str]:
    return [t.strip(_OWS) for t in header.split(",") if t.strip(_OWS)]


def _weak_match(header: str, etag: str) -> bool:
    """``If-None-Match`` semantics (§13.1.2): ``*`` or any tag equal to ours, ignoring ``W/``."""
    tags = _tag_list(header)
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _strong_match(header: str, etag: str) -> bool:
    """``If-Match`` semantics (§13.1.1): ``*`` or a strong tag equal to ours."""
    tags = _tag_list(header)
    return "*" in tags or etag in tags


def content_range(r: ByteRange, size: int) -> str:
    return f"bytes {r.start}-{r.end}/{size}"


@dataclass(frozen=True)
class RangeDecision:
    """Status and byte ranges of an answer, decided from the request, the size and the ETag alone.

    Made before any I/O (as aiohttp's ``web_fileresponse.py`` does): the server opens its reader on ``ranges``,
    learns the type from the first bytes if it must, and only then renders the headers with :meth:`plan`.
    ``ranges`` is empty for an answer without a body from the representation (304, 412, 416, an empty piece).
    """

    status: int
    size: int
    ranges: tuple[ByteRange, ...] = ()
    boundary: str = "pieceplayer-boundary"

    def plan(self, content_type: str | None) -> RangePlan:
        """Headers and body layout for this decision; ``content_type`` may be None only for 304, 412 and 416."""
        if self.status in (304, 412):
            return RangePlan(self.status)
        if self.status == 416:
            return RangePlan(416, (), {"Content-Range": f"bytes */{self.size}"})
        if content_type is None:
            raise ValueError(f"a {self.status} answer carries the representation and needs its type")
        if self.status == 200:
            return RangePlan(200, tuple(Part(r) for r in self.ranges), {"Content-Type": content_type})
        if len(self.ranges) == 1:
            only = self.ranges[0]
            return RangePlan(
                206, (Part(only),), {"Content-Type": content_type, "Content-Range": content_range(only, self.size)}
            )
        boundary, size = self.boundary, self.size
        parts = tuple(
            Part(
                r,
                (b"\r\n" if i else b"")
                + (
                    f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {content_range(r, size)}\r\n\r\n"
                ).encode("latin-1"),
            )
            for i, r in enumerate(self.ranges)
        )
        return RangePlan(
            206,
            parts,
            {"Content-Type": f"multipart/byteranges; boundary={boundary}"},
            f"\r\n--{boundary}--\r\n".encode("latin-1"),
        )


def decide_response(
    *,
    method: str,
    size: int,
    etag: str,
    range_header: str | None = None,
    if_range: str | None = None,
    if_match: str | None = None,
    if_none_match: str | None = None,
    boundary: str = "pieceplayer-boundary",
) -> RangeDecision:
    """Decide status and byte ranges of a GET or HEAD for a representation of ``size`` bytes (see the module)."""
    if if_match is not None and not _strong_match(if_match, etag):
        return RangeDecision(412, size)
    if if_none_match is not None and _weak_match(if_none_match, etag):
        return RangeDecision(304, size)
    full = RangeDecision(200, size, (ByteRange(0, size - 1),) if size else (), boundary)
    specs = parse_range(range_header) if method == "GET" else None
    if specs is None or not if_range_matches(if_range, etag):
        return full
    ranges = satisfiable_ranges(specs, size)
    if ranges is None:
        return full
    if not ranges:
        return RangeDecision(416, size)
    return RangeDecision(206, size, tuple(ranges), boundary)


def plan_response(*, content_type: str, **request: Any) -> RangePlan:
    """Decide (``request`` is :func:`decide_response`'s arguments) and render in one step, for a caller that knows
    the type already.

    The returned headers are the ones that depend on the request (``Content-Type``, ``Content-Range``);
    the server adds the constant ones (``Accept-Ranges``, ``ETag``, ``Cache-Control``, ``Content-Length``).
    """
    return decide_response(**request).plan(content_type)
