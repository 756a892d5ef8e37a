"""Fragmented MP4 and MPEG-TS in ``proxy.media``: the corpus's real ffmpeg output, then broken on purpose.

The three fragmented corpus files are one encoding muxed three ways (no index, a global ``sidx``, an ``mfra`` at
the end), so their maps must agree with each other: the ``moof`` walk gives one unit per sample, ``sidx`` one per
subsegment, ``mfra`` one per random-access point, and all three put the keyframes at the same times. The fuzz
half mutates the fragment boxes (``tfhd``/``tfdt``/``trun``/``tfra``/``mfro``) with hypothesis and holds the
parsers to the media layer's promises: only :class:`ContainerError`, spans inside the piece, bounded memory.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.media import ContainerError, ContainerKind, build_index, mfra_span, sniff_layout
from proxy.media.mfra import MFRO_SIZE
from proxy.media.mpegts import byte_rate
from proxy.units import MiB
from tests.conftest import CORPUS

FRAGMENTED = ("fmp4-no-index.mp4", "fmp4-sidx.mp4", "fmp4-mfra.mp4")
#: A head that ends inside the second fragment: the moof walk cannot cover the piece from it.
SHORT_HEAD = 40_000


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def boxes_of(data: bytes, box_type: bytes) -> list[int]:
    """Offsets of the top-level boxes of one type."""
    found, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if kind == box_type:
            found.append(pos)
        pos += size
    return found


def ffprobe_duration(path: Path) -> float:
    if shutil.which("ffprobe") is None:
        pytest.fail("ffprobe is needed to check durations (./dev test installs ffmpeg)")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


@pytest.mark.parametrize("name", FRAGMENTED)
def test_the_moof_boxes_of_a_whole_fragmented_piece_map_every_sample(name: str) -> None:
    data = corpus(name)
    index = build_index(data, len(data))
    assert index.source == "mp4 fragments (moof)"
    assert index.primary.kind == "video" and len(index.primary) == 200  # 8 s at 25 fps
    assert [t.kind for t in index.secondary] == ["audio"]
    assert index.duration_s == pytest.approx(ffprobe_duration(CORPUS / name), abs=0.1)
    keyframes = index.keyframes()
    assert [round(t - keyframes[0][0], 3) for t, _ in keyframes] == [float(s) for s in range(8)]  # keyint 25
    for moof, (_time, byte) in zip(boxes_of(data, b"moof"), keyframes, strict=True):
        moof_size = struct.unpack_from(">I", data, moof)[0]
        mdat = moof + moof_size
        assert data[mdat + 4 : mdat + 8] == b"mdat" and mdat + 8 <= byte < mdat + 8 + 4096  # H.264 first, then AAC
        assert data[byte + 4] & 0x1F in (5, 6, 7, 9)  # an IDR slice, or the SEI/SPS/AUD before it (length-prefixed)
    half = len(data) // 2
    cached = index.time_ranges([(0, half)])
    assert len(cached) == 1 and cached[0][0] == pytest.approx(keyframes[0][0]) and 3.0 < cached[0][1] < 5.0


def test_a_sidx_maps_a_fragmented_piece_whose_head_holds_only_its_first_fragments() -> None:
    data = corpus("fmp4-sidx.mp4")
    layout = sniff_layout(data[:SHORT_HEAD], len(data))
    assert layout.fragmented and layout.index is not None and layout.index.what == "sidx"
    span = layout.index
    index = build_index(data[:SHORT_HEAD], len(data), data[span.start : span.stop], span.start)
    assert index.source == "mp4 sidx" and len(index.keyframes()) == 8
    whole = build_index(data, len(data))
    assert [b for _t, b in index.keyframes()] == [m for m in boxes_of(data, b"moof")]
    assert index.duration_s == pytest.approx(whole.duration_s, abs=0.1)


def test_the_mfra_at_the_end_maps_a_fragmented_piece_from_its_last_16_bytes() -> None:
    data = corpus("fmp4-mfra.mp4")
    assert sniff_layout(data[:SHORT_HEAD], len(data)).index is None  # nothing at the head says where to look
    span = mfra_span(data[-MFRO_SIZE:], len(data))
    assert span is not None and data[span.start + 4 : span.start + 8] == b"mfra" and span.stop == len(data)
    with pytest.raises(ContainerError, match="a part of the piece"):
        build_index(data[:SHORT_HEAD], len(data))
    index = build_index(data[:SHORT_HEAD], len(data), data[span.start : span.stop], span.start)
    assert index.source == "mp4 mfra"
    whole = build_index(data, len(data))
    assert [b for _t, b in index.keyframes()] == boxes_of(data, b"moof")
    assert [t for t, _b in index.keyframes()] == pytest.approx([t for t, _b in whole.keyframes()])
    assert index.duration_s == pytest.approx(whole.duration_s, abs=0.1)
    start, stop = index.seek_range(4.5, 1.0)
    assert start == boxes_of(data, b"moof")[4] and stop == boxes_of(data, b"moof")[6]


def test_a_fragmented_piece_with_no_index_and_a_short_head_is_not_mapped() -> None:
    data = corpus("fmp4-no-index.mp4")
    assert mfra_span(data[-MFRO_SIZE:], len(data)) is None
    with pytest.raises(ContainerError, match="without a usable index"):
        build_index(data[:SHORT_HEAD], len(data))


def test_mpeg_ts_gets_a_byte_rate_from_its_clock_although_it_starts_at_ten_hours() -> None:
    path = CORPUS / "ts-nonzero-start.ts"
    data = path.read_bytes()
    layout = sniff_layout(data[:MiB], len(data))
    assert layout.kind is ContainerKind.MPEGTS and layout.index is None
    assert layout.duration_s == pytest.approx(ffprobe_duration(path), rel=0.05)
    assert byte_rate(data[:100_000]) == pytest.approx(len(data) / ffprobe_duration(path), rel=0.25)
    with pytest.raises(ContainerError, match="MPEG-TS has no index"):
        build_index(data[:MiB], len(data))


# --- broken on purpose -----------------------------------------------------------------------------------------

#: The fragment boxes whose fields become offsets, counts and times.
_FRAGMENT_BOXES = (b"moof", b"traf", b"tfhd", b"tfdt", b"trun", b"mfra", b"tfra", b"mfro", b"trex", b"mvex", b"mdat")
_VALUES = (0, 1, 7, 8, 255, 1 << 16, 1 << 24, (1 << 31) - 1, 1 << 31, (1 << 32) - 1)
_MEMORY = 160 * MiB


def _mutate(data: bytes, edits: list[tuple[int, int, int, int]]) -> bytes:
    """Each edit (box choice, occurrence, word in the box, value) overwrites one 32-bit field of a fragment box."""
    out = bytearray(data)
    for box_choice, occurrence, word, value in edits:
        needle = _FRAGMENT_BOXES[box_choice % len(_FRAGMENT_BOXES)]
        spots, at = [], out.find(needle)
        while at >= 0:
            spots.append(at)
            at = out.find(needle, at + 1)
        if not spots:
            continue
        where = spots[occurrence % len(spots)] - 4 + 4 * word
        if 0 <= where <= len(out) - 4:
            struct.pack_into(">I", out, where, value % (1 << 32))
    return bytes(out)


def _flow(data: bytes, head_size: int) -> None:
    """What the prefetcher does with a fragmented piece, asserting the promises of every span handed out."""
    size = len(data)
    head = data[: min(size, head_size)]
    layout = sniff_layout(head, size)
    for span in (layout.index, *layout.prefetch):
        assert span is None or 0 <= span.start < span.stop <= size
    tries = [(b"", 0)]
    if layout.index is not None:
        tries.append((data[layout.index.start : layout.index.stop], layout.index.start))
    span = mfra_span(data[-MFRO_SIZE:], size)
    if span is not None:
        assert 0 <= span.start < span.stop == size
        tries.append((data[span.start : span.stop], span.start))
    for index_bytes, offset in tries:
        try:
            index = build_index(head, size, index_bytes, offset)
        except ContainerError:
            continue
        assert index.duration_s >= 0
        assert all(0 <= byte < size for _t, byte in index.keyframes())
        for moment in (0.0, index.duration_s / 2, index.duration_s + 5, -1.0):
            start, stop = index.seek_range(moment, 2.0)
            assert 0 <= start <= stop <= size
        for t0, t1 in index.time_ranges([(0, size // 2)]):
            assert 0 <= t0 <= t1 <= index.duration_s + 1e-6


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(FRAGMENTED),
    edits=st.lists(
        st.tuples(st.integers(0, 63), st.integers(0, 63), st.integers(0, 24), st.sampled_from(_VALUES) | st.integers()),
        min_size=1,
        max_size=4,
    ),
    head_size=st.sampled_from((MiB, SHORT_HEAD, 2048)),
)
def test_broken_fragment_boxes_give_a_container_error_at_worst(name: str, edits, head_size: int) -> None:
    data = _mutate(corpus(name), edits)
    tracemalloc.start()
    try:
        _flow(data, head_size)
        assert tracemalloc.get_traced_memory()[1] < _MEMORY
    finally:
        tracemalloc.stop()


@settings(max_examples=200, deadline=2000)
@given(st.binary(min_size=0, max_size=188 * 40), st.integers(0, 10**9))
def test_mpeg_ts_sniffing_never_raises(noise: bytes, extra: int) -> None:
    packets = bytearray(noise)
    for at in range(0, len(packets), 188):
        packets[at] = 0x47  # in sync, so the clock reader runs over whatever follows
    layout = sniff_layout(bytes(packets), len(packets) + extra)
    assert layout.duration_s is None or layout.duration_s > 0
