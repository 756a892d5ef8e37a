"""Bytes fetched twice = 0 (issue 17): the proxy never asks an upstream for bytes a stream already brings.

Real emulator in FilBeam mode, real sockets, real proxy. The CDN's bandwidth is capped so that the first answer
(a cache miss: the whole piece from byte 0) is still streaming when the prefetcher finds the index in the head —
the race seen about one run in four at full speed, made certain here.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from proxy.emulator import Emulator, Knobs
from proxy.events import UpstreamFinished, UpstreamStarted
from proxy.full_stream import WholeStreamRules
from proxy.server import ProxyConfig, ProxyServer
from proxy.upstream import Source

CORPUS = Path(__file__).parent / "corpus"
CDN = "FilBeam (emulated)"


async def fetches_ended(events: list) -> None:
    async with asyncio.timeout(30):
        while True:
            started = {e.fetch_id for e in events if isinstance(e, UpstreamStarted)}
            if started <= {e.fetch_id for e in events if isinstance(e, UpstreamFinished)}:
                return
            await asyncio.sleep(0.02)


async def start_proxy(sources: list[Source], tmp_path: Path) -> tuple[ProxyServer, list]:
    rules = WholeStreamRules(linger_s=0.2)
    proxy = ProxyServer(ProxyConfig(sources, tmp_path / "cache", cache={"whole_streams": rules}))
    await proxy.start()
    events: list = []
    proxy.bus.subscribe(events.append)
    return proxy, events


@pytest.mark.parametrize("name", ["mp4-moov-at-end-h264-aac.mp4", "mkv-ass-font.mkv"])
async def test_the_index_prefetch_rides_a_whole_stream_rather_than_asking_for_its_bytes_again(
    name: str, tmp_path: Path, http
) -> None:
    """A player opens a piece on a CDN cache miss: the 200 from byte 0 brings the index at the end too, so the
    prefetcher's exact-range fetch of that index (found in the head) must not pay for it a second time."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(CORPUS / name, served / name)
    data = (served / name).read_bytes()
    # 150 kB/s: the stream needs seconds to reach the index; the prefetcher finds it within milliseconds
    cdn = Emulator(served, Knobs(mode="filbeam", latency_ms=20, bandwidth=150_000))
    await cdn.start()
    proxy, events = await start_proxy([Source(CDN, "filbeam", cdn.base_url + "/{cid}")], tmp_path)
    try:
        [cid] = cdn.piece_cids()
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
            assert await response.read() == data
        await fetches_ended(events)
        assert proxy.prefetcher is not None and proxy.prefetcher.layouts, "the head was sniffed"
        assert cdn.counters.bytes_sent == len(data), "every byte pulled once, none twice"
        assert proxy.snapshot()["bytes_fetched_twice"] == 0
    finally:
        await proxy.stop()
        await cdn.stop()
