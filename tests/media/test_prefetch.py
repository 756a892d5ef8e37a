"""Container-aware prefetching with real ffmpeg-made files: the proxy acts before the player asks."""

from __future__ import annotations

import asyncio

import pytest

from proxy.cid import parse_piece_cid
from proxy.events import (
    MediaIndexed,
    MediaLayoutKnown,
    PieceKnown,
    Prefetch,
    SliceRead,
    SliceStored,
    UpstreamFinished,
    UpstreamStarted,
)
from proxy.prefetch import TAIL_BET, PrefetchConfig
from tests.conftest import (
    CORPUS,
    MiB,
    cdn_sources,
    piece_of,
    play_once,
    record_events,
    reopen_from_cache,
    running_emulator,
    start_proxy,
)

#: The layout-driven prefetch alone, without the bet on a tail made before the head arrives (tested below).
NO_BET = PrefetchConfig(speculative_tail=False)


def prefetches(events: list) -> list[Prefetch]:
    """The prefetches the head's layout asked for (not the bet on a tail, made before it was known)."""
    return [e for e in events if isinstance(e, Prefetch) and e.reason != TAIL_BET]


async def first_event(events: list, kind: type, within: float = 10.0):
    async with asyncio.timeout(within):
        while not (found := [e for e in events if isinstance(e, kind)]):
            await asyncio.sleep(0.01)
    return found[0]


async def test_moov_at_end_is_prefetched_while_the_head_is_served(emulator, tmp_path, http):
    """With a short read-ahead the head's fetch stops well before the tail: only the prefetch can bring it."""
    emulator.knobs.update(mode="curio", latency_ms=80)
    proxy = await start_proxy(emulator, tmp_path / "cache", prefetch=NO_BET, readahead=1)
    try:
        await _moov_at_end_is_prefetched(proxy, emulator, http)
    finally:
        await proxy.stop()


async def _moov_at_end_is_prefetched(proxy, emulator, http):
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    url = f"{proxy.base_url}/piece/{cid}"
    async with http.get(url) as response:  # the player's first request, as FFmpeg makes it
        assert await response.content.read(4096) == data[:4096]
        prefetch = await first_event(events, Prefetch)
        assert prefetch.reason.startswith("prefetch: moov")
        assert prefetch.end == len(data) - 1 and data[prefetch.start + 4 : prefetch.start + 8] == b"moov"
    await asyncio.sleep(0.3)  # the player parses the head before it asks for the tail
    asked_before_tail = emulator.counters.requests
    async with http.get(url, headers={"Range": f"bytes={prefetch.start}-"}) as response:
        assert await response.read() == data[prefetch.start :]
    assert emulator.counters.requests == asked_before_tail, "the player's tail request must be served from cache"
    tail_fetches = [e for e in events if isinstance(e, UpstreamStarted) and e.end == len(data) - 1]
    assert tail_fetches and all(e.reason.startswith("prefetch: moov") for e in tail_fetches)


async def test_moov_at_end_arrives_as_its_exact_range_before_the_slice_that_holds_it(emulator, tmp_path, http):
    """On a slow link the slice-aligned tail fetch streams media data before the index; the player's tail request
    must not wait for it: it is answered from the exact range fetched beside it, and the slice still gets cached."""
    emulator.knobs.update(mode="curio", latency_ms=50, bandwidth=1_000_000)
    proxy = await start_proxy(emulator, tmp_path / "cache", prefetch=NO_BET)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        async with http.get(url, headers={"Range": "bytes=0-4095"}) as response:
            assert await response.read() == data[:4096]
        prefetch = await first_event(events, Prefetch)
        assert prefetch.start % MiB, "the test needs an index that does not start on a slice boundary"
        async with http.get(url, headers={"Range": f"bytes={prefetch.start}-"}) as response:
            assert await response.read() == data[prefetch.start :]
        slice_start = prefetch.start // MiB * MiB
        exact = [e for e in events if isinstance(e, UpstreamStarted) and e.start == prefetch.start]
        assert exact and exact[0].reason.endswith("exact range")
        assert any(isinstance(e, SliceRead) and e.tier == "fragment" for e in events)
        aligned = [e.fetch_id for e in events if isinstance(e, UpstreamStarted) and e.start == slice_start]
        assert aligned, "the slice holding the index is fetched too (for a re-open from disk)"
        done = {e.fetch_id for e in events if isinstance(e, UpstreamFinished)}
        assert aligned[0] not in done, "the tail was answered only after the whole slice arrived"
        stored = await first_event(events, SliceStored, within=10)  # the slice still lands in the cache
        assert stored.index == slice_start // MiB
    finally:
        await proxy.stop()


async def test_faststart_mp4_prefetches_nothing_and_gets_a_byte_time_map(proxy, emulator, http):
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-65535"}) as response:
        assert await response.read() == data[:65536]
    indexed = await first_event(events, MediaIndexed)
    assert not prefetches(events)
    assert indexed.duration_s == pytest.approx(12.0, abs=0.1)
    assert [t for t, _ in indexed.keyframes[:3]] == pytest.approx([0.0, 1.0, 2.0], abs=0.05)  # -g 30 at 30 fps
    assert indexed.byte_rate == pytest.approx(len(data) / indexed.duration_s, rel=0.01)


async def test_read_ahead_follows_the_media_byte_rate(proxy, emulator, http):
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-1000"}) as response:
        await response.read()
    indexed = await first_event(events, MediaIndexed)
    config = proxy.prefetcher.config
    expected = max(config.min_readahead, min(config.max_readahead, int(indexed.byte_rate * config.readahead_seconds)))
    assert indexed.readahead == expected
    key = parse_piece_cid(cid).root.hex()
    reader = proxy.cache.open(proxy.cache.info(key), 0, len(data) - 1)
    try:
        assert reader.cursor.window == expected
    finally:
        reader.close()


async def test_webm_cues_are_prefetched_for_the_first_seek(proxy, emulator, http):
    emulator.knobs.update(mode="curio")
    events = record_events(proxy)
    cid, _ = piece_of(emulator, "clip.webm")
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        await response.content.read(1024)
        layout = await first_event(events, MediaLayoutKnown)
    assert layout.kind == "webm"
    cues = [e for e in events if isinstance(e, Prefetch) and "Cues" in e.reason]
    if layout.prefetch:  # small files may hold their Cues in the first slice
        assert cues
    indexed = await first_event(events, MediaIndexed)
    assert indexed.duration_s == pytest.approx(6.0, abs=0.1)


@pytest.mark.parametrize("file_name", ["random-3.5MiB.bin", "tiny.bin"])
async def test_unknown_containers_are_proxied_plainly(proxy, emulator, http, file_name):
    events = record_events(proxy)
    cid, data = piece_of(emulator, file_name)
    async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
        assert await response.read() == data
    layout = await first_event(events, MediaLayoutKnown)
    assert layout.kind == "unknown" and layout.reason
    assert not prefetches(events) and not [e for e in events if isinstance(e, MediaIndexed)]


async def test_truncated_mp4_falls_back_to_plain_proxying(emulator, tmp_path, http):
    from proxy.emulator import Emulator, Knobs

    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    _, data = piece_of(emulator, "clip-moov-at-end.mp4")
    (broken_dir / "cut.mp4").write_bytes(data[: len(data) - 5000])  # moov cut short
    origin = Emulator(broken_dir, Knobs(mode="curio", latency_ms=0))
    await origin.start()
    proxy = await start_proxy(origin, tmp_path / "cache")
    events = record_events(proxy)
    try:
        [cid] = origin.piece_cids()
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.read() == data[: len(data) - 5000]
        await asyncio.sleep(0.5)
        assert not [e for e in events if isinstance(e, MediaIndexed)]
    finally:
        await proxy.stop()
        await origin.stop()


async def test_warm_reopen_needs_no_upstream_round_trip(emulator, tmp_path, http):
    reopened = reopen_from_cache(http, emulator, tmp_path / "cache", "clip-moov-at-end.mp4")
    async with reopened as (second, cid, data, events):
        async with http.get(f"{second.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
            assert response.headers["Content-Type"] == "video/mp4"
            assert await response.read() == data
        await first_event(events, MediaIndexed)
        # The second proxy asked the upstream nothing (the emulator's own count may still grow from the first
        # proxy's exact-range prefetch, cut off by its stop and logged when the emulator notices).
        assert not [e for e in events if isinstance(e, UpstreamStarted)]


async def test_hover_prefetches_the_bytes_a_seek_would_read(proxy, emulator, http):
    emulator.knobs.update(mode="curio")
    events = record_events(proxy)
    cid, _ = piece_of(emulator, "clip-faststart.mp4")
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-1000"}) as response:
        await response.read()
    indexed = await first_event(events, MediaIndexed)
    key = parse_piece_cid(cid).root.hex()
    start, end = proxy.prefetcher.hover(key, 9.5)
    _, keyframe_byte = max((t, b) for t, b in indexed.keyframes if t <= 9.5)
    assert start <= keyframe_byte <= end and end - start < 8 * MiB  # decoding starts at the keyframe before 9.5 s
    async with asyncio.timeout(5):
        while not (hovers := [e for e in prefetches(events) if e.reason.startswith("prefetch: hover")]):
            await asyncio.sleep(0.01)
    hover = hovers[0]
    assert hover.reason == "prefetch: hover at 9.5 s" and (hover.start, hover.end) == (start, end)
    async with asyncio.timeout(5):
        while not all(i in proxy.cache.cached_indexes(key) for i in range(start // MiB, end // MiB + 1)):
            await asyncio.sleep(0.02)
    stats = proxy.snapshot()
    assert stats["fetched_bytes_by_reason"]["prefetch: hover at 9.5 s"] > 0


#: How a player (FFmpeg, QMediaPlayer) opens a piece; a whole-body GET is a download and gets no bet on its tail.
PLAYER_OPEN = {"Range": "bytes=0-"}


def tail_bets(events: list) -> list[UpstreamStarted]:
    return [e for e in events if isinstance(e, UpstreamStarted) and e.reason == TAIL_BET]


async def open_then_read_the_index(http, url: str, events: list, data: bytes) -> MediaLayoutKnown:
    """As FFmpeg opens an MP4: the head from byte 0, then, once the head showed the layout, the index to the end."""
    async with http.get(url, headers=PLAYER_OPEN) as response:
        assert await response.content.read(4096) == data[:4096]
    layout = await first_event(events, MediaLayoutKnown)
    index_start = layout.index_range[0]
    async with http.get(url, headers={"Range": f"bytes={index_start}-"}) as response:
        assert await response.read() == data[index_start:]
    return layout


async def test_a_first_open_asks_for_the_tail_with_the_head_and_the_index_comes_from_it(emulator, tmp_path, http):
    """The index request of an MP4 whose index is at the end is the player's second round trip: asked with the head,
    before its layout is known, the tail is there when the player asks for the index — on a 2 MB piece too (by
    default the bet is made for every size)."""
    emulator.knobs.update(mode="curio", latency_ms=50)
    # readahead=1: the head's fetch stops short of the tail
    proxy = await start_proxy(emulator, tmp_path / "cache", readahead=1)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    assert len(data) < 4 * MiB, "the test is about a small piece"
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        layout = await open_then_read_the_index(http, url, events, data)
        index_start = layout.index_range[0]
        started = [e for e in events if isinstance(e, UpstreamStarted)]
        tail = tail_bets(events)
        bet = PrefetchConfig().tail_bet_min  # a small piece: the smallest bet, not its last slice
        assert tail and (tail[0].start, tail[0].end) == (len(data) - bet, len(data) - 1)
        assert events.index(tail[0]) < events.index(layout), "asked before the head's layout was known"
        assert not [e for e in started if e.start == index_start], "no second exact fetch of the index"
        assert any(isinstance(e, SliceRead) and e.tier == "fragment" for e in events)
        finished = [e for e in events if isinstance(e, UpstreamFinished) and e.fetch_id == tail[0].fetch_id]
        assert finished and finished[0].outcome == "complete", "the head showed mdat first: the bet stands"
        assert not proxy.cache.unserved_bytes_by_reason().get(TAIL_BET), "it was served: not waste"
    finally:
        await proxy.stop()


async def test_a_bet_on_a_faststart_tail_is_withdrawn_and_what_it_brought_counts_as_waste(emulator, tmp_path, http):
    """A faststart MP4 has its index in front: once the head shows that, the bet on the tail is withdrawn, so it
    costs less than its slice, and whatever it brought is counted as fetched and never served."""
    # 1 MB/s: the tail's megabyte would take a second, the head shows the layout in its first chunk
    emulator.knobs.update(mode="curio", latency_ms=50, bandwidth=1_000_000)
    proxy = await start_proxy(emulator, tmp_path / "cache")
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-faststart.mp4")
    try:
        async with http.get(f"{proxy.base_url}/piece/{cid}", headers=PLAYER_OPEN) as response:
            assert await response.content.readexactly(65536) == data[:65536]
        [bet] = tail_bets(events)
        async with asyncio.timeout(5):
            while not (ended := [e for e in events if isinstance(e, UpstreamFinished) and e.fetch_id == bet.fetch_id]):
                await asyncio.sleep(0.02)
        assert ended[0].outcome != "complete" and ended[0].bytes_received < MiB // 2
        assert not any(isinstance(e, SliceRead) and e.tier == "fragment" for e in events)
        stats = proxy.snapshot()
        assert TAIL_BET not in stats["fetched_bytes_by_reason"], "no complete fragment was kept"
        assert stats["unserved_bytes_by_reason"].get(TAIL_BET, 0) == proxy.cache.stats.abandoned_by_reason.get(
            TAIL_BET, 0
        )
    finally:
        await proxy.stop()


async def test_no_bet_on_filbeam_on_a_download_or_when_turned_off(tmp_path, http, media_dir):
    """FilBeam may answer a range with the whole piece (its cache miss): the bet is not placed there. A whole-body
    GET is a download, not a player's open: it reads the tail in its turn. ``speculative_tail=False`` turns the
    bet off for every source."""
    async with running_emulator(media_dir, latency_ms=0) as cdn:
        cid, data = piece_of(cdn, "clip-moov-at-end.mp4")
        cases = {
            "filbeam": (cdn_sources(cdn), None, PLAYER_OPEN),
            "download": (cdn, None, {}),
            "off": (cdn, PrefetchConfig(speculative_tail=False), PLAYER_OPEN),
        }
        for name, (sources, prefetch, headers) in cases.items():
            proxy = await start_proxy(sources, tmp_path / name, prefetch=prefetch)
            events = record_events(proxy)
            try:
                async with http.get(f"{proxy.base_url}/piece/{cid}", headers=headers) as response:
                    assert await response.read() == data
                await first_event(events, MediaLayoutKnown)
                assert not tail_bets(events), name
            finally:
                await proxy.stop()


async def test_a_re_open_from_the_cache_bets_on_nothing(emulator, tmp_path, http):
    reopened = reopen_from_cache(http, emulator, tmp_path / "cache", "clip-faststart.mp4")
    async with reopened as (second, cid, data, events):
        async with http.get(f"{second.base_url}/piece/{cid}", headers=PLAYER_OPEN) as response:
            assert await response.read() == data
        await first_event(events, MediaIndexed)
        assert not [e for e in events if isinstance(e, UpstreamStarted)]


async def test_a_bet_that_holds_the_last_slice_becomes_that_slice_and_it_is_not_fetched_again(emulator, tmp_path, http):
    """The bet asks for the last slice's bytes and a little more (the bench's 1 GiB piece: its last MiB, a last slice
    of 1,007,288 bytes). Those bytes are kept as the last slice: no fetch of that slice on the grid — not by the
    player's index request while the bet is still arriving, not by the layout's index prefetch — so no byte of it
    is paid twice, and it is cached for a re-open like any fetched slice."""
    slice_size = 64 * 1024  # the bet is at least 64 KiB: it holds a whole last slice shorter than that
    emulator.knobs.update(mode="curio", latency_ms=50, bandwidth=300_000)  # the bet takes ~0.25 s to arrive
    proxy = await start_proxy(emulator, tmp_path / "cache", readahead=1, slice_size=slice_size)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    last = (len(data) - 1) // slice_size
    assert len(data) % slice_size, "the test needs a last slice shorter than the bet"
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        async with http.get(url, headers=PLAYER_OPEN) as response:
            assert await response.content.read(4096) == data[:4096]
        layout = await first_event(events, MediaLayoutKnown)
        [bet] = tail_bets(events)
        assert bet.start < last * slice_size and bet.end == len(data) - 1, "the bet holds the whole last slice"
        bet_ended = [e for e in events if isinstance(e, UpstreamFinished) and e.fetch_id == bet.fetch_id]
        assert not bet_ended, "the player asks for its index while the bet is still arriving"
        index_start = layout.index_range[0]
        async with http.get(url, headers={"Range": f"bytes={index_start}-"}) as response:
            assert await response.read() == data[index_start:]
        async with asyncio.timeout(5):
            while not any(isinstance(e, SliceStored) and e.index == last for e in events):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the layout's index prefetch has run by now
        on_grid = [e for e in events if isinstance(e, UpstreamStarted) and e.fetch_id != bet.fetch_id]
        assert not [e for e in on_grid if e.start <= last * slice_size <= e.end], "the last slice was fetched again"
        key = parse_piece_cid(cid).root.hex()
        assert proxy.cache.stats.fetched_twice.get(key, 0) == 0
        assert proxy.cache.read_cached(key, last * slice_size, len(data) - 1) == data[last * slice_size :]
        assert not proxy.cache.unserved_bytes_by_reason().get(TAIL_BET), "it was served: not waste"
    finally:
        await proxy.stop()


async def test_readers_waiting_for_a_fragment_that_fails_fetch_its_slice_themselves(emulator, tmp_path):
    """A fragment holding a whole slice stands in for that slice's fetch while it runs; when it fails (here the
    upstream answers its range with the whole piece from byte 0), a player and a prefetch waiting for that slice must
    fetch it themselves and get the right bytes, not wait forever."""
    slice_size = 64 * 1024
    emulator.knobs.update(mode="curio", latency_ms=50)
    proxy = await start_proxy(
        emulator, tmp_path / "cache", slice_size=slice_size, prefetch=PrefetchConfig(enabled=False)
    )
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    last = (len(data) - 1) // slice_size
    try:
        info = await proxy.cache.describe(parse_piece_cid(cid))
        emulator.knobs.update(ignore_range=True)
        fragment = asyncio.create_task(proxy.cache.fetch_fragment(info, len(data) - slice_size, len(data) - 1, "test"))
        await asyncio.sleep(0)  # placed; its answer takes 50 ms: the readers below start while it is under way

        async def read(**kwargs) -> bytes:
            return b"".join(
                [bytes(c) async for c in proxy.cache.read(info, last * slice_size, len(data) - 1, **kwargs)]
            )

        async with asyncio.timeout(10):
            player, prefetch, fetched = await asyncio.gather(read(), read(reason="prefetch: test"), fragment)
        assert not fetched, "a whole-piece answer to an exact range fails the fragment"
        assert player == prefetch == data[last * slice_size :]
    finally:
        await proxy.stop()


async def test_an_index_longer_than_the_bet_gets_the_rest_as_an_exact_range(emulator, tmp_path, http):
    """The bet asks for a share of the piece (64 KiB at least), not its last slice: an index that starts before the
    bet's bytes gets the part the bet does not bring as an exact range once the head shows where it starts (the
    player asks for it from there within milliseconds), not only the slices around it, which stream the media data
    before the index first."""
    emulator.knobs.update(mode="curio", latency_ms=50)
    bet = 1024  # smaller than this clip's moov
    small_bet = PrefetchConfig(tail_bet_min=bet, tail_bet_share=0.0)
    proxy = await start_proxy(emulator, tmp_path / "cache", readahead=1, prefetch=small_bet)
    events = record_events(proxy)
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    url = f"{proxy.base_url}/piece/{cid}"
    try:
        layout = await open_then_read_the_index(http, url, events, data)
        index_start, index_last = layout.index_range
        assert index_last == len(data) - 1 and index_start < len(data) - bet, "the moov is longer than the bet"
        [tail] = tail_bets(events)
        assert (tail.start, tail.end) == (len(data) - bet, len(data) - 1)
        exact = [e for e in events if isinstance(e, UpstreamStarted) and e.reason.endswith("exact range")]
        assert [(e.start, e.end) for e in exact] == [(index_start, len(data) - bet - 1)]
    finally:
        await proxy.stop()


async def test_a_warm_re_open_of_a_moov_at_end_piece_asks_upstream_nothing_and_prefetches_nothing(
    emulator, tmp_path, http
):
    """Everything cached on disk: the player's three requests (head, index, head again) are answered from disk, and
    the layout's index prefetch, whose slices are cached, is not made (it read the tail from disk on the loop while
    the player's own request for it was being answered, inside the first frame's window)."""
    reopened = reopen_from_cache(http, emulator, tmp_path / "cache", "clip-moov-at-end.mp4")
    async with reopened as (second, cid, data, events):
        url = f"{second.base_url}/piece/{cid}"
        await open_then_read_the_index(http, url, events, data)
        async with http.get(url, headers={"Range": "bytes=48-"}) as response:
            assert await response.read() == data[48:]
        await first_event(events, MediaIndexed)
        assert not [e for e in events if isinstance(e, UpstreamStarted)]
        assert not [e for e in events if isinstance(e, Prefetch)], "nothing to prefetch: it is all on disk"


async def test_a_warm_re_open_settles_after_its_requests_and_reads_the_head_for_its_map_once(emulator, tmp_path, http):
    """A player opens an MP4 with its index at the end in three requests, each sent as soon as the answer before
    gave it what it needed: on a re-open from the cache the proxy's own work (the store's record, the piece's event,
    the head read from disk and parsed for the layout) waits until they are answered, where it held the second
    request (issue 19). The map then builds from the head the layout read, not from a second read of it."""
    cid, data = piece_of(emulator, "clip-moov-at-end.mp4")
    assert await play_once(http, emulator, tmp_path / "cache", cid) == data
    proxy = await start_proxy(emulator, tmp_path / "cache")
    events = record_events(proxy)
    url = f"{proxy.base_url}/piece/{cid}"
    index_start = data.rindex(b"moov") - 4
    try:
        async with http.get(url, headers=PLAYER_OPEN) as head:
            assert await head.content.readexactly(4096) == data[:4096]
            async with http.get(url, headers={"Range": f"bytes={index_start}-"}) as index:
                assert await index.read() == data[index_start:]
        async with http.get(url, headers={"Range": "bytes=48-"}) as again:
            assert await again.content.readexactly(65536) == data[48 : 48 + 65536]
        assert not [e for e in events if isinstance(e, MediaLayoutKnown | PieceKnown)], "settled during the open"
        await first_event(events, MediaIndexed)
        assert {e.index for e in events if isinstance(e, SliceRead) and e.request_id is None} == {index_start // MiB}
        assert not [e for e in events if isinstance(e, UpstreamStarted)]
    finally:
        await proxy.stop()


async def test_a_piece_within_one_slice_is_parsed_once_it_is_all_here_and_nothing_is_fetched_beside_it(tmp_path, http):
    """A small MP4 with its index at the end comes whole with the head's own fetch: the proxy does not parse it while
    it streams to the player (that would hold the GIL the streaming needs), nor fetch its index a second time; its
    layout and map still come, from the whole piece."""
    async with running_emulator(CORPUS, mode="curio", latency_ms=20, bandwidth=2_000_000) as origin:
        cid, data = piece_of(origin, "mp4-moov-at-end-h264-aac.mp4")
        assert len(data) < MiB, "the test is about a piece within one slice"
        proxy = await start_proxy(origin, tmp_path / "cache")
        events = record_events(proxy)
        try:
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers=PLAYER_OPEN) as response:
                assert await response.read() == data  # ~0.2 s at 2 MB/s: long after its first bytes arrived
            layout = await first_event(events, MediaLayoutKnown)
            await first_event(events, MediaIndexed)
            started = [e for e in events if isinstance(e, UpstreamStarted)]
            assert len(started) == 1 and (started[0].start, started[0].end) == (0, len(data) - 1)
            finished = [e for e in events if isinstance(e, UpstreamFinished)]
            assert finished and events.index(finished[0]) < events.index(layout), "parsed only once all was here"
            index_start = layout.index_range[0]
            assert data[index_start + 4 : index_start + 8] == b"moov"  # the layout still found the index at the end
        finally:
            await proxy.stop()
