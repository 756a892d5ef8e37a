"""The proxy's HTTP contract over real sockets, compared byte for byte with the files behind it.

Expected answers are written out from RFC 9110 in this file (not computed by ``proxy.ranges``), so a bug in the
range planner cannot hide behind itself.
"""

from __future__ import annotations

import email.parser
import email.policy
import json

import aiohttp
import pytest

from proxy.emulator import Emulator
from proxy.server import ProxyServer
from tests.conftest import MiB, piece_of

SLICE = MiB


def battery(n: int) -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(Range header, status, byte spans) for a piece of n bytes, n > 2 MiB."""
    return [
        ("bytes=0-0", 206, [(0, 0)]),
        ("bytes=0-99", 206, [(0, 99)]),
        (f"bytes={SLICE - 1}-{SLICE}", 206, [(SLICE - 1, SLICE)]),  # straddles a slice boundary
        (f"bytes={SLICE}-{2 * SLICE - 1}", 206, [(SLICE, 2 * SLICE - 1)]),  # exactly one slice
        ("bytes=100-", 206, [(100, n - 1)]),
        (f"bytes={n - 10}-{n + 1000}", 206, [(n - 10, n - 1)]),
        ("bytes=-1", 206, [(n - 1, n - 1)]),
        (f"bytes=-{n // 2}", 206, [(n - n // 2, n - 1)]),
        (f"bytes=-{n + 5}", 206, [(0, n - 1)]),
        (f"bytes={n}-", 416, []),
        ("bytes=-0", 416, []),
        ("bytes=5-2", 200, [(0, n - 1)]),
        ("lines=0-5", 200, [(0, n - 1)]),
    ]


def _expect_headers(response: aiohttp.ClientResponse, cid_v1: str) -> None:
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] == f'"{cid_v1}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("file_name", ["random-3.5MiB.bin", "clip-faststart.mp4"])
async def test_single_ranges_match_the_file(proxy: ProxyServer, emulator: Emulator, http, file_name):
    cid, data = piece_of(emulator, file_name)
    url = f"{proxy.base_url}/piece/{cid}"
    for header, status, spans in battery(len(data)):
        async with http.get(url, headers={"Range": header}) as response:
            body = await response.read()
            assert response.status == status, header
            _expect_headers(response, emulator.pieces[cid].v1)
            if status == 416:
                assert response.headers["Content-Range"] == f"bytes */{len(data)}"
                assert "outside the piece" in json.loads(body)["error"]
                continue
            (start, end) = spans[0]
            assert body == data[start : end + 1], header
            assert int(response.headers["Content-Length"]) == len(body)
            if status == 206:
                assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
            else:
                assert "Content-Range" not in response.headers


async def test_content_type_is_sniffed_not_assumed(proxy: ProxyServer, emulator: Emulator, http):
    for file_name, expected in (("clip-faststart.mp4", "video/mp4"), ("random-2MiB.bin", "application/octet-stream")):
        cid, _ = piece_of(emulator, file_name)
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-0"}) as response:
            assert response.headers["Content-Type"] == expected


async def test_multiple_ranges_arrive_as_multipart_byteranges(proxy: ProxyServer, emulator: Emulator, http):
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    n = len(data)
    header = f"bytes=0-9, {n - 100}-, 2000000-2000099, 5-12"
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": header}) as response:
        body = await response.read()
        assert response.status == 206
        content_type = response.headers["Content-Type"]
        assert int(response.headers["Content-Length"]) == len(body)
    assert content_type.startswith("multipart/byteranges; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = [(p["Content-Range"], p.get_payload(decode=True)) for p in message.iter_parts()]
    expected = [(0, 12), (2000000, 2000099), (n - 100, n - 1)]  # sorted, 0-9 and 5-12 coalesced
    assert [r for r, _ in parts] == [f"bytes {a}-{b}/{n}" for a, b in expected]
    assert [payload for _, payload in parts] == [data[a : b + 1] for a, b in expected]


async def test_head_sends_the_headers_of_a_get_without_a_body(proxy: ProxyServer, emulator: Emulator, http):
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    async with http.head(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-9"}) as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(data)
        assert response.headers["Content-Type"] == "video/mp4"
        assert await response.read() == b""
    assert emulator.counters.head_requests == 0, "the proxy must never HEAD its upstream"


async def test_if_range_and_if_none_match(proxy: ProxyServer, emulator: Emulator, http):
    cid, data = piece_of(emulator, "random-2MiB.bin")
    url = f"{proxy.base_url}/piece/{cid}"
    etag = f'"{emulator.pieces[cid].v1}"'
    async with http.get(url, headers={"Range": "bytes=0-3", "If-Range": etag}) as response:
        assert (response.status, await response.read()) == (206, data[:4])
    async with http.get(url, headers={"Range": "bytes=0-3", "If-Range": '"stale"'}) as response:
        assert (response.status, len(await response.read())) == (200, len(data))
    async with http.get(url, headers={"If-None-Match": etag}) as response:
        assert (response.status, await response.read()) == (304, b"")


async def test_v1_and_v2_spellings_serve_the_same_piece(proxy: ProxyServer, emulator: Emulator, http):
    cid, data = piece_of(emulator, "random-2MiB.bin")
    v1 = emulator.pieces[cid].v1
    for spelling in (cid, v1):
        async with http.get(f"{proxy.base_url}/video/{spelling}", headers={"Range": "bytes=10-19"}) as response:
            assert (response.status, await response.read()) == (206, data[10:20])


async def test_bad_cid_is_a_400_in_words(proxy: ProxyServer, http):
    async with http.get(f"{proxy.base_url}/piece/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG") as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert "IPFS CID" in error


async def test_unknown_piece_is_a_404_in_words(proxy: ProxyServer, http):
    unknown = "bafkzcibcaaces3nobte6ezpp4wqan2age2s5yxcatzotcvobhgcmv5wi2xh5mbi"
    async with http.get(f"{proxy.base_url}/piece/{unknown}") as response:
        assert response.status == 404
        body = await response.json()
    assert "may not have been indexed yet" in body["detail"]
    assert body["error"]


async def test_requests_without_the_token_or_from_a_foreign_host_are_refused(proxy: ProxyServer, emulator, http):
    cid, _ = piece_of(emulator, "tiny.bin")
    without_token = proxy.base_url.rsplit("/", 1)[0]
    async with http.get(f"{without_token}/piece/{cid}") as response:
        assert response.status == 403
    async with http.get(f"{without_token}/wrongtoken/piece/{cid}") as response:
        assert response.status == 403
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Host": "evil.example"}) as response:
        assert response.status == 403
        assert "loopback" in (await response.json())["error"]
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        assert (response.status, await response.read()) == (200, emulator.pieces[cid].path.read_bytes())


async def test_health_and_stats(proxy: ProxyServer, emulator: Emulator, http):
    cid, data = piece_of(emulator, "random-2MiB.bin")
    async with http.get(f"{proxy.base_url}/health") as response:
        assert (await response.json()) == {"status": "ok"}
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        await response.read()
    async with http.get(f"{proxy.base_url}/stats") as response:
        stats = await response.json()
    assert stats["bytes_served"] == len(data)
    assert stats["bytes_upstream"] == emulator.counters.bytes_sent == len(data)
    assert stats["open_streams"] == 0
    assert stats["cache_misses"] >= 1
