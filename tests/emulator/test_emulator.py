"""The emulator over real sockets: FilBeam's miss/hit behaviour and words, Go ServeContent ranges, every knob.

Expected FilBeam answers come from ``shared/research/filbeam.md`` and filbeam/worker (``piece-retriever``
``lib/request.js``, ``lib/store.js``, ``bin/piece-retriever.js``); expected Curio answers from Go's
``src/net/http/fs.go`` (``serveContent``, ``parseRange``, ``checkPreconditions``).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy.cid import parse_piece_cid
from proxy.commp import commp_of_file
from proxy.emulator import Emulator, Knobs
from tests.conftest import piece_of, running_emulator

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
RANDOM_PIECE = "random-2MiB.bin"
VIDEO_PIECE = "clip-faststart.mp4"


@pytest.fixture
async def curio(media_dir: Path) -> AsyncIterator[Emulator]:
    """A storage-provider-mode origin with no added latency."""
    async with running_emulator(media_dir, mode="curio", latency_ms=0) as origin:
        yield origin


async def fetch(
    http: aiohttp.ClientSession, url: str, method: str = "GET", **headers: str
) -> tuple[int, aiohttp.typedefs.LooseHeaders, bytes]:
    async with http.request(method, url, headers=headers) as response:
        return response.status, response.headers, await response.read()


async def ask_with(
    origin: Emulator, http: aiohttp.ClientSession, path: str, piece: str = RANDOM_PIECE, **knobs
) -> tuple[str, bytes, tuple[int, aiohttp.typedefs.LooseHeaders, bytes]]:
    """Turn the origin's ``knobs`` on, then GET ``piece`` at ``path`` (``/{cid}`` or ``/piece/{cid}``) asking
    for bytes 10-19 of a random piece, or all of another: (cid, the piece's bytes, (status, headers, body))."""
    origin.knobs.update(**knobs)
    cid, data = piece_of(origin, piece)
    url = origin.base_url + path.format(cid=cid)
    answer = await fetch(http, url, Range="bytes=10-19") if piece == RANDOM_PIECE else await fetch(http, url)
    return cid, data, answer


async def read_until_broken(response: aiohttp.ClientResponse) -> tuple[bytes, BaseException | None]:
    """The body as far as it came, and the error that ended it early (None if it ended cleanly)."""
    received = bytearray()
    try:
        async for chunk in response.content.iter_any():
            received += chunk
    except aiohttp.ClientPayloadError as exc:
        return bytes(received), exc
    return bytes(received), None


# --- the pieces it serves ----------------------------------------------------------------------------------------


def test_every_file_is_served_under_its_commp_in_both_spellings(emulator: Emulator, media_dir: Path) -> None:
    served = {emulator.pieces[cid].path.name: cid for cid in emulator.piece_cids()}
    files = sorted(p.name for p in media_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    assert sorted(served) == files
    for name, v2 in served.items():
        expected = commp_of_file(media_dir / name)
        assert v2 == expected.v2()
        assert emulator.pieces[expected.v1()] is emulator.pieces[v2]
        assert parse_piece_cid(v2).payload_size == (media_dir / name).stat().st_size


def test_a_missing_folder_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="serves a folder"):
        Emulator(tmp_path / "nope")


def test_unknown_knobs_and_bad_values_are_refused_and_change_nothing() -> None:
    knobs = Knobs(latency_ms=10)
    with pytest.raises(ValueError, match="unknown emulator knob 'latency'"):
        knobs.update(latency=5)
    with pytest.raises(ValueError, match="error_rate is a fraction"):
        knobs.update(latency_ms=20, error_rate=2)
    assert (knobs.latency_ms, knobs.error_rate) == (10, 0.0)
    with pytest.raises(ValueError, match="mode must be one of filbeam, curio"):
        Knobs(mode="s3")


# --- FilBeam mode ------------------------------------------------------------------------------------------------


async def test_first_get_is_a_cdn_miss_answered_200_with_the_whole_piece_whatever_range_says(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(emulator, RANDOM_PIECE)
    async with http.get(f"{emulator.base_url}/{cid}", headers={"Range": "bytes=1000-1999"}) as response:
        assert response.status == 200
        assert "Content-Length" not in response.headers
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Range" not in response.headers
        assert await response.read() == data
    assert emulator.counters.log[-1].edge_hit is False


async def test_later_gets_are_cdn_hits_with_true_206_answers(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    cid, data = piece_of(emulator, RANDOM_PIECE)
    await fetch(http, f"{emulator.base_url}/{cid}")
    status, headers, body = await fetch(http, f"{emulator.base_url}/{cid}", Range="bytes=1000-1999")
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert headers["Content-Length"] == "1000"
    assert body == data[1000:2000]
    assert emulator.counters.log[-1].edge_hit is True


async def test_filbeam_headers_name_the_cid_cache_for_a_year_and_carry_the_data_set(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, _ = piece_of(emulator, VIDEO_PIECE)
    for spelling in (cid, parse_piece_cid(cid).v1()):
        _, headers, _ = await fetch(http, f"{emulator.base_url}/{spelling}")
        assert headers["ETag"] == f'"{spelling}"'
        assert headers["Cache-Control"] == "public, max-age=31536000"
        assert headers["X-Data-Set-ID"].isdigit()
        assert headers["Content-Type"] == "video/mp4"
        assert headers["Accept-Ranges"] == "bytes"
        assert headers["Content-Security-Policy"] == "default-src 'none'"


async def test_the_piece_route_is_an_alias(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    cid, data = piece_of(emulator, "tiny.bin")
    assert (await fetch(http, f"{emulator.base_url}/piece/{cid}"))[2] == data


async def test_edge_fill_complete_keeps_missing_until_a_whole_piece_has_streamed(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    # Paced, so the hang-up comes before the whole piece sits in the sockets' buffers.
    emulator.knobs.update(edge_fill="complete", bandwidth=1 << 20)
    cid, data = piece_of(emulator, RANDOM_PIECE)
    url = f"{emulator.base_url}/{cid}"
    async with http.get(url, headers={"Range": "bytes=0-99"}) as response:
        assert response.status == 200
        await response.content.readexactly(100)  # a player that takes its range and hangs up
    await asyncio.sleep(0.1)
    emulator.knobs.update(bandwidth=None)
    status, _, body = await fetch(http, url, Range="bytes=0-99")
    assert status == 200 and body == data  # still a miss; this one streamed the whole piece
    assert (await fetch(http, url, Range="bytes=0-99"))[0] == 206


@pytest.mark.parametrize(("fill", "statuses"), [("never", [200, 200, 200]), ("always", [206, 206, 206])])
async def test_edge_fill_never_and_always(
    emulator: Emulator, http: aiohttp.ClientSession, fill: str, statuses: list[int]
) -> None:
    emulator.knobs.update(edge_fill=fill)
    cid, _ = piece_of(emulator, RANDOM_PIECE)
    seen = [(await fetch(http, f"{emulator.base_url}/{cid}", Range="bytes=5-9"))[0] for _ in statuses]
    assert seen == statuses


async def test_miss_content_length_knob_sends_the_length_on_a_miss(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    emulator.knobs.update(miss_content_length=True)
    cid, data = piece_of(emulator, RANDOM_PIECE)
    status, headers, _ = await fetch(http, f"{emulator.base_url}/{cid}", Range="bytes=0-9")
    assert (status, headers["Content-Length"]) == (200, str(len(data)))


async def test_reset_makes_the_next_get_a_miss_again_and_clears_counters(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, _ = piece_of(emulator, "tiny.bin")
    url = f"{emulator.base_url}/{cid}"
    await fetch(http, url)
    assert (await fetch(http, url, Range="bytes=0-0"))[0] == 206
    emulator.reset()
    assert emulator.counters.requests == 0
    assert (await fetch(http, url, Range="bytes=0-0"))[0] == 200


async def test_head_gets_the_miss_headers_without_a_body_and_fills_nothing(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(emulator, RANDOM_PIECE)
    url = f"{emulator.base_url}/{cid}"
    for _ in range(2):
        status, headers, body = await fetch(http, url, "HEAD", Range="bytes=0-9")
        assert (status, headers["Content-Length"], body) == (200, str(len(data)), b"")
    assert (await fetch(http, url, Range="bytes=0-9"))[0] == 200  # the first GET is still a miss
    assert emulator.counters.head_requests == 2


@pytest.mark.parametrize(
    ("authorization", "words"),
    [
        ("Basic dXNlcjpwYXNz", "Unauthorized: Authorization header must use Bearer scheme"),
        ("Bearer secret-token", "Unauthorized: Invalid Access Token s...n"),
    ],
)
async def test_any_authorization_header_gets_filbeams_401(
    emulator: Emulator, http: aiohttp.ClientSession, authorization: str, words: str
) -> None:
    cid, _ = piece_of(emulator, "tiny.bin")
    status, _, body = await fetch(http, f"{emulator.base_url}/{cid}", Authorization=authorization)
    assert (status, body.decode()) == (401, words)


async def test_a_path_that_is_no_commp_gets_filbeams_invalid_cid_404_before_authorization_is_checked(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    status, _, body = await fetch(http, f"{emulator.base_url}/QmNotAPiece", Authorization="Bearer x")
    assert (status, body.decode()) == (404, "Invalid CID: QmNotAPiece. It is not a valid CommP (v1 or v2).")


async def test_an_unknown_piece_gets_filbeams_not_indexed_404(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    unknown = "bafkzcibcp4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"  # FRC-0069's empty piece
    status, headers, body = await fetch(http, f"{emulator.base_url}/{unknown}")
    assert (status, body.decode()) == (404, f"Piece_cid '{unknown}' does not exist or may not have been indexed yet.")
    assert "Cache-Control" not in headers  # the worker's own errors carry none


async def test_quota_rate_answers_402_in_filbeams_words(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    cid, _, (status, _, body) = await ask_with(emulator, http, "/{cid}", "tiny.bin", quota_rate=1.0)
    data_set = emulator.pieces[cid].data_set_id
    assert status == 402
    assert body.decode() == (
        f"CDN egress quota exhausted for payer '0x{'0' * 40}' and data set '{data_set}'. "
        "Please top up your CDN egress quota."
    )


async def test_not_found_rate_answers_not_indexed_yet_for_a_known_piece(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    _, _, (status, _, body) = await ask_with(emulator, http, "/{cid}", "tiny.bin", not_found_rate=1.0)
    assert status == 404 and "may not have been indexed yet" in body.decode()


async def test_error_rate_answers_502_naming_the_providers_tried_or_the_chosen_status(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, _, (status, headers, body) = await ask_with(emulator, http, "/{cid}", "tiny.bin", error_rate=1.0)
    assert status == 502
    assert body.decode().startswith("No available service provider found. Attempted: ID=1 (Service URL=")
    assert headers["X-Data-Set-ID"] == str(emulator.pieces[cid].data_set_id)
    emulator.knobs.update(error_status=503)
    assert (await fetch(http, f"{emulator.base_url}/{cid}"))[:3:2] == (503, b"Service Unavailable")


async def test_fault_rates_are_fractions_of_requests(media_dir: Path, http: aiohttp.ClientSession) -> None:
    origin = Emulator(media_dir, Knobs(latency_ms=0, error_rate=0.25, quota_rate=0.25, seed=1))
    await origin.start()
    try:
        cid, _ = piece_of(origin, "tiny.bin")
        statuses = [(await fetch(http, f"{origin.base_url}/{cid}", "HEAD"))[0] for _ in range(200)]
    finally:
        await origin.stop()
    for status in (200, 402, 502):
        assert 25 <= statuses.count(status) <= 140, (status, statuses.count(status))
    assert origin.counters.by_status == {s: statuses.count(s) for s in set(statuses)}


# --- Curio mode: Go's http.ServeContent ---------------------------------------------------------------------------


async def test_curio_answers_a_plain_get_200_with_length_and_provider_headers(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(curio, VIDEO_PIECE)
    status, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}")
    assert (status, body) == (200, data)
    assert headers["Content-Length"] == str(len(data))
    assert headers["Cache-Control"] == "public, max-age=29030400, immutable"
    assert headers["ETag"] == f'"{cid}"'
    assert headers["Last-Modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Content-Disposition"] == f"inline; filename=\"{cid}.mp4\"; filename*=UTF-8''{cid}.mp4"
    assert "X-Data-Set-ID" not in headers


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("0-0", 0, 0),
        ("100-199", 100, 199),
        ("100-", 100, None),
        ("-100", -100, None),
        ("-99999999", 0, None),  # a suffix longer than the piece is the whole piece, still a 206
        ("5-99999999999", 5, None),  # the end is clamped
        (" 7 - 9 ", 7, 9),  # Go trims blanks around each part
        ("+3-+4", 3, 4),  # strconv.ParseInt accepts a sign
    ],
)
async def test_curio_single_ranges_follow_go(
    curio: Emulator, http: aiohttp.ClientSession, spec: str, first: int, last: int | None
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    size = len(data)
    start = first % size
    end = size - 1 if last is None else last
    status, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}", Range=f"bytes={spec}")
    assert status == 206
    assert headers["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert headers["Content-Length"] == str(end - start + 1)
    assert body == data[start : end + 1]


async def test_curio_multiple_ranges_are_a_multipart_byteranges_body_in_request_order(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    size = len(data)
    url = f"{curio.base_url}/piece/{cid}"
    async with http.get(url, headers={"Range": "bytes=500-599,0-9,-5"}) as response:
        assert response.status == 206
        assert response.headers["Content-Type"].startswith("multipart/byteranges; boundary=")
        declared = int(response.headers["Content-Length"])
        raw = await response.read()
    assert len(raw) == declared
    async with http.get(url, headers={"Range": "bytes=500-599,0-9,-5"}) as response:
        reader = aiohttp.MultipartReader.from_response(response)
        parts = []
        while (part := await reader.next()) is not None:
            parts.append((part.headers["Content-Range"], part.headers["Content-Type"], await part.read()))
    assert parts == [
        (f"bytes 500-599/{size}", "application/octet-stream", data[500:600]),
        (f"bytes 0-9/{size}", "application/octet-stream", data[:10]),
        (f"bytes {size - 5}-{size - 1}/{size}", "application/octet-stream", data[-5:]),
    ]


async def test_curio_ignores_ranges_that_add_up_to_more_than_the_piece(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    status, _, body = await fetch(http, f"{curio.base_url}/piece/{cid}", Range="bytes=0-,0-")
    assert (status, body) == (200, data)


@pytest.mark.parametrize(
    ("spec", "no_overlap"),
    [
        ("bytes=SIZE-", True),
        ("bytes=SIZE-SIZE,99999999-", True),
        ("bytes=abc", False),
        ("bytes=5-1", False),
        ("bytes=²-3", False),  # a Unicode digit is no number to Go (nor may it crash us)
        ("bytes=--5", False),
        ("items=0-1", False),  # Go insists on the exact "bytes=" prefix
        ("bytes=0-99999999999999999999", False),  # beyond int64
    ],
)
async def test_curio_unsatisfiable_and_invalid_ranges_are_416_as_go_words_them(
    curio: Emulator, http: aiohttp.ClientSession, spec: str, no_overlap: bool
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    size = len(data)
    status, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}", Range=spec.replace("SIZE", str(size)))
    assert status == 416
    if no_overlap:
        assert headers["Content-Range"] == f"bytes */{size}"
        assert body == b"invalid range: failed to overlap\n"
    else:
        assert "Content-Range" not in headers
        assert body == b"invalid range\n"


async def test_curio_suffix_of_zero_keeps_gos_empty_206_quirk(curio: Emulator, http: aiohttp.ClientSession) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    size = len(data)
    status, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}", Range="bytes=-0")
    assert (status, headers["Content-Range"], headers["Content-Length"], body) == (
        206,
        f"bytes {size}-{size - 1}/{size}",
        "0",
        b"",
    )


async def test_curio_empty_piece_ignores_an_unsatisfiable_range(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    (tmp_path / "empty.bin").write_bytes(b"")
    origin = Emulator(tmp_path, Knobs(mode="curio", latency_ms=0))
    await origin.start()
    try:
        [cid] = origin.piece_cids()
        assert cid == "bafkzcibcp4bdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"  # FRC-0069 empty piece
        status, headers, body = await fetch(http, f"{origin.base_url}/piece/{cid}", Range="bytes=0-")
    finally:
        await origin.stop()
    assert (status, headers["Content-Length"], body) == (200, "0", b"")


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        ("ETAG", 206),
        ('"something-else"', 200),
        ("W/ETAG", 200),  # If-Range needs a strong match
        ("Thu, 01 Jan 1970 00:00:00 GMT", 206),  # the Last-Modified date matches to the second
        ("Fri, 02 Jan 1970 00:00:00 GMT", 200),
        ("not a date", 200),
    ],
)
async def test_curio_if_range_by_etag_or_date(
    curio: Emulator, http: aiohttp.ClientSession, if_range: str, status: int
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    headers = {"Range": "bytes=10-19", "If-Range": if_range.replace("ETAG", f'"{cid}"')}
    got, _, body = await fetch(http, f"{curio.base_url}/piece/{cid}", **headers)
    assert (got, body) == (status, data[10:20] if status == 206 else data)


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("If-None-Match", "ETAG", 304),
        ("If-None-Match", 'W/"x", ETAG', 304),
        ("If-None-Match", "*", 304),
        ("If-None-Match", '"other"', 200),
        ("If-Match", '"other"', 412),
        ("If-Match", "ETAG", 200),
        ("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT", 304),
    ],
)
async def test_curio_conditional_requests(
    curio: Emulator, http: aiohttp.ClientSession, header: str, value: str, status: int
) -> None:
    cid, data = piece_of(curio, "tiny.bin")
    conditions = {header: value.replace("ETAG", f'"{cid}"')}
    got, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}", **conditions)
    assert got == status
    assert body == (data if status == 200 else b"")
    if status == 304:
        assert headers["ETag"] == f'"{cid}"'


async def test_curio_head_with_a_range_announces_the_range_without_a_body(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    status, headers, body = await fetch(http, f"{curio.base_url}/piece/{cid}", "HEAD", Range="bytes=0-99")
    assert (status, headers["Content-Range"], headers["Content-Length"], body) == (
        206,
        f"bytes 0-99/{len(data)}",
        "100",
        b"",
    )


async def test_curio_answers_a_bad_cid_400_and_an_unknown_one_404_with_bare_status_lines(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    assert (await fetch(http, f"{curio.base_url}/piece/not-a-cid"))[::2] == (400, b"")
    unknown_v1 = "baga6ea4seaqao7s73y24kcutaosvacpdjgfe5pw76ooefnyqw4ynr3d2y6x2mpq"
    unknown_v2 = parse_piece_cid(unknown_v1).with_payload_size(1000).v2()
    assert (await fetch(http, f"{curio.base_url}/piece/{unknown_v2}"))[::2] == (404, b"")
    # an unknown v1 carries no size, and Curio's failure to find one is not "no deal": a 500 (research §8)
    assert (await fetch(http, f"{curio.base_url}/piece/{unknown_v1}"))[::2] == (500, b"")


# --- knobs ----------------------------------------------------------------------------------------------------


async def _time_to_headers(http: aiohttp.ClientSession, url: str) -> float:
    t0 = time.monotonic()
    async with http.get(url, headers={"Range": "bytes=0-0"}) as response:
        elapsed = time.monotonic() - t0
        await response.read()
    return elapsed


@pytest.mark.parametrize("knob", ["latency_ms", "stall_ms"])
async def test_latency_and_stall_delay_the_first_byte(curio: Emulator, http: aiohttp.ClientSession, knob: str) -> None:
    cid, _ = piece_of(curio, "tiny.bin")
    curio.knobs.update(**{knob: 300})
    assert await _time_to_headers(http, f"{curio.base_url}/piece/{cid}") >= 0.15


async def test_latency_applies_to_error_answers_too(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.knobs.update(latency_ms=300)
    assert await _time_to_headers(http, f"{emulator.base_url}/bafkzcibnotindexed") >= 0.15


async def _timed_range(http: aiohttp.ClientSession, url: str, length: int) -> tuple[float, bytes]:
    t0 = time.monotonic()
    _, _, body = await fetch(http, url, Range=f"bytes=0-{length - 1}")
    return time.monotonic() - t0, body


async def test_bandwidth_caps_each_connection(curio: Emulator, http: aiohttp.ClientSession) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    curio.knobs.update(bandwidth=512 * 1024)
    elapsed, body = await _timed_range(http, f"{curio.base_url}/piece/{cid}", 256 * 1024)
    assert body == data[: 256 * 1024]
    assert elapsed >= 0.25  # 0.5 s at the cap; measured loosely


async def test_total_bandwidth_is_shared_by_concurrent_connections(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    curio.knobs.update(total_bandwidth=1024 * 1024)
    url = f"{curio.base_url}/piece/{cid}"
    t0 = time.monotonic()
    results = await asyncio.gather(*(_timed_range(http, url, 512 * 1024) for _ in range(2)))
    assert all(body == data[: 512 * 1024] for _, body in results)
    assert time.monotonic() - t0 >= 0.5  # 1 MiB through a 1 MiB/s pipe: 1 s; measured loosely


@pytest.mark.parametrize("mode", ["filbeam", "curio"])
async def test_drop_after_closes_the_connection_after_exactly_n_body_bytes(
    emulator: Emulator, http: aiohttp.ClientSession, mode: str
) -> None:
    emulator.knobs.update(mode=mode, drop_after=300_000)
    cid, data = piece_of(emulator, RANDOM_PIECE)
    async with http.get(f"{emulator.base_url}/{cid}") as response:
        assert response.status == 200
        received, error = await read_until_broken(response)
    assert error is not None
    assert received == data[:300_000]
    last = emulator.counters.log[-1]
    assert (last.bytes_sent, last.complete) == (300_000, False)


async def test_short_body_announces_the_full_length_and_sends_half(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    curio.knobs.update(short_body=True)
    cid, data = piece_of(curio, RANDOM_PIECE)
    async with http.get(f"{curio.base_url}/piece/{cid}", headers={"Range": "bytes=1000-200999"}) as response:
        assert response.headers["Content-Length"] == "200000"
        received, error = await read_until_broken(response)
    assert error is not None
    assert received == data[1000:101000]


async def test_ignore_range_answers_200_with_the_whole_body(curio: Emulator, http: aiohttp.ClientSession) -> None:
    _, data, (status, headers, body) = await ask_with(curio, http, "/piece/{cid}", ignore_range=True)
    assert (status, headers["Content-Length"], body) == (200, str(len(data)), data)


async def test_wrong_content_range_announces_a_shifted_range_over_the_true_bytes(
    curio: Emulator, http: aiohttp.ClientSession
) -> None:
    _, data, (status, headers, body) = await ask_with(curio, http, "/piece/{cid}", wrong_content_range=True)
    assert (status, headers["Content-Range"], body) == (206, f"bytes 11-20/{len(data)}", data[10:20])


async def test_wrong_total_announces_one_byte_more_than_the_piece(curio: Emulator, http: aiohttp.ClientSession) -> None:
    _, data, (_, headers, _) = await ask_with(curio, http, "/piece/{cid}", wrong_total=True)
    assert headers["Content-Range"] == f"bytes 10-19/{len(data) + 1}"


async def test_etag_change_gives_every_answer_a_new_etag(curio: Emulator, http: aiohttp.ClientSession) -> None:
    curio.knobs.update(etag_change=True)
    cid, _ = piece_of(curio, "tiny.bin")
    etags = {(await fetch(http, f"{curio.base_url}/piece/{cid}"))[1]["ETag"] for _ in range(3)}
    assert len(etags) == 3


async def test_counters_add_up_requests_statuses_and_bytes_per_piece(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    cid, data = piece_of(emulator, RANDOM_PIECE)
    tiny, _ = piece_of(emulator, "tiny.bin")
    url = f"{emulator.base_url}/{cid}"
    await fetch(http, url)  # miss: the whole piece
    await fetch(http, url, Range="bytes=0-99")  # hit: 100 bytes
    await fetch(http, url, "HEAD")
    await fetch(http, f"{emulator.base_url}/{tiny}")
    counters = emulator.counters
    assert (counters.requests, counters.head_requests) == (4, 1)
    assert counters.by_status == {200: 3, 206: 1}
    assert (counters.by_piece[cid].requests, counters.by_piece[cid].bytes_sent) == (3, len(data) + 100)
    assert counters.bytes_sent == len(data) + 100 + 1
    assert [entry.status for entry in counters.log] == [200, 206, 200, 200]


async def test_knobs_stats_and_reset_over_http(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    base = emulator.base_url
    async with http.post(f"{base}/_emulator/knobs", json={"mode": "curio", "latency_ms": 5}) as response:
        assert response.status == 200
        assert (await response.json())["mode"] == "curio"
    assert (emulator.knobs.mode, emulator.knobs.latency_ms) == ("curio", 5)
    async with http.post(f"{base}/_emulator/knobs", json={"bandwith": 1}) as response:
        assert response.status == 400
        assert "unknown emulator knob 'bandwith'" in (await response.json())["error"]
    async with http.post(f"{base}/_emulator/knobs", data="[1, 2]") as response:
        assert response.status == 400
    cid, _ = piece_of(emulator, "tiny.bin")
    await fetch(http, f"{base}/piece/{cid}")
    async with http.get(f"{base}/_emulator/stats") as response:
        stats = await response.json()
    assert stats["counters"]["requests"] == 1
    assert stats["counters"]["by_piece"][cid] == {"requests": 1, "bytes_sent": 1}
    assert stats["knobs"]["mode"] == "curio"
    async with http.post(f"{base}/_emulator/reset") as response:
        assert json.loads(await response.text()) == {"reset": True}
    assert emulator.counters.requests == 0


async def test_many_concurrent_readers_all_get_their_bytes(curio: Emulator, http: aiohttp.ClientSession) -> None:
    cid, data = piece_of(curio, RANDOM_PIECE)
    rng = random.Random(5)
    spans = [(start, start + rng.randrange(1, 200_000)) for start in rng.sample(range(len(data) - 200_000), 24)]
    bodies = await asyncio.gather(
        *(fetch(http, f"{curio.base_url}/piece/{cid}", Range=f"bytes={a}-{b - 1}") for a, b in spans)
    )
    assert [body for _, _, body in bodies] == [data[a:b] for a, b in spans]


# --- command line ---------------------------------------------------------------------------------------------


async def test_the_command_line_prints_its_base_url_first_lists_pieces_and_exits_cleanly(
    http: aiohttp.ClientSession,
) -> None:
    manifest = json.loads((DEMO / "manifest.json").read_text())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.emulator", "--dir", str(DEMO), "--latency-ms", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        base = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), base
        listed = [(await asyncio.wait_for(process.stderr.readline(), 10)).decode() for _ in manifest["pieces"]]
        for entry in manifest["pieces"]:
            assert any(line.startswith(f"{base}/{entry['piece_cid']}  {entry['file']}") for line in listed), listed
        cid = manifest["pieces"][0]["piece_cid"]
        first = await fetch(http, f"{base}/{cid}", Range="bytes=0-7")
        second = await fetch(http, f"{base}/{cid}", Range="bytes=0-7")
        assert (first[0], second[0]) == (200, 206)
        assert second[2] == (DEMO / manifest["pieces"][0]["file"]).read_bytes()[:8]
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=10)
    assert code == 0


def test_the_command_line_refuses_a_missing_folder_in_words(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proxy.emulator", "--dir", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "is not a folder" in result.stderr
