"""Egress you can see: /stats and the side panel show per piece what was paid to FilBeam (hit and miss) and to
providers, in bytes and dollars at published prices, and the bytes fetched twice. Real emulators, real proxy."""

from __future__ import annotations

import pytest

from proxy.cid import parse_piece_cid
from proxy.egress import CDN_HIT_USD_PER_TIB, CDN_MISS_USD_PER_TIB, TiB
from proxy.emulator import Emulator, Knobs
from proxy.full_stream import WholeStreamRules
from proxy.server import ProxyServer
from proxy.sources import Source, provider_source
from tests.conftest import MiB, piece_of, record_events, upstream_fetches_ended
from tests.conftest import start_proxy as start_proxy_with

CDN = "FilBeam (emulated)"


@pytest.fixture
async def origins(media_dir):
    cdn = Emulator(media_dir, Knobs(mode="filbeam", latency_ms=10))
    provider = Emulator(media_dir, Knobs(mode="curio", latency_ms=10))
    await cdn.start()
    await provider.start()
    yield cdn, provider
    await cdn.stop()
    await provider.stop()


async def start_proxy(sources: list[Source], tmp_path) -> tuple[ProxyServer, list]:
    proxy = await start_proxy_with(sources, tmp_path / "cache", whole_streams=WholeStreamRules(linger_s=0.1))
    return proxy, record_events(proxy)


async def test_stats_split_filbeam_bytes_into_miss_and_hit_and_price_them(origins, tmp_path, http):
    cdn, _ = origins
    proxy, events = await start_proxy([Source(CDN, "filbeam", cdn.base_url + "/{cid}")], tmp_path)
    cid, data = piece_of(cdn, "random-2MiB.bin")
    key = parse_piece_cid(cid).root.hex()
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        async with http.get(url) as response:  # the edge's first answer: a miss, the whole piece from byte 0
            assert await response.read() == data
        await upstream_fetches_ended(events, within=10)
        proxy.clear_cache()
        async with http.get(url, headers={"Range": f"bytes={MiB}-"}) as response:  # now an edge hit: a 206
            assert await response.read() == data[MiB:]
        await upstream_fetches_ended(events, within=10)
        async with http.get(f"{proxy.base_url}/stats") as response:
            stats = await response.json()
        row = stats["egress_by_piece"][key]["sources"][CDN]
        assert row == {
            "kind": "filbeam",
            "bytes": 3 * MiB,
            "cdn_miss_bytes": 2 * MiB,
            "cdn_hit_bytes": MiB,
            "usd": pytest.approx((2 * MiB * CDN_MISS_USD_PER_TIB + MiB * CDN_HIT_USD_PER_TIB) / TiB),
        }
        assert stats["egress_usd"] == pytest.approx(row["usd"])
        assert stats["egress_by_piece"][key]["bytes_fetched_twice"] == 0
    finally:
        await proxy.stop()


async def test_provider_bytes_are_counted_and_cost_no_egress_charge(origins, tmp_path, http):
    _, provider = origins
    proxy, events = await start_proxy([provider_source(provider.base_url)], tmp_path)
    cid, data = piece_of(provider, "random-2MiB.bin")
    key = parse_piece_cid(cid).root.hex()
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.read() == data
        await upstream_fetches_ended(events, within=10)
        bill = proxy.snapshot()["egress_by_piece"][key]
        [row] = bill["sources"].values()
        assert row == {"kind": "provider", "bytes": 2 * MiB, "usd": 0.0}
    finally:
        await proxy.stop()


async def test_bytes_a_restarted_stream_pulls_again_are_counted_as_fetched_twice(origins, tmp_path, http):
    """The restart the rules allow still re-pays what is cached: the stats say how much, per piece."""
    cdn, _ = origins
    cdn.knobs.update(edge_fill="never", bandwidth=8_000_000)
    proxy, events = await start_proxy([Source(CDN, "filbeam", cdn.base_url + "/{cid}")], tmp_path)
    cid, data = piece_of(cdn, "random-3.5MiB.bin")
    key = parse_piece_cid(cid).root.hex()
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        async with http.get(url, headers={"Range": f"bytes={MiB}-{MiB + 99}"}) as response:
            assert await response.read() == data[MiB : MiB + 100]
        await upstream_fetches_ended(events, within=10)  # slices 0 and 1 cached, the stream closed after its linger
        async with http.get(url, headers={"Range": f"bytes={3 * MiB}-"}) as response:
            assert await response.read() == data[3 * MiB :]
        await upstream_fetches_ended(events, within=10)
        stats = proxy.snapshot()
        assert stats["egress_by_piece"][key]["bytes_fetched_twice"] == 2 * MiB == stats["bytes_fetched_twice"]
    finally:
        await proxy.stop()


def test_the_panel_shows_the_bill_and_the_bytes_fetched_twice(qapp):
    from player.panel.stats import StatsModel, StatsWidget

    model = StatsModel()
    widget = StatsWidget(model)
    bill = {
        "ab" * 32: {
            "sources": {
                CDN: {
                    "kind": "filbeam",
                    "bytes": 3 * MiB,
                    "cdn_miss_bytes": 2 * MiB,
                    "cdn_hit_bytes": MiB,
                    "usd": 3e-5,
                },
                "provider": {"kind": "provider", "bytes": 40 * MiB, "usd": 0.0},
            },
            "usd": 3e-5,
            "bytes_fetched_twice": 0,
        }
    }
    model.add_snapshot({"egress_by_piece": bill, "egress_usd": 3e-5, "bytes_fetched_twice": 0})
    paid = widget.numbers["Paid upstream"]
    assert paid.text() == "3 MiB CDN (2 MiB miss) · 40 MiB providers · ≈ $0.00003"
    assert "hit 1 MiB, miss 2 MiB" in paid.toolTip() and "$14/TiB on a miss" in paid.toolTip()
    assert widget.numbers["Fetched twice"].text() == "0 B  (goal: none)"
