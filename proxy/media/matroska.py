"""Matroska/WebM (RFC 9559, EBML RFC 8794): the Segment's head, and where ``Cues`` are (the index is built in
:mod:`proxy.media.matroska_cues`).

A Matroska file is an EBML header (DocType ``matroska`` or ``webm``) and a ``Segment``. The Segment starts with a
``SeekHead`` listing where its other top-level elements are, as offsets from the Segment's data start; muxers
(FFmpeg, mkvmerge) write ``Cues`` — the seek index — after the last ``Cluster``. FFmpeg's demuxer reads the
elements the SeekHead points to past the head (``Tags``, ``Chapters``, ``Attachments``, a second ``SeekHead``)
while opening, and ``Cues`` at the first seek: those are the out-of-order reads the proxy can prefetch.

Element IDs used (RFC 9559 §5.1): EBML 0x1A45DFA3, DocType 0x4282, Segment 0x18538067, SeekHead 0x114D9B74,
Seek 0x4DBB, SeekID 0x53AB, SeekPosition 0x53AC, Info 0x1549A966, TimestampScale 0x2AD7B1, Duration 0x4489,
Tracks 0x1654AE6B, TrackEntry 0xAE, TrackNumber 0xD7, TrackType 0x83, Cues 0x1C53BB6B, CuePoint 0xBB, CueTime 0xB3,
CueTrackPositions 0xB7, CueTrack 0xF7, CueClusterPosition 0xF1, Cluster 0x1F43B675, Tags 0x1254C367,
Chapters 0x1043A770, Attachments 0x1941A469, Void 0xEC, CRC-32 0xBF.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property

from proxy.media.budget import MAX_SEEK_ENTRIES
from proxy.media.ebml import (
    MAX_HEADER,
    Element,
    children,
    raw_children,
    raw_uint,
    read_element,
    read_float,
    read_uint,
)
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.layout import ByteSpan, ContainerKind, ContainerLayout

EBML = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
SEEK = 0x4DBB
SEEK_ID = 0x53AB
SEEK_POSITION = 0x53AC
INFO = 0x1549A966
TIMESTAMP_SCALE = 0x2AD7B1
DURATION = 0x4489
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
CUES = 0x1C53BB6B
CUE_POINT = 0xBB
CUE_TIME = 0xB3
CUE_TRACK_POSITIONS = 0xB7
CUE_TRACK = 0xF7
CUE_CLUSTER_POSITION = 0xF1
CLUSTER = 0x1F43B675
TAGS = 0x1254C367
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF

NAMES = {
    SEEK_HEAD: "SeekHead",
    INFO: "Info",
    TRACKS: "Tracks",
    CUES: "Cues",
    CLUSTER: "Cluster",
    TAGS: "Tags",
    CHAPTERS: "Chapters",
    ATTACHMENTS: "Attachments",
}
#: RFC 9559: TimestampScale defaults to 1 000 000 ns (timestamps in milliseconds).
_DEFAULT_TIMESTAMP_SCALE = 1_000_000
#: Elements a player reads out of order when the SeekHead lists them past the head (FFmpeg's matroskadec).
_OUT_OF_ORDER = frozenset({SEEK_HEAD, CUES, TAGS, CHAPTERS, ATTACHMENTS})
#: The longest head the layout may ask for (a SeekHead behind huge elements is not sought further).
MAX_HEAD_BYTES = 4 << 20
#: The end of a cut piece read to find its last Clusters when its Cues were past the cut: FFmpeg closes a Cluster
#: every 5 s or 5 MiB, so this holds a Cluster's start unless the bitrate is above ~3 MB/s.
CUT_TAIL_BYTES = 2 << 20


@dataclass
class SegmentHead:
    """What the head says about the Segment: where its data starts and ends, where its elements are."""

    kind: ContainerKind
    data_start: int
    end: int
    #: Where the Segment's size says it ends, even past the piece (None for an unknown size): see :attr:`cut`.
    declared_end: int | None = None
    #: Top-level elements whose headers are in the head (first of each ID), in file order.
    seen: dict[int, Element] = field(default_factory=dict)
    #: (ID, absolute position) of every SeekHead entry read.
    seek_entries: list[tuple[int, int]] = field(default_factory=list)
    first_cluster: int | None = None
    #: Where reading the head in order stopped (first Cluster, end of the head, or the end of the Segment).
    stopped_at: int = 0

    @cached_property
    def positions(self) -> list[int]:
        """Every known element position, sorted once (asked once per SeekHead entry: re-sorting was quadratic)."""
        known = {pos for _id, pos in self.seek_entries} | {e.start for e in self.seen.values()} | {self.end}
        if self.first_cluster is not None:
            known.add(self.first_cluster)
        return sorted(known)

    def bound(self, pos: int) -> int:
        """The next known element position after ``pos``, or the Segment's end: an element at ``pos`` ends there."""
        positions = self.positions
        at = bisect.bisect_right(positions, pos)
        return positions[at] if at < len(positions) else self.end

    @property
    def cut(self) -> bool:
        """The Segment's size promises more bytes than the piece holds: a cut or damaged upload."""
        return self.declared_end is not None and self.declared_end > self.end

    @property
    def cues_listed(self) -> bool:
        """The head holds the Cues, or the SeekHead points at Cues inside the piece."""
        return CUES in self.seen or any(element_id == CUES for element_id, _pos in self.seek_entries)


def parse_segment_head(head: bytes | memoryview, size: int) -> SegmentHead:
    """Read the EBML header, the Segment header and the top-level elements before the first Cluster in ``head``.

    Raises :class:`TruncatedError` (with the head length needed) when the head ends before the SeekHead has been
    read, :class:`ContainerError` for anything malformed.
    """
    data = memoryview(head)[:size]
    kind, pos = read_ebml_header(data, size)
    while True:
        segment = read_element(data, pos)
        if segment.id not in (VOID, CRC32):
            break
        pos = _whole(data, segment, size).end
    if segment.id != SEGMENT:
        raise ContainerError(f"expected a Segment at byte {segment.start}, found element 0x{segment.id:x}")
    end = size if segment.end is None else min(segment.end, size)
    found = SegmentHead(kind, segment.data_start, end, declared_end=segment.end)
    pos = segment.data_start
    while pos < end:
        try:
            element = read_element(data, pos)
        except TruncatedError:
            if found.seek_entries:
                break
            raise
        if element.id == CLUSTER:
            found.first_cluster = element.start
            break
        if element.end is None or element.end > end:
            raise ContainerError(f"element 0x{element.id:x} at byte {element.start} overruns the Segment")
        found.seen.setdefault(element.id, element)
        if element.end > len(data):
            if found.seek_entries:
                break
            name = NAMES.get(element.id, f"element 0x{element.id:x}")
            raise TruncatedError(f"{name} at byte {pos} ends past the head", element.end + MAX_HEADER)
        if element.id == SEEK_HEAD:
            found.seek_entries += _seek_entries(data, element, found.data_start, end, len(found.seek_entries))
        pos = element.end
    found.stopped_at = pos
    return found


def read_ebml_header(head: bytes | memoryview, size: int) -> tuple[ContainerKind, int]:
    """(MATROSKA or WEBM from the DocType, position after the EBML header); raises like :func:`parse_segment_head`."""
    data = memoryview(head)[:size]
    ebml = _whole(data, read_element(data, 0), size)
    if ebml.id != EBML:
        raise ContainerError(f"no EBML header at byte 0 (ID 0x{ebml.id:x})")
    return _doc_type(data, ebml), ebml.end


def _whole(data: memoryview, element: Element, size: int) -> Element:
    if element.end is None:
        raise ContainerError(f"element 0x{element.id:x} at byte {element.start} has an unknown size")
    if element.end > size:
        raise ContainerError(f"element 0x{element.id:x} at byte {element.start} runs past the end of the piece")
    if element.end > len(data):
        message = f"element 0x{element.id:x} at byte {element.start} ends past the head"
        raise TruncatedError(message, element.end + MAX_HEADER)
    return element


def _doc_type(data: memoryview, ebml: Element) -> ContainerKind:
    doc_type = "matroska"  # RFC 8794 §11.2.6: the default DocType
    for child in children(data, ebml.data_start, ebml.end):
        if child.id == DOC_TYPE:
            doc_type = bytes(data[child.data_start : child.end]).rstrip(b"\0").decode("ascii", "replace")
    if doc_type == "webm":
        return ContainerKind.WEBM
    if doc_type == "matroska":
        return ContainerKind.MATROSKA
    raise ContainerError(f"EBML DocType {doc_type!r} is not Matroska or WebM")


def _seek_entries(
    data: memoryview, seek_head: Element, data_start: int, end: int, before: int = 0
) -> list[tuple[int, int]]:
    """(element ID, absolute position) of each complete Seek entry that points inside the Segment.

    ``before`` entries were read from earlier SeekHeads; more than ``MAX_SEEK_ENTRIES`` in all is refused. Walked
    with plain integers (:func:`_raw_children`): this runs on the proxy's loop as the head arrives.
    """
    base = seek_head.data_start
    raw = bytes(data[base : seek_head.end])
    entries = []
    for seek_id, start, stop in raw_children(raw, 0, len(raw), base, "SeekHead"):
        if seek_id != SEEK:
            continue
        if before + len(entries) >= MAX_SEEK_ENTRIES:
            raise ContainerError(
                f"SeekHead at byte {seek_head.start} lists more than {MAX_SEEK_ENTRIES} entries (real ones list ten)"
            )
        element_id = position = None
        for child_id, child_start, child_stop in raw_children(raw, start, stop, base, "SeekHead"):
            if child_id == SEEK_ID and child_stop - child_start <= 4:
                element_id = int.from_bytes(raw[child_start:child_stop], "big")
            elif child_id == SEEK_POSITION:
                position = raw_uint(raw, child_start, child_stop)
        if element_id is not None and position is not None and data_start + position < end:
            entries.append((element_id, data_start + position))
    return entries


# --- layout ----------------------------------------------------------------------------------------------


def sniff_matroska_layout(head: bytes | memoryview, size: int) -> ContainerLayout:
    """The layout of a Matroska/WebM piece from its first bytes; raises :class:`ContainerError`."""
    kind = ContainerKind.MATROSKA
    try:
        kind, _pos = read_ebml_header(head, size)
        segment = parse_segment_head(head, size)
    except TruncatedError as cut:
        needed = min(cut.needed, size)
        if needed > MAX_HEAD_BYTES:
            raise ContainerError(f"no SeekHead within the first {MAX_HEAD_BYTES} bytes") from None
        return ContainerLayout(kind, f"{cut}: need {needed} bytes", needs_more=needed)
    available = min(len(head), size)
    sequential_end = segment.first_cluster if segment.first_cluster is not None else available
    prefetch = []
    listed: set[int] = set()
    for element_id, pos in sorted(segment.seek_entries, key=lambda entry: entry[1]):
        # Only the elements FFmpeg reads out of order, once each: a SeekHead listing thousands of entries
        # must not turn into thousands of prefetches.
        if element_id not in _OUT_OF_ORDER or element_id in listed or pos < sequential_end:
            continue
        listed.add(element_id)
        span = _span(head, segment, element_id, pos)
        if span.stop > available:
            prefetch.append(span)
    index, where = _cues_span(head, segment)
    if index is None and segment.cut and segment.first_cluster is not None:
        start = max(segment.first_cluster, size - CUT_TAIL_BYTES)
        index = ByteSpan(start, size, "the last Clusters (cut before its Cues)", exact=False, at_open=False)
        reason = f"{segment.kind.value}: cut at byte {size} of the {segment.declared_end} promised, no Cues"
    elif index is None:
        reason = f"{segment.kind.value}: no Cues listed in the SeekHead or before the first Cluster"
    else:
        reason = f"{segment.kind.value}: Cues {where} at bytes {index.start}–{index.last}"
    try:
        scale, ticks = segment_info(memoryview(head)[:size], segment)
        duration_s = ticks * scale / 1e9 if ticks > 0 else None
    except ContainerError:
        duration_s = None
    return ContainerLayout(segment.kind, reason, index=index, prefetch=tuple(prefetch), duration_s=duration_s)


def _span(head: bytes | memoryview, segment: SegmentHead, element_id: int, pos: int) -> ByteSpan:
    """The span of the element at ``pos``: exact if its header is in the head, else up to the next known one."""
    name = NAMES.get(element_id, f"element 0x{element_id:x}")
    at_open = element_id != CUES
    stop = segment.bound(pos)
    try:
        element = read_element(head, pos)
    except ContainerError:  # not in the head (TruncatedError), or the SeekHead points at garbage
        element = None
    if element is not None and element.id == element_id and element.end is not None and element.end <= segment.end:
        return ByteSpan(pos, element.end, name, exact=True, at_open=at_open)
    return ByteSpan(pos, stop, name, exact=False, at_open=at_open)


def _cues_span(head: bytes | memoryview, segment: SegmentHead) -> tuple[ByteSpan | None, str]:
    cues = segment.seen.get(CUES)
    if cues is not None and cues.end is not None:
        return ByteSpan(cues.start, cues.end, "Cues", at_open=False), "before the Clusters"
    pos = next((p for element_id, p in segment.seek_entries if element_id == CUES), None)
    if pos is None:
        return None, ""
    return _span(head, segment, CUES, pos), "(read at the first seek)"


def segment_info(data: memoryview, segment: SegmentHead) -> tuple[int, float]:
    """(TimestampScale in ns, Duration in ticks, 0.0 when absent or absurd) from the head's Segment Info."""
    info = segment.seen.get(INFO)
    if info is None or info.end is None or info.end > len(data):
        raise ContainerError("the Segment Info (timestamp scale, duration) is not in the head")
    scale, duration = _DEFAULT_TIMESTAMP_SCALE, 0.0
    for child in children(data, info.data_start, info.end):
        if child.id == TIMESTAMP_SCALE:
            scale = read_uint(data, child) or _DEFAULT_TIMESTAMP_SCALE
        elif child.id == DURATION:
            duration = read_float(data, child)
    if not duration >= 0 or duration == float("inf"):
        duration = 0.0
    return scale, duration
