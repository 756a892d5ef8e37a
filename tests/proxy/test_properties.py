"""Property tests: ``proxy.ranges`` against a reference model written here from RFC 9110; ``proxy.cid`` on any input.

The model below never calls ``proxy.ranges``: it re-reads the grammar of RFC 9110 §14.1.1 with regular expressions,
evaluates ranges with exact integers (§14.1.2), applies the precondition order of §13.2.2, and encodes explicitly
each choice the module documents where the RFC leaves the server free. Those choices are listed in ``Choices`` with
the sentence of ``proxy/ranges.py`` that makes them, so a change of policy shows up here as a named difference.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time

from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from proxy.cid import MAX_HEIGHT, CidError, PieceCid, parse_piece_cid, unpadded_capacity
from proxy.ranges import ByteRange, RangeSpec, parse_range, plan_response, satisfiable_ranges

ETAG = '"baga6ea4seaqexampleetag"'
CONTENT_TYPE = "video/mp4"
BOUNDARY = "model-boundary"


class Choices:
    """Where RFC 9110 lets a server choose, what ``proxy/ranges.py`` documents it chose."""

    #: "More range-specs than this in one header is treated as abuse and answered with the whole representation."
    MAX_RANGES = 64
    #: "None means 'answer with the whole representation': ... ranges whose total exceeds the representation."
    #: (§14.2 lets a server ignore Range; §15.3.7.2 warns about overlapping sets.) Applies to two or more ranges.
    OVERSIZED_SET_IS_IGNORED = True
    #: "The ranges to send, sorted and coalesced": overlapping AND adjacent ranges become one (§15.3.7.2: MAY).
    COALESCE_ADJACENT = True
    #: "Leniency beyond the grammar: optional whitespace around list elements (as nginx and Go accept)" — also
    #: before the first and after the last element, where §5.6.1 has none.
    OWS_AROUND_EVERY_ELEMENT = True
    #: "Positions longer than this many digits are beyond any representation; they are saturated, not parsed."
    SATURATE_AT = 10**30


# --- the reference model (RFC 9110) ------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # §5.6.2 tchar
_OWS = "[ \t]*"  # §5.6.3
_HEADER = re.compile(rf"{_OWS}(?P<unit>{_TOKEN})=(?P<set>.*?){_OWS}", re.DOTALL)
_INT_RANGE = re.compile(r"(?P<first>[0-9]+)-(?P<last>[0-9]*)")  # §14.1.1 int-range (ASCII DIGIT only, §5.6.1)
_SUFFIX_RANGE = re.compile(r"-(?P<length>[0-9]+)")  # §14.1.1 suffix-range
_ENTITY_TAG = re.compile(r'(?P<weak>W/)?"(?P<opaque>[\x21\x23-\x7e\x80-\xff]*)"')  # §8.8.3


@contextlib.contextmanager
def exact_integers():
    """The model reads positions of any length exactly; CPython limits int(str) to 4300 digits by default."""
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(previous)


def model_specs(header: str | None) -> list[tuple[int | None, int | None]] | None:
    """§14.1.1: (first, last) per range-spec, ``(None, n)`` for a suffix; None when the header must be ignored."""
    if header is None:
        return None
    match = _HEADER.fullmatch(header)
    if match is None or match["unit"].lower() != "bytes":  # §14.1: range units are case-insensitive
        return None
    specs: list[tuple[int | None, int | None]] = []
    for raw in match["set"].split(","):
        text = raw.strip(" \t") if Choices.OWS_AROUND_EVERY_ELEMENT else raw
        if not text:  # §5.6.1: a recipient accepts empty list elements
            continue
        if m := _INT_RANGE.fullmatch(text):
            first = int(m["first"])
            last = int(m["last"]) if m["last"] else None
            if last is not None and last < first:  # "An int-range is invalid if ... last-pos ... less than first-pos"
                return None
            specs.append((first, last))
        elif m := _SUFFIX_RANGE.fullmatch(text):
            specs.append((None, int(m["length"])))
        else:  # other-range is not a bytes range: the whole ranges-specifier is invalid (§14.1.1) → ignored (§14.2)
            return None
    return specs or None  # 1#range-spec: at least one


def model_selected(specs: list[tuple[int | None, int | None]], size: int) -> list[tuple[int, int]] | str:
    """§14.1.2 evaluated against ``size``; returns byte spans, or "full" (ignore Range) or "416"."""
    if len(specs) > Choices.MAX_RANGES:
        return "full"
    spans: list[tuple[int, int]] = []
    zero_length_suffix_satisfiable = False
    for first, last in specs:
        if first is None:
            assert last is not None
            if size == 0:
                # "When a selected representation has zero length, the only satisfiable form of range-spec is a
                # suffix-range with a non-zero suffix-length." No 206 can frame zero bytes, so: the whole (empty) 200.
                zero_length_suffix_satisfiable |= last > 0
            elif last > 0:
                spans.append((max(0, size - last), size - 1))
        elif first < size:
            spans.append((first, size - 1 if last is None or last >= size else last))
    if zero_length_suffix_satisfiable:
        return "full"
    if not spans:
        return "416"
    if Choices.OVERSIZED_SET_IS_IGNORED and len(spans) > 1 and sum(e - s + 1 for s, e in spans) > size:
        return "full"
    merged: list[tuple[int, int]] = []
    gap = 1 if Choices.COALESCE_ADJACENT else 0
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """A #entity-tag list (§5.6.1, §8.8.3) as (weak, opaque) pairs, or None if it is not one.

    Scanned tag by tag, not split on commas: an opaque-tag may itself contain a comma.
    """
    tags, pos = [], 0
    separator = re.compile(r"[ \t]*(?:,[ \t]*)*")
    pos = separator.match(header, pos).end()
    while pos < len(header):
        m = _ENTITY_TAG.match(header, pos)
        if m is None:
            return None
        tags.append((bool(m["weak"]), m["opaque"]))
        after = separator.match(header, m.end())
        if after.end() < len(header) and "," not in header[m.end() : after.end()]:
            return None
        pos = after.end()
    return tags


def model_plan(
    method: str,
    size: int,
    range_header: str | None,
    if_range: str | None,
    if_match: str | None,
    if_none_match: str | None,
) -> tuple[int, list[tuple[int, int]]]:
    """(status, body spans) per §13.2.2 → §14.2 → §13.1.5 → §14.1.2."""
    ours = ETAG[1:-1]
    if if_match is not None and if_match.strip(" \t") != "*":
        tags = _tags(if_match) or []
        if not any(not weak and opaque == ours for weak, opaque in tags):  # §13.1.1: strong comparison
            return 412, []
    if if_none_match is not None and (
        if_none_match.strip(" \t") == "*" or any(opaque == ours for _, opaque in _tags(if_none_match) or [])
    ):
        return 304, []  # §13.1.2: weak comparison; GET/HEAD → 304
    whole = (200, [(0, size - 1)] if size else [])
    if method != "GET":  # §14.2: "GET is the only method for which range handling is defined"
        return whole
    with exact_integers():
        specs = model_specs(range_header)
        if specs is None:
            return whole
        if if_range is not None:  # §13.1.5, strong comparison; no Last-Modified is sent, so a date never matches
            m = _ENTITY_TAG.fullmatch(if_range.strip(" \t"))
            if m is None or m["weak"] or m["opaque"] != ours:
                return whole
        selected = model_selected(specs, size)
    if selected == "full":
        return whole
    if selected == "416":
        return 416, []
    return 206, selected


# --- strategies --------------------------------------------------------------------------------------------

sizes = st.one_of(st.integers(0, 3), st.integers(0, 2000), st.integers(0, 2**64), st.just(2**63 - 1))


def positions(size_hint: int) -> st.SearchStrategy[str]:
    near = [0, 1, max(size_hint - 1, 0), size_hint, size_hint + 1]
    return st.one_of(
        st.sampled_from(near).map(str),
        st.integers(0, max(2 * size_hint, 10)).map(str),
        st.integers(0, 2**80).map(str),
        st.integers(1, 60).map(lambda n: "9" * n),  # huge, around the saturation point
        st.integers(4000, 5000).map(lambda n: "1" + "0" * n),  # beyond CPython's int-string limit
        st.integers(0, 3).map(lambda n: "0" * n + "7"),  # leading zeros
        st.sampled_from(["٣", "１", "½", "²", "7a", "", " ", "-1", "0x10", "+5"]),  # not ASCII DIGIT
    )


def range_specs(size_hint: int) -> st.SearchStrategy[str]:
    pos = positions(size_hint)
    return st.one_of(
        st.tuples(pos, pos).map(lambda p: f"{p[0]}-{p[1]}"),
        pos.map(lambda p: f"{p}-"),
        pos.map(lambda p: f"-{p}"),
        st.sampled_from(["", "-", "--", "1-2-3", "abc", "=", "*", "0--1"]),
    )


ows = st.sampled_from(["", "", " ", "\t", "  ", " \t", "\n", "\xa0", "\u3000"])
units = st.sampled_from(
    ["bytes", "bytes", "BYTES", "Bytes", "bYtEs", "items", "byte", "bytes ", "ｂｙｔｅｓ", "", "bytesx"]
)


@st.composite
def range_headers(draw: st.DrawFn, size_hint: int) -> str:
    specs = draw(st.lists(range_specs(size_hint), min_size=0, max_size=draw(st.sampled_from([3, 8, 80]))))
    separators = [draw(ows) + "," + draw(ows) for _ in specs]
    body = "".join(s + sep for s, sep in zip(specs, separators, strict=True)).removesuffix(
        separators[-1] if separators else ""
    )
    return draw(ows) + draw(units) + draw(st.sampled_from(["=", "=", " =", "= ", ":"])) + body + draw(ows)


@st.composite
def valid_range_headers(draw: st.DrawFn, size: int) -> str:
    """Grammar-valid sets only, mostly satisfiable: so the If-Range, coalescing and multipart paths are reached."""
    number = st.one_of(st.integers(0, max(size - 1, 0)), st.integers(0, size + 2))
    spec = st.one_of(
        st.tuples(number, number).map(lambda p: f"{min(p)}-{max(p)}"),
        number.map(lambda n: f"{n}-"),
        number.map(lambda n: f"-{n}"),
    )
    if size > 4 and draw(st.booleans()):  # disjoint spans, shuffled: the multipart path
        cuts = sorted(draw(st.sets(st.integers(0, size - 1), min_size=2, max_size=min(12, size))))
        spans = [f"{a}-{b - 1 if b - 1 >= a else a}" for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
        return "bytes=" + ",".join(draw(st.permutations(spans)))
    return "bytes=" + ", ".join(draw(st.lists(spec, min_size=1, max_size=draw(st.sampled_from([1, 3, 70])))))


if_range_values = st.one_of(
    st.none(),
    st.sampled_from(
        [ETAG, f" {ETAG}\t", f"W/{ETAG}", '"other"', '""', "Thu, 01 Jan 1970 00:00:00 GMT", "*", ETAG[:-1]]
    ),
    st.text(max_size=30),
)
tag_pool = st.sampled_from([ETAG, f"W/{ETAG}", '"other"', 'W/"other"', '""', '"a,b"'])
tag_lists = st.one_of(
    st.none(),
    st.just("*"),
    st.lists(tag_pool, min_size=1, max_size=4).flatmap(
        lambda tags: st.lists(st.sampled_from(["", " ", "\t "]), min_size=len(tags), max_size=len(tags)).map(
            lambda pads: ",".join(p + t for p, t in zip(pads, tags, strict=True))
        )
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> dict:
    size = draw(sizes)
    kind = draw(st.integers(0, 9))  # weights: mostly valid sets, so 206, 416 and multipart are well exercised
    header = draw(
        st.none() if kind == 0 else range_headers(size) if kind <= 3 else st.text(max_size=60) if kind == 9
        else valid_range_headers(size)
    )  # fmt: skip
    rarely = st.integers(0, 5).flatmap(lambda n: tag_lists if n == 0 else st.none())
    return {
        "method": draw(st.sampled_from(["GET", "GET", "GET", "HEAD"])),
        "size": size,
        "range_header": header,
        "if_range": draw(st.integers(0, 2).flatmap(lambda n: if_range_values if n == 0 else st.none())),
        "if_match": draw(rarely),
        "if_none_match": draw(rarely),
    }


# --- properties of proxy.ranges ----------------------------------------------------------------------------


def representation(size: int) -> bytes:
    return bytes((i * 7 + 3) % 251 for i in range(size))


def _check_body_layout(plan, status: int, spans: list[tuple[int, int]], size: int) -> None:
    """The body the plan describes, assembled from a small representation, is exactly what the model expects."""
    rep = representation(size)
    body = b"".join(p.prefix + rep[p.range.start : p.range.end + 1] for p in plan.parts) + plan.epilogue
    assert len(body) == plan.content_length
    if status != 206 or len(spans) == 1:
        assert body == b"".join(rep[s : e + 1] for s, e in spans)
        return
    assert plan.headers == {"Content-Type": f"multipart/byteranges; boundary={BOUNDARY}"}  # §14.6
    expected = [
        ({"Content-Type": CONTENT_TYPE, "Content-Range": f"bytes {s}-{e}/{size}"}, rep[s : e + 1]) for s, e in spans
    ]
    assert strict_multipart(body, BOUNDARY.encode()) == expected


def strict_multipart(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """RFC 2046 §5.1.1 framing, CRLF for CRLF: dash-boundary, part headers, blank line, payload, close-delimiter."""
    delimiter = b"--" + boundary
    assert body.startswith(delimiter + b"\r\n"), body[:80]
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n"), body[-80:]
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for chunk in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, blank, payload = chunk.partition(b"\r\n\r\n")
        assert blank, chunk[:80]
        fields = [line.decode("latin-1").partition(": ") for line in head.split(b"\r\n")]
        assert all(sep for _, sep, _ in fields), head
        parts.append(({name: value for name, _, value in fields}, payload))
    return parts


@settings(max_examples=600, deadline=None)
@given(requests())
@example(dict(method="GET", size=0, range_header="bytes=-5", if_range=None, if_match=None, if_none_match=None))
@example(dict(method="GET", size=10, range_header="bytes=0-4,5-9", if_range=None, if_match=None, if_none_match=None))
@example(
    dict(method="GET", size=100, range_header="bytes=" + ",".join(["0-0"] * 65), if_range=None, if_match=None,
         if_none_match=None)
)  # fmt: skip
def test_plan_response_matches_the_rfc_9110_model_and_never_raises(request: dict):
    plan = plan_response(etag=ETAG, content_type=CONTENT_TYPE, boundary=BOUNDARY, **request)
    status, spans = model_plan(**request)
    event(f"{status}{' multipart' if len(spans) > 1 and status == 206 else ''}")
    size = request["size"]
    assert plan.status == status
    assert [(p.range.start, p.range.end) for p in plan.parts] == spans
    if status == 416:
        assert plan.headers == {"Content-Range": f"bytes */{size}"}  # §15.5.17
    elif status == 206 and len(spans) == 1:
        assert plan.headers == {
            "Content-Type": CONTENT_TYPE,
            "Content-Range": f"bytes {spans[0][0]}-{spans[0][1]}/{size}",
        }
    elif status == 200:
        assert plan.headers == {"Content-Type": CONTENT_TYPE}
    if status in (304, 412, 416):
        assert plan.content_length == 0
    elif size <= 4096:
        _check_body_layout(plan, status, spans, size)
    else:
        framing = sum(len(p.prefix) for p in plan.parts) + len(plan.epilogue)
        assert plan.content_length == sum(e - s + 1 for s, e in spans) + framing
        assert framing == 0 or len(spans) > 1


@settings(max_examples=800, deadline=None)
@given(st.one_of(st.none(), range_headers(10**6), st.text(), st.text(alphabet="bytesBYTES=0123456789-, \t٣１")))
def test_parse_range_matches_the_grammar(header: str | None):
    with exact_integers():
        expected = model_specs(header)
    got = parse_range(header)
    if expected is None:
        assert got is None
        return
    saturate = Choices.SATURATE_AT
    assert got == [
        RangeSpec(None if f is None else min(f, saturate), None if last is None else min(last, saturate))
        for f, last in expected
    ]


valid_specs = st.one_of(
    st.tuples(st.integers(0, 2**70), st.integers(0, 2**70)).map(lambda p: RangeSpec(min(p), max(p))),
    st.integers(0, 2**70).map(lambda n: RangeSpec(n, None)),
    st.integers(0, 2**70).map(lambda n: RangeSpec(None, n)),
    st.tuples(st.integers(0, 50), st.integers(0, 50)).map(lambda p: RangeSpec(min(p), max(p))),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(valid_specs, min_size=1, max_size=70), st.one_of(st.integers(0, 100), st.integers(0, 2**66)))
def test_satisfiable_ranges_matches_the_model(specs: list[RangeSpec], size: int):
    expected = model_selected([(s.first, s.last) for s in specs], size)
    got = satisfiable_ranges(specs, size)
    if expected == "full":
        assert got is None
    elif expected == "416":
        assert got == []
    else:
        assert got == [ByteRange(s, e) for s, e in expected]


def test_a_header_of_many_huge_numbers_is_decided_quickly():
    """Saturation, not int(): a 100 000-digit position costs nothing (and cannot trip the int-string limit)."""
    header = "bytes=" + ",".join(["1" + "0" * 100_000 + "-"] * 3)
    started = time.perf_counter()
    plan = plan_response(method="GET", size=10, etag=ETAG, content_type=CONTENT_TYPE, range_header=header)
    assert plan.status == 416
    assert time.perf_counter() - started < 5.0  # generous: guards against quadratic parsing, not a benchmark


# --- properties of proxy.cid -------------------------------------------------------------------------------

roots = st.binary(min_size=32, max_size=32)
any_sizes = st.one_of(st.integers(0, 5000), st.integers(0, 2**40), st.integers(0, 2**70), st.integers(0, 2**400))


def nameable_by_v2(size: int) -> bool:
    """FRC-0069: the smallest tree of height ≥ 2 with 127·2^(h−2) ≥ size; height is one byte the parser caps at
    MAX_HEIGHT (58: sizes must fit SQLite), padding a multiformats varint of at most 63 bits."""
    height = 2
    while 127 * 2 ** (height - 2) < size:
        height += 1
    return height <= MAX_HEIGHT and 127 * 2 ** (height - 2) - size < 2**63


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def _multibase(raw: bytes, encoding: str) -> str:
    import base64

    b32 = base64.b32encode(raw).decode().rstrip("=")
    return {"b": "b" + b32.lower(), "B": "B" + b32, "f": "f" + raw.hex(), "z": "z" + _b58(raw)}[encoding]


@st.composite
def cid_like_strings(draw: st.DrawFn) -> str:
    """CIDv1-shaped bytes with every field drawn (real and foreign codecs, wrong lengths, heights, paddings)."""
    version = draw(st.sampled_from([1, 1, 1, 0, 2, 0x12]))
    codec = draw(st.sampled_from([0x55, 0xF101, 0x70, 0x71, 0x0129, 0x0202, 0xF102, 0x1234]))
    hash_code = draw(st.sampled_from([0x1011, 0x1012, 0x12, 0x7777]))
    digest = draw(
        st.one_of(
            st.binary(max_size=48),
            st.tuples(st.integers(0, 2**64), st.integers(0, 300), roots).map(
                lambda t: _uvarint(t[0]) + bytes([t[1] % 256]) + t[2]
            ),
        )
    )
    declared = draw(st.one_of(st.just(len(digest)), st.integers(0, 200)))
    raw = _uvarint(version) + _uvarint(codec) + _uvarint(hash_code) + _uvarint(declared) + digest
    raw = raw[: draw(st.integers(0, len(raw)))] if draw(st.booleans()) and draw(st.booleans()) else raw
    return draw(st.sampled_from(["", " ", "\n"])) + _multibase(raw, draw(st.sampled_from("bBfz")))


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="bafkzcieqs234567=QmAZ0x/:.- "), cid_like_strings()))
def test_cid_parser_returns_a_piece_or_a_clear_cid_error(text: str):
    try:
        piece = parse_piece_cid(text)
    except CidError as exc:
        message = str(exc)
        assert message.strip() and len(message) < 400 and "Traceback" not in message
        return
    assert len(piece.root) == 32
    assert parse_piece_cid(piece.v1()).root == piece.root
    if piece.height is not None:
        assert 2 <= piece.height <= MAX_HEIGHT
        assert 0 <= piece.payload_size <= unpadded_capacity(piece.height)
        assert parse_piece_cid(piece.v2()) == piece  # the spelling is canonical: parsing it again is a fixed point


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(), st.integers(), st.none(), st.lists(st.text(), max_size=2)))
def test_cid_parser_refuses_non_text_in_words(value: object):
    try:
        parse_piece_cid(value)  # type: ignore[arg-type]
    except CidError as exc:
        assert "text" in str(exc)
    else:
        raise AssertionError("a non-string was accepted as a CID")


@settings(max_examples=500, deadline=None)
@given(roots, any_sizes, st.sampled_from(["", " ", "\t\n"]))
def test_v1_and_v2_round_trip_for_any_root_and_size(root: bytes, size: int, pad: str):
    assume(nameable_by_v2(size))
    v2 = PieceCid(root).with_payload_size(size).v2()
    parsed = parse_piece_cid(pad + v2 + pad)
    assert (parsed.root, parsed.payload_size, parsed.version, str(parsed)) == (root, size, 2, v2)
    assert parse_piece_cid("B" + v2[1:].upper()) == parsed
    v1 = parsed.v1()
    from_v1 = parse_piece_cid(v1)
    assert (from_v1.root, from_v1.payload_size, from_v1.version, from_v1.v1()) == (root, None, 1, v1)
    assert from_v1.with_payload_size(size).v2() == v2
    assert parsed.padded_size == 32 << parsed.height
    assert parsed.height == 2 or unpadded_capacity(parsed.height - 1) < size  # the smallest tree that holds it


@given(roots, st.one_of(st.integers(127 * 2**57, 127 * 2**57 + 2**62), st.integers(2**68, 2**400)))
def test_a_size_no_v2_cid_can_carry_is_a_cid_error(root: bytes, size: int):
    assume(not nameable_by_v2(size))
    try:
        PieceCid(root).with_payload_size(size).v2()
    except CidError as exc:
        assert "beyond" in str(exc)
    else:
        raise AssertionError(f"a {size}-byte piece got a v2 CID")


def test_a_pasted_wall_of_text_is_refused_quickly():
    """The GUI parses pasted text on its own thread: 100 kB of base58 (seconds to decode) must not freeze it."""
    for text in ("z" + "2" * 100_000, "b" + "a" * 100_000, "f" + "0" * 100_000):
        started = time.perf_counter()
        try:
            parse_piece_cid(text)
        except CidError as exc:
            assert "too long" in str(exc)
        else:
            raise AssertionError("a megabyte was accepted as a CID")
        assert time.perf_counter() - started < 1.0  # generous: guards against quadratic decoding


def test_model_sanity():
    """The model itself, on RFC 9110's own examples (§14.1.2), so a broken model cannot pass silently."""
    with exact_integers():
        assert model_selected(model_specs("bytes=0-499"), 10000) == [(0, 499)]
        assert model_selected(model_specs("bytes=500-999"), 10000) == [(500, 999)]
        assert model_selected(model_specs("bytes=-500"), 10000) == [(9500, 9999)]
        assert model_selected(model_specs("bytes=9500-"), 10000) == [(9500, 9999)]
        assert model_selected(model_specs("bytes=0-0,-1"), 10000) == [(0, 0), (9999, 9999)]
        assert model_selected(model_specs("bytes= 0-999, 4500-5499, -1000"), 10000) == [
            (0, 999),
            (4500, 5499),
            (9000, 9999),
        ]
        assert model_selected(model_specs("bytes=500-600,601-999"), 10000) == [(500, 999)]
        assert model_selected(model_specs("bytes=500-700,601-999"), 10000) == [(500, 999)]
        assert model_specs("bytes=5-2") is None
        assert model_specs("bytes=١-٢") is None
        assert model_selected(model_specs("bytes=10000-"), 10000) == "416"
        assert model_selected(model_specs("bytes=-0"), 10000) == "416"
