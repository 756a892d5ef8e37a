"""The emulator models FilBeam and Curio as they really run (research §8): several providers per piece picked at
random with an edge entry each, an object-size cap, fills cancelled by a client that leaves, Curio's 429 above
its concurrency limit, and v1 CIDs on a provider. Real emulator, real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from proxy.cid import PieceCid, parse_piece_cid
from proxy.emulator import CURIO_TOO_MANY, Emulator, Knobs, build_parser
from tests.conftest import MiB, piece_of

PIECE = "random-2MiB.bin"


async def started(media_dir: Path, **knobs) -> Emulator:
    origin = Emulator(media_dir, Knobs(latency_ms=0, **knobs))
    await origin.start()
    return origin


async def get(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes]:
    async with http.get(url, headers=headers) as response:
        return response.status, await response.read()


async def test_each_provider_has_its_own_edge_entry_and_is_picked_at_random(media_dir, http):
    origin = await started(media_dir, providers=2, seed=7)
    cid, data = piece_of(origin, PIECE)
    try:
        for _ in range(12):
            status, body = await get(http, f"{origin.base_url}/{cid}", Range="bytes=100-199")
            assert (status, body) == ((206, data[100:200]) if status == 206 else (200, data))
        picks = [(r.provider, r.edge_hit) for r in origin.counters.log]
        assert {p for p, _ in picks} == {0, 1}, "both providers are picked"
        for provider in (0, 1):
            hits = [hit for p, hit in picks if p == provider]
            assert hits[0] is False and all(hits[1:]), "a provider's first pick misses, later ones hit"
        assert sum(1 for _, hit in picks if not hit) == 2, "one billed miss per provider, not one per piece"
    finally:
        await origin.stop()


async def test_a_piece_above_the_object_cap_is_a_miss_on_every_request(media_dir, http):
    origin = await started(media_dir, object_cap=MiB)
    cid, data = piece_of(origin, PIECE)  # 2 MiB: above the cap
    small, small_data = piece_of(origin, "tiny.bin")
    try:
        for _ in range(3):
            assert await get(http, f"{origin.base_url}/{cid}", Range="bytes=0-99") == (200, data)
        await get(http, f"{origin.base_url}/{small}")
        assert await get(http, f"{origin.base_url}/{small}", Range="bytes=0-0") == (206, small_data)
    finally:
        await origin.stop()


def test_the_default_cap_is_cloudflares_512_mb_and_can_be_lifted():
    assert Knobs().object_cap == 512 * MiB
    assert build_parser().parse_args(["--dir", ".", "--no-object-cap"]).object_cap is None


async def test_a_client_leaving_a_miss_early_cancels_the_fill_when_asked_to(media_dir, http):
    origin = await started(media_dir, fill_cancelled_on_disconnect=True, bandwidth=2_000_000)
    cid, data = piece_of(origin, PIECE)
    url = f"{origin.base_url}/{cid}"
    try:
        async with http.get(url) as response:
            assert response.status == 200
            await response.content.readexactly(100_000)
            response.close()  # the viewer leaves a second into the miss
        await until(lambda: len(origin.counters.log) == 1)
        async with http.get(url) as response:
            assert response.status == 200, "the fill was cancelled: the next request is a miss again"
            assert await response.read() == data
        assert await get(http, url, Range="bytes=5-9") == (206, data[5:10]), "a complete miss fills the edge"
    finally:
        await origin.stop()


async def test_without_the_option_a_fill_survives_the_client_leaving(media_dir, http):
    origin = await started(media_dir, bandwidth=2_000_000)
    cid, data = piece_of(origin, PIECE)
    url = f"{origin.base_url}/{cid}"
    try:
        async with http.get(url) as response:
            await response.content.readexactly(100_000)
            response.close()
        assert await get(http, url, Range="bytes=5-9") == (206, data[5:10])
    finally:
        await origin.stop()


async def test_curio_answers_429_without_retry_after_above_its_concurrency_limit(media_dir, http):
    origin = await started(media_dir, mode="curio", max_concurrent=2, bandwidth=200_000)
    cid, data = piece_of(origin, PIECE)
    url = f"{origin.base_url}/piece/{cid}"
    try:
        slow = [await http.get(url) for _ in range(2)]  # two transfers of 10 s each, in flight
        async with http.get(url, headers={"Range": "bytes=0-9"}) as response:
            assert response.status == 429
            assert "Retry-After" not in response.headers
            assert await response.text() == CURIO_TOO_MANY
        for response in slow:
            response.close()
        await until(lambda: origin.gate.in_flight == 0)
        assert await get(http, url, Range="bytes=0-9") == (206, data[:10])
        assert origin.gate.refused == 1
    finally:
        await origin.stop()


async def test_curio_serves_v1_cids_and_answers_an_unknown_v1_with_500(media_dir, http):
    origin = await started(media_dir, mode="curio")
    cid, data = piece_of(origin, PIECE)
    v1 = parse_piece_cid(cid).v1()
    unknown_v1 = PieceCid(bytes(32), version=1).v1()
    unknown_v2 = PieceCid(bytes(32), 10, 0).v2()
    try:
        assert await get(http, f"{origin.base_url}/piece/{v1}", Range="bytes=0-9") == (206, data[:10])
        status, _ = await get(http, f"{origin.base_url}/piece/{unknown_v1}")
        assert status == 500
        status, _ = await get(http, f"{origin.base_url}/piece/{unknown_v2}")
        assert status == 404
    finally:
        await origin.stop()


def test_the_new_knobs_have_flags_documented_in_help():
    parser = build_parser()
    text = parser.format_help()
    for flag in ("--providers", "--object-cap", "--fill-cancelled-on-disconnect", "--max-concurrent"):
        assert flag in text
    flags = "--dir . --providers 2 --object-cap 1000 --fill-cancelled-on-disconnect --max-concurrent 3"
    args = parser.parse_args(flags.split())
    assert (args.providers, args.object_cap, args.fill_cancelled_on_disconnect, args.max_concurrent) == (
        2, 1000, True, 3
    )  # fmt: skip


async def until(condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)
