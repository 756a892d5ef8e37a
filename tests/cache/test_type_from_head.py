"""A first open's headers take the piece's type from the response's own first bytes; the store learns it after.

Real emulator, real proxy. Before, the type was sniffed by a second reader of the head (waited for, then written to
SQLite) before the headers could go out: on the first frame's critical path. Now the answer's first chunk, when it
is the head, is sniffed in place and the store write comes after the first bytes are sent — and still comes.
"""

from __future__ import annotations

from proxy.events import SliceRead
from proxy.prefetch import PrefetchConfig
from tests.conftest import piece_of, record_events, running_emulator, start_proxy

NO_PREFETCH = PrefetchConfig(enabled=False)  # the prefetcher reads the head too; here only the player does


async def test_a_first_open_is_typed_from_its_own_head_and_the_store_keeps_the_type(media_dir, tmp_path, http):
    async with running_emulator(media_dir, mode="curio", latency_ms=0) as origin:
        cid, data = piece_of(origin, "clip.webm")
        proxy = await start_proxy(origin, tmp_path / "cache", prefetch=NO_PREFETCH)
        events = record_events(proxy)
        try:
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
                assert response.status == 206
                assert response.headers["Content-Type"] == "video/webm"
                assert await response.read() == data
        finally:
            await proxy.stop()
        head_reads = [e for e in events if isinstance(e, SliceRead) and e.index == 0]
        assert head_reads and all(e.request_id is not None for e in head_reads)  # no second reader of the head

        again = await start_proxy(origin, tmp_path / "cache", prefetch=NO_PREFETCH)
        asked = origin.counters.requests
        try:
            async with http.head(f"{again.base_url}/piece/{cid}") as response:
                assert response.headers["Content-Type"] == "video/webm"  # from the store: written after the bytes
            assert origin.counters.requests == asked
        finally:
            await again.stop()


async def test_an_open_in_the_middle_of_a_piece_is_still_typed_from_its_head(media_dir, tmp_path, http):
    async with running_emulator(media_dir, mode="curio", latency_ms=0) as origin:
        cid, data = piece_of(origin, "clip-faststart.mp4")
        proxy = await start_proxy(origin, tmp_path / "cache", prefetch=NO_PREFETCH)
        try:
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-99"}) as response:
                assert response.headers["Content-Type"] == "video/mp4"  # 100 bytes: too few to sniff in place
                assert await response.read() == data[:100]
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=5000-"}) as response:
                assert response.headers["Content-Type"] == "video/mp4"
                assert await response.read() == data[5000:]
        finally:
            await proxy.stop()
