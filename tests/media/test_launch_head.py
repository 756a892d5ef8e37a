"""A launch that opens a piece fetches its head while the window is built (``SliceCache.warm_head``).

What a user relies on: the player's first request then finds the head cached or on its way (no second fetch of
it, no second bet on the tail), the moov-at-end index is there too, and a head the player never asks for is
counted as fetched ahead and never served — paid egress is never hidden.
"""

from __future__ import annotations

import asyncio

from proxy.cache.windows import LAUNCH_HEAD
from proxy.events import (
    MediaIndexed,
    MediaLayoutKnown,
    PieceVerified,
    Prefetch,
    SliceStored,
    UpstreamFinished,
    UpstreamStarted,
)
from proxy.prefetch import TAIL_BET
from proxy.units import MiB
from tests.conftest import piece_of, record_events, start_proxy, upstream_fetches_ended

#: How a player (FFmpeg, QMediaPlayer) opens a piece.
PLAYER_OPEN = {"Range": "bytes=0-"}


async def _seen(events: list, found, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not any(found(e) for e in events):
            await asyncio.sleep(0.01)


async def test_the_player_reads_the_head_fetched_at_launch_and_finds_the_index_there(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio", latency_ms=50)
    proxy = await start_proxy(emulator, tmp_path / "cache", readahead=1)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        await proxy.warm(cid)
        await _seen(events, lambda e: isinstance(e, SliceStored) and e.index == 0)
        layout = next(e for e in events if isinstance(e, MediaLayoutKnown))
        warm = [e for e in events if isinstance(e, UpstreamStarted) and e.reason == LAUNCH_HEAD]
        assert [(e.start, e.end) for e in warm] == [(0, proxy.cache.slice_size - 1)]
        assert any(isinstance(e, Prefetch) and e.reason == LAUNCH_HEAD for e in events), "the panel is told why"
        await _seen(events, lambda e: isinstance(e, MediaIndexed))  # the map is built from the index it fetched
        await upstream_fetches_ended(events)
        before_player = len(events)
        # the player opens the piece, then reads the index the head points to, as FFmpeg does
        async with http.get(url, headers=PLAYER_OPEN) as response:
            assert await response.content.read(4096) == data[:4096]
        index_start = layout.index_range[0]
        async with http.get(url, headers={"Range": f"bytes={index_start}-"}) as response:
            assert await response.read() == data[index_start:]
        later = [e for e in events[before_player:] if isinstance(e, UpstreamStarted)]
        assert not [e for e in later if e.start < proxy.cache.slice_size], "the head is not fetched again"
        assert not [e for e in later if e.end >= index_start], "the index was there when the player asked"
        assert len([e for e in events if isinstance(e, UpstreamStarted) and e.reason == TAIL_BET]) <= 1, (
            "one bet on the tail, placed by the launch's open, not again by the player's"
        )
        assert not proxy.cache.unserved_bytes_by_reason().get(LAUNCH_HEAD), "the player read it: not waste"
    finally:
        await proxy.stop()


async def test_a_head_nobody_reads_counts_as_fetched_ahead_and_never_served(emulator, tmp_path):
    emulator.knobs.update(mode="curio", latency_ms=20)
    proxy = await start_proxy(emulator, tmp_path / "cache")
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    try:
        await proxy.warm(cid)
        await upstream_fetches_ended(events)
        head = min(len(data), proxy.cache.slice_size)
        assert proxy.cache.unserved_bytes_by_reason().get(LAUNCH_HEAD) == head
        finished = [e for e in events if isinstance(e, UpstreamFinished)]
        assert sum(e.bytes_received for e in finished) <= head + proxy.cache.slice_size, "bounded to the head"
    finally:
        await proxy.stop()


async def test_a_cached_head_is_not_fetched_again_and_a_bad_cid_is_only_logged(emulator, tmp_path, http):
    emulator.knobs.update(mode="curio", latency_ms=0)
    proxy = await start_proxy(emulator, tmp_path / "cache")
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.read() == data
        await upstream_fetches_ended(events)
        asked = emulator.counters.requests
        await proxy.warm(cid)
        await proxy.warm("not-a-cid")
        assert emulator.counters.requests == asked
        assert not [e for e in events if isinstance(e, Prefetch) and e.reason == LAUNCH_HEAD]
        async with http.get(f"{proxy.base_url}/health") as response:
            assert response.status == 200, "the proxy goes on serving"
    finally:
        await proxy.stop()


async def test_hashing_gives_way_from_the_launchs_head_fetch_as_from_a_players_open(emulator, tmp_path):
    """The head a launch fetches is the start of the player's open: CommP hashing waits ``verify_quiet_s`` from
    then, as it does from a player's request. Before, a piece whose head the launch brought was hashed at once: the
    hashing process started while the window was shown and painted (12 alternated window launches: first frame
    48 ms after the open with the wait, 74 without; launch 1080 ms against 1127)."""
    emulator.knobs.update(mode="curio")
    # one slice holds the whole piece, so the launch's fetch alone completes it and a verdict can come
    proxy = await start_proxy(emulator, tmp_path / "cache", slice_size=4 * MiB, verify_quiet_s=1.5)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    assert len(data) <= 4 * MiB
    try:
        await proxy.warm(cid)
        await _seen(events, lambda e: isinstance(e, PieceVerified), within=20.0)
        launch = next(e for e in events if isinstance(e, Prefetch) and e.reason == LAUNCH_HEAD)
        verdict = next(e for e in events if isinstance(e, PieceVerified))
        assert verdict.ok
        assert verdict.at >= launch.at + 1.5
    finally:
        await proxy.stop()
