"""MP4 ``moov`` tracks and ``sidx`` → :class:`TrackUnits` (ISO/IEC 14496-12); the sample tables themselves are
expanded in :mod:`proxy.media.mp4_samples`.

Boxes read, by clause of ISO/IEC 14496-12:

* ``mvhd`` (§8.2.2) movie timescale and duration; ``mvex``/``mehd`` (§8.8.1–2) mark a fragmented movie.
* ``trak``/``tkhd`` (§8.3.2) track_ID; ``mdia``/``mdhd`` (§8.4.2) media timescale; ``hdlr`` (§8.4.3) ``vide`` or
  ``soun``; ``edts``/``elst`` (§8.6.6) edit list.
* ``stbl`` (§8.5): ``stts`` decode deltas (§8.6.1.2), ``ctts`` composition offsets (§8.6.1.3), ``stss`` sync
  samples (§8.6.2), ``stsc`` samples per chunk (§8.7.4), ``stsz``/``stz2`` sample sizes (§8.7.3), ``stco``/
  ``co64`` chunk offsets (§8.7.5).
* ``sidx`` segment index (§8.16.3).

Edit lists are handled minimally, as most files need: leading empty edits delay the track, and the first
non-empty edit's ``media_time`` shifts it (an encoder's B-frame or audio-priming delay), so times match what
FFmpeg presents. Later edits (real cuts) are ignored and reported in the index notes.

Counts are claims, not facts (a tiny ``stsc`` entry can claim 2^24 samples): every table and every track's units
are charged to the index's :class:`~proxy.media.budget.IndexBudget` before they are built
(:mod:`proxy.media.mp4_samples`), and at most ``MAX_TRACKS`` tracks are read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    pass

from proxy.media.boxes import Box, children, find_path, first_child, full_box
from proxy.media.budget import MAX_TRACKS, IndexBudget
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.index import TrackUnits
from proxy.media.mp4_samples import entry_count, sample_units

_KINDS = {b"vide": "video", b"soun": "audio"}


@dataclass
class Mp4Track:
    track_id: int
    handler: bytes
    timescale: int
    #: Edit list: leading empty edits delay the track (seconds); the first edit starts at media_shift (ticks).
    delay_s: float
    media_shift: int
    units: TrackUnits | None
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return _KINDS.get(self.handler, self.handler.decode("latin-1"))

    @property
    def shift_s(self) -> float:
        """Seconds to add to a media time to get its presentation time, per the (first) edit."""
        return self.delay_s - self.media_shift / self.timescale


@dataclass
class Mp4Movie:
    timescale: int
    #: Presentation duration in seconds from ``mvhd`` (or ``mehd``), None when the file leaves it unset.
    duration_s: float | None
    fragmented: bool
    tracks: list[Mp4Track]


def parse_moov(
    data: bytes | memoryview, moov: Box, piece_size: int, base: int = 0, budget: IndexBudget | None = None
) -> Mp4Movie:
    """The tracks of a complete ``moov`` box held in ``data`` (``base`` = absolute offset of ``data[0]``).

    ``piece_size`` bounds what the tables may claim: samples that would not fit in the piece are an error.
    ``budget`` bounds what the tables may cost (:mod:`proxy.media.budget`); beyond it, a :class:`ContainerError`.
    """
    budget = budget or IndexBudget()
    if first_child(data, moov, b"cmov", base) is not None:
        raise ContainerError(f"moov at byte {moov.start} is compressed (cmov): not supported")
    timescale, duration_s = movie_timing(data, moov, base)
    mvex = first_child(data, moov, b"mvex", base)
    traks = [box for box in children(data, moov.body_start - base, moov.end - base, base) if box.type == b"trak"]
    if len(traks) > MAX_TRACKS:
        raise ContainerError(f"moov at byte {moov.start} has {len(traks)} tracks, more than {MAX_TRACKS}")
    tracks = [_parse_trak(data, box, timescale, piece_size, base, budget) for box in traks]
    return Mp4Movie(timescale, duration_s, mvex is not None, tracks)


def movie_timing(data: bytes | memoryview, moov: Box, base: int = 0) -> tuple[int, float | None]:
    """(movie timescale, duration in seconds or None if unset) from ``mvhd`` — and ``mehd`` when fragmented.

    Needs only the start of ``moov`` (``mvhd`` is its first child in practice), so a head can answer it.
    """
    mvhd = first_child(data, moov, b"mvhd", base)
    if mvhd is None:
        raise ContainerError(f"moov at byte {moov.start} has no mvhd")
    timescale, duration = _timescale_and_duration(data, _held(data, mvhd, base), base)
    mvex = find_path(data, moov, (b"mvex",), base) if duration == 0 else None
    mehd = first_child(data, mvex, b"mehd", base) if mvex is not None else None
    if mehd is not None:
        duration = _mehd_duration(data, _held(data, mehd, base), base)
    return timescale, duration / timescale if duration else None


def _held(data: bytes | memoryview, box: Box, base: int) -> Box:
    """``box``, checked to lie wholly in ``data`` (a head may end inside a box whose header it holds)."""
    if box.end - base > len(data):
        raise TruncatedError(f"{box.name} at byte {box.start} is cut off", box.end)
    return box


def parse_sidx(
    data: bytes | memoryview, sidx: Box, shift_s: float, size: int, base: int = 0, budget: IndexBudget | None = None
) -> tuple[int, TrackUnits]:
    """(reference_ID, one unit per subsegment) of a ``sidx`` box whose references are all media (not sidx).

    ``size`` is the piece's: references must point inside it (the index drops those that do not).
    """
    import numpy as np

    version, _flags, pos = full_box(data, sidx, base)
    end = sidx.end - base
    head = struct.Struct(">II" + ("QQ" if version else "II") + "HH")
    if pos + head.size > end:
        raise ContainerError(f"sidx at byte {sidx.start} is too short")
    reference_id, timescale, earliest, first_offset, _reserved, count = head.unpack_from(data, pos)
    pos += head.size
    if timescale == 0:
        raise ContainerError(f"sidx at byte {sidx.start} has timescale 0")
    if pos + 12 * count > end:
        raise ContainerError(f"sidx at byte {sidx.start} lists {count} references but holds {(end - pos) // 12}")
    if count == 0:
        raise ContainerError(f"sidx at byte {sidx.start} lists no references")
    (budget or IndexBudget()).spend_units(count, f"sidx at byte {sidx.start}")
    if sidx.end + first_offset >= size or earliest >= 1 << 62:
        raise ContainerError(f"sidx at byte {sidx.start} points past the piece (first_offset {first_offset})")
    refs = np.frombuffer(data, dtype=">u4", count=3 * count, offset=pos).reshape(count, 3).astype(np.int64)
    if (refs[:, 0] >> 31).any():
        raise ContainerError(f"sidx at byte {sidx.start} points to further sidx boxes (hierarchical): not supported")
    sizes = refs[:, 0] & 0x7FFFFFFF
    durations = refs[:, 1]
    offsets = sidx.end + first_offset + np.concatenate(([0], np.cumsum(sizes)[:-1]))
    starts = earliest + np.concatenate(([0], np.cumsum(durations)[:-1]))
    units = TrackUnits(
        kind="subsegment",
        start=starts / timescale + shift_s,
        duration=durations / timescale,
        offset=offsets,
        size=sizes,
        key=(refs[:, 2] >> 31).astype(bool),
    )
    return reference_id, units


# --- boxes of one track ------------------------------------------------------------------------------------


def _timescale_and_duration(data: bytes | memoryview, box: Box, base: int) -> tuple[int, int]:
    """mvhd and mdhd share this layout: times, then timescale (u32) and duration (u32 or u64 by version)."""
    version, _flags, pos = full_box(data, box, base)
    layout = struct.Struct(">QQIQ" if version == 1 else ">IIII")
    if pos + layout.size > box.end - base:
        raise ContainerError(f"{box.name} at byte {box.start} is too short")
    _created, _modified, timescale, duration = layout.unpack_from(data, pos)
    if timescale == 0:
        raise ContainerError(f"{box.name} at byte {box.start} has timescale 0")
    unset = 0xFFFFFFFFFFFFFFFF if version == 1 else 0xFFFFFFFF
    return timescale, 0 if duration == unset else duration


def _mehd_duration(data: bytes | memoryview, mehd: Box, base: int) -> int:
    version, _flags, pos = full_box(data, mehd, base)
    layout = ">Q" if version == 1 else ">I"
    if pos + struct.calcsize(layout) > mehd.end - base:
        raise ContainerError(f"mehd at byte {mehd.start} is too short")
    return struct.unpack_from(layout, data, pos)[0]


def _parse_trak(
    data: bytes | memoryview, trak: Box, movie_timescale: int, piece_size: int, base: int, budget: IndexBudget
) -> Mp4Track:
    tkhd = first_child(data, trak, b"tkhd", base)
    mdia = first_child(data, trak, b"mdia", base)
    if tkhd is None or mdia is None:
        raise ContainerError(f"trak at byte {trak.start} lacks tkhd or mdia")
    version, _flags, pos = full_box(data, tkhd, base)
    id_at = pos + (16 if version == 1 else 8)
    if id_at + 4 > tkhd.end - base:
        raise ContainerError(f"tkhd at byte {tkhd.start} is too short")
    track_id = struct.unpack_from(">I", data, id_at)[0]
    mdhd = first_child(data, mdia, b"mdhd", base)
    hdlr = first_child(data, mdia, b"hdlr", base)
    if mdhd is None or hdlr is None:
        raise ContainerError(f"track {track_id}: mdia at byte {mdia.start} lacks mdhd or hdlr")
    timescale, _duration = _timescale_and_duration(data, mdhd, base)
    _v, _f, pos = full_box(data, hdlr, base)
    if pos + 8 > hdlr.end - base:
        raise ContainerError(f"hdlr at byte {hdlr.start} is too short")
    handler = bytes(data[pos + 4 : pos + 8])
    track = Mp4Track(track_id, handler, timescale, 0.0, 0, None)
    _apply_edit_list(data, trak, track, movie_timescale, base)
    stbl = find_path(data, mdia, (b"minf", b"stbl"), base)
    if stbl is not None and track.kind in ("video", "audio"):
        track.units = sample_units(data, stbl, track, piece_size, base, budget)
    return track


def _apply_edit_list(data: bytes | memoryview, trak: Box, track: Mp4Track, movie_timescale: int, base: int) -> None:
    """Set the track's delay (leading empty edits) and media shift (the first edit's media_time)."""
    elst = find_path(data, trak, (b"edts", b"elst"), base)
    if elst is None:
        return
    version, _flags, pos = full_box(data, elst, base)
    entry = struct.Struct(">QqHH" if version == 1 else ">IiHH")
    count = entry_count(data, elst, pos, entry.size, base)
    delay = 0
    media_time = None
    used = 0
    for i in range(count):
        segment_duration, time, _rate, _fraction = entry.unpack_from(data, pos + 4 + i * entry.size)
        if time == -1:
            delay += segment_duration
        else:
            media_time = time
            used = i + 1
            break  # only leading empty edits and the first real one matter (a table can list millions)
    if count > used and media_time is not None:
        track.notes.append(f"track {track.track_id}: edit list has {count} entries; only the first edit is applied")
    track.delay_s = delay / movie_timescale
    track.media_shift = media_time or 0
