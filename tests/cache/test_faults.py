"""The fault matrix: an upstream, a disk or a process that misbehaves, and what the player gets each time.

Every fault is injected for real — through the emulator's knobs, a tmpfs that fills up or turns read-only, bytes
flipped in slice files, a proxy process killed with SIGKILL — and every test checks the same three things:

1. what the client receives: the correct bytes (resumed if need be), or a clean error status with a JSON message a
   person can read — never a short body presented as complete (a body cut short stops before its Content-Length,
   which the client detects), never bytes of two versions in one body;
2. what the cache holds afterwards: only slices whose every byte equals the piece;
3. that the proxy still serves other requests right after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from proxy.cid import parse_piece_cid
from proxy.emulator import Emulator, Knobs
from proxy.events import CacheProblem, RequestFinished, SliceRejected, SliceStored, UpstreamRetry
from proxy.server import ProxyConfig, ProxyServer
from proxy.slice_checks import SAVED_NAME
from proxy.sources import template_source
from proxy.upstream import RetryPolicy, Timeouts
from tests.conftest import MiB, piece_of, record_events
from tests.conftest import start_proxy as start_proxy_with

ROOT = Path(__file__).resolve().parents[2]
#: Retries as the defaults do them, minus the waiting: the faults are the point here, not the backoff.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_resumes=6)
BIG = "random-3.5MiB.bin"
OTHER = "random-2MiB.bin"


# --- what a client sees ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One response as a client experiences it, including a body that stopped short."""

    status: int
    headers: CIMultiDict[str]
    body: bytes
    #: Why reading the body failed (the connection closed before Content-Length), or None.
    broken: str | None

    @property
    def complete(self) -> bool:
        return self.broken is None and len(self.body) == int(self.headers.get("Content-Length", len(self.body)))

    @property
    def error(self) -> dict:
        assert self.headers.get("Content-Type", "").startswith("application/json"), self.headers
        document = json.loads(self.body)
        assert isinstance(document["error"], str) and len(document["error"]) > 10, document
        return document


async def fetch(http: aiohttp.ClientSession, url: str, range_header: str | None = None) -> Outcome:
    headers = {"Range": range_header} if range_header else {}
    async with asyncio.timeout(60), http.get(url, headers=headers) as response:
        body = bytearray()
        broken = None
        try:
            async for chunk in response.content.iter_any():
                body += chunk
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            broken = repr(exc)
        return Outcome(response.status, CIMultiDict(response.headers), bytes(body), broken)


def expected_span(data: bytes, outcome: Outcome) -> bytes:
    """The bytes a 200/206 outcome claims to carry, per its own headers."""
    if outcome.status == 200:
        return data
    assert outcome.status == 206
    first, last = outcome.headers["Content-Range"].removeprefix("bytes ").split("/")[0].split("-")
    return data[int(first) : int(last) + 1]


def assert_correct_or_visibly_cut(data: bytes, outcome: Outcome) -> None:
    """Correct and complete, or a correct prefix of a body the client can tell was cut short."""
    assert outcome.status in (200, 206), outcome
    span = expected_span(data, outcome)
    assert int(outcome.headers["Content-Length"]) == len(span)
    assert outcome.body == span[: len(outcome.body)], "a wrong byte was served"
    if outcome.complete:
        assert outcome.body == span
    else:
        assert outcome.broken is not None and len(outcome.body) < len(span)


# --- what the cache holds ----------------------------------------------------------------------------------


def key_of(cid: str) -> str:
    return parse_piece_cid(cid).root.hex()


async def assert_cache_holds_only_intact_slices(proxy: ProxyServer, pieces: dict[str, bytes]) -> int:
    """Every slice in memory and on disk equals the piece's bytes; no temporary file is left once the writes in
    progress have landed. Returns the count."""
    cache = proxy.cache
    await cache.disk.flush()
    size = cache.slice_size
    checked = 0
    for cid, data in pieces.items():
        key = key_of(cid)
        for index in cache.memory.indexes(key):
            assert bytes(cache.memory.get(key, index)) == data[index * size : (index + 1) * size], (key, index)
            checked += 1
    root = cache.disk.root
    if root.exists():
        keys = {key_of(cid): data for cid, data in pieces.items()}
        for path in root.rglob("*"):
            assert not path.name.endswith(".tmp"), f"left-over temporary file {path}"
            if path.is_file() and path.parent.name in keys and path.name != SAVED_NAME:
                index, crc = path.name.split(".")
                data = keys[path.parent.name][int(index) * size : (int(index) + 1) * size]
                content = path.read_bytes()
                assert content == data and zlib.crc32(content) == int(crc, 16), path
                checked += 1
    return checked


async def assert_still_serves(proxy: ProxyServer, emulator: Emulator, http: aiohttp.ClientSession) -> None:
    """Right after a fault: a range and a whole piece of another file, byte for byte, and /health."""
    cid, data = piece_of(emulator, OTHER)
    ranged = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=1000-1999")
    assert (ranged.status, ranged.body) == (206, data[1000:2000])
    whole = await fetch(http, f"{proxy.base_url}/piece/{cid}")
    assert (whole.status, whole.complete, whole.body == data) == (200, True, True)
    async with http.get(f"{proxy.base_url}/health") as response:
        assert response.status == 200


# --- fixtures ----------------------------------------------------------------------------------------------


#: The shared proxy, with quick retries.
start_proxy = partial(start_proxy_with, retry=FAST_RETRY)


@pytest.fixture
async def fast(emulator: Emulator, tmp_path: Path) -> AsyncIterator[ProxyServer]:
    """The proxy with quick retries, in front of a Curio-mode emulator (true 206 answers)."""
    emulator.knobs.update(mode="curio")
    server = await start_proxy(emulator, tmp_path / "cache")
    yield server
    await server.stop()


def clear_after(server: ProxyServer, emulator: Emulator, event_type: type, count: int, **knobs: object) -> None:
    """Turn a fault on now and off again after ``count`` events of a kind: a burst, not a permanent state."""
    defaults = Knobs()
    seen = 0

    def watch(event: object) -> None:
        nonlocal seen
        if isinstance(event, event_type):
            seen += 1
            if seen == count:
                emulator.knobs.update(**{name: getattr(defaults, name) for name in knobs})

    emulator.knobs.update(**knobs)
    server.bus.subscribe(watch)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A filesystem of ``size`` mounted at ``path`` for the block (skips the test where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount permission): {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB filesystem: room for the metadata database and two or three slices, then ENOSPC."""
    with tmpfs(tmp_path / "tiny", "3m") as folder:
        yield folder


# --- broken connections ------------------------------------------------------------------------------------

DROP_OFFSETS = {
    "1 byte in": 1,
    "inside the first slice": 1000,
    "1 byte before a slice boundary": MiB - 1,
    "exactly at a slice boundary": MiB,
    "1 byte after a slice boundary": MiB + 1,
    "inside the third slice": 2 * MiB + 12345,
    "1 byte before the end": 3 * MiB + MiB // 2 - 1,
}


@pytest.mark.parametrize("mode", ["curio", "filbeam"])
@pytest.mark.parametrize("offset", DROP_OFFSETS.values(), ids=DROP_OFFSETS.keys())
async def test_connection_dropped_mid_body_is_resumed_without_a_wrong_byte(emulator, tmp_path, http, offset, mode):
    emulator.knobs.update(mode=mode)
    # A read-ahead whose first step (a quarter) covers the whole 3.5 MiB piece: one upstream answer carries every
    # offset above, so each drop lands in it.
    proxy = await start_proxy(emulator, tmp_path / "cache", readahead=16 * MiB)
    events = record_events(proxy)
    cid, data = piece_of(emulator, BIG)
    try:
        clear_after(proxy, emulator, UpstreamRetry, 1, drop_after=offset)
        outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}")
        assert (outcome.status, outcome.complete) == (200, True)
        assert outcome.body == data
        assert any(isinstance(e, UpstreamRetry) for e in events), "the fault was not injected"
        # Resumed from the last good byte, not restarted: at most what was in flight when the line broke is lost.
        assert emulator.counters.bytes_sent < len(data) + MiB
        assert await assert_cache_holds_only_intact_slices(proxy, {cid: data}) >= 4
        await assert_still_serves(proxy, emulator, http)
    finally:
        await proxy.stop()


async def test_transfer_that_cannot_be_resumed_is_cut_short_visibly_never_passed_off_as_complete(fast, emulator, http):
    """After 1.5 MiB the upstream breaks every connection before its first byte: the player must see the cut."""
    cid, data = piece_of(emulator, BIG)
    events = record_events(fast)
    emulator.knobs.update(drop_after=MiB + MiB // 2)
    fast.bus.subscribe(lambda e: isinstance(e, UpstreamRetry) and emulator.knobs.update(drop_after=0))
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}")
    assert_correct_or_visibly_cut(data, outcome)
    assert not outcome.complete
    assert MiB <= len(outcome.body) < len(data)
    [finished] = [e for e in events if isinstance(e, RequestFinished)]
    assert "kept breaking the transfer off" in finished.error
    assert await assert_cache_holds_only_intact_slices(fast, {cid: data}) >= 1
    emulator.knobs.update(drop_after=None)
    again = await fetch(http, f"{fast.base_url}/piece/{cid}")
    assert (again.status, again.complete, again.body == data) == (200, True, True)
    await assert_still_serves(fast, emulator, http)


async def test_upstream_that_breaks_every_connection_after_100kB_still_delivers_the_piece(fast, emulator, http):
    """Each connection brings 100 kB and breaks: every one is progress, and bytes already received are kept."""
    cid, data = piece_of(emulator, OTHER)
    emulator.knobs.update(drop_after=100_000)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-299999")
    assert (outcome.status, outcome.complete, outcome.body) == (206, True, data[:300_000])
    assert emulator.counters.bytes_sent < MiB + 100_000, "bytes received before a break were fetched again"
    await assert_cache_holds_only_intact_slices(fast, {cid: data})
    emulator.knobs.update(drop_after=None)
    await assert_still_serves(fast, emulator, http)


@pytest.mark.parametrize("persistent", [False, True], ids=["once", "always"])
async def test_short_body_is_resumed_or_visibly_cut(fast, emulator, http, persistent):
    """``short_body``: Content-Length promises the range, half arrives, the connection closes."""
    cid, data = piece_of(emulator, BIG)
    if persistent:
        emulator.knobs.update(short_body=True)
    else:
        clear_after(fast, emulator, UpstreamRetry, 1, short_body=True)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=5-")
    if outcome.status == 502:
        assert "breaking the transfer off" in outcome.error["error"]
    else:
        assert_correct_or_visibly_cut(data, outcome)
    if not persistent:
        assert (outcome.status, outcome.complete, outcome.body) == (206, True, data[5:])
    await assert_cache_holds_only_intact_slices(fast, {cid: data})
    emulator.knobs.update(short_body=False)
    await assert_still_serves(fast, emulator, http)


# --- upstream status faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_5xx_burst_shorter_than_the_retries_is_invisible_and_a_longer_one_is_a_502_in_words(
    fast, emulator, http, status
):
    cid, data = piece_of(emulator, BIG)
    clear_after(fast, emulator, UpstreamRetry, 2, error_rate=1.0, error_status=status)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=100-199")
    assert (outcome.status, outcome.body) == (206, data[100:200])
    assert [r.status for r in emulator.counters.log] == [status, status, 206]

    other, other_data = piece_of(emulator, "clip-faststart.mp4")
    emulator.knobs.update(error_rate=1.0, error_status=status)
    failed = await fetch(http, f"{fast.base_url}/piece/{other}", "bytes=0-99")
    assert failed.status == 502
    assert f"failing right now ({status})" in failed.error["error"]
    assert await assert_cache_holds_only_intact_slices(fast, {cid: data, other: other_data}) >= 1
    emulator.knobs.update(error_rate=0.0)
    recovered = await fetch(http, f"{fast.base_url}/piece/{other}", "bytes=0-99")
    assert (recovered.status, recovered.body) == (206, other_data[:100])
    await assert_still_serves(fast, emulator, http)


async def test_402_quota_exhausted_is_a_502_in_words_and_the_piece_is_not_asked_for_again(fast, emulator, http):
    cid, _ = piece_of(emulator, BIG)
    emulator.knobs.update(quota_rate=1.0)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-99")
    assert outcome.status == 502
    assert "egress quota is used up" in outcome.error["error"]
    assert "quota exhausted" in outcome.error["detail"]
    asked = emulator.counters.requests
    again = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-99")
    assert again.status == 502 and "refused this piece" in again.error["error"]
    assert emulator.counters.requests == asked, "a source that refused payment was asked again at once"
    assert fast.cache.cached_indexes(key_of(cid)) == set()
    emulator.knobs.update(quota_rate=0.0)
    await assert_still_serves(fast, emulator, http)


@pytest.mark.parametrize(
    ("mode", "words"), [("curio", "does not have this piece"), ("filbeam", "does not know this piece yet")]
)
async def test_404_is_a_404_in_words_and_is_not_remembered_once_the_piece_appears(fast, emulator, http, mode, words):
    cid, data = piece_of(emulator, BIG)
    emulator.knobs.update(mode=mode, not_found_rate=1.0)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-99")
    assert outcome.status == 404
    assert words in outcome.error["error"]
    emulator.knobs.update(not_found_rate=0.0)
    found = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-99")
    assert (found.status, found.body) == (206, data[:100])
    await assert_still_serves(fast, emulator, http)


async def test_first_byte_later_than_the_timeout_is_a_504_in_words(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio", stall_ms=3000)
    proxy = await start_proxy(emulator, tmp_path / "cache", timeouts=Timeouts(connect=2, first_byte=0.3, idle=2))
    cid, data = piece_of(emulator, BIG)
    try:
        outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
        assert outcome.status == 504
        assert "did not answer within 0.3 s" in outcome.error["error"]
        assert await assert_cache_holds_only_intact_slices(proxy, {cid: data}) == 0
        emulator.knobs.update(stall_ms=0)
        recovered = await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")
        assert (recovered.status, recovered.body) == (206, data[:100])
        await assert_still_serves(proxy, emulator, http)
    finally:
        await proxy.stop()


async def test_upstream_down_entirely_is_a_502_in_words_while_cached_pieces_keep_playing(media_dir, tmp_path, http):
    origin = Emulator(media_dir, Knobs(mode="curio", latency_ms=0))
    await origin.start()
    proxy = await start_proxy(origin, tmp_path / "cache")
    try:
        cached, cached_data = piece_of(origin, OTHER)
        uncached, data = piece_of(origin, BIG)
        assert (await fetch(http, f"{proxy.base_url}/piece/{cached}")).body == cached_data
        await origin.stop()  # the port is closed now: connections are refused
        outcome = await fetch(http, f"{proxy.base_url}/piece/{uncached}", "bytes=0-99")
        assert outcome.status == 502
        assert "Could not reach" in outcome.error["error"]
        for header, expected in ((None, cached_data), ("bytes=1000-", cached_data[1000:])):
            served = await fetch(http, f"{proxy.base_url}/piece/{cached}", header)
            assert (served.complete, served.body) == (True, expected)
        await assert_cache_holds_only_intact_slices(proxy, {cached: cached_data, uncached: data})
        async with http.get(f"{proxy.base_url}/health") as response:
            assert response.status == 200
    finally:
        await proxy.stop()


# --- upstream answers that do not match --------------------------------------------------------------------


async def test_200_that_ignores_range_is_cut_to_the_range_asked_for(fast, emulator, http):
    emulator.knobs.update(ignore_range=True)
    cid, data = piece_of(emulator, BIG)
    start = 2 * MiB + 5
    for header, expected in ((f"bytes={start}-{start + 99}", data[start : start + 100]), ("bytes=-10", data[-10:])):
        outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", header)
        assert (outcome.status, outcome.complete, outcome.body) == (206, True, expected)
    assert emulator.counters.log[0].status == 200
    assert await assert_cache_holds_only_intact_slices(fast, {cid: data}) >= 3
    await assert_still_serves(fast, emulator, http)


@pytest.mark.parametrize("knob", ["wrong_content_range", "wrong_total"])
async def test_206_with_the_wrong_framing_is_refused_and_never_cached(fast, emulator, http, knob):
    emulator.knobs.update(**{knob: True})
    cid, data = piece_of(emulator, BIG)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=5-")
    assert outcome.status == 502
    assert "do not match what was asked" in outcome.error["error"]
    assert fast.cache.cached_indexes(key_of(cid)) == set()
    assert await assert_cache_holds_only_intact_slices(fast, {cid: data}) == 0
    emulator.knobs.update(**{knob: False})
    recovered = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=5-")
    assert (recovered.status, recovered.complete, recovered.body) == (206, True, data[5:])
    await assert_still_serves(fast, emulator, http)


async def test_a_wrong_total_for_a_v1_cid_does_not_outlive_the_lie(fast, emulator, http):
    cid, data = piece_of(emulator, BIG)
    v1 = emulator.pieces[cid].v1
    emulator.knobs.update(wrong_total=True)
    await fetch(http, f"{fast.base_url}/piece/{v1}", "bytes=0-99")
    emulator.knobs.update(wrong_total=False)
    outcome = await fetch(http, f"{fast.base_url}/piece/{cid}")
    assert (outcome.status, outcome.complete, outcome.body == data) == (200, True, True)


async def test_etag_that_changes_on_every_answer_does_not_disturb_identical_bytes(fast, emulator, http):
    """Pieces are content-addressed: an upstream that reinvents its ETag still serves the same bytes."""
    emulator.knobs.update(etag_change=True)
    cid, data = piece_of(emulator, BIG)
    first = await fetch(http, f"{fast.base_url}/piece/{cid}", "bytes=0-99")
    assert (first.status, first.body) == (206, data[:100])
    whole = await fetch(http, f"{fast.base_url}/piece/{cid}")
    assert (whole.status, whole.complete, whole.body == data) == (200, True, True)
    assert whole.headers["ETag"] == f'"{emulator.pieces[cid].v1}"', "the proxy's ETag is the CID's, not upstream's"
    assert await assert_cache_holds_only_intact_slices(fast, {cid: data}) >= 4


async def test_bytes_under_a_new_etag_are_never_mixed_with_slices_of_the_old_one(tmp_path, http):
    folder = tmp_path / "origin"
    folder.mkdir()
    old = random.Random(11).randbytes(3 * MiB)
    (folder / "changing.bin").write_bytes(old)
    origin = Emulator(folder, Knobs(mode="curio", latency_ms=0, etag_change=True))
    await origin.start()
    proxy = await start_proxy(origin, tmp_path / "cache")
    try:
        [cid] = origin.piece_cids()
        assert (await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")).body == old[:100]
        new = bytes(b ^ 0x5A for b in old)
        (folder / "changing.bin").write_bytes(new)  # the upstream now serves other bytes, under a new ETag
        outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}")
        assert outcome.status in (200, 502)
        if outcome.complete and outcome.status == 200:
            assert outcome.body in (old, new), "one body mixes bytes of two versions"
    finally:
        await proxy.stop()
        await origin.stop()


# --- the disk ----------------------------------------------------------------------------------------------


async def test_full_disk_is_reported_and_playback_goes_on_from_memory(emulator, tiny_disk, http):
    emulator.knobs.update(mode="curio")
    proxy = await start_proxy(emulator, tiny_disk)
    events = record_events(proxy)
    try:
        pieces = {cid: data for cid, data in (piece_of(emulator, BIG), piece_of(emulator, OTHER))}
        for cid, data in pieces.items():
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}")
            assert (outcome.status, outcome.complete, outcome.body == data) == (200, True, True)
        await proxy.cache.disk.flush()  # the writer thread meets the full disk on its own time, after the answers
        problems = [e.message for e in events if isinstance(e, CacheProblem)]
        assert problems and "No space left on device" in problems[0]
        assert proxy.snapshot()["disk_problem"] == problems[-1]
        files = [p for p in proxy.cache.disk.root.rglob("*") if p.is_file()]
        on_disk = len(files)
        # Whatever fitted: writes queued before the first ENOSPC may still land if they are small enough.
        assert on_disk >= 1 and sum(p.stat().st_size for p in files) <= 3 * MiB
        assert await assert_cache_holds_only_intact_slices(proxy, pieces) >= on_disk
        await assert_still_serves(proxy, emulator, http)
    finally:
        await proxy.stop()


async def first_bytes_with_the_disk_full(emulator, tiny_disk, http):
    """Start a proxy on the tiny disk, fill the disk, then ask for a piece's first 100 bytes: (outcome, piece)."""
    emulator.knobs.update(mode="curio")
    proxy = await start_proxy(emulator, tiny_disk)
    try:
        fill(tiny_disk / "filler")
        cid, data = piece_of(emulator, BIG)
        return await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99"), data
    finally:
        await proxy.stop()


async def test_disk_too_full_for_the_metadata_database_still_answers_in_json(emulator, tiny_disk, http):
    outcome, _ = await first_bytes_with_the_disk_full(emulator, tiny_disk, http)
    assert outcome.status == 206 or outcome.error["error"]


async def test_disk_too_full_for_the_metadata_database_still_plays(emulator, tiny_disk, http):
    outcome, data = await first_bytes_with_the_disk_full(emulator, tiny_disk, http)
    assert (outcome.status, outcome.body) == (206, data[:100])


def fill(path: Path) -> None:
    """Write zeros until the filesystem is full. The last write is usually partial: what it left in the file's
    buffer fails again when the file is closed, which is the point, so that is caught too."""
    try:
        with open(path, "wb") as handle:
            while True:
                handle.write(b"\0" * 65536)
    except OSError:
        pass


async def test_slice_folder_turning_read_only_is_reported_and_playback_goes_on(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio")
    cache_dir = tmp_path / "cache"
    slices = cache_dir / "slices"
    with tmpfs(slices, "30m"):
        proxy = await start_proxy(emulator, cache_dir)
        events = record_events(proxy)
        try:
            cid, data = piece_of(emulator, OTHER)
            assert (await fetch(http, f"{proxy.base_url}/piece/{cid}", "bytes=0-99")).body == data[:100]
            # A slice file open for writing makes the remount fail ("mount point is busy"): let the first slice land.
            async with asyncio.timeout(10):
                while not any(isinstance(e, SliceStored) and e.tier == "disk" for e in events):
                    await asyncio.sleep(0.01)
            await proxy.cache.disk.flush()
            remount_read_only(slices)
            big, big_data = piece_of(emulator, BIG)
            for piece, expected in ((big, big_data), (cid, data)):
                outcome = await fetch(http, f"{proxy.base_url}/piece/{piece}")
                assert (outcome.status, outcome.complete, outcome.body == expected) == (200, True, True)
            assert any("Read-only file system" in e.message for e in events if isinstance(e, CacheProblem))
            assert await assert_cache_holds_only_intact_slices(proxy, {cid: data, big: big_data}) >= 1
            await assert_still_serves(proxy, emulator, http)
        finally:
            await proxy.stop()


async def test_read_only_cache_folder_at_start_still_serves_and_says_why_nothing_is_kept(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio")
    cache_dir = tmp_path / "cache"
    with tmpfs(cache_dir, "8m"):
        remount_read_only(cache_dir)
        proxy = ProxyServer(ProxyConfig([template_source(emulator.base_url + "/{cid}")], cache_dir, retry=FAST_RETRY))
        events = record_events(proxy)
        await proxy.start()
        try:
            problems = [e.message for e in events if isinstance(e, CacheProblem)]
            assert problems and all("Read-only file system" in m or "cannot" in m for m in problems)
            cid, data = piece_of(emulator, BIG)
            outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}")
            assert (outcome.status, outcome.complete, outcome.body == data) == (200, True, True)
            await assert_still_serves(proxy, emulator, http)
        finally:
            await proxy.stop()


async def test_slice_files_damaged_while_running_are_caught_and_refetched(emulator, tmp_path, http):
    """No memory tier (cap of 1 byte), so every read goes to the disk and its checks."""
    emulator.knobs.update(mode="curio")
    proxy = await start_proxy(emulator, tmp_path / "cache", memory_cap=1)
    events = record_events(proxy)
    cid, data = piece_of(emulator, BIG)
    try:
        assert (await fetch(http, f"{proxy.base_url}/piece/{cid}")).body == data
        await proxy.cache.disk.flush()  # slices land on disk in the background
        files = {int(p.name.split(".")[0]): p for p in (proxy.cache.disk.root / key_of(cid)).iterdir()}
        assert sorted(files) == [0, 1, 2, 3]
        raw = bytearray(files[1].read_bytes())
        raw[MiB // 2] ^= 0x01
        files[1].write_bytes(raw)  # one flipped bit
        files[2].write_bytes(files[2].read_bytes()[:1000])  # torn
        files[3].unlink()  # gone behind the proxy's back
        (files[0].parent / "00000009.zzzzzzzz").write_bytes(b"junk")  # a name the proxy never writes
        emulator.reset()
        outcome = await fetch(http, f"{proxy.base_url}/piece/{cid}")
        assert (outcome.status, outcome.complete, outcome.body == data) == (200, True, True)
        assert sorted(e.index for e in events if isinstance(e, SliceRejected)) == [1, 2, 3]
        assert emulator.counters.bytes_sent == len(data) - MiB, "only the damaged slices are fetched again"
        (files[0].parent / "00000009.zzzzzzzz").unlink()
        assert await assert_cache_holds_only_intact_slices(proxy, {cid: data}) == 4
        await assert_still_serves(proxy, emulator, http)
    finally:
        await proxy.stop()


# --- the process -------------------------------------------------------------------------------------------


async def start_cli(cache_dir: Path, upstream: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "--upstream", upstream + "/{cid}", "--cache-dir", str(cache_dir),
        "--memory-cache", "8M", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    base = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    assert base.startswith("http://127.0.0.1:"), base
    return process, base


async def test_proxy_killed_mid_transfer_restarts_on_intact_slices_only(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio", bandwidth=3 * MiB)
    cid, data = piece_of(emulator, BIG)
    key = key_of(cid)
    cache_dir = tmp_path / "cache"
    process, base = await start_cli(cache_dir, emulator.base_url)
    try:
        async with http.get(f"{base}/piece/{cid}") as response:
            received = await response.content.readexactly(MiB + MiB // 2)
            process.send_signal(signal.SIGKILL)  # mid-transfer: slice 0 is stored, slice 1 is in flight
            assert await process.wait() == -signal.SIGKILL
            with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)):
                await response.read()
        assert received == data[: len(received)]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    piece_dir = cache_dir / "slices" / str(MiB) / key
    kept = {int(p.name.split(".")[0]): p for p in piece_dir.iterdir() if not p.name.endswith(".tmp")}
    assert 0 in kept and kept[0].read_bytes() == data[:MiB]
    # What a crash inside a write, and a power cut after a rename without fsync, leave behind:
    leftover = piece_dir / f".00000002.deadbeef.{os.getpid()}.tmp"
    leftover.write_bytes(data[2 * MiB : 2 * MiB + 1000])
    torn = piece_dir / f"00000003.{zlib.crc32(data[3 * MiB :]):08x}"
    torn.write_bytes(data[3 * MiB : 3 * MiB + 4096])
    emulator.knobs.update(bandwidth=None)
    async with asyncio.timeout(10):  # the origin notices the dead connection, so its bytes are not counted below
        while len(emulator.counters.log) < emulator.counters.requests:
            await asyncio.sleep(0.05)
    emulator.reset()
    process, base = await start_cli(cache_dir, emulator.base_url)
    try:
        assert not leftover.exists(), "temporary files of interrupted writes are swept at start-up"
        outcome = await fetch(http, f"{base}/piece/{cid}")
        assert (outcome.status, outcome.complete, outcome.body == data) == (200, True, True)
        refetched = emulator.counters.bytes_sent
        assert refetched <= len(data) - MiB * len([i for i in kept if i != 3]), "intact slices are not refetched"
        other, other_data = piece_of(emulator, OTHER)
        assert (await fetch(http, f"{base}/piece/{other}")).body == other_data
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert "Traceback" not in stderr.decode()
    for path in piece_dir.iterdir():
        if path.name == SAVED_NAME:
            continue  # the checks the stopped proxy saved for its next run (``proxy.slice_checks``)
        index = int(path.name.split(".")[0])
        assert not path.name.endswith(".tmp") and path.read_bytes() == data[index * MiB : (index + 1) * MiB]
