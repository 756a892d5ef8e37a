"""The byte ↔ time map of one piece, whatever its container: the seek index the proxy and the GUI ask.

Every container index reduces to *units*: spans of bytes that carry a span of media time and can be decoded once
all units since the last key unit are present.

* MP4 sample tables give one unit per sample (or per chunk for constant-size samples, such as PCM audio): exact
  byte ranges, exact decode order, a sync flag from ``stss``.
* Matroska ``Cues`` give one unit per cue point: from a cued Cluster to the next cued one. Each starts with a
  keyframe and holds every track's blocks for that time, so the map is exact at cue points and conservative in
  between (a Cluster counts as cached only when all of it is).
* An MP4 ``sidx`` gives one unit per subsegment (a ``moof`` + ``mdat`` run of all tracks).

Units are kept in numpy arrays so that building and querying the map of an hour of video (hundreds of thousands
of samples) takes milliseconds.

"Exact" in :meth:`MediaIndex.time_ranges` means: a moment is reported cached when, for the main track (video,
else audio) and for the first audio track, every unit needed to decode it is cached — the unit itself and all
units of its track from the preceding key unit on, in decode order. Where an audio track has no samples (before
its first or after its last), it does not constrain the result. It is exact to the sample for MP4 sample tables;
where it is approximate:

* other audio tracks (a second language) and subtitle/data tracks are not consulted;
* Matroska and ``sidx`` units are whole Clusters/subsegments holding every track, so a partly cached one counts
  as missing (the answer errs on the side of "not cached");
* MP4 edit lists beyond the first edit (real cuts) are ignored: times are media times shifted by the first edit;
* :meth:`MediaIndex.time_at` interpolates inside a unit and is made monotonic in the offset (B-frames reorder
  presentation times), so it is a position on the timeline, not a frame's exact timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np

from proxy.media.errors import ContainerError
from proxy.media.playable import SAME_TIME_S, playable_times
from proxy.media.tracks import TrackUnits

__all__ = ["MediaIndex", "TrackUnits"]

#: A piece whose data stops less than this before its declared end is not reported as ending early.
_EARLY_MARGIN_S = 0.5


class MediaIndex:
    """Answers the byte ↔ time questions of one piece (see the module docstring for what "exact" means).

    ``primary`` is the track whose keyframes drive seeking (video, else audio); ``secondary`` tracks (the first
    audio track next to video) only narrow :meth:`time_ranges` and widen :meth:`seek_range`.
    """

    def __init__(
        self,
        source: str,
        primary: TrackUnits,
        secondary: Sequence[TrackUnits] = (),
        duration_s: float | None = None,
        media_bytes: int | None = None,
        notes: Sequence[str] = (),
        *,
        piece_size: int,
    ) -> None:
        import numpy as np

        notes = list(notes)
        declared = primary
        primary = _inside_piece(primary, piece_size, notes)
        if len(primary) == 0:
            raise ContainerError(f"the {primary.kind} track has no sample with bytes in the piece: nothing to index")
        self.source = source
        self.piece_size = piece_size
        self.primary = primary
        self.secondary = tuple(t for t in (_inside_piece(t, piece_size, notes) for t in secondary) if len(t))
        self.notes = tuple(notes)
        tracks = (primary, *self.secondary)
        self.duration_s = float(duration_s) if duration_s and duration_s > 0 else max(t.end_time for t in tracks)
        media_bytes = int(media_bytes) if media_bytes else int(sum(int(t.size.sum()) for t in tracks))
        self.media_bytes = min(media_bytes, piece_size)
        #: Where the media stops when the piece holds less than its index promises (a cut or damaged upload): the
        #: time of the first sample of the main track, in decode order, whose bytes are not in the piece. Else None.
        self.ends_early_s = _ends_early(declared, piece_size, self.duration_s)
        keys = np.flatnonzero(primary.key)
        if len(keys) == 0:
            keys = np.array([0])
            self.notes += ("the main track marks no keyframe: its first unit is taken as one",)
        order = np.argsort(primary.start[keys], kind="stable")
        self._key_decode_index = keys[order]
        self._key_time = primary.start[self._key_decode_index]
        self._key_offset = primary.offset[self._key_decode_index]
        by_offset = np.argsort(primary.offset, kind="stable")
        self._offset_sorted = primary.offset[by_offset]
        self._offset_size = primary.size[by_offset]
        self._offset_duration = primary.duration[by_offset]
        self._offset_time = np.maximum.accumulate(primary.start[by_offset])

    def __repr__(self) -> str:
        return (
            f"MediaIndex({self.source}, {len(self.primary)} {self.primary.kind} units, "
            f"{len(self._key_time)} keyframes, {self.duration_s:.3f} s, {self.byte_rate:.0f} B/s)"
        )

    @property
    def byte_rate(self) -> float:
        """Average bytes of media per second of playback (all tracks), 0.0 for a zero-length piece."""
        return self.media_bytes / self.duration_s if self.duration_s > 0 else 0.0

    def keyframes(self) -> list[tuple[float, int]]:
        """``(time_s, byte_offset)`` of every key unit of the main track, in time order.

        The offset is where a player starts reading to decode from that keyframe: the sync sample's first byte
        (MP4), the cued Cluster's first byte (Matroska), the subsegment's first byte (``sidx``).
        """
        return list(zip(self._key_time.tolist(), self._key_offset.tolist(), strict=True))

    def byte_at(self, time_s: float) -> int:
        """The byte offset a player needs first to show ``time_s``: the keyframe at or before it (clamped)."""
        k = self._key_at(time_s)
        return int(self._key_offset[k])

    def time_at(self, byte_offset: int) -> float:
        """The media time that byte of the piece belongs to (approximate, never decreasing with the offset).

        The main track's unit at or before the byte gives the time, interpolated inside the unit; bytes of
        other tracks between two units take the earlier unit's end. Before the first unit: the first unit's
        time; after the last: the end of the media.
        """
        import numpy as np

        i = int(np.searchsorted(self._offset_sorted, byte_offset, side="right")) - 1
        if i < 0:
            return float(self._offset_time[0])
        size = int(self._offset_size[i])
        inside = 1.0 if size <= 0 else min(1.0, (byte_offset - int(self._offset_sorted[i])) / size)
        time = float(self._offset_time[i] + inside * self._offset_duration[i])
        if i + 1 < len(self._offset_time):
            time = min(time, float(self._offset_time[i + 1]))
        return time

    def seek_range(self, time_s: float, ahead_s: float = 0.0) -> tuple[int, int]:
        """``(start, stop)`` bytes (stop exclusive) that decode ``time_s`` and the ``ahead_s`` seconds after it.

        It spans the main track's units from the keyframe at or before ``time_s`` through the last one shown
        before ``time_s + ahead_s``, and every secondary track's units overlapping that time: the bytes to
        prefetch when a user hovers over that point of the slider.
        """
        import numpy as np

        if not math.isfinite(ahead_s) or ahead_s < 0:
            raise ValueError(f"ahead_s must be a finite number ≥ 0, not {ahead_s!r}")
        k = self._key_at(time_s)
        key_time = float(self._key_time[k])
        first = int(self._key_decode_index[k])
        until = max(key_time, min(float(time_s), self.duration_s)) + ahead_s
        shown = np.flatnonzero(self.primary.start[first:] < until)
        last = first + (int(shown[-1]) if len(shown) else 0)
        chosen = slice(first, last + 1)
        start = int(self.primary.offset[chosen].min())
        stop = int((self.primary.offset[chosen] + self.primary.size[chosen]).max())
        for track in self.secondary:
            overlap = (track.start < until) & (track.start + track.duration > key_time)
            if overlap.any():
                start = min(start, int(track.offset[overlap].min()))
                stop = max(stop, int((track.offset[overlap] + track.size[overlap]).max()))
        # Units were checked to lie in the piece (the constructor); the clamp keeps that a promise of this method.
        stop = max(0, min(stop, self.piece_size))
        return min(max(0, start), stop), stop

    def time_ranges(self, byte_ranges: Iterable[tuple[int, int]]) -> list[tuple[float, float]]:
        """The playable time ranges ``(t0, t1)`` given cached byte ranges ``(start, stop)`` (stop exclusive).

        A moment is playable when every unit needed to decode it is cached (module docstring). The result is
        sorted, disjoint and clipped to ``[0, duration_s]``.
        """
        return playable_times((self.primary, *self.secondary), self.duration_s, byte_ranges)

    def _key_at(self, time_s: float) -> int:
        import numpy as np

        if not math.isfinite(time_s):
            raise ValueError(f"time must be a finite number of seconds, not {time_s!r}")
        k = int(np.searchsorted(self._key_time, time_s + SAME_TIME_S, side="right")) - 1
        return max(k, 0)


def _inside_piece(track: TrackUnits, piece_size: int, notes: list[str]) -> TrackUnits:
    """The track without units whose bytes are not all inside the piece, with a note when any were dropped.

    A truncated upload keeps its whole sample table while its media stops early, and a crafted table can point
    anywhere: a unit outside the piece would send a prefetch past its end.
    """
    inside = _inside(track, piece_size)
    if inside.all():
        return track
    kept = int(inside.sum())
    notes.append(
        f"{len(track) - kept} of {len(track)} {track.kind} units lie outside the piece's {piece_size} bytes "
        "(a truncated upload?): they are not indexed"
    )
    return TrackUnits(
        track.kind,
        track.start[inside],
        track.duration[inside],
        track.offset[inside],
        track.size[inside],
        track.key[inside],
    )


def _inside(track: TrackUnits, piece_size: int) -> np.ndarray:
    return (track.offset >= 0) & (track.size >= 0) & (track.offset <= piece_size - track.size)


def _ends_early(declared: TrackUnits, piece_size: int, duration_s: float) -> float | None:
    """The presentation time from which the main track's samples are missing (see ``MediaIndex.ends_early_s``)."""
    import numpy as np

    inside = _inside(declared, piece_size)
    if inside.all():
        return None
    first_missing = int(np.argmin(inside))  # the first False, in decode order
    end = max(0.0, float(declared.start[first_missing:].min()))
    return end if end < duration_s - _EARLY_MARGIN_S else None
