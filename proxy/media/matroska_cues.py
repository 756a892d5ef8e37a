"""The Matroska/WebM byte ↔ time map from ``Cues`` (RFC 9559 §5.1.5): one unit per cued Cluster of the main track.

The head (:mod:`proxy.media.matroska`) says where the Segment's elements are; this reads Info (timestamp scale,
duration) and Tracks from the head and the Cues from the head or from the bytes the prefetcher fetched for them,
charging every cue point to the index budget, since a crafted file can list millions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np

from proxy.media.budget import CUE_POINT_BYTES, IndexBudget
from proxy.media.ebml import Element, children, raw_children, raw_uint, read_element, read_uint
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.index import MediaIndex
from proxy.media.matroska import (
    CUE_CLUSTER_POSITION,
    CUE_POINT,
    CUE_TIME,
    CUE_TRACK,
    CUE_TRACK_POSITIONS,
    CUES,
    TRACK_ENTRY,
    TRACK_NUMBER,
    TRACK_TYPE,
    TRACKS,
    SegmentHead,
    parse_segment_head,
    segment_info,
)
from proxy.media.matroska_tail import tail_clusters
from proxy.media.tracks import TrackUnits

#: TrackType values (RFC 9559 §5.1.4.1.3).
_VIDEO, _AUDIO = 1, 2
#: Cue points are charged to the index budget this many at a time.
_CUE_BATCH = 4096


def build_matroska_index(
    head: bytes | memoryview, size: int, index_bytes: bytes | memoryview, index_offset: int
) -> MediaIndex:
    """The cue-point index: Info and Tracks from the head, Cues from the head or from ``index_bytes``.

    A piece cut before its Cues (:attr:`SegmentHead.cut`) is mapped from the Clusters of its tail instead, which
    ``index_bytes`` then hold (:data:`proxy.media.matroska.CUT_TAIL_BYTES`).
    """
    segment = parse_segment_head(head, size)
    data = memoryview(head)[:size]
    scale, duration_ticks = segment_info(data, segment)
    duration_s = duration_ticks * scale / 1e9 if duration_ticks > 0 else None
    track_types = _track_types(data, segment)
    if segment.cut and not segment.cues_listed:
        return _cut_index(segment, track_types, scale, duration_s, memoryview(index_bytes), index_offset)
    cues_data, cues, base = _cues_element(data, segment, memoryview(index_bytes), index_offset)
    points = _cue_points(cues_data, cues, base, segment.data_start, IndexBudget())
    if not points:
        raise ContainerError(f"Cues at byte {cues.start} hold no cue point")
    chosen = _main_track(track_types, points)
    times, offsets = _unit_starts([(t, pos) for t, track, pos in points if track == chosen], segment)
    kind = {_VIDEO: "video", _AUDIO: "audio"}.get(track_types.get(chosen, 0), "other")
    notes = [f"cue points of track {chosen} ({kind}); a Cluster span counts as cached only when all of it is"]
    units = _cluster_units(times * scale / 1e9, offsets, _unit_end(segment, int(offsets[-1])), duration_s)
    return MediaIndex(f"{segment.kind.value} cues", units, duration_s=duration_s, notes=notes, piece_size=size)


def _cut_index(
    segment: SegmentHead,
    track_types: dict[int, int],
    scale: int,
    duration_s: float | None,
    tail: memoryview,
    tail_offset: int,
) -> MediaIndex:
    """A coarse map of a piece cut before its Cues: the first Cluster, the tail's Clusters, and the rest missing.

    The missing rest is one unit past the piece's end, starting where the main track's complete blocks stop:
    :attr:`MediaIndex.ends_early_s` then says where the data stops, as for an MP4 whose samples are cut off.
    """
    import numpy as np

    if segment.first_cluster is None or not tail:
        raise ContainerError("a cut Matroska piece: neither its first Cluster nor its tail is known")
    chosen = _first_track(track_types)
    clusters = [c for c in tail_clusters(tail, tail_offset, chosen) if c.position > segment.first_cluster]
    ends = [c.data_end_ticks for c in clusters if c.data_end_ticks is not None]
    if not ends:
        raise ContainerError(f"a cut Matroska piece: no complete block of track {chosen} in its tail")
    end_s = max(ends) * scale / 1e9
    times = [0.0, *(c.ticks * scale / 1e9 for c in clusters), end_s]
    offsets = [segment.first_cluster, *(c.position for c in clusters), segment.end]
    missing = segment.declared_end - segment.end  # past the piece: MediaIndex drops this unit and says it ends early
    units = _cluster_units(np.array(times), np.array(offsets), segment.end + missing, duration_s or end_s)
    units.key[1:-1] = [c.key for c in clusters]
    notes = [
        f"cut at byte {segment.end} of the {segment.declared_end} its Segment promises, before its Cues: "
        f"mapped from the first Cluster and the {len(clusters)} in its last {len(tail)} bytes"
    ]
    return MediaIndex(f"{segment.kind.value} tail", units, duration_s=duration_s, notes=notes, piece_size=segment.end)


def _cluster_units(starts: np.ndarray, offsets: np.ndarray, last_end: int, duration_s: float | None) -> TrackUnits:
    """One key unit per Cluster span: from one Cluster to the next, the last one to ``last_end``."""
    import numpy as np

    end_time = duration_s if duration_s is not None else float(starts[-1])
    return TrackUnits(
        kind="cluster",
        start=starts,
        duration=np.maximum(np.append(starts[1:], end_time) - starts, 0.0),
        offset=offsets,
        size=np.append(offsets[1:], last_end) - offsets,
        key=np.ones(len(offsets), dtype=bool),
    )


def _unit_end(segment: SegmentHead, last: int) -> int:
    """Where the last cued Cluster ends: at the next known element, or where the Segment says it ends."""
    bound = segment.bound(last)
    if bound > last or segment.declared_end is None:
        return bound
    return segment.declared_end


def _track_types(data: memoryview, segment: SegmentHead) -> dict[int, int]:
    """TrackNumber → TrackType for the tracks in the head's Tracks element (empty if it is not there)."""
    tracks = segment.seen.get(TRACKS)
    if tracks is None or tracks.end is None or tracks.end > len(data):
        return {}
    types = {}
    for entry in children(data, tracks.data_start, tracks.end):
        if entry.id != TRACK_ENTRY:
            continue
        number = kind = None
        for child in children(data, entry.data_start, entry.end):
            if child.id == TRACK_NUMBER:
                number = read_uint(data, child)
            elif child.id == TRACK_TYPE:
                kind = read_uint(data, child)
        if number is not None and kind is not None:
            types[number] = kind
    return types


def _cues_element(
    head: memoryview, segment: SegmentHead, index_bytes: memoryview, index_offset: int
) -> tuple[memoryview, Element, int]:
    """(buffer, Cues element, buffer's absolute offset): from the head if it is there, else from ``index_bytes``."""
    cues = segment.seen.get(CUES)
    if cues is not None and cues.end is not None and cues.end <= len(head):
        return head, cues, 0
    if not index_bytes:
        raise ContainerError("Cues are not in the head and no index bytes were given")
    cues = read_element(index_bytes, 0, index_offset)
    if cues.id != CUES:
        raise ContainerError(f"the index bytes at byte {index_offset} are element 0x{cues.id:x}, not Cues")
    if cues.end is None:
        raise ContainerError(f"Cues at byte {index_offset} have an unknown size")
    if cues.end - index_offset > len(index_bytes):
        message = f"Cues at byte {index_offset} ({cues.size} bytes) are not all in the {len(index_bytes)} bytes given"
        raise TruncatedError(message, cues.end)
    return index_bytes, cues, index_offset


def _cue_points(
    data: memoryview, cues: Element, base: int, data_start: int, budget: IndexBudget
) -> list[tuple[int, int, int]]:
    """(CueTime, CueTrack, absolute Cluster position) for every complete CueTrackPositions.

    A long file has thousands of cue points, so this walks the Cues bytes with plain integers rather than
    :class:`Element` objects (ten times faster); every child must still fit inside its parent.
    """
    raw = bytes(data[cues.data_start - base : cues.end - base])
    points: list[tuple[int, int, int]] = []
    charged = 0
    for point_id, start, stop in raw_children(raw, 0, len(raw), cues.data_start, "Cues"):
        if point_id != CUE_POINT:
            continue
        time = None
        positions = []
        for child_id, child_start, child_stop in raw_children(raw, start, stop, cues.data_start, "Cues"):
            if child_id == CUE_TIME:
                time = raw_uint(raw, child_start, child_stop)
            elif child_id == CUE_TRACK_POSITIONS:
                track = cluster = None
                for item_id, item_start, item_stop in raw_children(
                    raw, child_start, child_stop, cues.data_start, "Cues"
                ):
                    if item_id == CUE_TRACK:
                        track = raw_uint(raw, item_start, item_stop)
                    elif item_id == CUE_CLUSTER_POSITION:
                        cluster = raw_uint(raw, item_start, item_stop)
                if track is not None and cluster is not None:
                    positions.append((track, data_start + cluster))
        if time is not None:
            points += [(time, track, pos) for track, pos in positions]
            while len(points) - charged >= _CUE_BATCH:  # charged a batch at a time: Cues can list millions
                budget.spend_units(_CUE_BATCH, f"Cues at byte {cues.start}", CUE_POINT_BYTES)
                charged += _CUE_BATCH
    return points


def _first_track(track_types: dict[int, int]) -> int:
    """The first video track, else the first audio track, else track 1 (a piece with no Tracks in its head)."""
    for wanted in (_VIDEO, _AUDIO):
        for number, kind in sorted(track_types.items()):
            if kind == wanted:
                return number
    return 1


def _main_track(track_types: dict[int, int], points: list[tuple[int, int, int]]) -> int:
    """The cued video track, else the cued audio track, else the most cued track."""
    cued = [track for _time, track, _pos in points]
    for wanted in (_VIDEO, _AUDIO):
        for number, kind in sorted(track_types.items()):
            if kind == wanted and number in cued:
                return number
    return max(set(cued), key=cued.count)


def _unit_starts(points: list[tuple[int, int]], segment: SegmentHead) -> tuple[np.ndarray, np.ndarray]:
    """Cue times and Cluster positions, in time order, keeping only Clusters further into the file than the last."""
    import numpy as np

    times, offsets = [], []
    for time, pos in sorted(points):
        if pos >= (segment.declared_end or segment.end):
            continue  # cue points past the piece but inside the Segment stay: the map says the piece ends early
        if offsets and pos <= offsets[-1]:
            continue
        times.append(time)
        offsets.append(pos)
    if not offsets:
        raise ContainerError("no cue point inside the Segment")
    if segment.first_cluster is not None and segment.first_cluster < offsets[0] and times[0] > 0:
        times.insert(0, 0)
        offsets.insert(0, segment.first_cluster)
    return np.array(times, dtype=np.float64), np.array(offsets, dtype=np.int64)
