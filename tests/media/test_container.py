"""Container layout and the byte ↔ time map, proven on real ffmpeg-made files against ffprobe.

Every file is made here by ffmpeg (a few seconds, 160×120, a keyframe every second: ``-g 25`` at 25 fps), and
every keyframe, packet position and time the index reports is checked against ``ffprobe -show_packets``, an
independent reader. Malformed and random inputs must give an UNKNOWN layout or a :class:`ContainerError`, never
another exception.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.media import ContainerError, ContainerKind, MediaIndex, TruncatedError, build_index, sniff_layout

SECONDS = 4
FPS = 25
HEAD = 64 * 1024
CLUSTER_ID = b"\x1f\x43\xb6\x75"
CUES_ID = b"\x1c\x53\xbb\x6b"


# --- real media, and what ffprobe says about it ----------------------------------------------------------


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed to make test media (./dev test installs it)")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


_AV_SOURCES = (
    "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate={FPS}:duration={SECONDS}",
    "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
)  # fmt: skip
_H264_AAC = (
    "-c:v", "libx264", "-preset", "veryfast", "-g", str(FPS), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
)  # fmt: skip


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("container-media")
    files = {
        "faststart": ("mp4", (*_H264_AAC, "-movflags", "+faststart")),
        "moov_at_end": ("mp4", _H264_AAC),
        "fragmented": ("mp4", (*_H264_AAC, "-movflags", "frag_keyframe+empty_moov")),
        # FFmpeg 5.1 writes broken offsets for global_sidx unless fragments use default_base_moof.
        "fragmented_sidx": ("mp4", (*_H264_AAC, "-movflags", "frag_keyframe+empty_moov+default_base_moof+global_sidx")),
        "mkv": ("mkv", _H264_AAC),
        "webm": ("webm", ("-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8",
                          "-g", str(FPS), "-c:a", "libopus")),
    }  # fmt: skip
    made = {}
    for name, (extension, codec) in files.items():
        made[name] = folder / f"{name}.{extension}"
        _ffmpeg(*_AV_SOURCES, *codec, str(made[name]))
    made["m4a"] = folder / "audio.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", "-b:a", "48k", str(made["m4a"]))
    made["mp3"] = folder / "audio.mp3"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libmp3lame", str(made["mp3"]))
    made["co64"] = folder / "co64.mp4"
    made["co64"].write_bytes(_with_co64(made["moov_at_end"].read_bytes()))
    made["largesize"] = folder / "largesize.mp4"
    made["largesize"].write_bytes(_with_64bit_mdat_header(made["moov_at_end"].read_bytes()))
    return made


@dataclass(frozen=True)
class Packet:
    stream: int
    pts: float
    pos: int
    size: int
    key: bool


def ffprobe_packets(path: Path, select: str = "v:0") -> list[Packet]:
    """Packets of the selected stream as ffprobe reads them (the independent witness), in file order."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", select, "-show_entries",
         "packet=stream_index,pts_time,pos,size,flags", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [
        Packet(p["stream_index"], float(p["pts_time"]), int(p["pos"]), int(p["size"]), p["flags"].startswith("K"))
        for p in json.loads(out)["packets"]
    ]


def keyframes_by_ffprobe(path: Path, select: str = "v:0") -> list[Packet]:
    return sorted((p for p in ffprobe_packets(path, select) if p.key), key=lambda p: p.pts)


def index_of(path: Path, head_bytes: int = HEAD) -> MediaIndex:
    """The index as the proxy will build it: sniff the head, then hand over the bytes of the index span."""
    data = path.read_bytes()
    head = data[:head_bytes]
    layout = sniff_layout(head, len(data))
    assert layout.known, layout.reason
    if layout.index is None:
        return build_index(head, len(data))
    return build_index(head, len(data), data[layout.index.start : layout.index.stop], layout.index.start)


# --- rewriting real files into the rarer, still valid, shapes --------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _rebuild_with_co64(boxes: bytes) -> bytes:
    out = b""
    pos = 0
    while pos < len(boxes):
        size, box_type = struct.unpack_from(">I4s", boxes, pos)
        body = boxes[pos + 8 : pos + size]
        if box_type in _CONTAINERS:
            body = _rebuild_with_co64(body)
        elif box_type == b"stco":
            count = struct.unpack_from(">I", body, 4)[0]
            body = body[:8] + struct.pack(f">{count}Q", *struct.unpack_from(f">{count}I", body, 8))
            box_type = b"co64"
        out += struct.pack(">I4s", 8 + len(body), box_type) + body
        pos += size
    return out


def _with_co64(moov_at_end: bytes) -> bytes:
    """The same file with 64-bit chunk offsets: moov is last, so growing it moves no media byte."""
    moov = moov_at_end.rfind(b"moov") - 4
    return moov_at_end[:moov] + _rebuild_with_co64(moov_at_end[moov:])


def _with_64bit_mdat_header(moov_at_end: bytes) -> bytes:
    """FFmpeg writes an 8-byte ``free`` before ``mdat`` so the header can become a 16-byte largesize in place."""
    free = moov_at_end.find(b"free") - 4
    mdat_size = struct.unpack_from(">I", moov_at_end, free + 8)[0]
    header = struct.pack(">I4sQ", 1, b"mdat", mdat_size + 8)
    return moov_at_end[:free] + header + moov_at_end[free + 16 :]


def _top_level_box(data: bytes, box_type: bytes) -> tuple[int, int]:
    """(start, stop) of the first top-level box of that type, walking sizes (a test-side reader)."""
    pos = 0
    while pos < len(data):
        size, found = struct.unpack_from(">I4s", data, pos)
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
        if found == box_type:
            return pos, pos + size
        pos += size
    raise KeyError(box_type)


# --- layout ----------------------------------------------------------------------------------------------


def test_faststart_mp4_reports_moov_at_the_front_and_nothing_to_prefetch(media):
    data = media["faststart"].read_bytes()
    layout = sniff_layout(data[:HEAD], len(data))
    assert layout.kind is ContainerKind.MP4
    assert layout.index_range == _top_level_box(data, b"moov")
    assert layout.index.exact and layout.prefetch == () and not layout.fragmented
    assert layout.duration_s == pytest.approx(SECONDS, abs=0.05)


@pytest.mark.parametrize("name", ["moov_at_end", "largesize", "co64"])
def test_moov_after_mdat_prefetches_the_tail_from_the_end_of_mdat(media, name):
    data = media[name].read_bytes()
    layout = sniff_layout(data[:4096], len(data))
    assert layout.kind is ContainerKind.MP4
    mdat_start, mdat_stop = _top_level_box(data, b"mdat")
    moov_start, moov_stop = _top_level_box(data, b"moov")
    assert layout.index_range == (mdat_stop, len(data)) == (moov_start, moov_stop)
    assert not layout.index.exact
    assert layout.prefetch == (layout.index,) and layout.prefetch[0].at_open
    assert str(mdat_start) in layout.reason
    assert layout.duration_s is None  # mvhd is in the tail


def test_a_head_too_short_to_decide_asks_for_more_and_converges(media):
    data = media["faststart"].read_bytes()
    head = 0
    layout = sniff_layout(data[:head], len(data))
    steps = 0
    while layout.needs_more is not None:
        assert layout.needs_more > head, "each request must grow the head"
        head = layout.needs_more
        layout = sniff_layout(data[:head], len(data))
        steps += 1
    assert steps >= 2 and layout.index_range == _top_level_box(data, b"moov")


def test_fragmented_mp4_is_detected_and_has_no_index(media):
    data = media["fragmented"].read_bytes()
    layout = sniff_layout(data[:HEAD], len(data))
    assert layout.kind is ContainerKind.MP4 and layout.fragmented and layout.index is None
    assert "fragmented" in layout.reason
    with pytest.raises(ContainerError, match="sidx"):
        build_index(data[:HEAD], len(data))


def test_fragmented_mp4_with_a_global_sidx_reports_it(media):
    data = media["fragmented_sidx"].read_bytes()
    layout = sniff_layout(data[:HEAD], len(data))
    assert layout.fragmented and layout.index is not None and layout.index.what == "sidx"
    assert layout.index.start == _top_level_box(data, b"sidx")[0]


@pytest.mark.parametrize(("name", "kind"), [("webm", ContainerKind.WEBM), ("mkv", ContainerKind.MATROSKA)])
def test_matroska_reports_cues_after_the_clusters_to_prefetch_for_the_first_seek(media, name, kind):
    data = media[name].read_bytes()
    layout = sniff_layout(data[:4096], len(data))
    assert layout.kind is kind
    cues = data.rfind(CUES_ID)
    assert layout.index.start == cues and layout.index.stop == len(data)
    assert layout.index.what == "Cues" and not layout.index.at_open
    assert layout.index in layout.prefetch
    assert layout.duration_s == pytest.approx(SECONDS, abs=0.05)


@pytest.mark.parametrize("name", ["mp3"])
def test_other_media_is_unknown(media, name):
    data = media[name].read_bytes()
    layout = sniff_layout(data[:HEAD], len(data))
    assert layout.kind is ContainerKind.UNKNOWN and not layout.known and layout.index is None
    assert layout.reason


# --- the byte ↔ time map against ffprobe ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["faststart", "moov_at_end", "co64", "largesize"])
def test_mp4_keyframes_match_ffprobe(media, name):
    index = index_of(media[name])
    expected = keyframes_by_ffprobe(media[name])
    assert len(expected) == SECONDS
    assert [pos for _t, pos in index.keyframes()] == [p.pos for p in expected]
    assert [t for t, _pos in index.keyframes()] == pytest.approx([p.pts for p in expected], abs=1e-6)
    assert index.primary.kind == "video" and index.duration_s == pytest.approx(SECONDS, abs=0.05)


@pytest.mark.parametrize("name", ["faststart", "moov_at_end", "webm", "mkv"])
def test_byte_at_is_the_keyframe_at_or_before_the_time(media, name):
    index = index_of(media[name])
    keys = keyframes_by_ffprobe(media[name])
    offsets = [pos for _t, pos in index.keyframes()]
    rng = random.Random(7)
    for t in [*(k.pts for k in keys), *(rng.uniform(0, SECONDS) for _ in range(50)), -1.0, SECONDS + 5.0]:
        before = [i for i, k in enumerate(keys) if k.pts <= t + 1e-9]
        expected = before[-1] if before else 0
        if name in ("webm", "mkv"):  # the Cluster that holds ffprobe's keyframe
            assert index.byte_at(t) == offsets[expected], t
            assert _cluster_span(media[name], offsets, expected)[0] <= keys[expected].pos
            assert keys[expected].pos < _cluster_span(media[name], offsets, expected)[1]
        else:
            assert index.byte_at(t) == keys[expected].pos, t


def _cluster_span(path: Path, cluster_starts: list[int], i: int) -> tuple[int, int]:
    """Bytes of the i-th cued Cluster: up to the next cued one, or to the Cues after the last."""
    stop = cluster_starts[i + 1] if i + 1 < len(cluster_starts) else path.read_bytes().rfind(CUES_ID)
    return cluster_starts[i], stop


@pytest.mark.parametrize("name", ["webm", "mkv"])
def test_matroska_keyframes_are_the_cued_clusters_holding_ffprobes_keyframes(media, name):
    data = media[name].read_bytes()
    index = index_of(media[name], head_bytes=4096)
    keys = keyframes_by_ffprobe(media[name])
    assert [t for t, _pos in index.keyframes()] == pytest.approx([k.pts for k in keys], abs=1e-6)
    cluster_starts = [pos for _t, pos in index.keyframes()]
    for i, key in enumerate(keys):
        start, stop = _cluster_span(media[name], cluster_starts, i)
        assert data[start : start + 4] == CLUSTER_ID
        assert start < key.pos < stop
    assert index.byte_rate == pytest.approx(len(data) / SECONDS, rel=0.05)


def test_audio_only_mp4_falls_back_to_the_audio_track(media):
    index = index_of(media["m4a"])
    packets = ffprobe_packets(media["m4a"], "a:0")
    assert index.primary.kind == "audio"
    assert [pos for _t, pos in index.keyframes()] == [p.pos for p in packets]
    assert [t for t, _pos in index.keyframes()] == pytest.approx([p.pts for p in packets], abs=1e-6)


def test_fragmented_sidx_index_points_at_the_fragments_holding_each_keyframe(media):
    data = media["fragmented_sidx"].read_bytes()
    index = index_of(media["fragmented_sidx"])
    keys = keyframes_by_ffprobe(media["fragmented_sidx"])
    assert index.source == "mp4 sidx" and len(index.keyframes()) == len(keys)
    for (t, start), key in zip(index.keyframes(), keys, strict=True):
        assert data[start + 4 : start + 8] == b"moof"
        assert start < key.pos < start + 2048
        # FFmpeg's sidx carries decode times: they precede presentation by the B-frame delay (2 frames).
        assert key.pts - 3 / FPS <= t <= key.pts


def test_time_at_maps_each_video_packet_to_its_time_and_never_decreases(media):
    index = index_of(media["faststart"])
    packets = ffprobe_packets(media["faststart"])
    for key in (p for p in packets if p.key):
        assert index.time_at(key.pos) == pytest.approx(key.pts, abs=1e-6)
    size = media["faststart"].stat().st_size
    times = [index.time_at(offset) for offset in range(0, size, 97)]
    assert times == sorted(times)
    assert times[0] == pytest.approx(0.0, abs=0.1) and index.time_at(size) == pytest.approx(SECONDS, abs=0.05)


@pytest.mark.parametrize("name", ["faststart", "moov_at_end", "webm", "mkv"])
def test_time_ranges_of_everything_and_of_nothing(media, name):
    index = index_of(media[name])
    size = media[name].stat().st_size
    assert index.time_ranges([]) == []
    [(t0, t1)] = index.time_ranges([(0, size)])
    first_key = index.keyframes()[0][0]
    assert t0 == pytest.approx(max(first_key, 0.0), abs=1e-6) and t1 == pytest.approx(index.duration_s)


def test_time_ranges_are_exact_per_sample_against_ffprobe(media):
    """Drop one non-key video packet of the third second: its GOP is broken from it on, the next GOP is intact."""
    path = media["faststart"]
    index = index_of(path)
    size = path.stat().st_size
    packets = ffprobe_packets(path)
    hole = next(p for p in packets if not p.key and 2.4 < p.pts < 2.6)
    ranges = index.time_ranges([(0, hole.pos), (hole.pos + hole.size, size)])
    assert len(ranges) == 2
    (a0, a1), (b0, b1) = ranges
    assert a0 == pytest.approx(0.0, abs=1e-6)
    assert 2.0 <= a1 <= hole.pts + 1e-6
    assert b0 == pytest.approx(3.0, abs=1e-6) and b1 == pytest.approx(index.duration_s)


def test_time_ranges_of_a_prefix_end_at_the_last_fully_cached_moment(media):
    path = media["moov_at_end"]
    index = index_of(path)
    cut = index.byte_at(2.0)
    [(t0, t1)] = index.time_ranges([(0, cut)])
    assert t0 == pytest.approx(0.0, abs=1e-6) and 1.8 <= t1 <= 2.0
    [(u0, u1)] = index.time_ranges([(cut, path.stat().st_size)])
    assert 2.0 <= u0 <= 2.1 and u1 == pytest.approx(index.duration_s)


def test_matroska_time_ranges_count_a_cluster_only_when_all_of_it_is_cached(media):
    index = index_of(media["webm"])
    (t1, c1), (t2, c2) = index.keyframes()[1:3]
    assert index.time_ranges([(c1, c2)]) == [(pytest.approx(t1), pytest.approx(t2))]
    assert index.time_ranges([(c1, c2 - 1)]) == []


def test_seek_range_covers_every_packet_needed_to_show_the_target(media):
    path = media["moov_at_end"]
    index = index_of(path)
    start, stop = index.seek_range(2.5, ahead_s=0.5)
    assert start <= index.byte_at(2.5)
    for packet in ffprobe_packets(path, "v:0") + ffprobe_packets(path, "a:0"):
        if 2.0 <= packet.pts < 2.96:
            assert start <= packet.pos and packet.pos + packet.size <= stop, packet
    assert stop - start < path.stat().st_size / 2


def test_queries_reject_non_finite_times(media):
    index = index_of(media["faststart"])
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            index.byte_at(bad)


# --- malformed input: an UNKNOWN layout or a ContainerError, never anything else --------------------------


def _box(box_type: bytes, body: bytes = b"", size: int | None = None) -> bytes:
    return struct.pack(">I4s", 8 + len(body) if size is None else size, box_type) + body


FTYP = _box(b"ftyp", b"isom\0\0\2\0isomiso2")
MALFORMED = {
    "box larger than the piece": FTYP + _box(b"moov", b"\0" * 8, size=1_000_000),
    "box smaller than its header": FTYP + _box(b"moov", size=4),
    "mdat of size zero runs to the end": FTYP + _box(b"mdat", b"\0" * 64, size=0),
    "huge 64-bit size": FTYP + struct.pack(">I4sQ", 1, b"mdat", 1 << 62) + b"\0" * 32,
    "garbage after ftyp": FTYP + b"\x00\x00\x00\x10\xff\xfe\xfd\xfc" + b"\0" * 64,
    "truncated moov": FTYP + _box(b"moov", _box(b"mvhd", b"\0" * 20), size=500)[:40],
    "EBML magic then garbage": b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4,
    "EBML with a foreign DocType": b"\x1a\x45\xdf\xa3\x87\x42\x82\x84abcd" + b"\0" * 64,
    "random bytes": random.Random(1).randbytes(5000),
    "empty": b"",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_input_falls_back_to_plain_proxying(name):
    data = MALFORMED[name]
    layout = sniff_layout(data, len(data))
    assert layout.index is None and layout.prefetch == ()
    assert not layout.known or layout.needs_more is None
    with pytest.raises(ContainerError):
        build_index(data, len(data), data, 0)


BAD_INDEX = {
    "moov without mvhd": FTYP + _box(b"moov", _box(b"trak", _box(b"tkhd", b"\0" * 24))),
    "mvhd with timescale 0": FTYP + _box(b"moov", _box(b"mvhd", b"\0" * 100)),
    "trak without mdia": FTYP + _box(b"moov", _box(b"mvhd", b"\0" * 12 + b"\0\0\3\xe8" + b"\0" * 84) + _box(b"trak")),
    "Matroska without a Segment": b"\x1a\x45\xdf\xa3\x84\x42\x82\x81w" + b"\xec\x80" * 8,
}


@pytest.mark.parametrize("name", BAD_INDEX)
def test_a_sound_layout_with_a_broken_index_raises_container_error(name):
    data = BAD_INDEX[name]
    sniff_layout(data, len(data))
    with pytest.raises(ContainerError):
        build_index(data, len(data))


@pytest.mark.parametrize("name", ["moov_at_end", "webm"])
def test_a_truncated_index_says_how_far_the_bytes_must_reach(media, name):
    data = media[name].read_bytes()
    layout = sniff_layout(data[:4096], len(data))
    start, stop = layout.index_range
    with pytest.raises(TruncatedError, match="not all in the") as cut:
        build_index(data[:4096], len(data), data[start : stop - 10], start)
    assert cut.value.needed == stop
    assert build_index(data[:4096], len(data), data[start : cut.value.needed], start).keyframes()


def test_a_sample_table_claiming_more_entries_than_it_holds_is_rejected(media):
    data = bytearray(media["faststart"].read_bytes())
    stsz = data.find(b"stsz")
    struct.pack_into(">I", data, stsz + 12, 0xFFFFFFF0)  # sample_count, with sample_size 0: a list of sizes
    with pytest.raises(ContainerError, match="stsz"):
        build_index(bytes(data[:HEAD]), len(data))


def test_chunks_that_hold_no_samples_leave_nothing_to_index(media):
    data = bytearray(media["faststart"].read_bytes())
    stsc = -1
    while (stsc := data.find(b"stsc", stsc + 1)) >= 0:
        for entry in range(struct.unpack_from(">I", data, stsc + 8)[0]):
            struct.pack_into(">I", data, stsc + 16 + 12 * entry, 0)  # samples_per_chunk
    with pytest.raises(ContainerError, match="no video or audio track with samples"):
        build_index(bytes(data[:HEAD]), len(data))


def test_the_media_package_imports_no_qt_and_no_network_code():
    code = "import sys, proxy.media; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    for forbidden in ("PySide6", "shiboken6", "qasync", "pyqtgraph", "player", "aiohttp"):
        assert f"'{forbidden}'" not in loaded


def test_head_longer_than_the_piece_is_unknown():
    layout = sniff_layout(FTYP * 4, 10)
    assert layout.kind is ContainerKind.UNKNOWN and "inconsistent" in layout.reason


# --- fuzz: arbitrary and mutated bytes never raise anything unexpected -----------------------------------


def _exercise(index: MediaIndex, size: int) -> None:
    index.keyframes()
    index.byte_at(1.0)
    index.time_at(size // 2)
    index.time_ranges([(0, size // 3), (size // 2, size)])
    index.seek_range(0.5, 1.0)
    assert index.byte_rate >= 0 or index.byte_rate != index.byte_rate


def _sniff_and_index(data: bytes, size: int) -> None:
    layout = sniff_layout(data, size)
    assert isinstance(layout.reason, str)
    if layout.needs_more is not None:
        assert len(data) < layout.needs_more <= size, "asking for more head must make progress"
    try:
        index = build_index(data, size, data, 0)
    except ContainerError:
        return
    _exercise(index, size)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=1 << 40))
def test_fuzz_arbitrary_bytes_never_raise(data, extra):
    _sniff_and_index(data, len(data) + extra)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_bytes_behind_real_magic_never_raise(tail):
    for magic in (FTYP, b"\x1a\x45\xdf\xa3", _box(b"moov", size=len(tail) + 8)):
        data = magic + tail
        _sniff_and_index(data, len(data))


_MUTATION_SOURCES = ("faststart", "webm", "fragmented_sidx", "mkv")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(_MUTATION_SOURCES),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.integers(0, HEAD),
)
def test_fuzz_mutated_real_indexes_never_raise(media, name, mutations, head_length):
    """Overwrite a few bytes of a real file's index region and cut the head anywhere: every parser path runs."""
    data = bytearray(media[name].read_bytes())
    layout = sniff_layout(bytes(data[:HEAD]), len(data))
    start, stop = layout.index_range if layout.index_range else (0, min(len(data), HEAD))
    region = (0, start + 64) if name in ("webm", "mkv") and start > HEAD else (start, stop)
    for where, value in mutations:
        data[region[0] + int(where * (region[1] - region[0]))] = value
    mutated = bytes(data)
    _sniff_and_index(mutated[:head_length], len(mutated))
    head = mutated[:HEAD]
    try:
        index = build_index(head, len(mutated), mutated[start:stop], start)
    except ContainerError:
        return
    _exercise(index, len(mutated))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 110_000), st.integers(0, 30_000)), max_size=6), st.data())
def test_more_cached_bytes_never_shrink_the_cached_time(media, ranges, data):
    index = index_of(media["faststart"])
    byte_ranges = [(a, a + n) for a, n in ranges]
    extra = data.draw(st.tuples(st.integers(0, 110_000), st.integers(0, 30_000)))
    before = index.time_ranges(byte_ranges)
    after = index.time_ranges([*byte_ranges, (extra[0], extra[0] + extra[1])])
    for t0, t1 in before:
        assert t0 < t1
        assert any(u0 <= t0 + 1e-9 and t1 <= u1 + 1e-9 for u0, u1 in after), (before, after)
    assert before == sorted(before)
