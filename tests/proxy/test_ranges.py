"""RFC 9110 range decisions, case by case (the property tests compare against a reference model separately)."""

from __future__ import annotations

import pytest

from proxy.ranges import ByteRange, RangeSpec, parse_range, plan_response, satisfiable_ranges

SIZE = 10_000
ETAG = '"baga6ea4seaqexample"'


def plan(range_header: str | None = None, method: str = "GET", size: int = SIZE, **conditions: str):
    return plan_response(
        method=method,
        size=size,
        etag=ETAG,
        content_type="video/mp4",
        range_header=range_header,
        boundary="B",
        **conditions,
    )


def spans(p) -> list[tuple[int, int]]:
    return [(part.range.start, part.range.end) for part in p.parts]


def test_no_range_header_returns_whole_representation():
    p = plan(None)
    assert (p.status, spans(p), p.content_length) == (200, [(0, SIZE - 1)], SIZE)
    assert "Content-Range" not in p.headers


def test_closed_range_returns_206_with_content_range():
    p = plan("bytes=0-99")
    assert (p.status, spans(p), p.headers["Content-Range"], p.content_length) == (
        206,
        [(0, 99)],
        "bytes 0-99/10000",
        100,
    )


def test_last_pos_beyond_end_is_clamped():
    assert spans(plan("bytes=9990-20000")) == [(9990, 9999)]
    assert plan("bytes=9990-20000").headers["Content-Range"] == "bytes 9990-9999/10000"


def test_open_ended_range_runs_to_the_end():
    assert spans(plan("bytes=9000-")) == [(9000, 9999)]


def test_suffix_range_selects_the_last_bytes():
    assert spans(plan("bytes=-500")) == [(9500, 9999)]


def test_suffix_range_longer_than_file_returns_whole_file_as_206():
    p = plan("bytes=-20000")
    assert (p.status, spans(p), p.headers["Content-Range"]) == (206, [(0, 9999)], "bytes 0-9999/10000")


def test_suffix_zero_is_not_satisfiable():
    p = plan("bytes=-0")
    assert (p.status, p.headers["Content-Range"], p.parts) == (416, "bytes */10000", ())


def test_first_pos_at_or_past_end_is_416():
    assert plan("bytes=10000-").status == 416
    assert plan("bytes=10000-10005").headers["Content-Range"] == "bytes */10000"


def test_some_satisfiable_ranges_are_enough_for_206():
    p = plan("bytes=20000-30000,0-9")
    assert (p.status, spans(p)) == (206, [(0, 9)])


def test_int_range_of_an_empty_representation_is_416_but_a_suffix_gets_the_empty_200():
    assert plan("bytes=0-", size=0).headers["Content-Range"] == "bytes */0"
    assert plan("bytes=-0", size=0).status == 416
    # §14.1.2: "the only satisfiable form of range-spec is a suffix-range with a non-zero suffix-length"; no 206
    # can frame zero bytes, so the Range is ignored (§14.2) and the empty representation is sent.
    assert (plan("bytes=-5", size=0).status, plan("bytes=-5", size=0).content_length) == (200, 0)


def test_empty_representation_without_range_is_empty_200():
    p = plan(None, size=0)
    assert (p.status, p.parts, p.content_length) == (200, (), 0)


@pytest.mark.parametrize(
    "header",
    [
        "items=0-5",  # another unit
        "bytes 0-5",  # no "="
        "bytes=5-1",  # last < first: invalid
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=-",
        "bytes=",
        "bytes=,",
        "bytes=0x10-20",
        "bytes=١-٢",  # Arabic-Indic digits are not DIGIT
        "bytes=+1-2",
        "bytes=1-2,5-x",  # one invalid spec invalidates the header
    ],
)
def test_invalid_or_foreign_range_is_ignored(header):
    p = plan(header)
    assert (p.status, spans(p)) == (200, [(0, SIZE - 1)])


def test_unit_is_case_insensitive_and_list_whitespace_is_tolerated():
    assert spans(plan("BYTES= 0-1 , 5-6 ,")) == [(0, 1), (5, 6)]


def test_multiple_ranges_make_a_multipart_body_with_exact_length():
    p = plan("bytes=0-9,100-109")
    assert p.status == 206
    assert p.headers["Content-Type"] == "multipart/byteranges; boundary=B"
    assert spans(p) == [(0, 9), (100, 109)]
    assert p.parts[0].prefix == b"--B\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-9/10000\r\n\r\n"
    assert p.parts[1].prefix.startswith(b"\r\n--B\r\n")
    assert p.epilogue == b"\r\n--B--\r\n"
    assert p.content_length == sum(len(x.prefix) for x in p.parts) + 20 + len(p.epilogue)


def test_overlapping_and_adjacent_ranges_are_coalesced():
    assert spans(plan("bytes=50-99,0-49,200-300,250-260")) == [(0, 99), (200, 300)]


def test_ranges_that_coalesce_into_one_are_not_multipart():
    p = plan("bytes=0-9,10-19")
    assert (p.status, spans(p), p.headers["Content-Range"]) == (206, [(0, 19)], "bytes 0-19/10000")


def test_too_many_ranges_are_answered_in_full():
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(100))
    assert plan(header).status == 200


def test_ranges_adding_up_to_more_than_the_file_are_answered_in_full():
    assert plan("bytes=0-,0-,0-").status == 200


def test_huge_positions_do_not_break_parsing():
    assert plan("bytes=" + "9" * 5000 + "-").status == 416
    assert spans(plan("bytes=10-" + "9" * 5000)) == [(10, 9999)]
    assert spans(plan("bytes=-" + "9" * 5000)) == [(0, 9999)]
    assert plan("bytes=" + "9" * 40 + "-" + "9" * 39 + "8").status == 200  # last < first, exactly compared


def test_head_ignores_range_and_gets_the_headers_of_a_full_get():
    p = plan("bytes=0-99", method="HEAD")
    assert (p.status, p.content_length) == (200, SIZE)


def test_if_range_with_our_strong_etag_allows_the_range():
    assert plan("bytes=0-9", if_range=ETAG).status == 206


@pytest.mark.parametrize("validator", ['"other"', f"W/{ETAG}", "Sat, 29 Oct 1994 19:43:31 GMT", ""])
def test_if_range_that_does_not_match_strongly_returns_whole_representation(validator):
    assert plan("bytes=0-9", if_range=validator).status == 200


def test_if_range_without_range_is_ignored():
    assert plan(None, if_range='"other"').status == 200


def test_if_none_match_with_our_etag_is_304():
    assert plan("bytes=0-9", if_none_match=f'"x", W/{ETAG}').status == 304
    assert plan(None, if_none_match="*").status == 304
    assert plan(None, if_none_match='"x"').status == 200


def test_if_match_failure_is_412_before_anything_else():
    assert plan("bytes=0-9", if_match='"x"').status == 412
    assert plan("bytes=0-9", if_match=ETAG).status == 206


def test_parse_range_reports_specs_as_written():
    assert parse_range("bytes=1-2,3-,-4") == [RangeSpec(1, 2), RangeSpec(3, None), RangeSpec(None, 4)]
    assert parse_range(None) is None


def test_satisfiable_ranges_sorts_and_merges():
    assert satisfiable_ranges([RangeSpec(5, 9), RangeSpec(0, 5)], 100) == [ByteRange(0, 9)]
