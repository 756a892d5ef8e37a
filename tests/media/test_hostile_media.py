"""Hostile and broken pieces cannot freeze the proxy, balloon its memory or multiply its downloads (issue 23).

The proxy parses every piece's container as it streams and acts on it, and pieces come from anyone. Each test
here is one way a piece attacked it, run through the real proxy on its own thread (as the app runs it, so a
frozen proxy loop cannot freeze the test's) in front of the real emulator, over real sockets. ``/health``
answering within 2 s is the hang detector: a healthy proxy answers in a millisecond.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from proxy.cid import parse_piece_cid
from proxy.emulator import Emulator, Knobs, load_pieces
from proxy.events import MediaIndexed, MediaLayoutKnown, Prefetch
from proxy.media import ContainerError, build_index, sniff_layout
from proxy.runner import ProxyRunner
from proxy.server import ProxyConfig
from proxy.sources import template_source
from tests.conftest import MiB, piece_of
from tests.media import crafted_media as crafted

#: A healthy proxy answers /health in about a millisecond; this only tells a frozen loop from a busy one.
HANG_S = 2.0


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[Emulator]:
    """An emulator over a folder the test fills first (``origin.directory``), reloaded by :func:`serve`."""
    folder = tmp_path / "pieces"
    folder.mkdir()
    emulator = Emulator(folder, Knobs(latency_ms=0, mode="curio"))
    await emulator.start()
    yield emulator
    await emulator.stop()


def serve(emulator: Emulator, name: str, data: bytes) -> str:
    """Put ``data`` in the emulator's folder as ``name`` and return its v2 CID."""
    (emulator.directory / name).write_bytes(data)
    emulator.pieces = load_pieces(emulator.directory)
    return piece_of(emulator, name)[0]


@pytest.fixture
def runner(origin: Emulator, tmp_path: Path) -> Iterator[ProxyRunner]:
    """The proxy on its own thread and loop: a proxy that spins cannot stop this test from noticing."""
    proxy = ProxyRunner(ProxyConfig([template_source(origin.base_url + "/{cid}")], tmp_path / "cache"))
    proxy.start()
    yield proxy
    proxy.stop()


async def health_latency(http: aiohttp.ClientSession, runner: ProxyRunner) -> float:
    """Seconds /health took; fails the test when it does not answer within ``HANG_S``."""
    began = time.monotonic()
    try:
        async with asyncio.timeout(HANG_S), http.get(f"{runner.base_url}/health") as response:
            assert response.status == 200
    except TimeoutError:
        pytest.fail(f"/health did not answer within {HANG_S} s: the proxy's loop is frozen")
    return time.monotonic() - began


async def wait_for(events: list, kind: type, within: float = 15.0):
    async with asyncio.timeout(within):
        while not (found := [e for e in events if isinstance(e, kind)]):
            await asyncio.sleep(0.02)
    return found[0]


# --- 1. a truncated MP4: its sample table points past the piece's end -------------------------------------


async def test_hovering_anywhere_on_a_truncated_mp4_keeps_the_proxy_answering(origin, runner, http, media_dir):
    """An upload cut at 60 %: moov (at the front) still lists every sample; the hover prefetch must stay inside
    the piece, and /health must answer while it runs — before the fix the reader loop spun at 100 % CPU."""
    whole = (media_dir / "clip-faststart.mp4").read_bytes()
    data = whole[: len(whole) * 6 // 10]
    cid = serve(origin, "truncated.mp4", data)
    key = parse_piece_cid(cid).root.hex()
    events: list = []
    runner.bus.subscribe(events.append)
    async with http.get(f"{runner.base_url}/piece/{cid}", headers={"Range": "bytes=0-4095"}) as response:
        assert await response.read() == data[:4096]
    indexed = await wait_for(events, MediaIndexed)
    assert all(0 <= byte < len(data) for _t, byte in indexed.keyframes)
    moments = [indexed.duration_s * i / 20 for i in range(21)]
    for moment in moments:
        span = runner.server.hover(key, moment)  # the GUI calls this from its thread, as here
        assert span is not None
        start, end = span
        assert 0 <= start <= end < len(data), f"hover at {moment:.1f} s asked for bytes {start}–{end}"
        assert await health_latency(http, runner) < HANG_S
    await asyncio.sleep(0.5)  # let the last hover's prefetch run
    assert await health_latency(http, runner) < HANG_S
    async with asyncio.timeout(10), http.get(f"{runner.base_url}/piece/{cid}") as response:
        assert await response.read() == data  # and the piece still plays, whole and right
    hovers = [e for e in events if isinstance(e, Prefetch) and "hover" in e.reason]
    assert hovers and all(e.end < len(data) for e in hovers)


async def test_a_cache_read_past_the_piece_ends_at_its_last_byte(origin, runner, http, media_dir):
    """The second depth: whatever span reaches the cache, its reader ends where the piece does, and never spins
    (before the fix, a reader starting inside the last slice and ending past the piece looped without awaiting)."""
    data = (media_dir / "random-2MiB.bin").read_bytes()[: 3 * MiB // 2]
    cid = serve(origin, "odd.bin", data)
    server = runner.server

    async def read(start: int, end: int) -> bytes:
        info = await server.cache.describe(parse_piece_cid(cid))
        out = bytearray()
        async for chunk in server.cache.read(info, start, end, reason="prefetch: test"):
            out += chunk
        return bytes(out)

    async def on_proxy(start: int, end: int) -> bytes:
        async with asyncio.timeout(HANG_S * 5):
            return await asyncio.wrap_future(runner.submit(lambda: read(start, end)))

    assert await on_proxy(0, 100) == data[:101]  # the first slice is cached now
    for start, end in ((len(data) - 10, len(data) + 70_000), (len(data) - 1, 1 << 40), (100, len(data) + MiB)):
        assert await on_proxy(start, end) == data[start:]
        assert await health_latency(http, runner) < HANG_S
    assert await on_proxy(len(data) + 5, len(data) + 500) == b""


# --- 2. a 437-byte moov that claims 2^24 samples per track ------------------------------------------------


async def test_a_tiny_moov_claiming_millions_of_samples_costs_no_memory(origin, runner, http, caplog):
    """Four tracks, each one chunk of 2^24 constant-size samples with an stss box: the index used to expand
    per-sample tables, 1.3 GB per track. Now the budget refuses it before anything is built, in words, and the
    piece is proxied plainly. Memory is measured with tracemalloc across both threads (numpy reports to it)."""
    data = crafted.mp4_claiming_samples(1 << 24, tracks=4)
    assert data.find(b"mdat") < 1400  # the whole index is about a kilobyte
    cid = serve(origin, "crafted.mp4", data)
    caplog.set_level(logging.INFO, logger="proxy.prefetch")
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        async with http.get(f"{runner.base_url}/piece/{cid}", headers={"Range": "bytes=0-65535"}) as response:
            assert await response.read() == data[:65536]
        async with asyncio.timeout(30):
            while not (refused := [r for r in caplog.records if "no byte/time map" in r.getMessage()]):
                assert await health_latency(http, runner) < HANG_S
                await asyncio.sleep(0.05)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert "too large to map" in refused[0].getMessage()
    assert peak < 100 * MiB, f"reading 64 KiB of a crafted piece took {peak / MiB:.0f} MiB"
    async with http.get(f"{runner.base_url}/piece/{cid}", headers={"Range": "bytes=1000-1999"}) as response:
        assert await response.read() == data[1000:2000]


@pytest.mark.parametrize(
    ("samples", "tracks", "words"),
    [
        (1 << 24, 1, "units would take the index past"),
        (2_000_000, 1, "more than 64 MiB of memory"),
        (600_000, 2, "more than 64 MiB of memory"),  # the budget is for the whole index, not per track
        (10, 65, "65 tracks, more than 64"),
    ],
)
def test_an_index_beyond_its_budget_is_a_container_error_in_words(samples, tracks, words):
    data = crafted.mp4_claiming_samples(samples, tracks)
    assert sniff_layout(data[:65536], len(data)).index is not None
    tracemalloc.start()
    try:
        with pytest.raises(ContainerError, match=words):
            build_index(data[:65536], len(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * MiB


def test_an_index_within_its_budget_is_built_exactly():
    data = crafted.mp4_claiming_samples(500_000, tracks=1)
    index = build_index(data[:4096], len(data))
    first = data.find(b"mdat") + 4
    assert len(index.primary) == 500_000 and index.keyframes() == [(0.0, first)]
    assert index.seek_range(499.0, 0.5) == (first, first + 499_500)  # one sample per ms, through 499.5 s


# --- 3. a Matroska SeekHead of thousands of entries -------------------------------------------------------


async def _quiet(origin: Emulator, within: float = 20.0) -> int:
    """Wait until the origin has sent nothing new for half a second; the bytes it sent in all."""
    async with asyncio.timeout(within):
        sent = -1
        while sent != origin.counters.bytes_sent:
            sent = origin.counters.bytes_sent
            await asyncio.sleep(0.5)
    return sent


async def _open_while_watching_health(http, runner, origin, cid: str, read: int) -> tuple[list, float]:
    """A player reads the first ``read`` bytes while /health is asked every 20 ms; (events, slowest answer)."""
    events: list = []
    runner.bus.subscribe(events.append)
    latencies: list[float] = []

    async def watch() -> None:
        while True:
            latencies.append(await health_latency(http, runner))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        async with http.get(f"{runner.base_url}/piece/{cid}", headers={"Range": f"bytes=0-{read - 1}"}) as response:
            assert response.status == 206 and len(await response.read()) == read
        await wait_for(events, MediaLayoutKnown)
        await _quiet(origin)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return events, max(latencies)


#: Element IDs a SeekHead may list: the five a player reads out of order, and one nobody knows.
_LISTED = (crafted.TAGS, crafted.CHAPTERS, crafted.ATTACHMENTS, crafted.SEEK_HEAD, crafted.CUES, 0x1A2B3C4D)


async def test_a_seek_head_of_12000_entries_neither_freezes_the_proxy_nor_multiplies_downloads(origin, runner, http):
    """It used to block the loop for 45 s (positions re-sorted per entry), then start 12,000 prefetches. Now it
    is refused in words beyond 16 k entries, parsed off the loop below that, and prefetches at most one span per
    element a player reads out of order: the pull stays within the read, its read-ahead and one index."""
    size = 128 * MiB
    entries = [(_LISTED[i % len(_LISTED)], 300_000 + i * ((size - 400_000) // 12_000)) for i in range(12_000)]
    data = crafted.matroska_with_seek_head(entries, size)
    assert data.find(crafted.CLUSTER.to_bytes(4, "big")) < MiB  # the whole SeekHead is in the first slice
    cid = serve(origin, "seek-head.webm", data)
    events, slowest = await _open_while_watching_health(http, runner, origin, cid, 64 * 1024)
    assert slowest < HANG_S
    # the tail bet (one slice asked with the head of a large piece, before any layout) is not a SeekHead element
    listed = [e for e in events if isinstance(e, Prefetch) and not e.reason.startswith("prefetch: tail")]
    spans = {(e.start, e.end) for e in listed if not e.reason.endswith("exact range")}
    assert len(spans) <= len(_LISTED) - 1, "one prefetch per element a player reads out of order, at most"
    readahead = runner.server.cache.config.readahead
    one_index = runner.server.prefetcher.config.max_index_bytes
    pulled = origin.counters.bytes_sent
    assert pulled <= MiB + readahead + one_index, f"pulled {pulled / MiB:.0f} MiB"


async def test_a_seek_head_of_250_spans_costs_one_index_per_piece_not_one_per_span(origin, runner, http):
    """250 entries 512 KiB apart in a 128 MiB piece: the 64 MiB prefetch cap was per span, so the proxy pulled
    the whole piece for a player that read 1 MiB."""
    size = 128 * MiB
    entries = [(_LISTED[i % len(_LISTED)], 2 * MiB + i * (MiB // 2)) for i in range(250)]
    cid = serve(origin, "spans.webm", crafted.matroska_with_seek_head(entries, size))
    _events, slowest = await _open_while_watching_health(http, runner, origin, cid, MiB)
    assert slowest < HANG_S
    readahead = runner.server.cache.config.readahead
    pulled = origin.counters.bytes_sent
    assert pulled <= MiB + readahead + 5 * MiB, f"pulled {pulled / MiB:.0f} MiB (a slice per listed element at most)"


def test_a_seek_head_beyond_16k_entries_is_refused_in_words():
    entries = [(crafted.TAGS, 300_000 + i) for i in range(16_385)]
    data = crafted.matroska_with_seek_head(entries, 4 * MiB)
    layout = sniff_layout(data[:MiB], len(data))
    assert layout.index is None and layout.prefetch == ()
    assert "lists more than 16384 entries" in layout.reason
    just_enough = crafted.matroska_with_seek_head(entries[:16_384], 4 * MiB)
    assert sniff_layout(just_enough[:MiB], len(just_enough)).known


def _cue_point(time: int, cluster: int) -> bytes:
    track_positions = crafted.uint(0xF7, 1) + crafted.uint(0xF1, cluster)
    return crafted.element(0xBB, crafted.uint(0xB3, time) + crafted.element(0xB7, track_positions))


@pytest.mark.parametrize(("points", "built"), [(1000, True), (450_000, False)])
def test_cue_points_are_charged_to_the_index_budget(points, built):
    """Cues are bytes-backed, but a 64 MiB index of tiny cue points would be half a gigabyte of Python tuples."""
    distinct = b"".join(_cue_point(i, 1000 + 10 * i) for i in range(points)) if built else b""
    listed = distinct or _cue_point(7, 1000) * points  # refused while they are read: the values do not matter
    cues = crafted.element(crafted.CUES, listed)
    at = 50_000
    size = at + len(cues) + 1000
    data = bytearray(crafted.matroska_with_seek_head([(crafted.CUES, at)], size))
    start = len(crafted.EBML_HEADER) + 12 + at
    data[start : start + len(cues)] = cues
    layout = sniff_layout(bytes(data[:4096]), size)
    assert (layout.index.start, layout.index.stop) == (start, size)
    if built:
        assert len(build_index(bytes(data[:4096]), size, bytes(data[start:]), start).keyframes()) == points
    else:
        with pytest.raises(ContainerError, match=r"Cues at byte .* more than 64 MiB of memory"):
            build_index(bytes(data[:4096]), size, bytes(data[start:]), start)
