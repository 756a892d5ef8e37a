"""Fragmented MP4 and MPEG-TS through the real proxy and the emulator: the map arrives, and costs what it says.

The corpus files are 370 KB; with the default 1 MiB slice the head holds every ``moof`` and the map comes from
them. With a 64 KiB slice the head holds two fragments, so the proxy must find the index the way it would in a
real multi-gigabyte piece: the ``sidx`` at the head, or the ``mfra`` at the tail (its last 16 bytes first).
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from pathlib import Path

import pytest

from proxy.cid import parse_piece_cid
from proxy.events import MediaIndexed, MediaLayoutKnown, Prefetch, SliceRead
from proxy.prefetch import TAIL_BET
from proxy.units import KiB
from tests.conftest import CORPUS, piece_of, record_events, running_emulator, start_proxy
from tests.media.test_prefetch import first_event

SMALL_SLICE = 64 * KiB


@pytest.fixture
async def corpus_origin(tmp_path: Path):
    """The emulator (providers' range semantics) serving the fragmented corpus files and the TS."""
    served = tmp_path / "served"
    served.mkdir()
    for name in ("fmp4-sidx.mp4", "fmp4-mfra.mp4", "fmp4-no-index.mp4", "ts-nonzero-start.ts"):
        shutil.copyfile(CORPUS / name, served / name)
    async with running_emulator(served, latency_ms=5, mode="curio") as origin:
        yield origin


async def _open_like_a_player(http, proxy, cid: str, data: bytes) -> list:
    """FFmpeg's first request: the head, open-ended; it reads a few KiB and the proxy goes on from there."""
    events = record_events(proxy)
    async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-"}) as response:
        assert await response.content.read(4096) == data[:4096]
    return events


def _moofs(data: bytes) -> list[int]:
    found, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        found += [pos] if kind == b"moof" else []
        pos += size
    return found


@pytest.mark.parametrize(("name", "source"), [("fmp4-sidx.mp4", "mp4 sidx"), ("fmp4-mfra.mp4", "mp4 mfra")])
async def test_a_fragmented_piece_gets_its_map_from_its_index(corpus_origin, tmp_path, http, name, source) -> None:
    proxy = await start_proxy(corpus_origin, tmp_path / "cache", slice_size=SMALL_SLICE, readahead=SMALL_SLICE)
    try:
        cid, data = piece_of(corpus_origin, name)
        events = await _open_like_a_player(http, proxy, cid, data)
        layout = await first_event(events, MediaLayoutKnown)
        assert layout.kind == "mp4"
        indexed = await first_event(events, MediaIndexed)
        assert proxy.prefetcher.indexes[indexed.piece].source == source
        assert 7.5 < indexed.duration_s < 8.5
        assert [round(t - indexed.keyframes[0][0], 3) for t, _ in indexed.keyframes] == [float(s) for s in range(8)]
        assert [byte for _t, byte in indexed.keyframes] == _moofs(data)
        key = parse_piece_cid(cid).root.hex()
        start, end = proxy.hover(key, 5.2)
        assert start == _moofs(data)[5] < end  # a seek to 5.2 s decodes from the fragment that starts at 5 s
        stats = proxy.snapshot()["fetched_bytes_by_reason"]
        if name == "fmp4-mfra.mp4":  # the tail was fetched for the index, or with the bet on it: counted under why
            tail_reasons = (TAIL_BET, "index: mfro (the last 16 bytes)", "index: mfra")
            assert sum(stats.get(reason, 0) for reason in tail_reasons) > 0
    finally:
        await proxy.stop()


async def test_a_fragmented_piece_whose_head_holds_all_its_fragments_is_mapped_sample_by_sample(
    corpus_origin, tmp_path, http
) -> None:
    proxy = await start_proxy(corpus_origin, tmp_path / "cache")
    try:
        cid, data = piece_of(corpus_origin, "fmp4-no-index.mp4")
        events = await _open_like_a_player(http, proxy, cid, data)
        indexed = await first_event(events, MediaIndexed)
        assert (
            proxy.prefetcher.indexes[indexed.piece].source == "mp4 fragments (moof)"
            and len(proxy.prefetcher.indexes[indexed.piece].primary) == 200
        )
        assert not [e for e in events if isinstance(e, Prefetch)]  # nothing read beyond the head
        # the piece fits one slice: the layout waited for all of it, and the map is built from those bytes, not
        # from a second read of the same slice once the layout is known (the proxy's own reads have no request id)
        after_layout = events[next(i for i, e in enumerate(events) if isinstance(e, MediaLayoutKnown)) :]
        own_reads = [e.index for e in after_layout if isinstance(e, SliceRead) and e.request_id is None]
        assert own_reads == [], own_reads
    finally:
        await proxy.stop()


async def test_without_an_index_a_fragmented_piece_is_proxied_plainly(corpus_origin, tmp_path, http) -> None:
    proxy = await start_proxy(corpus_origin, tmp_path / "cache", slice_size=SMALL_SLICE, readahead=SMALL_SLICE)
    try:
        cid, data = piece_of(corpus_origin, "fmp4-no-index.mp4")
        events = record_events(proxy)
        async with http.get(f"{proxy.base_url}/piece/{cid}") as response:
            assert await response.read() == data
        await first_event(events, MediaLayoutKnown)
        await asyncio.sleep(1.0)  # the map's deferred build, its head read and its tail read are done by now
        assert not [e for e in events if isinstance(e, MediaIndexed)]
    finally:
        await proxy.stop()


async def test_mpeg_ts_read_ahead_follows_its_clock(corpus_origin, tmp_path, http) -> None:
    proxy = await start_proxy(corpus_origin, tmp_path / "cache")
    try:
        cid, data = piece_of(corpus_origin, "ts-nonzero-start.ts")
        events = await _open_like_a_player(http, proxy, cid, data)
        layout = await first_event(events, MediaLayoutKnown)
        assert layout.kind == "mpegts" and 7.5 < layout.duration_s < 8.5
        assert "kB/s by its clock" in layout.reason
    finally:
        await proxy.stop()
