"""What can be played from the bytes at hand: pure functions over a piece's units, for the proxy and the GUI.

The proxy builds a piece's map (:class:`proxy.media.index.MediaIndex`) and publishes it as plain numbers
(:class:`proxy.events.MediaIndexed`: keyframes and the units of the tracks that decide playability). The GUI turns
those numbers back into arrays once (:func:`track_units`) and asks the same questions the map answers, with the
same code: which moments the cached bytes can play (:func:`playable_times`) and which byte a player reads first
to show a moment (:func:`keyframe_byte`). What "playable" means, and where it is approximate, is told in
:mod:`proxy.media.index`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np

from proxy.events import MediaTrack
from proxy.media.tracks import TrackUnits

#: Time spans closer than this (seconds) are joined: it absorbs rounding of timescale arithmetic.
_JOIN_TOLERANCE_S = 1e-4
#: A time asked for this close to a keyframe's is that keyframe's (times are rounded from integer ticks).
SAME_TIME_S = 1e-9


def media_track(track: TrackUnits) -> MediaTrack:
    """A track's units as plain numbers, for an event (the GUI gets data, never the proxy's map)."""
    return MediaTrack(
        kind=track.kind,
        start=tuple(track.start.tolist()),
        duration=tuple(track.duration.tolist()),
        offset=tuple(track.offset.tolist()),
        size=tuple(track.size.tolist()),
        key=tuple(track.key.tolist()),
    )


def track_units(track: MediaTrack) -> TrackUnits:
    """An event's track back as arrays (once per piece: :func:`playable_times` is then fast for any cache)."""
    import numpy as np

    count = len(track.offset)
    return TrackUnits(
        track.kind,
        np.fromiter(track.start, dtype=np.float64, count=count),
        np.fromiter(track.duration, dtype=np.float64, count=count),
        np.fromiter(track.offset, dtype=np.int64, count=count),
        np.fromiter(track.size, dtype=np.int64, count=count),
        np.fromiter(track.key, dtype=bool, count=count),
    )


def keyframe_byte(keyframes: Sequence[tuple[float, int]], time_s: float) -> int:
    """The byte a player needs first to show ``time_s``: the keyframe at or before it (clamped to the first).

    ``keyframes`` are ``(time_s, byte_offset)`` in time order, as :meth:`MediaIndex.keyframes` gives them.
    """
    if not math.isfinite(time_s):
        raise ValueError(f"time must be a finite number of seconds, not {time_s!r}")
    k = bisect.bisect_right(keyframes, time_s + SAME_TIME_S, key=lambda keyframe: keyframe[0]) - 1
    return int(keyframes[max(k, 0)][1])


def playable_times(
    tracks: Sequence[TrackUnits], duration_s: float, byte_ranges: Iterable[tuple[int, int]]
) -> list[tuple[float, float]]:
    """The playable time ranges ``(t0, t1)`` given cached byte ranges ``(start, stop)`` (stop exclusive).

    ``tracks[0]`` is the main track (video, else audio); the others (the first audio track beside video) only
    narrow the answer where they have units. A moment is playable when every unit needed to decode it is cached.
    The result is sorted, disjoint and clipped to ``[0, duration_s]``.
    """
    primary, *secondary = tracks
    starts, stops = _merge_byte_ranges(byte_ranges)
    spans = _decodable_spans(primary, starts, stops)
    for track in secondary:
        allowed = _decodable_spans(track, starts, stops)
        lead_in = float(track.start.min())
        allowed = [(-math.inf, lead_in), *allowed, (track.end_time, math.inf)]
        spans = _intersect(spans, _union(allowed))
    return [(max(0.0, t0), min(t1, duration_s)) for t0, t1 in spans if t1 > 0 and t0 < duration_s]


def _merge_byte_ranges(byte_ranges: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, coalesced ``(starts, stops)`` arrays; empty and inverted ranges are dropped."""
    import numpy as np

    pairs = sorted((int(a), int(b)) for a, b in byte_ranges if b > a)
    starts: list[int] = []
    stops: list[int] = []
    for a, b in pairs:
        if stops and a <= stops[-1]:
            stops[-1] = max(stops[-1], b)
        else:
            starts.append(a)
            stops.append(b)
    return np.array(starts, dtype=np.int64), np.array(stops, dtype=np.int64)


def _decodable_spans(track: TrackUnits, starts: np.ndarray, stops: np.ndarray) -> list[tuple[float, float]]:
    """Merged presentation spans of the units whose bytes, and whose decode dependencies' bytes, are cached."""
    import numpy as np

    if len(starts) == 0 or len(track) == 0:
        return []
    slot = np.searchsorted(starts, track.offset, side="right") - 1
    present = (slot >= 0) & (stops[np.maximum(slot, 0)] >= track.offset + track.size)
    present |= track.size == 0
    group = np.cumsum(track.key)
    missing = ~present | (group == 0)
    missing_through = np.cumsum(missing)
    keys = np.flatnonzero(track.key)
    group_start = keys[np.maximum(group - 1, 0)] if len(keys) else np.zeros(len(track), dtype=np.int64)
    missing_before_group = missing_through[group_start] - missing[group_start]
    decodable = (group > 0) & (missing_through == missing_before_group)
    if not decodable.any():
        return []
    t0 = track.start[decodable]
    t1 = t0 + track.duration[decodable]
    order = np.argsort(t0, kind="stable")
    t0, t1 = t0[order], np.maximum.accumulate(t1[order])
    breaks = np.flatnonzero(t0[1:] > t1[:-1] + _JOIN_TOLERANCE_S)
    first = np.concatenate(([0], breaks + 1))
    last = np.concatenate((breaks, [len(t0) - 1]))
    return list(zip(t0[first].tolist(), t1[last].tolist(), strict=True))


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for t0, t1 in sorted(spans):
        if merged and t0 <= merged[-1][1] + _JOIN_TOLERANCE_S:
            merged[-1] = (merged[-1][0], max(merged[-1][1], t1))
        else:
            merged.append((t0, t1))
    return merged


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out
