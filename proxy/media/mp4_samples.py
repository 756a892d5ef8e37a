"""MP4 sample tables (ISO/IEC 14496-12 §8.5–8.7) expanded into one track's :class:`TrackUnits`.

``stts`` decode deltas, ``ctts`` composition offsets, ``stss`` sync samples, ``stsc`` samples per chunk,
``stsz``/``stz2`` sample sizes and ``stco``/``co64`` chunk offsets become arrays with numpy: run-length tables are
looked up with ``searchsorted`` instead of being repeated out, and constant-size samples without ``stss`` (PCM
audio can have millions) become one unit per chunk. Counts are claims, not facts: every table and every unit is
charged to the index's :class:`~proxy.media.budget.IndexBudget` before it is built.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np

from proxy.media.boxes import Box, children, full_box
from proxy.media.budget import IndexBudget
from proxy.media.errors import ContainerError
from proxy.media.index import TrackUnits

if TYPE_CHECKING:
    from proxy.media.mp4_tables import Mp4Track


def entry_count(data: bytes | memoryview, box: Box, pos: int, entry_size: int, base: int) -> int:
    """A table's entry_count, checked against the bytes the box really holds."""
    end = box.end - base
    if pos + 4 > end:
        raise ContainerError(f"{box.name} at byte {box.start} is too short for its entry count")
    count = struct.unpack_from(">I", data, pos)[0]
    room = (end - pos - 4) // entry_size
    if count > room:
        raise ContainerError(f"{box.name} at byte {box.start} lists {count} entries but holds only {room}")
    return count


def _table(
    data: bytes | memoryview,
    stbl: Box,
    names: tuple[bytes, ...],
    columns: int,
    base: int,
    budget: IndexBudget,
    wide: bool = False,
):
    """The first of ``names`` in ``stbl`` as an (entries × columns) int64 array of big-endian u32 (u64 if wide)."""
    import numpy as np

    box = next((b for b in children(data, stbl.body_start - base, stbl.end - base, base) if b.type in names), None)
    if box is None:
        return None, None
    _version, _flags, pos = full_box(data, box, base)
    width = 8 if wide else 4
    count = entry_count(data, box, pos, width * columns, base)
    budget.spend_entries(count, columns, f"{box.name} at byte {box.start}")
    values = np.frombuffer(data, dtype=">u8" if wide else ">u4", count=count * columns, offset=pos + 4)
    return box, values.astype(np.int64).reshape(count, columns)


def _sample_sizes(
    data: bytes | memoryview, stbl: Box, base: int, budget: IndexBudget
) -> tuple[int, int, np.ndarray | None]:
    """(constant sample size or 0, sample count, per-sample sizes or None) from ``stsz`` or ``stz2``."""
    import numpy as np

    for box in children(data, stbl.body_start - base, stbl.end - base, base):
        if box.type == b"stsz":
            _v, _f, pos = full_box(data, box, base)
            if pos + 8 > box.end - base:
                raise ContainerError(f"stsz at byte {box.start} is too short")
            constant, count = struct.unpack_from(">II", data, pos)
            if constant:
                return constant, count, None
            count = entry_count(data, box, pos + 4, 4, base)
            budget.spend_entries(count, 1, f"stsz at byte {box.start}")
            return 0, count, np.frombuffer(data, ">u4", count, pos + 8).astype(np.int64)
        if box.type == b"stz2":
            _v, _f, pos = full_box(data, box, base)
            if pos + 8 > box.end - base:
                raise ContainerError(f"stz2 at byte {box.start} is too short")
            field_size = data[pos + 3]
            if field_size not in (4, 8, 16):
                raise ContainerError(f"stz2 at byte {box.start} has field size {field_size}")
            count = struct.unpack_from(">I", data, pos + 4)[0]
            room = (box.end - base - pos - 8) * 8 // field_size
            if count > room:
                raise ContainerError(f"stz2 at byte {box.start} lists {count} samples but holds only {room}")
            budget.spend_entries(count, 2, f"stz2 at byte {box.start}")
            if field_size == 4:
                packed = np.frombuffer(data, np.uint8, (count + 1) // 2, pos + 8)
                sizes = np.stack((packed >> 4, packed & 0x0F), axis=1).reshape(-1)[:count]
            else:
                sizes = np.frombuffer(data, np.uint8 if field_size == 8 else ">u2", count, pos + 8)
            return 0, count, sizes.astype(np.int64)
    raise ContainerError(f"stbl at byte {stbl.start} has no stsz or stz2")


def _run_lookup(counts: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For run-length tables (count, value): each index's run number and the index's position within its run.

    Indexes past the last run stay in the last run (their position keeps counting), which extrapolates.
    """
    import numpy as np

    run_first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    run = np.clip(np.searchsorted(run_first, index, side="right") - 1, 0, len(counts) - 1)
    return run, index - run_first[run]


def _decode_times(stts: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode time and delta (media timescale) of the samples numbered ``index`` (0-based), from ``stts``."""
    import numpy as np

    counts, deltas = stts[:, 0], stts[:, 1]
    run_time = np.concatenate(([0], np.cumsum(counts * deltas)[:-1]))
    run, within = _run_lookup(counts, index)
    return run_time[run] + within * deltas[run], deltas[run]


def sample_units(
    data: bytes | memoryview, stbl: Box, track: Mp4Track, piece_size: int, base: int, budget: IndexBudget
) -> TrackUnits | None:
    """The track's units from its ``stbl``: one per sample, or one per chunk for constant-size samples without
    ``stss``; None for a track without samples. Notes on what was left out go to ``track.notes``."""
    import numpy as np

    name = f"track {track.track_id} ({track.kind})"
    constant, sample_count, sizes = _sample_sizes(data, stbl, base, budget)
    _box, stco = _table(data, stbl, (b"stco",), 1, base, budget)
    if stco is None:
        _box, stco = _table(data, stbl, (b"co64",), 1, base, budget, wide=True)
    _box, stsc = _table(data, stbl, (b"stsc",), 3, base, budget)
    _box, stts = _table(data, stbl, (b"stts",), 2, base, budget)
    _box, ctts = _table(data, stbl, (b"ctts",), 2, base, budget)
    stss_box, stss = _table(data, stbl, (b"stss",), 1, base, budget)
    if sample_count == 0:
        return None
    if stco is None or stsc is None or stts is None or len(stts) == 0 or len(stsc) == 0:
        raise ContainerError(f"{name}: sample table lacks stco/co64, stsc or stts entries")
    chunk_offsets = stco[:, 0]
    budget.spend_entries(len(chunk_offsets), 2, f"{name}: chunks")
    samples_per_chunk = _samples_per_chunk(stsc, len(chunk_offsets), name)
    chunk_first = np.concatenate(([0], np.cumsum(samples_per_chunk)[:-1]))
    mapped = int(chunk_first[-1] + samples_per_chunk[-1])
    if mapped < sample_count:
        track.notes.append(f"{name}: chunks hold {mapped} of {sample_count} samples; the rest are not indexed")
        sample_count = mapped
    if constant * sample_count > piece_size:
        raise ContainerError(f"{name}: {sample_count} samples of {constant} bytes do not fit in the piece")
    scale = track.timescale

    if constant and stss_box is None:
        # One unit per chunk: constant-size samples (PCM, some audio) can number millions.
        live = chunk_first < sample_count
        first = chunk_first[live]
        per_chunk = np.minimum(samples_per_chunk[live], sample_count - first)
        budget.spend_units(len(first), name)
        t0, _delta = _decode_times(stts, first)
        t1, _delta = _decode_times(stts, first + per_chunk)
        return TrackUnits(
            kind=track.kind,
            start=t0 / scale + track.shift_s,
            duration=(t1 - t0) / scale,
            offset=chunk_offsets[live],
            size=per_chunk * constant,
            key=np.ones(len(first), dtype=bool),
        )

    n = sample_count if sizes is None else min(len(sizes), sample_count)
    budget.spend_units(n, name)
    if sizes is None:
        sizes = np.full(n, constant, dtype=np.int64)
    sizes = sizes[:n]
    samples = np.arange(n, dtype=np.int64)
    chunk = np.searchsorted(chunk_first, samples, side="right") - 1
    before = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    offsets = chunk_offsets[chunk] + before - before[chunk_first[chunk]]
    dts, deltas = _decode_times(stts, samples)
    if ctts is not None and len(ctts):
        run, _within = _run_lookup(ctts[:, 0], samples)
        composition = ctts[:, 1].astype(np.uint32).view(np.int32).astype(np.int64)
        past_end = samples >= int(ctts[:, 0].sum())
        dts = dts + np.where(past_end, 0, composition[run])
    if stss is None:
        key = np.ones(n, dtype=bool)
    else:
        key = np.zeros(n, dtype=bool)
        numbers = stss[:, 0]
        key[numbers[(numbers >= 1) & (numbers <= n)] - 1] = True
    return TrackUnits(
        kind=track.kind,
        start=dts / scale + track.shift_s,
        duration=deltas / scale,
        offset=offsets,
        size=sizes,
        key=key,
    )


def _samples_per_chunk(stsc: np.ndarray, chunks: int, name: str) -> np.ndarray:
    """Samples in each chunk, expanded from ``stsc`` runs (first_chunk is 1-based and must increase)."""
    import numpy as np

    if chunks == 0:
        raise ContainerError(f"{name}: no chunk offsets")
    first = stsc[:, 0] - 1
    if first[0] != 0 or (np.diff(first) <= 0).any():
        raise ContainerError(f"{name}: stsc first_chunk values do not start at 1 and increase")
    first = first[first < chunks]
    run_length = np.diff(np.concatenate((first, [chunks])))
    return np.repeat(stsc[: len(first), 1], run_length)
