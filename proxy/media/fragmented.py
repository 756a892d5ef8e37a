"""Fragmented MP4 (ISO/IEC 14496-12 §8.8): samples described by ``moof`` boxes instead of ``moov``'s tables.

A fragmented MP4's ``moov`` holds only the tracks and, in ``mvex``/``trex`` (§8.8.3), their default sample
duration, size and flags. Each ``moof`` (§8.8.4) holds one ``traf`` per track: ``tfhd`` (§8.8.7, the track and
the defaults that override ``trex``'s, and the base its data offsets count from), ``tfdt`` (§8.8.12, the decode
time of its first sample) and ``trun`` boxes (§8.8.8, the samples: duration, size, flags and composition offset
each, or the defaults). From these, every sample gets its bytes and its presentation time exactly as for a plain
MP4's sample tables, and a sync flag (``sample_is_non_sync_sample`` clear) — the same :class:`TrackUnits`.

Three indexes, tried in order by :func:`fragmented_index` (the best one the bytes given allow):

1. the ``moof`` boxes themselves, when those given describe (nearly) the whole piece — a piece whose fragments
   all lie in the head, or bytes given for all of it — one unit per sample;
2. a ``sidx`` covering the piece (``mp4_tables.parse_sidx``) — one unit per subsegment;
3. an ``mfra`` at the end (``proxy.media.mfra``) — one unit per random-access point (fragment).

Counts are claims: every ``trun`` is charged to the :class:`IndexBudget` before its samples are read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np

from proxy.media.boxes import Box, children, first_child, full_box
from proxy.media.budget import IndexBudget
from proxy.media.errors import ContainerError
from proxy.media.index import MediaIndex, TrackUnits
from proxy.media.mfra import mfra_units, parse_mfra
from proxy.media.mp4_tables import Mp4Movie, Mp4Track, parse_sidx

#: An index whose units end before this fraction of the piece describes a part of it, not all (DASH style).
MIN_COVERAGE = 0.9
#: ``moof`` boxes read for one index (a 3-hour film in 1-second fragments has 10 800).
MAX_FRAGMENTS = 100_000
#: Times and offsets above this cannot be real and would overflow the int64 arithmetic.
_LIMIT = 1 << 62
#: ``sample_is_non_sync_sample`` in the sample flags (§8.8.3.1).
_NON_SYNC = 0x10000

Located = tuple[memoryview, Box, int]


@dataclass(frozen=True)
class SampleDefaults:
    """A track's default sample duration, size and flags (``trex``, overridden per fragment by ``tfhd``)."""

    duration: int = 0
    size: int = 0
    flags: int = 0


def read_trex(data: bytes | memoryview, moov: Box, base: int = 0) -> dict[int, SampleDefaults]:
    """track_ID → defaults, from ``moov/mvex/trex`` (empty when there is no ``mvex``)."""
    mvex = first_child(data, moov, b"mvex", base)
    defaults: dict[int, SampleDefaults] = {}
    if mvex is None:
        return defaults
    for trex in children(data, mvex.body_start - base, mvex.end - base, base):
        if trex.type != b"trex":
            continue
        _version, _flags, pos = full_box(data, trex, base)
        if pos + 20 > trex.end - base:
            raise ContainerError(f"trex at byte {trex.start} is too short")
        track_id, _description, duration, size, flags = struct.unpack_from(">5I", data, pos)
        defaults[track_id] = SampleDefaults(duration, size, flags)
    return defaults


class _TrackRun:
    """The units of one track as fragments add them, and where its decode time stands."""

    def __init__(self, track: Mp4Track) -> None:

        self.track = track
        self.decode_time = 0
        self.parts: list[tuple[np.ndarray, ...]] = []

    def units(self) -> TrackUnits:
        import numpy as np

        columns = [np.concatenate(c) if c else np.zeros(0, dtype=np.int64) for c in zip(*self.parts, strict=True)]
        if not columns:
            columns = [np.zeros(0, dtype=np.int64)] * 5
        decode, duration, offset, size, key = columns
        scale = self.track.timescale
        return TrackUnits(
            self.track.kind, decode / scale + self.track.shift_s, duration / scale, offset, size, key.astype(bool)
        )


def fragment_units(
    moofs: list[Located], movie: Mp4Movie, defaults: dict[int, SampleDefaults], budget: IndexBudget
) -> dict[int, TrackUnits]:
    """track_ID → one unit per sample, from ``moof`` boxes given in file order (each wholly in its buffer)."""
    if len(moofs) > MAX_FRAGMENTS:
        raise ContainerError(f"{len(moofs)} moof boxes, more than {MAX_FRAGMENTS}: too many to map")
    runs = {t.track_id: _TrackRun(t) for t in movie.tracks if t.kind in ("video", "audio")}
    for data, moof, base in moofs:
        data_end = moof.start  # where the previous traf's data ended (the base of a traf that names none)
        for traf in children(data, moof.body_start - base, moof.end - base, base):
            if traf.type == b"traf":
                data_end = _read_traf(data, traf, moof, base, data_end, runs, defaults, budget)
    return {track_id: run.units() for track_id, run in runs.items() if run.parts}


def _read_traf(
    data: memoryview,
    traf: Box,
    moof: Box,
    base: int,
    data_end: int,
    runs: dict[int, _TrackRun],
    defaults: dict[int, SampleDefaults],
    budget: IndexBudget,
) -> int:
    """Add one ``traf``'s samples to its track's run; returns where its data ends."""
    tfhd = first_child(data, traf, b"tfhd", base)
    if tfhd is None:
        raise ContainerError(f"traf at byte {traf.start} has no tfhd")
    track_id, base_offset, sample = _read_tfhd(data, tfhd, base, moof.start, defaults)
    run = runs.get(track_id)
    if base_offset is None:
        base_offset = moof.start if data_end == moof.start else data_end
    tfdt = first_child(data, traf, b"tfdt", base)
    if run is not None and tfdt is not None:
        run.decode_time = _read_tfdt(data, tfdt, base)
    next_data = base_offset
    for trun in children(data, traf.body_start - base, traf.end - base, base):
        if trun.type != b"trun":
            continue
        columns = _read_trun(data, trun, base, base_offset, next_data, sample, budget)
        decode_start, durations, offsets, sizes, keys, composition = columns
        next_data = int(offsets[-1] + sizes[-1]) if len(offsets) else next_data
        if run is None:
            continue  # a track we do not map (subtitles, data): its bytes still move next_data on
        decode = run.decode_time + decode_start
        run.parts.append((decode + composition, durations, offsets, sizes, keys))
        run.decode_time += int(durations.sum())
        if run.decode_time >= _LIMIT:
            raise ContainerError(f"trun at byte {trun.start} takes track {track_id}'s time past any real length")
    return next_data


def _read_tfhd(
    data: memoryview, tfhd: Box, base: int, moof_start: int, defaults: dict[int, SampleDefaults]
) -> tuple[int, int | None, SampleDefaults]:
    """(track_ID, the base data offsets count from — None: the previous traf's data end —, sample defaults)."""
    _version, flags, pos = full_box(data, tfhd, base)
    fields = [(0x1, 8), (0x2, 4), (0x8, 4), (0x10, 4), (0x20, 4)]
    need = 4 + sum(width for bit, width in fields if flags & bit)
    if pos + need > tfhd.end - base:
        raise ContainerError(f"tfhd at byte {tfhd.start} is too short for its flags {flags:#x}")
    track_id = struct.unpack_from(">I", data, pos)[0]
    pos += 4
    values: dict[int, int] = {}
    for bit, width in fields:
        if flags & bit:
            values[bit] = int.from_bytes(data[pos : pos + width], "big")
            pos += width
    base_offset = values.get(0x1)
    if base_offset is None and flags & 0x20000:
        base_offset = moof_start  # default-base-is-moof
    if base_offset is not None and base_offset >= _LIMIT:
        raise ContainerError(f"tfhd at byte {tfhd.start} has a base data offset past any piece")
    track = defaults.get(track_id, SampleDefaults())
    sample = SampleDefaults(
        values.get(0x8, track.duration), values.get(0x10, track.size), values.get(0x20, track.flags)
    )
    return track_id, base_offset, sample


def _read_tfdt(data: memoryview, tfdt: Box, base: int) -> int:
    version, _flags, pos = full_box(data, tfdt, base)
    width = 8 if version == 1 else 4
    if pos + width > tfdt.end - base:
        raise ContainerError(f"tfdt at byte {tfdt.start} is too short")
    value = int.from_bytes(data[pos : pos + width], "big")
    if value >= _LIMIT:
        raise ContainerError(f"tfdt at byte {tfdt.start} gives a decode time past any real length")
    return value


def _read_trun(
    data: memoryview,
    trun: Box,
    base: int,
    base_offset: int,
    next_data: int,
    sample: SampleDefaults,
    budget: IndexBudget,
) -> tuple[np.ndarray, ...]:
    """(decode time from the run's start, duration, offset, size, key, composition offset) per sample."""
    import numpy as np

    version, flags, pos = full_box(data, trun, base)
    end = trun.end - base
    if pos + 4 > end:
        raise ContainerError(f"trun at byte {trun.start} is too short")
    count = struct.unpack_from(">I", data, pos)[0]
    pos += 4
    data_offset = first_flags = None
    if flags & 0x1:
        if pos + 4 > end:
            raise ContainerError(f"trun at byte {trun.start} is too short for its data offset")
        data_offset = struct.unpack_from(">i", data, pos)[0]
        pos += 4
    if flags & 0x4:
        if pos + 4 > end:
            raise ContainerError(f"trun at byte {trun.start} is too short for its first sample's flags")
        first_flags = struct.unpack_from(">I", data, pos)[0]
        pos += 4
    present = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    if pos + 4 * len(present) * count > end:
        raise ContainerError(f"trun at byte {trun.start} lists {count} samples but does not hold them")
    budget.spend_units(count, f"trun at byte {trun.start}")
    table = np.frombuffer(data, dtype=">u4", count=count * len(present), offset=pos).reshape(count, len(present))
    table = table.astype(np.int64)

    def column(bit: int, default: int) -> np.ndarray:
        return table[:, present.index(bit)] if bit in present else np.full(count, default, dtype=np.int64)

    durations = column(0x100, sample.duration)
    sizes = column(0x200, sample.size)
    sample_flags = column(0x400, sample.flags)
    if first_flags is not None and count:
        sample_flags[0] = first_flags
    composition = column(0x800, 0)
    if version != 0:
        composition = (composition ^ 0x80000000) - 0x80000000  # signed in version 1
    start = base_offset + data_offset if data_offset is not None else next_data
    if not 0 <= start < _LIMIT:
        raise ContainerError(f"trun at byte {trun.start} points before the piece's start")
    offsets = start + np.cumsum(sizes) - sizes
    decode = np.cumsum(durations) - durations
    return decode, durations, offsets, sizes, (sample_flags & _NON_SYNC) == 0, composition


def fragmented_index(
    movie: Mp4Movie,
    primary: Mp4Track,
    secondary: list[Mp4Track],
    found: dict[bytes, list[Located]],
    moov: Located,
    size: int,
) -> MediaIndex:
    """The best index the bytes given hold for a fragmented MP4 (module docstring), or :class:`ContainerError`."""
    reasons: list[str] = []
    for build in (_moof_index, _sidx_index, _mfra_index):
        try:
            return build(movie, primary, secondary, found, moov, size)
        except ContainerError as error:
            reasons.append(str(error))
    raise ContainerError("fragmented MP4 without a usable index: " + "; ".join(reasons))


def _boxes(found: dict[bytes, list[Located]], kind: bytes, missing: str) -> list[Located]:
    """The ``kind`` boxes found in the bytes given; none: this way of indexing does not apply (``missing`` says so,
    one of the reasons :func:`fragmented_index` gives when no way does)."""
    boxes = found.get(kind, [])
    if not boxes:
        raise ContainerError(missing)
    return boxes


def _covers(units: TrackUnits, size: int, what: str) -> None:
    covered = int((units.offset + units.size).max()) if len(units) else 0
    if covered < MIN_COVERAGE * size:
        raise ContainerError(f"{what} describe bytes up to {covered} of {size}: a part of the piece, not all of it")


def _moof_index(
    movie: Mp4Movie, primary: Mp4Track, secondary: list[Mp4Track], found: dict[bytes, list[Located]], moov, size
) -> MediaIndex:
    moofs = _boxes(found, b"moof", "no moof box in the bytes given")
    view, box, base = moov
    budget = IndexBudget()
    tracks = fragment_units(moofs, movie, read_trex(view, box, base), budget)
    units = tracks.get(primary.track_id)
    if units is None:
        raise ContainerError(f"the moof boxes given hold no sample of track {primary.track_id}")
    _covers(units, size, f"the {len(moofs)} moof boxes given")
    others = [tracks[t.track_id] for t in secondary if t.track_id in tracks]
    return MediaIndex(
        "mp4 fragments (moof)",
        units,
        others,
        duration_s=movie.duration_s,
        notes=primary.notes,
        piece_size=size,
    )


def _sidx_index(
    movie: Mp4Movie, primary: Mp4Track, _secondary, found: dict[bytes, list[Located]], _moov, size
) -> MediaIndex:
    boxes = _boxes(found, b"sidx", "no sidx")
    budget = IndexBudget()
    parsed = [parse_sidx(view, box, primary.shift_s, size, base, budget) for view, box, base in boxes]
    reference_id, units = next(((rid, u) for rid, u in parsed if rid == primary.track_id), parsed[0])
    _covers(units, size, f"the sidx for track {reference_id}")
    return MediaIndex("mp4 sidx", units, duration_s=movie.duration_s, notes=primary.notes, piece_size=size)


def _mfra_index(
    movie: Mp4Movie, primary: Mp4Track, _secondary, found: dict[bytes, list[Located]], _moov, size
) -> MediaIndex:
    boxes = _boxes(found, b"mfra", "no mfra")
    view, mfra, base = boxes[-1]
    entries = parse_mfra(view, mfra, base, IndexBudget())
    if primary.track_id not in entries:
        raise ContainerError(f"the mfra at byte {mfra.start} lists no random-access point of track {primary.track_id}")
    units = mfra_units(entries[primary.track_id], primary, mfra.start, movie.duration_s)
    return MediaIndex("mp4 mfra", units, duration_s=movie.duration_s, notes=primary.notes, piece_size=size)
