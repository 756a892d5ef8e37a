"""A bounded, seeded mutation fuzzer over the project's own media and crafted files (issue 23).

Every piece the proxy streams is parsed as it arrives, and pieces come from anyone. Each case takes a real file
(the demo media, ffmpeg-made clips, the crafted files of ``tests/media/crafted_media.py``), breaks it the ways real and
hostile uploads break — overwritten bytes, box and element sizes, table counts, a cut anywhere, a duplicated or
dropped region — and runs it through the proxy's media flow (``sniff_layout`` on the first slice, more head when
asked, ``build_index`` over the index span, every query the prefetcher and the GUI make). It asserts:

* only :class:`ContainerError` (or its ``TruncatedError``) escapes, never another exception;
* every span the media layer hands out — layout index and prefetch spans, ``seek_range``, keyframe offsets,
  ``byte_at`` — lies inside the piece;
* each case ends within ``CASE_SECONDS`` and allocates less than ``CASE_MEMORY`` (tracemalloc peak): no hang,
  no blow-up.

It runs ``FUZZ_CASES`` cases (default 4,000, about 30 s here) from ``FUZZ_SEED`` (default fixed, so CI is
repeatable); set either in the environment to explore further, e.g. ``FUZZ_CASES=20000 FUZZ_SEED=7``.
A failure names the seed and case, which reproduces it alone.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import struct
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.media import ContainerError, MediaIndex, build_index, sniff_layout
from proxy.units import MiB
from tests.media import crafted_media as crafted

SLICE = MiB  # the proxy sniffs the first slice of a piece
CASES = int(os.environ.get("FUZZ_CASES", "4000"))
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
#: A case's generous hang detector: the slowest real case here takes about 50 ms.
CASE_SECONDS = 5.0
#: Per case: the index budget is 64 MiB of arrays (plus the copies the queries make).
CASE_MEMORY = 160 * MiB

#: Four-character codes whose 32-bit size precedes them, and tables whose entry count follows version/flags.
_BOXES = (
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"elst", b"edts",
    b"stts", b"ctts", b"stss", b"stsc", b"stsz", b"stco", b"co64", b"sidx", b"mdat", b"free", b"mvex",
)  # fmt: skip
_COUNTED = (b"stts", b"ctts", b"stss", b"stsc", b"stco", b"co64", b"elst")
#: Matroska element IDs whose sizes and payloads are worth breaking.
_ELEMENTS = (
    b"\x18\x53\x80\x67", b"\x11\x4d\x9b\x74", b"\x1c\x53\xbb\x6b", b"\x15\x49\xa9\x66", b"\x16\x54\xae\x6b",
    b"\x1f\x43\xb6\x75", b"\x4d\xbb", b"\x53\xac", b"\xbb", b"\xb7", b"\xf1", b"\xb3",
)  # fmt: skip

_INTERESTING = (0, 1, 2, 7, 8, 9, 255, 4096, 65535, 1 << 16, 1 << 24, (1 << 31) - 1, 1 << 31, (1 << 32) - 1)


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed to make test media (./dev test installs it)")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The project's demo media, small ffmpeg-made clips of the other shapes, and crafted files."""
    demo = Path(__file__).resolve().parents[2] / "resources" / "demo"
    files = {path.name: path.read_bytes() for path in sorted(demo.iterdir()) if path.suffix in (".mp4", ".webm")}
    folder = tmp_path_factory.mktemp("fuzz-corpus")
    sources = ("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=3",
               "-f", "lavfi", "-i", "sine=frequency=440:duration=3")  # fmt: skip
    h264 = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", "-c:a", "aac")
    made = {
        "moov-at-end.mp4": h264,
        "fragmented-sidx.mp4": (*h264, "-movflags", "frag_keyframe+empty_moov+default_base_moof+global_sidx"),
        "edit-list.mov": (*h264, "-movflags", "+faststart"),
        "clip.mkv": h264,
    }
    for name, codec in made.items():
        _ffmpeg(*sources, *codec, str(folder / name))
        files[name] = (folder / name).read_bytes()
    files["crafted-samples.mp4"] = crafted.mp4_claiming_samples(3000, tracks=2)
    files["crafted-seekhead.webm"] = crafted.matroska_with_seek_head(
        [(crafted.CUES, 5000), (crafted.TAGS, 90_000), (crafted.SEEK_HEAD, 40_000), (0x1A2B3C4D, 60_000)], 120_000
    )
    return files


# --- mutations: each takes the bytes and a seeded random source, and returns the broken piece --------------


def _overwrite(data: bytearray, rng: random.Random) -> bytearray:
    region = _hot_region(data, rng)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(*region)] = rng.randrange(256)
    return data


def _box_size(data: bytearray, rng: random.Random) -> bytearray:
    at = _find(data, rng.choice(_BOXES), rng)
    if at >= 4:
        size = struct.unpack_from(">I", data, at - 4)[0]
        value = rng.choice((*_INTERESTING, size + 1, size - 1, size * 2, size + rng.randint(-64, 64)))
        struct.pack_into(">I", data, at - 4, value % (1 << 32))
    return data


def _table_count(data: bytearray, rng: random.Random) -> bytearray:
    at = _find(data, rng.choice((*_COUNTED, b"stsz")), rng)
    if at >= 0 and at + 16 <= len(data):
        field = at + (12 if data[at : at + 4] == b"stsz" else 8)  # stsz: sample_size, then sample_count
        if rng.random() < 0.3 and data[at : at + 4] == b"stsz":
            field = at + 8  # the constant sample size: a count claimed by no bytes
        count = struct.unpack_from(">I", data, field)[0]
        struct.pack_into(">I", data, field, rng.choice((*_INTERESTING, count + 1, count * 16)) % (1 << 32))
    return data


def _table_values(data: bytearray, rng: random.Random) -> bytearray:
    """Chunk offsets, sample sizes, sidx references, stsc runs: the numbers that become spans."""
    at = _find(data, rng.choice((b"stco", b"co64", b"stsz", b"stsc", b"sidx", b"stss")), rng)
    if at >= 0:
        for _ in range(rng.randint(1, 6)):
            where = at + 8 + 4 * rng.randrange(1, 64)
            if where + 4 <= len(data):
                struct.pack_into(">I", data, where, rng.choice((*_INTERESTING, len(data), len(data) + 1)) % (1 << 32))
    return data


def _element_size(data: bytearray, rng: random.Random) -> bytearray:
    element = rng.choice(_ELEMENTS)
    at = _find(data, element, rng)
    if at >= 0 and at + len(element) < len(data):
        size_at = at + len(element)
        data[size_at] = rng.choice((0x01, 0x08, 0x40, 0x80, 0xFF, 0x81, 0x10, data[size_at] ^ (1 << rng.randrange(8))))
        for i in range(1, rng.randint(1, 8)):
            if size_at + i < len(data):
                data[size_at + i] = rng.choice((0, 0xFF, rng.randrange(256)))
    return data


def _cut(data: bytearray, rng: random.Random) -> bytearray:
    """A truncated upload: anywhere, or just past the head, or a few bytes short of the end."""
    point = rng.choice((rng.randrange(len(data) + 1), rng.randrange(min(len(data), 2 * SLICE) + 1), len(data) - 7))
    return data[: max(point, 0)]


def _duplicate(data: bytearray, rng: random.Random) -> bytearray:
    """Copy a region (often a whole moov or SeekHead) elsewhere; the audit found a sidx fMP4 with moov twice."""
    box = rng.choice((b"moov", b"sidx", b"\x11\x4d\x9b\x74", b"\x1c\x53\xbb\x6b"))
    at = _find(data, box, rng)
    start = max(at - 4, 0) if at >= 0 else rng.randrange(len(data) or 1)
    stop = min(len(data), start + rng.choice((64, 4096, 65536, 1 << 20)))
    insert = rng.randrange(len(data) + 1)
    return data[:insert] + data[start:stop] + data[insert:]


def _drop(data: bytearray, rng: random.Random) -> bytearray:
    start = rng.randrange(len(data) or 1)
    return data[:start] + data[start + rng.choice((1, 8, 100, 4096, 65536)) :]


MUTATIONS: tuple[Callable[[bytearray, random.Random], bytearray], ...] = (
    _overwrite, _box_size, _table_count, _table_values, _element_size, _cut, _duplicate, _drop,
)  # fmt: skip


def _find(data: bytearray, needle: bytes, rng: random.Random) -> int:
    """A random occurrence of ``needle`` (its offset), or -1; the first few thousand occurrences are considered."""
    found = []
    at = data.find(needle)
    while at >= 0 and len(found) < 4096:
        found.append(at)
        at = data.find(needle, at + 1)
    return rng.choice(found) if found else -1


def _hot_region(data: bytearray, rng: random.Random) -> tuple[int, int]:
    """Where the structure is: the head, or the index at the end (moov, Cues), rarely anywhere."""
    size = len(data)
    choices = ((0, min(size, 4096)), (max(0, size - 65536), size), (0, size))
    start, stop = rng.choice(choices)
    return (start, stop) if stop > start else (0, max(size, 1))


# --- the proxy's flow, and the promises -------------------------------------------------------------------


def run_case(data: bytes, rng: random.Random) -> str:
    """What the prefetcher and the GUI do with a piece's bytes, asserting the promises of issue 23."""
    size = len(data)
    head = data[: min(size, rng.choice((SLICE, SLICE, 4096, rng.randrange(size + 1))))]
    layout = sniff_layout(head, size)  # never raises
    for _ in range(8):
        if layout.needs_more is None or layout.needs_more > min(size, SLICE):
            break
        assert len(head) < layout.needs_more <= size, "asking for more head must make progress"
        head = data[: layout.needs_more]
        layout = sniff_layout(head, size)
    for span in (layout.index, *layout.prefetch):
        if span is not None:
            assert 0 <= span.start < span.stop <= size, f"{span} leaves the piece of {size} bytes"
    if layout.index is not None:
        index_bytes, offset = data[layout.index.start : layout.index.stop], layout.index.start
    elif layout.known and not layout.fragmented:
        index_bytes, offset = b"", 0
    else:
        return "no index to build"
    try:
        index = build_index(head, size, index_bytes, offset)
    except ContainerError:
        return "index refused"
    _query(index, size, rng)
    return "index built"


def _query(index: MediaIndex, size: int, rng: random.Random) -> None:
    duration = index.duration_s
    assert math.isfinite(duration) and duration >= 0
    assert all(0 <= byte < size for _time, byte in index.keyframes())
    moments = [0.0, duration, duration + 10, -5.0, *(rng.uniform(0, max(duration, 1e-3)) for _ in range(6))]
    for moment in moments:
        start, stop = index.seek_range(moment, rng.choice((0.0, 2.0, 1e9)))
        assert 0 <= start <= stop <= size, f"seek_range({moment}) = {start}–{stop} leaves the piece of {size}"
        assert 0 <= index.byte_at(moment) < size
    index.time_at(rng.randrange(size + 1))
    for t0, t1 in index.time_ranges([(0, size // 3), (size // 2, size), (rng.randrange(size + 1), size * 2)]):
        assert 0 <= t0 <= t1 <= duration + 1e-6


def test_mutated_media_never_escapes_its_errors_spans_time_or_memory(corpus):
    rng = random.Random(SEED)
    names = sorted(corpus)
    outcomes: dict[str, int] = {}
    sources: set[str] = set()
    slowest = largest = 0.0
    tracemalloc.start()
    try:
        for case in range(CASES):
            name = rng.choice(names)
            data = bytearray(corpus[name])
            chosen = [rng.choice(MUTATIONS) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
            for mutate in chosen:
                data = mutate(data, rng)
            mutant = bytes(data)
            what = f"seed {SEED}, case {case}: {name} after {[m.__name__ for m in chosen]}"
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            began = time.perf_counter()
            try:
                outcome = run_case(mutant, random.Random(case))
            except ContainerError as error:  # build_index's only error; sniff_layout's reason otherwise
                pytest.fail(f"{what}: a ContainerError escaped the flow that catches it: {error}")
            except Exception as error:
                raise AssertionError(f"{what}: {type(error).__name__}: {error}") from error
            took = time.perf_counter() - began
            grew = tracemalloc.get_traced_memory()[1] - baseline
            assert took < CASE_SECONDS, f"{what}: took {took:.1f} s"
            assert grew < CASE_MEMORY, f"{what}: allocated {grew / MiB:.0f} MiB"
            slowest, largest = max(slowest, took), max(largest, grew)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            sources.add(name)
    finally:
        tracemalloc.stop()
    print(f"fuzz: {CASES} cases from seed {SEED}: {outcomes}; slowest {slowest * 1000:.0f} ms, {largest / MiB:.0f} MiB")
    assert sources == set(names), "every file of the corpus was mutated"
    assert outcomes.get("index built", 0) > CASES // 10, "the mutants must still reach the index and its queries"
