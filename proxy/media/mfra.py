"""The movie fragment random access box (ISO/IEC 14496-12 §8.8.9–11): a fragmented MP4's index at its end.

``mfra`` holds one ``tfra`` per track, listing random-access (sync) samples as (presentation time, offset of
the ``moof`` holding it), and ends with ``mfro``, whose last field is the size of the whole ``mfra``. So the
last 16 bytes of a piece say whether it has one and which bytes to read for it (:func:`mfra_span`): the proxy
reads those two exact spans instead of walking every fragment.

An ``mfra`` index has one unit per random-access point: from its ``moof`` to the next point's ``moof`` (the last
to where ``mfra`` begins), each a keyframe. Like ``sidx`` subsegments, a unit holds every track's samples.
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
from proxy.media.layout import ByteSpan
from proxy.media.mp4_tables import Mp4Track

#: ``mfro`` is a FullBox with one 32-bit field: always 16 bytes, always the piece's last.
MFRO_SIZE = 16
_MFRO = struct.Struct(">I4sII")
_LIMIT = 1 << 62


def mfra_span(tail: bytes | memoryview, size: int) -> ByteSpan | None:
    """Where ``mfra`` lies, from the piece's last :data:`MFRO_SIZE` bytes; None when they are not an ``mfro``."""
    if len(tail) < MFRO_SIZE or size < MFRO_SIZE:
        return None
    box_size, box_type, _version_flags, mfra_size = _MFRO.unpack_from(tail, len(tail) - MFRO_SIZE)
    if box_type != b"mfro" or box_size != MFRO_SIZE or not MFRO_SIZE + 8 <= mfra_size <= size:
        return None
    return ByteSpan(size - mfra_size, size, "mfra")


def parse_mfra(data: bytes | memoryview, mfra: Box, base: int, budget: IndexBudget) -> dict[int, np.ndarray]:
    """track_ID → an (n, 2) array of (time in the track's timescale, ``moof`` offset), one row per ``tfra`` entry."""

    if mfra.end - base > len(data):
        raise ContainerError(f"mfra at byte {mfra.start} is not all in the bytes given")
    tracks: dict[int, np.ndarray] = {}
    for tfra in children(data, mfra.body_start - base, mfra.end - base, base):
        if tfra.type == b"tfra":
            track_id, entries = _read_tfra(data, tfra, base, budget)
            tracks.setdefault(track_id, entries)
    return tracks


def _read_tfra(data: bytes | memoryview, tfra: Box, base: int, budget: IndexBudget) -> tuple[int, np.ndarray]:
    import numpy as np

    version, _flags, pos = full_box(data, tfra, base)
    end = tfra.end - base
    if pos + 12 > end:
        raise ContainerError(f"tfra at byte {tfra.start} is too short")
    track_id, lengths, count = struct.unpack_from(">3I", data, pos)
    pos += 12
    wide = 8 if version == 1 else 4
    tail = sum(((lengths >> shift) & 3) + 1 for shift in (4, 2, 0))  # traf, trun and sample numbers
    entry = 2 * wide + tail
    if pos + count * entry > end:
        raise ContainerError(f"tfra at byte {tfra.start} lists {count} entries but holds {(end - pos) // entry}")
    budget.spend_units(count, f"tfra at byte {tfra.start}")
    raw = np.frombuffer(data, dtype=np.uint8, count=count * entry, offset=pos).reshape(count, entry)
    times = _big_endian(raw[:, :wide])
    offsets = _big_endian(raw[:, wide : 2 * wide])
    if count and (times.max() >= _LIMIT or offsets.max() >= _LIMIT):
        raise ContainerError(f"tfra at byte {tfra.start} lists times or offsets past any real piece")
    return track_id, np.stack([times, offsets], axis=1).astype(np.int64)


def _big_endian(columns: np.ndarray) -> np.ndarray:
    import numpy as np

    value = np.zeros(len(columns), dtype=np.uint64)
    for i in range(columns.shape[1]):
        value = (value << np.uint64(8)) | columns[:, i].astype(np.uint64)
    return value


def mfra_units(entries: np.ndarray, track: Mp4Track, media_end: int, duration_s: float | None) -> TrackUnits:
    """One key unit per random-access point of ``track``: its ``moof`` to the next one's (the last: ``media_end``)."""
    import numpy as np

    if len(entries) == 0:
        raise ContainerError(f"the mfra lists no random-access point of track {track.track_id}")
    entries = entries[np.argsort(entries[:, 1], kind="stable")]
    offsets = entries[:, 1]
    keep = np.concatenate(([True], offsets[1:] > offsets[:-1]))  # one unit per moof
    starts = entries[keep, 0] / track.timescale + track.shift_s
    offsets = offsets[keep]
    stops = np.concatenate((offsets[1:], [max(media_end, int(offsets[-1]))]))
    durations = np.maximum(np.diff(starts), 0.0)
    if duration_s and duration_s > starts[-1]:
        tail = float(duration_s) - float(starts[-1])
    else:  # the movie's length is unset (an "empty moov"): the last fragment is taken as long as a typical one
        tail = float(np.median(durations)) if len(durations) else 0.0
    durations = np.concatenate((durations, [tail]))
    return TrackUnits("fragment", starts, durations, offsets, stops - offsets, np.ones(len(offsets), dtype=bool))
