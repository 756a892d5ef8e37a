"""Bytes fetched twice = 0 (issue 17): the proxy never asks an upstream for bytes a stream already brings.

Real emulator in FilBeam mode, real sockets, real proxy. The CDN's bandwidth is capped so that the first answer
(a cache miss: the whole piece from byte 0) is still streaming when the prefetcher finds the index in the head —
the race seen about one run in four at full speed, made certain here.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import aiohttp
import pytest

from proxy.emulator import Emulator, Knobs
from proxy.events import MediaLayoutKnown, PaidRestartsStopped, UpstreamRetry, UpstreamStarted
from proxy.full_stream import WholeStreamRules
from proxy.server import ProxyServer
from proxy.sources import Source, provider_source
from tests.conftest import (
    CORPUS,
    MiB,
    eventually,
    make_mp4,
    piece_of,
    record_events,
    running_emulator,
    upstream_fetches_ended,
)
from tests.conftest import start_proxy as start_proxy_with

CDN = "FilBeam (emulated)"


async def start_proxy(sources: list[Source], tmp_path: Path) -> tuple[ProxyServer, list]:
    proxy = await start_proxy_with(sources, tmp_path / "cache", whole_streams=WholeStreamRules(linger_s=0.2))
    return proxy, record_events(proxy)


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
        await upstream_fetches_ended(events)
        prefetcher = proxy.prefetcher
        assert prefetcher is not None
        # a piece within one slice is sniffed once it is all here, on a worker thread (whose first Matroska head
        # imports that parser): the sniff may end just after the stream, and any fetch it asks for is counted
        await eventually(lambda: prefetcher.layouts)
        await upstream_fetches_ended(events)
        assert cdn.counters.bytes_sent == len(data), "every byte pulled once, none twice"
        assert proxy.snapshot()["bytes_fetched_twice"] == 0
    finally:
        await proxy.stop()
        await cdn.stop()


@pytest.fixture(scope="module")
def two_slice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 with its index at the end, of two slices: the bench's smallest moov-at-end size (issue 19)."""
    folder = tmp_path_factory.mktemp("two-slices")
    make_mp4(folder / "two-slices-moov-at-end.mp4", seconds=8, faststart=False)
    return folder


@pytest.mark.parametrize("launch", [False, True], ids=["open", "launch-head"])
async def test_the_index_at_the_end_of_a_two_slice_piece_rides_the_heads_fetch(
    launch: bool, two_slice_dir: Path, tmp_path, http
):
    """The player's first request of a piece of two slices fetches all of it (its read-ahead covers both), so the
    index at the end is on its way with the head: an exact range for it, asked once the head shows where it is,
    would pay for its bytes twice and bring them later (one more first-byte time: 500 ms here, while the head's
    fetch reaches the end within 100 ms of its first byte). Opened as FFmpeg opens it: the first answer is still
    open when the player asks for the index. A launch that fetches the head before the player asks (``warm``)
    fetches such a piece whole too, as the player's first request would."""
    async with running_emulator(two_slice_dir, mode="curio", latency_ms=500, bandwidth=20_000_000) as origin:
        [cid] = origin.piece_cids()
        data = origin.pieces[cid].path.read_bytes()
        assert MiB < len(data) <= 2 * MiB, "the test is about a piece of two slices"
        proxy, events = await start_proxy([provider_source(origin.base_url)], tmp_path)
        url = f"{proxy.base_url}/piece/{cid}"
        try:
            if launch:
                await proxy.warm(cid)
            async with http.get(url, headers={"Range": "bytes=0-"}) as head:
                assert await head.content.readexactly(4096) == data[:4096]
                await eventually(lambda: any(isinstance(e, MediaLayoutKnown) for e in events))
                [layout] = [e for e in events if isinstance(e, MediaLayoutKnown)]
                index_start = layout.index_range[0]
                async with http.get(url, headers={"Range": f"bytes={index_start}-"}) as index:
                    assert await index.read() == data[index_start:]
            await upstream_fetches_ended(events)
            started = [(e.start, e.end, e.reason) for e in events if isinstance(e, UpstreamStarted)]
            assert [s[:2] for s in started] == [(0, len(data) - 1)], f"the head's fetch alone, not: {started}"
            assert origin.counters.bytes_sent == len(data)
            assert proxy.snapshot()["bytes_fetched_twice"] == 0
        finally:
            await proxy.stop()


# --- a broken whole stream, resumed -----------------------------------------------------------------------------

BREAK = 1_500_000  # the CDN drops the connection after this many body bytes (the first answer only)


@pytest.fixture
async def breaking_cdn(media_dir: Path):
    """A CDN whose edge never holds the piece (every answer a 200 from byte 0) and whose first answer breaks off."""
    origin = Emulator(media_dir, Knobs(mode="filbeam", latency_ms=10, edge_fill="never", drop_after=BREAK))
    await origin.start()
    yield origin
    await origin.stop()


def heal_after_first_break(proxy: ProxyServer, cdn: Emulator) -> list:
    """The connection breaks once: as soon as the proxy announces its resume, the CDN stops dropping."""
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, UpstreamRetry):
            cdn.knobs.update(drop_after=None)

    proxy.bus.subscribe(on_event)
    return events


async def read_whole_across_a_break(proxy: ProxyServer, cdn: Emulator, http) -> bytes:
    """Read the whole piece through the proxy while the CDN's stream breaks once; check it was resumed, and
    return the piece's bytes (once every upstream fetch has ended, so the counters are final)."""
    events = heal_after_first_break(proxy, cdn)
    cid, data = piece_of(cdn, "random-3.5MiB.bin")
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        assert await response.read() == data
    await upstream_fetches_ended(events)
    assert any(isinstance(e, UpstreamRetry) for e in events), "the stream broke and was resumed"
    return data


async def test_a_broken_whole_stream_resumed_from_byte_0_again_counts_its_bytes_before_the_break_as_fetched_twice(
    breaking_cdn: Emulator, tmp_path: Path, http
) -> None:
    """FilBeam alone: the resume is answered with the whole piece from byte 0 again, so the bytes before the break
    are unavoidably paid twice — and /stats says exactly how many."""
    proxy, _ = await start_proxy([Source(CDN, "filbeam", breaking_cdn.base_url + "/{cid}")], tmp_path)
    try:
        data = await read_whole_across_a_break(proxy, breaking_cdn, http)
        assert breaking_cdn.counters.bytes_sent == len(data) + BREAK
        assert proxy.snapshot()["bytes_fetched_twice"] == BREAK
    finally:
        await proxy.stop()


async def test_a_resume_answered_from_byte_0_is_a_paid_restart_under_the_pieces_limit(
    breaking_cdn: Emulator, tmp_path: Path, http
) -> None:
    """With no paid restart left, the resume's 200 from byte 0 is not read: the viewer gets a cut-short answer
    and the panel's words, not a loop of streams."""
    rules = WholeStreamRules(linger_s=0.2, max_restarts=0)
    sources = [Source(CDN, "filbeam", breaking_cdn.base_url + "/{cid}")]
    proxy = await start_proxy_with(sources, tmp_path / "c", whole_streams=rules)
    breaking_cdn.knobs.update(bandwidth=4_000_000)  # what is in flight when the resume is closed stays small
    events = heal_after_first_break(proxy, breaking_cdn)
    cid, data = piece_of(breaking_cdn, "random-3.5MiB.bin")
    try:
        received = bytearray()
        with contextlib.suppress(aiohttp.ClientPayloadError):
            async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
                async for chunk in response.content.iter_any():
                    received += chunk
        assert len(received) < len(data) and data.startswith(bytes(received))
        stopped = [e for e in events if isinstance(e, PaidRestartsStopped)]
        assert stopped and "stopped paying" in stopped[0].message
        await upstream_fetches_ended(events)
        # the refused resume was closed at once: at most what was in flight when it was, not a second piece
        assert breaking_cdn.counters.bytes_sent < BREAK + len(data) // 2
    finally:
        await proxy.stop()


async def test_a_broken_whole_stream_resumes_on_a_provider_when_one_is_configured(
    breaking_cdn: Emulator, tmp_path: Path, http
) -> None:
    """A provider answers the rest as a true range: nothing before the break is paid again."""
    provider = Emulator(breaking_cdn.directory, Knobs(mode="curio", latency_ms=10))
    await provider.start()
    sources = [Source(CDN, "filbeam", breaking_cdn.base_url + "/{cid}"), provider_source(provider.base_url)]
    proxy, _ = await start_proxy(sources, tmp_path)
    try:
        data = await read_whole_across_a_break(proxy, breaking_cdn, http)
        assert breaking_cdn.counters.bytes_sent == BREAK
        assert provider.counters.bytes_sent == len(data) - BREAK
        assert proxy.snapshot()["bytes_fetched_twice"] == 0
    finally:
        await proxy.stop()
        await provider.stop()
