"""Where a cut Matroska piece's data stops, from the Clusters in its last bytes (RFC 9559 §5.1.3).

FFmpeg and mkvmerge write the ``Cues`` after the last Cluster, so a piece cut short (an interrupted upload, a
recording that never finished) keeps a header promising the whole Duration and no index at all: without this,
the player only learns where the data stops by seeking there and waiting. The piece's tail holds the last
Clusters: each starts with its ``Timestamp``, and each ``SimpleBlock``/``Block`` adds a signed 16-bit offset to
it, so the last complete block of a track is the last moment the piece can show.

The tail starts anywhere inside a Cluster, so the first Cluster is found by its 4-byte ID and accepted only when
its header and its first child (the ``Timestamp``, after a CRC-32) parse; from there Clusters are walked in
order, as a demuxer would, until the bytes run out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from proxy.media.ebml import read_element
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.matroska import CLUSTER, CRC32, VOID

CLUSTER_ID = CLUSTER.to_bytes(4, "big")
TIMESTAMP = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
REFERENCE_BLOCK = 0xFB
#: A Cluster ID found in block data by chance is tried at most this many times before the tail is given up.
_MAX_FALSE_STARTS = 64


@dataclass(frozen=True)
class TailCluster:
    """One Cluster in the tail: its position, its Timestamp (ticks), whether the track's first block in it is a
    keyframe, and where the track's blocks whose bytes are all in the piece stop showing (ticks; None if none)."""

    position: int
    ticks: int
    key: bool
    data_end_ticks: int | None


def tail_clusters(tail: bytes | memoryview, offset: int, track: int) -> list[TailCluster]:
    """The Clusters of the piece's bytes ``tail`` (starting at byte ``offset``), for blocks of ``track``.

    Raises :class:`ContainerError` when no Cluster starts in the tail.
    """
    data = memoryview(tail)
    start = 0
    for _attempt in range(_MAX_FALSE_STARTS):
        start = bytes(data).find(CLUSTER_ID, start)
        if start < 0:
            break
        clusters = _walk(data, start, offset, track)
        if clusters:
            return clusters
        start += 1
    raise ContainerError(f"no Cluster starts in the last {len(data)} bytes of the piece")


def _walk(data: memoryview, pos: int, offset: int, track: int) -> list[TailCluster]:
    """Clusters one after another from ``pos`` until the data ends or stops being Clusters."""
    clusters: list[TailCluster] = []
    while pos < len(data):
        try:
            cluster = read_element(data, pos, offset)
        except ContainerError:
            break
        if cluster.id != CLUSTER:
            break
        found = _cluster(data, cluster.data_start - offset, cluster.end, offset, track)
        if found is None:
            break
        clusters.append(TailCluster(cluster.start, *found))
        if cluster.end is None or cluster.end - offset >= len(data):
            break
        pos = cluster.end - offset
    return clusters


def _cluster(
    data: memoryview, pos: int, end: int | None, offset: int, track: int
) -> tuple[int, bool, int | None] | None:
    """(Timestamp, first block of ``track`` is a keyframe, where its complete blocks stop), or None if not a Cluster."""
    stop = len(data) if end is None else min(len(data), end - offset)
    try:
        first = read_element(data, pos, offset)
        while first.id in (CRC32, VOID) and first.end is not None:  # FFmpeg starts each Cluster with a CRC-32
            first = read_element(data, first.end - offset, offset)
    except ContainerError:
        return None
    if first.id != TIMESTAMP or first.end is None or first.size > 8 or first.end - offset > stop:
        return None
    ticks = int.from_bytes(data[first.data_start - offset : first.end - offset], "big")
    key: bool | None = None
    times: list[int] = []
    pos = first.end - offset
    while pos < stop:
        try:
            child = read_element(data, pos, offset)
        except TruncatedError:
            break
        except ContainerError:
            return None  # a Cluster ID in block data by chance: its children do not parse
        if child.end is None or child.end - offset > stop:
            break  # the block the piece was cut in
        block = _block(data, child, offset)
        if block is not None and block[0] == track:
            key = block[2] if key is None else key
            times.append(ticks + block[1])
        pos = child.end - offset
    return ticks, bool(key), _end_of(times)


def _end_of(times: list[int]) -> int | None:
    """Where the blocks at ``times`` stop showing: the latest one (B-frames are stored out of order) plus one
    frame, the smallest gap between them — as an MP4's end is its first missing sample's time."""
    if not times:
        return None
    ordered = sorted(set(times))
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    return ordered[-1] + (min(gaps) if gaps else 0)


def _block(data: memoryview, child, offset: int) -> tuple[int, int, bool] | None:
    """(track, relative timestamp, keyframe) of a SimpleBlock or a BlockGroup's Block; None for other children."""
    start, end = child.data_start - offset, child.end - offset
    if child.id == SIMPLE_BLOCK:
        return _block_header(data, start, end, simple=True)
    if child.id != BLOCK_GROUP:
        return None
    header, referenced = None, False
    pos = start
    while pos < end:
        try:
            part = read_element(data, pos, offset)
        except ContainerError:
            return None
        if part.end is None or part.end - offset > end:
            return None
        if part.id == BLOCK:
            header = _block_header(data, part.data_start - offset, part.end - offset, simple=False)
        elif part.id == REFERENCE_BLOCK:
            referenced = True
        pos = part.end - offset
    return None if header is None else (header[0], header[1], not referenced)


def _block_header(data: memoryview, start: int, end: int, *, simple: bool) -> tuple[int, int, bool] | None:
    """A block's track number (an EBML vint), signed 16-bit timestamp and, for a SimpleBlock, its keyframe flag."""
    if start >= end:
        return None
    length = 9 - data[start].bit_length() if data[start] else 9
    if length > 8 or start + length + 3 > end:
        return None
    track = int.from_bytes(data[start : start + length], "big") & ((1 << (7 * length)) - 1)
    relative = int.from_bytes(data[start + length : start + length + 2], "big", signed=True)
    flags = data[start + length + 2]
    return track, relative, bool(flags & 0x80) if simple else True
