"""Slice cache behaviour a paying user relies on: one fetch per slice, bounded egress, survival, integrity."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.parse
from pathlib import Path

import pytest

from proxy.cid import parse_piece_cid
from proxy.events import (
    RequestProgress,
    SliceRead,
    SliceRejected,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamRetry,
    UpstreamStarted,
)
from proxy.prefetch import PrefetchConfig
from proxy.server import ProxyServer
from tests.conftest import (
    MiB,
    eventually,
    piece_of,
    play_once,
    random_piece_folder,
    record_events,
    running_emulator,
    start_proxy,
)


async def small_buffer_get(proxy: ProxyServer, cid: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """GET a whole piece over a raw socket with small buffers, past the headers: the bytes the proxy has sent are
    then (within ~1 MiB) the bytes this client has read, as with a player that reads at its own pace."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    url = urllib.parse.urlsplit(proxy.base_url)
    sock.connect((url.hostname, url.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=64 * 1024)
    writer.write(f"GET {url.path}/piece/{cid} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_piece_folder(tmp_path_factory, "big-24MiB.bin", 24 * MiB, seed=7)


@pytest.fixture
async def big_emulator(big_dir: Path):
    async with running_emulator(big_dir, mode="curio", latency_ms=0) as origin:
        yield origin


async def test_concurrent_readers_of_a_cold_slice_share_one_upstream_fetch(proxy, emulator, http):
    emulator.knobs.update(mode="curio", latency_ms=150)
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    url = f"{proxy.base_url}/piece/{cid}"

    async def read(start: int) -> bytes:
        async with http.get(url, headers={"Range": f"bytes={start}-{start + 999}"}) as response:
            return await response.read()

    starts = [i * 1000 for i in range(10)]
    bodies = await asyncio.gather(*(read(s) for s in starts))
    assert bodies == [data[s : s + 1000] for s in starts]
    assert emulator.counters.requests == 1
    assert emulator.counters.bytes_sent == MiB  # exactly the one slice


async def test_consecutive_missing_slices_are_fetched_with_one_range(proxy, emulator, http):
    emulator.knobs.update(mode="curio")
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": f"bytes=10-{3 * MiB - 1}"}) as response:
        assert await response.read() == data[10 : 3 * MiB]
    assert [(r.range, r.status) for r in emulator.counters.log] == [(f"bytes=0-{3 * MiB - 1}", 206)]


async def test_first_byte_is_streamed_before_the_slice_completes(proxy, emulator, http):
    """At 256 KB/s a 1 MiB slice takes 4 s; the first bytes must reach the client long before that."""
    emulator.knobs.update(mode="curio", bandwidth=256_000)
    cid, data = piece_of(emulator, "random-2MiB.bin")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
        first = await response.content.read(1000)
        first_byte_after = loop.time() - started
    assert first == data[: len(first)]
    assert first_byte_after < 2.0


async def test_reader_that_leaves_after_1MiB_stops_the_upstream_fetch(big_emulator, tmp_path, http):
    """A viewer who watches 1 MiB and leaves must not make the proxy pull the rest of the piece (egress is paid)."""
    big_emulator.knobs.update(bandwidth=4_000_000)
    proxy = await start_proxy(big_emulator, tmp_path / "cache")
    events = record_events(proxy)
    cid, data = piece_of(big_emulator, "big-24MiB.bin")
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            got = await response.content.readexactly(MiB)
        assert got == data[:MiB]
        await asyncio.sleep(1.5)
        pulled = big_emulator.counters.bytes_sent
        assert pulled <= 2 * MiB + 256 * 1024, f"pulled {pulled} bytes for a 1 MiB read"
        assert any(isinstance(e, UpstreamFinished) and e.outcome == "cancelled" for e in events)
        await asyncio.sleep(0.5)
        assert big_emulator.counters.bytes_sent == pulled, "upstream kept sending after the reader left"
    finally:
        await proxy.stop()


async def test_read_ahead_starts_at_a_quarter_and_grows_with_what_the_reader_reads(big_emulator, tmp_path):
    """A viewer who seeks and leaves soon costs a small window; one who keeps watching earns the full one.

    The client is a raw socket with small buffers, so the bytes the proxy has sent are (within ~1 MiB) the bytes
    the viewer has read.
    """
    proxy = await start_proxy(big_emulator, tmp_path / "cache", readahead=16 * MiB)
    cid, data = piece_of(big_emulator, "big-24MiB.bin")
    reader, writer = await small_buffer_get(proxy, cid)
    try:
        assert await reader.readexactly(MiB) == data[:MiB]
        await asyncio.sleep(0.5)
        ahead = big_emulator.counters.bytes_sent - proxy.stats.bytes_served
        assert ahead <= 4 * MiB + MiB, ahead  # a quarter of 16 MiB, plus the slice being read
        assert await reader.readexactly(11 * MiB) == data[MiB : 12 * MiB]
        await asyncio.sleep(0.5)
        ahead = big_emulator.counters.bytes_sent - proxy.stats.bytes_served
        assert ahead > 5 * MiB, ahead  # 12 MiB read: the window is 12 MiB now (fetched half a window at a time)
    finally:
        writer.close()
        await proxy.stop()


async def test_open_ended_reader_reads_ahead_only_a_bounded_window(big_emulator, tmp_path, http):
    """A paused player: the proxy pulls what it handed to the socket plus one read-ahead window, no more."""
    proxy = await start_proxy(big_emulator, tmp_path / "cache", readahead=4 * MiB)
    cid, data = piece_of(big_emulator, "big-24MiB.bin")
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.content.readexactly(MiB) == data[:MiB]
            await asyncio.sleep(0.5)  # the client stops reading but stays connected
            served = proxy.stats.bytes_served  # includes what sits in socket buffers
            pulled = big_emulator.counters.bytes_sent
            assert pulled <= served + 4 * MiB + MiB, (pulled, served)
            assert pulled < len(data) / 2
    finally:
        await proxy.stop()


async def test_cache_survives_a_restart_and_serves_without_upstream(emulator, tmp_path, http):
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    assert await play_once(http, emulator, tmp_path / "cache", cid) == data
    emulator.knobs.update(error_rate=1.0)  # upstream now fails every request
    requests_before = emulator.counters.requests
    second = await start_proxy(emulator, tmp_path / "cache")
    try:
        async with http.head(f"{second.base_url}/piece/{cid}") as response:
            assert response.headers["Content-Type"] == "video/mp4"  # from the metadata store, no sniffing fetch
        async with http.get(f"{second.base_url}/piece/{cid}", headers={"Range": "bytes=1000-"}) as response:
            assert (response.status, await response.read()) == (206, data[1000:])
        assert emulator.counters.requests == requests_before
    finally:
        await second.stop()


async def test_a_response_reports_its_progress_once_per_slice(proxy, emulator, http):
    """The byte map's "reading now" marker moves per slice; per block it was 8× the events for the GUI thread to
    take, while the player waits for its first frame. Cached and uncached bytes report alike."""
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    events = record_events(proxy)
    for _ in ("from upstream", "from the cache"):
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=1000-"}) as response:
            assert await response.read() == data[1000:]
    progress = [e for e in events if isinstance(e, RequestProgress)]
    by_request = {e.request_id: [] for e in progress}
    for e in progress:
        by_request[e.request_id].append(e.position)
    assert len(by_request) == 2
    assert all(positions == [1000, MiB, 2 * MiB, 3 * MiB] for positions in by_request.values()), by_request


@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "empty"])
async def test_damaged_slice_file_is_detected_and_refetched_never_served(emulator, tmp_path, http, damage):
    emulator.knobs.update(mode="curio")
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    first = await start_proxy(emulator, tmp_path / "cache")
    async with http.get(f"{first.base_url}/piece/{cid}") as response:
        assert await response.read() == data
    await first.stop()
    [slice_file] = (tmp_path / "cache" / "slices").glob("*/*/00000001.*")
    raw = bytearray(slice_file.read_bytes())
    if damage == "truncate":
        slice_file.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip a byte":
        raw[12345] ^= 0x40
        slice_file.write_bytes(raw)
    else:
        slice_file.write_bytes(b"")
    emulator.reset()
    second = await start_proxy(emulator, tmp_path / "cache")
    events = record_events(second)
    try:
        async with http.get(f"{second.base_url}/piece/{cid}") as response:
            assert await response.read() == data
        assert [e.index for e in events if isinstance(e, SliceRejected)] == [1]
        assert [r.range for r in emulator.counters.log] == [f"bytes={MiB}-{2 * MiB - 1}"]
    finally:
        await second.stop()


async def test_slice_file_changed_while_the_proxy_runs_is_checked_again_before_it_is_served(emulator, tmp_path, http):
    """A slice is checked once per run, then served by blocks; a later change to its file must not slip through."""
    emulator.knobs.update(mode="curio")
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    proxy = await start_proxy(emulator, tmp_path / "cache", memory_cap=1)  # every read comes from the disk
    events = record_events(proxy)
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.read() == data
        await proxy.cache.disk.flush()
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": f"bytes={MiB}-"}) as response:
            assert await response.read() == data[MiB:]  # read from disk, checked: no upstream request
        requests = emulator.counters.requests
        [slice_file] = (tmp_path / "cache" / "slices").glob("*/*/00000001.*")
        raw = bytearray(slice_file.read_bytes())
        raw[MiB - 7] ^= 0x01  # in the slice's last block: the first blocks alone would still look fine
        await asyncio.sleep(0.05)  # a file time that moves on (timestamps are coarser than nanoseconds)
        slice_file.write_bytes(raw)
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": f"bytes={MiB}-"}) as response:
            assert await response.read() == data[MiB:]
        assert [e.index for e in events if isinstance(e, SliceRejected)] == [1]
        assert emulator.counters.requests == requests + 1
    finally:
        await proxy.stop()


async def test_a_stalled_disk_pauses_read_ahead_not_the_player(big_emulator, tmp_path, http):
    """Slices waiting for a disk that does not keep up are memory: fetches ahead of every reader wait for it,
    while a fetch a player waits on goes on (and past a limit slices are kept in memory only)."""
    proxy = await start_proxy(big_emulator, tmp_path / "cache", readahead=32 * MiB, write_backlog=2 * MiB)
    cid, data = piece_of(big_emulator, "big-24MiB.bin")
    gate = threading.Event()  # the disk writer thread is busy until this is set
    stalled = asyncio.wrap_future(proxy.cache.disk._writer.submit(gate.wait))
    reader, writer = await small_buffer_get(proxy, cid)
    try:
        async with asyncio.timeout(20):
            assert await reader.readexactly(MiB) == data[:MiB]
            await asyncio.sleep(0.5)  # the player pauses: only read-ahead runs now
            assert proxy.cache.disk.backlog <= 2 * MiB + MiB  # the limit, passed by at most one slice
            ahead = big_emulator.counters.bytes_sent - proxy.stats.bytes_served
            assert ahead <= 2 * MiB + 2 * MiB, ahead  # without the pause: a quarter of the window, 8 MiB
            url = f"{proxy.base_url}/piece/{cid}"
            async with http.get(url, headers={"Range": f"bytes={8 * MiB}-"}) as response:
                assert await response.read() == data[8 * MiB :]  # a player waiting is served, disk or not
            assert proxy.cache.disk.backlog <= 4 * 2 * MiB
    finally:
        writer.close()
        gate.set()
        await stalled
        await proxy.stop()


async def test_filbeam_200_from_byte_zero_is_cached_as_it_streams_past(proxy, emulator, http):
    """FilBeam answers a range on a CDN miss with the whole piece; the bytes before the range are kept, not re-asked."""
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    start = 2 * MiB + 5
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": f"bytes={start}-{start + 99}"}) as response:
        assert (response.status, await response.read()) == (206, data[start : start + 100])
    key = proxy_key(cid)
    await eventually(lambda: {0, 1, 2} <= proxy.cache.disk.indexes(key))  # slice 2 is finished, not dropped
    assert [r.status for r in emulator.counters.log] == [200]
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-99"}) as response:
        assert await response.read() == data[:100]
    assert emulator.counters.requests == 1


def proxy_key(cid: str) -> str:
    from proxy.cid import parse_piece_cid

    return parse_piece_cid(cid).root.hex()


async def test_upstream_that_lies_about_content_range_is_never_served_or_cached(proxy, emulator, http):
    emulator.knobs.update(mode="curio", wrong_content_range=True)
    cid, data = piece_of(emulator, "random-2MiB.bin")
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-99"}) as response:
        assert response.status == 502
        body = await response.json()
    assert "do not match what was asked" in body["error"]
    assert "asked for bytes 0-" in body["detail"]
    assert proxy.cache.disk.indexes(proxy_key(cid)) == set()
    emulator.knobs.update(wrong_content_range=False)
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-99"}) as response:
        assert (response.status, await response.read()) == (206, data[:100])


async def test_broken_upstream_bodies_are_resumed_from_the_last_good_byte(proxy, emulator, http):
    emulator.knobs.update(mode="curio", drop_after=700_000)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        assert (response.status, await response.read()) == (200, data)
    resumes = [e for e in events if isinstance(e, UpstreamRetry)]
    assert len(resumes) >= 3
    ranges = [r.range for r in emulator.counters.log]
    assert all(r.startswith("bytes=") for r in ranges)
    assert emulator.counters.bytes_sent < len(data) * 1.05, "resuming must not re-download what was received"


async def test_reader_that_leaves_before_its_fetch_ever_ran_leaves_nothing_stuck(proxy, emulator, http):
    """A client that connects and hangs up within one loop tick: its fetch is cancelled before it starts."""
    cid, data = piece_of(emulator, "random-3.5MiB.bin")
    info = await proxy.cache.describe(parse_piece_cid(cid))
    reader = proxy.cache.open(info, 0, info.size - 1)
    reader.close()  # same tick: the fetch task has not run yet
    await asyncio.sleep(0.1)
    async with asyncio.timeout(10), http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-99"}) as r:
        assert await r.read() == data[:100]


async def test_a_player_waiting_on_an_exact_range_takes_the_slice_when_the_slice_comes_first(emulator, tmp_path, http):
    """An exact range (a fragment) and the slice holding the same bytes race: a player reading them must not wait
    for the slower one. The first request of a piece of two slices fetches both at 4 MB/s; an exact range of its
    last bytes is asked once new requests answer 3 s late: the player's read of those bytes is answered as soon as
    the first request's fetch reaches them, from the slice, while the exact range has not answered yet."""
    emulator.knobs.update(mode="curio", latency_ms=20, bandwidth=4_000_000)
    proxy = await start_proxy(emulator, tmp_path / "cache", prefetch=PrefetchConfig(enabled=False))
    events = record_events(proxy)
    cid, data = piece_of(emulator, "random-2MiB.bin")
    url = f"{proxy.base_url}/piece/{cid}"
    start = len(data) - 4096
    reason = "test: an exact range of the last bytes"
    fragment = None
    try:
        async with http.get(url, headers={"Range": "bytes=0-"}) as head:
            assert await head.content.readexactly(4096) == data[:4096]  # the fetch of both slices is streaming
            emulator.knobs.update(stall_ms=3000)
            info = proxy.cache.info(parse_piece_cid(cid).root.hex())
            assert info is not None
            fragment = asyncio.create_task(proxy.cache.fetch_fragment(info, start, len(data) - 1, reason))
            await eventually(lambda: any(isinstance(e, UpstreamStarted) and e.reason == reason for e in events))
            [asked] = [e.fetch_id for e in events if isinstance(e, UpstreamStarted) and e.reason == reason]
            async with asyncio.timeout(10), http.get(url, headers={"Range": f"bytes={start}-"}) as tail:
                assert await tail.read() == data[start:]
            assert not any(isinstance(e, UpstreamResponse) and e.fetch_id == asked for e in events), "slice first"
            assert not any(isinstance(e, SliceRead) and e.tier == "fragment" for e in events)
    finally:
        if fragment is not None:
            fragment.cancel()
            await asyncio.gather(fragment, return_exceptions=True)
        await proxy.stop()
