"""Hostile upstreams: answers that look right but are not the piece, or that try to use the proxy against the user.

Each upstream here is a real aiohttp server on a real socket, scripted to misbehave in one way; the proxy in front
of it is the real one. Every test checks what the player gets (the right bytes, or an error in words, promptly),
that nothing wrong was cached, and — where a second source is configured — that the proxy fails over to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from proxy.cid import PieceCid, parse_piece_cid
from proxy.commp import commp_of_bytes
from proxy.emulator import Emulator
from proxy.events import UpstreamFinished
from proxy.server import STORE_NAME, ProxyConfig, ProxyServer
from proxy.sniff import _MAGIC, SNIFFED_TYPES, sniff_content_type
from proxy.sources import template_source
from proxy.store import PieceRecord, PieceStore
from proxy.upstream import RetryPolicy, Timeouts
from tests.cache.test_faults import assert_cache_holds_only_intact_slices, fetch
from tests.conftest import piece_of

FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)
PIECE = "random-2MiB.bin"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- fixtures: a scripted upstream, and a proxy in front of it -----------------------------------------------


@contextlib.asynccontextmanager
async def upstream(handler: Handler) -> AsyncIterator[str]:
    """A real HTTP server answering every GET with ``handler``; yields its base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def proxy_over(tmp_path: Path, *bases: str, **config: object) -> AsyncIterator[ProxyServer]:
    sources = [template_source(base + "/{cid}") for base in bases]
    server = ProxyServer(ProxyConfig(sources, tmp_path / "cache", retry=FAST_RETRY, **config))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def asked_range(request: web.Request, size: int) -> tuple[int, int]:
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.headers.get("Range", ""))
    assert match, request.headers.get("Range")
    first = int(match.group(1))
    return first, min(size - 1, int(match.group(2)) if match.group(2) else size - 1)


def partial(request: web.Request, data: bytes, **headers: str) -> web.Response:
    """An honest 206 for the range asked, plus ``headers``."""
    first, last = asked_range(request, len(data))
    return web.Response(
        status=206,
        body=data[first : last + 1],
        headers={"Content-Range": f"bytes {first}-{last}/{len(data)}", **headers},
    )


def error_of(outcome) -> dict:
    assert outcome.headers.get("Content-Type", "").startswith("application/json"), outcome
    document = json.loads(outcome.body)
    assert isinstance(document["error"], str) and len(document["error"]) > 10, document
    return document


# --- 4: compressed bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "identity, gzip"])
async def test_a_compressed_206_of_the_right_length_is_never_served_and_the_next_source_answers(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession, coding: str
):
    cid, data = piece_of(emulator, PIECE)
    squeezed = gzip.compress(data)[: len(data)]  # "compressed", and exactly as long as the piece

    async def compressing(request: web.Request) -> web.Response:
        return partial(request, squeezed, **{"Content-Encoding": coding})

    async with upstream(compressing) as bad:
        async with proxy_over(tmp_path / "alone", bad) as proxy:
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-65535")
            assert outcome.status == 502
            assert "Content-Encoding" in error_of(outcome)["detail"]
            assert await assert_cache_holds_only_intact_slices(proxy, {cid: data}) == 0
        async with proxy_over(tmp_path / "failover", bad, emulator.base_url) as proxy:
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=1000-1000999")
            assert (outcome.status, outcome.body) == (206, data[1000:1001000])
            await assert_cache_holds_only_intact_slices(proxy, {cid: data})


async def test_a_transfer_coded_body_is_never_served(emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession):
    """``Transfer-Encoding: gzip, chunked``: the chunks are gzip, not the piece (sent raw: aiohttp's server would
    not frame it so)."""
    cid, data = piece_of(emulator, PIECE)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        first, last = (int(x) for x in re.search(rb"bytes=(\d+)-(\d+)", head).groups())  # type: ignore[union-attr]
        body = gzip.compress(data[first : last + 1])
        writer.write(
            f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {first}-{last}/{len(data)}\r\n"
            "Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n".encode()
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    bad = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with proxy_over(tmp_path, bad, emulator.base_url) as proxy:
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99999")
            assert (outcome.status, outcome.body) == (206, data[:100000])
            await assert_cache_holds_only_intact_slices(proxy, {cid: data})
    finally:
        server.close()
        await server.wait_closed()


# --- 5: sizes beyond what the proxy can hold -----------------------------------------------------------------


@pytest.mark.parametrize("status", [206, 416])
async def test_a_v1_piece_claimed_to_hold_2_64_bytes_is_an_error_in_words_for_every_request(
    tmp_path: Path, http: aiohttp.ClientSession, status: int
):
    """The size used to be set, then storing it raised before the waiting request was woken: it hung for good,
    and every later request got the proxy's own-bug 500 (SQLite's INTEGER holds less than 2^63)."""
    v1 = commp_of_bytes(b"a small piece" * 1000).v1()

    async def boasting(request: web.Request) -> web.Response:
        if status == 416:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{2**64}"})
        first, last = asked_range(request, 2**64)
        return web.Response(
            status=206, body=bytes(last - first + 1), headers={"Content-Range": f"bytes {first}-{last}/{2**64}"}
        )

    async with upstream(boasting) as bad, proxy_over(tmp_path, bad) as proxy:
        for _ in range(2):  # the first request must not hang; the ones after must not be a bare 500
            outcome = await asyncio.wait_for(fetch(http, f"{proxy.base_url}/piece/{v1}", "bytes=0-99"), 20)
            assert outcome.status == 502, outcome
            assert "more than any piece CID can name" in error_of(outcome)["detail"]
        async with http.get(f"{proxy.base_url}/health") as response:
            assert response.status == 200


async def test_a_size_beyond_the_cid_stored_by_an_earlier_version_is_learnt_again(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    """Earlier versions stored any size below 2^63 an upstream claimed for a v1 CID; it must not poison the piece."""
    cid, data = piece_of(emulator, PIECE)
    v1 = parse_piece_cid(cid).v1()
    store = PieceStore(tmp_path / "cache" / STORE_NAME)
    store.put(PieceRecord(parse_piece_cid(cid).root.hex(), v1, 2**63 - 1))  # SQLite holds it; no CID does
    store.close()

    async def honest(request: web.Request) -> web.Response:  # serves the v1 spelling, as a provider does
        return partial(request, data)

    async with upstream(honest) as provider, proxy_over(tmp_path, provider) as proxy:
        outcome = await fetch(http, f"{proxy.base_url}/piece/{v1}", "bytes=0-99")
    assert (outcome.status, outcome.body) == (206, data[:100])


@pytest.mark.parametrize("height", [59, 63])
async def test_a_v2_cid_too_tall_for_the_proxy_is_a_400_in_words(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession, height: int
):
    tall = PieceCid(bytes(range(32)), height, 1).v2()  # well-formed: 127 · 2^(height − 2) − 1 bytes
    async with proxy_over(tmp_path, emulator.base_url) as proxy:
        outcome = await fetch(http, f"{proxy.base_url}/piece/{tall}", "bytes=0-99")
        assert outcome.status == 400, outcome
        assert "beyond" in error_of(outcome)["error"]
    assert emulator.counters.requests == 0


# --- 6: an upstream that dribbles -------------------------------------------------------------------------


def dribbling(data: bytes, every_s: float) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        first, last = asked_range(request, len(data))
        response = web.StreamResponse(status=206, headers={"Content-Range": f"bytes {first}-{last}/{len(data)}"})
        response.content_length = last - first + 1
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for position in range(first, last + 1):
                await response.write(data[position : position + 1])
                await asyncio.sleep(every_s)
        return response

    return handler


async def test_a_dribbling_upstream_still_gets_the_player_its_headers_at_once(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    """Headers used to wait for 4 KiB to sniff the type: at a byte per second, over an hour."""
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    async with upstream(dribbling(data, 1.0)) as slow, proxy_over(tmp_path, slow) as proxy:
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(10), http.get(f"{proxy.base_url}/piece/{cid}") as response:
            waited = asyncio.get_running_loop().time() - started
            assert response.status == 200
            assert await response.content.readexactly(1) == data[:1]
        assert waited < 10  # the hang this guards against took 4,096 s
        assert proxy.cache.info(parse_piece_cid(cid).root.hex()).content_type is None  # a partial sniff is not kept


async def test_a_dribbling_body_ends_at_its_deadline_in_words_and_the_next_source_takes_over(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    cid, data = piece_of(emulator, PIECE)
    pace = Timeouts(body_floor=1.0, body_min_rate=1 << 20)  # a 1 MiB slice may take 2 s; this upstream needs a day
    async with upstream(dribbling(data, 0.1)) as slow:
        async with proxy_over(tmp_path / "alone", slow, timeouts=pace) as proxy:
            finished: list[UpstreamFinished] = []
            proxy.bus.subscribe(lambda e: finished.append(e) if isinstance(e, UpstreamFinished) else None)
            outcome = await asyncio.wait_for(fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99"), 15)
            assert outcome.status in (206, 504), outcome
            if outcome.status == 206:  # the first byte came in time: the body is visibly cut, not completed
                assert not outcome.complete and outcome.body == data[: len(outcome.body)]
            assert any("too slowly" in (e.error or "") for e in finished), finished
            again = await asyncio.wait_for(fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99"), 5)
            assert again.status == 502 and "too slowly" in error_of(again)["detail"]
            await assert_cache_holds_only_intact_slices(proxy, {cid: data})
        async with proxy_over(tmp_path / "failover", slow, emulator.base_url, timeouts=pace) as proxy:
            outcome = await asyncio.wait_for(fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99"), 15)
            assert (outcome.status, outcome.body) == (206, data[:100])


# --- 7: redirects ------------------------------------------------------------------------------------------


async def test_a_redirect_to_another_host_or_port_is_not_followed(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    cid, data = piece_of(emulator, PIECE)
    lan_hits: list[str] = []

    async def lan_service(request: web.Request) -> web.Response:
        lan_hits.append(request.path)
        return web.Response(text="router admin page: secrets", status=500)

    async with upstream(lan_service) as lan:

        async def redirecting(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{lan}/admin")

        async with upstream(redirecting) as bad:
            async with proxy_over(tmp_path / "alone", bad) as proxy:
                outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
                assert outcome.status == 502
                document = error_of(outcome)
                assert "redirect" in document["error"] and "secrets" not in outcome.body.decode()
            assert lan_hits == []
            async with proxy_over(tmp_path / "failover", bad, emulator.base_url) as proxy:
                outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
                assert (outcome.status, outcome.body) == (206, data[:100])
            assert lan_hits == []


async def test_a_redirect_within_the_source_or_to_a_listed_host_is_followed(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    cid, data = piece_of(emulator, PIECE)

    async def moved(request: web.Request) -> web.Response:
        if request.path.startswith("/moved/"):
            return partial(request, data)
        raise web.HTTPTemporaryRedirect(f"/moved{request.path}")

    async with upstream(moved) as same_host:
        async with proxy_over(tmp_path / "same", same_host) as proxy:
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
            assert (outcome.status, outcome.body) == (206, data[:100])

        async def elsewhere(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{emulator.base_url}{request.path}")

        async with upstream(elsewhere) as pointing:
            listed = (emulator.base_url.removeprefix("http://"),)
            async with proxy_over(tmp_path / "listed", pointing, redirect_hosts=listed) as proxy:
                outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
                assert (outcome.status, outcome.body) == (206, data[:100])


# --- 9: the type comes from the bytes, never from the upstream's claim ------------------------------------


async def test_a_piece_first_asked_for_in_the_middle_is_not_typed_by_the_upstreams_claim(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    cid, data = piece_of(emulator, "clip-faststart.mp4")

    async def claiming_html(request: web.Request) -> web.Response:
        return partial(request, data, **{"Content-Type": "text/html"})

    middle = len(data) // 2
    async with upstream(claiming_html) as bad, proxy_over(tmp_path, bad) as proxy:
        types = []
        for asked in (f"bytes={middle}-{middle + 999}", "bytes=0-99", f"bytes={middle + 70000}-{middle + 70999}"):
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", asked)
            assert outcome.status == 206 and outcome.complete
            types.append(outcome.headers["Content-Type"])
    assert "text/html" not in types
    assert types[1:] == ["video/mp4", "video/mp4"]  # once the head is known, it decides


# --- 10: the CLI keeps its token out of the logs ------------------------------------------------------------


async def test_the_cli_prints_its_url_with_the_token_on_stdout_and_logs_it_without(emulator: Emulator, tmp_path):
    from tests.proxy.test_cli import start, stop

    process, base = await start("-m", "proxy", "--upstream", emulator.base_url + "/{cid}", "--cache-dir", str(tmp_path))
    token = base.rsplit("/", 1)[1]
    code, stderr = await stop(process)
    assert code == 0 and len(token) >= 16
    assert "proxy listening on http://127.0.0.1:" in stderr  # the line is there…
    assert token not in stderr  # …without the token


async def test_a_type_an_earlier_version_took_from_an_upstream_is_sniffed_again(
    emulator: Emulator, tmp_path: Path, http: aiohttp.ClientSession
):
    """Earlier versions stored the upstream's claim for good; such a record must not outlive the upgrade."""
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    piece = parse_piece_cid(cid)
    store = PieceStore(tmp_path / "cache" / STORE_NAME)
    store.put(PieceRecord(piece.root.hex(), cid, len(data), "text/html", "upstream"))
    store.close()
    async with proxy_over(tmp_path, emulator.base_url) as proxy:
        outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
    assert (outcome.status, outcome.headers["Content-Type"]) == (206, "video/mp4")


def crafted_heads() -> list[bytes]:
    """A head for every branch of the sniffer: each magic number, MP4 brand, Matroska DocType, RIFF kind."""
    heads = [magic + bytes(64) for magic, _ in _MAGIC]
    heads += [b"\0\0\0\x18ftyp" + brand + bytes(64) for brand in (b"isom", b"qt  ", b"M4A ", b"3gp5", b"avif", b"heic")]
    heads += [b"\0\0\0\x08moov" + bytes(64)]
    heads += [b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm" + bytes(64), b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska"]
    heads += [b"OggS" + bytes(28) + b"\x80theora", b"OggS" + bytes(64)]
    heads += [b"RIFF\0\0\0\0" + kind + bytes(64) for kind in (b"WAVE", b"AVI ", b"WEBP", b"XXXX")]
    heads += [(b"\x47" + bytes(187)) * 3, b"ID3\x04" + bytes(64), b"\xff\xfb\x90" + bytes(64)]
    heads += [b"\x38\xa2eroots\x81\xd8gversion\x01" + bytes(64), b"<!doctype html>", b""]
    return heads


def test_every_type_the_sniffer_answers_is_one_a_stored_record_may_keep():
    answers = {sniff_content_type(head) for head in crafted_heads()}
    assert len(answers) >= 20  # the crafted heads reach the sniffer's branches…
    assert answers <= SNIFFED_TYPES  # …and none of its answers would be distrusted after a restart
