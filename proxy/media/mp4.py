"""MP4/MOV (ISO/IEC 14496-12): where ``moov`` is, from the top-level boxes in a piece's head; and its index.

A player reads an MP4's top-level boxes in order and skips the bodies it does not need with a seek. So when
``mdat`` (the media) comes before ``moov`` (the index), the player's second request is for the bytes after
``mdat``: the proxy can fetch them while the player is still reading the head. The box after ``mdat`` starts at
``mdat``'s offset + size; we report from there to the end of the piece (``moov`` and, rarely, small boxes such
as ``free``/``udta`` after it) as a bound, since its header is not in the head.

Fragmented MP4 (``moov`` with ``mvex``, then ``moof``+``mdat`` pairs) keeps no sample table in ``moov``; its
index comes from the ``moof`` boxes, a ``sidx`` or an ``mfra`` (``proxy.media.fragmented``).
"""

from __future__ import annotations

from collections.abc import Iterator

from proxy.media.boxes import Box, first_child, read_box
from proxy.media.budget import IndexBudget
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.fragmented import fragmented_index
from proxy.media.index import MediaIndex
from proxy.media.layout import ByteSpan, ContainerKind, ContainerLayout
from proxy.media.mp4_tables import Mp4Movie, Mp4Track, movie_timing, parse_moov

#: Box types an MP4/MOV may start with (QuickTime files can start with ``wide``, ``free``, ``mdat`` or ``pnot``).
FIRST_BOX_TYPES = frozenset(
    {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"sidx", b"moof", b"pdin", b"uuid"}
)
#: The longest head the layout may ask for; an index further in than this (behind a huge box) is not sought.
MAX_HEAD_BYTES = 4 << 20
#: Top-level boxes walked before ``moov``/``mdat`` (a real file has a handful; a crafted one, a megabyte of them).
MAX_TOP_LEVEL_BOXES = 4096


def looks_like_mp4(head: bytes | memoryview) -> bool:
    return len(head) >= 8 and bytes(head[4:8]) in FIRST_BOX_TYPES


def sniff_mp4_layout(head: bytes | memoryview, size: int) -> ContainerLayout:
    """The layout of an MP4 piece of ``size`` bytes from its first bytes; raises :class:`ContainerError`."""
    data = memoryview(head)[:size]
    pos = 0
    moov: Box | None = None
    mdat: Box | None = None
    sidx: list[Box] = []
    fragmented = False
    for _walked in range(MAX_TOP_LEVEL_BOXES):
        if pos >= size:
            break
        try:
            box = read_box(data, pos, size)
        except TruncatedError as cut:
            if len(data) >= size:
                break  # the whole piece is here; fewer than 8 bytes trail its last box
            if mdat is not None and moov is None:
                return _moov_in_tail(pos, size, mdat)
            return _needs_more(cut.needed, size)
        if not all(0x20 <= c < 0x7F for c in box.type):
            raise ContainerError(f"bytes {box.start}–{box.start + 7} are not a box header (type {box.type!r})")
        if box.type == b"moov":
            moov = box
            if box.end <= len(data):
                fragmented |= first_child(data, box, b"mvex") is not None
            if not fragmented:
                break
        elif box.type == b"mdat":
            if moov is not None:
                break
            if box.end >= size:
                raise ContainerError(f"mdat at byte {box.start} runs to the end of the piece and no moov precedes it")
            mdat = box
        elif box.type in (b"moof", b"styp"):
            fragmented = True
            break
        elif box.type == b"sidx":
            sidx.append(box)
            fragmented = True
        pos = box.end
    else:
        if pos < size:
            raise ContainerError(f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes before byte {pos}")
    duration_s = _duration_in_head(data, moov)
    if fragmented:
        return _fragmented(moov, sidx, duration_s)
    if moov is None:
        raise ContainerError("no moov box in the piece")
    span = ByteSpan(moov.start, moov.end, "moov")
    if mdat is None:
        reason = f"moov at the front (bytes {moov.start}–{moov.end - 1}): the player reads it in order"
        return ContainerLayout(ContainerKind.MP4, reason, index=span, duration_s=duration_s)
    prefetch = (span,) if moov.end > len(data) else ()
    reason = f"moov after a small mdat, at bytes {moov.start}–{moov.end - 1}"
    return ContainerLayout(ContainerKind.MP4, reason, index=span, prefetch=prefetch, duration_s=duration_s)


def _duration_in_head(data: memoryview, moov: Box | None) -> float | None:
    """The movie duration if ``mvhd`` is in the head; None when it is not (or is unreadable)."""
    if moov is None:
        return None
    try:
        return movie_timing(data, moov)[1]
    except ContainerError:
        return None


def _moov_in_tail(pos: int, size: int, mdat: Box) -> ContainerLayout:
    tail = ByteSpan(pos, size, "moov", exact=False)
    reason = f"mdat (bytes {mdat.start}–{mdat.end - 1}) comes before moov: the player reads bytes {pos}–{size - 1} next"
    return ContainerLayout(ContainerKind.MP4, reason, index=tail, prefetch=(tail,))


def _needs_more(needed: int, size: int) -> ContainerLayout:
    needed = min(needed, size)
    if needed > MAX_HEAD_BYTES:
        raise ContainerError(f"no moov or mdat within the first {MAX_HEAD_BYTES} bytes")
    reason = f"the top-level boxes continue past the head: need {needed} bytes"
    return ContainerLayout(ContainerKind.MP4, reason, needs_more=needed)


def _fragmented(moov: Box | None, sidx: list[Box], duration_s: float | None) -> ContainerLayout:
    if sidx:
        span = ByteSpan(sidx[0].start, sidx[-1].end, "sidx")
        reason = f"fragmented MP4 with a segment index (sidx, bytes {span.start}–{span.last})"
        return ContainerLayout(ContainerKind.MP4, reason, index=span, fragmented=True, duration_s=duration_s)
    where = "" if moov is None else f" (moov at byte {moov.start} has mvex)"
    reason = f"fragmented MP4{where} without a sidx: no index before the fragments"
    return ContainerLayout(ContainerKind.MP4, reason, fragmented=True, duration_s=duration_s)


# --- the index -------------------------------------------------------------------------------------------


def build_mp4_index(buffers: list[tuple[bytes | memoryview, int]], size: int) -> MediaIndex:
    """The index from ``moov`` (and ``sidx``) found among top-level boxes of ``buffers`` ((bytes, offset) pairs).

    Each buffer must start at a top-level box boundary (byte 0, or an index span from the layout).
    """
    moov: tuple[memoryview, Box, int] | None = None
    cut_moov: Box | None = None
    found: dict[bytes, dict[int, tuple[memoryview, Box, int]]] = {b"sidx": {}, b"moof": {}, b"mfra": {}}
    for data, base in buffers:
        view = memoryview(data)
        for box in _top_level_boxes(view, base, size):
            whole = box.end - base <= len(view)
            if box.type == b"moov":
                if whole and moov is None:
                    moov = (view, box, base)
                elif not whole:
                    cut_moov = box
            elif box.type in found and whole:
                found[box.type].setdefault(box.start, (view, box, base))
    if moov is None:
        if cut_moov is not None:
            message = f"moov at byte {cut_moov.start} ({cut_moov.size} bytes) is not all in the bytes given"
            raise TruncatedError(message, cut_moov.end)
        raise ContainerError("no moov box in the bytes given")
    view, box, base = moov
    budget = IndexBudget()
    movie = parse_moov(view, box, size, base, budget)
    if movie.fragmented:
        primary, secondary = _choose_tracks(movie, need_units=False)
        boxes = {kind: [located for _start, located in sorted(by_start.items())] for kind, by_start in found.items()}
        return fragmented_index(movie, primary, secondary, boxes, moov, size)
    return _sample_table_index(movie, size)


def _top_level_boxes(view: memoryview, base: int, size: int) -> Iterator[Box]:
    """Top-level boxes whose headers are in ``view``; stops quietly where the bytes end or stop making sense."""
    pos = 0
    for _walked in range(MAX_TOP_LEVEL_BOXES):
        if pos >= len(view):
            return
        try:
            box = read_box(view, pos, size - base, base)
        except ContainerError:
            return
        yield box
        pos = box.end - base


def _choose_tracks(movie: Mp4Movie, need_units: bool) -> tuple[Mp4Track, list[Mp4Track]]:
    usable = [t for t in movie.tracks if t.kind in ("video", "audio") and (not need_units or t.units)]
    video = [t for t in usable if t.kind == "video"]
    audio = [t for t in usable if t.kind == "audio"]
    if video:
        primary = max(video, key=lambda t: len(t.units) if t.units is not None else 0)
        return primary, audio[:1]
    if audio:
        return audio[0], []
    raise ContainerError("no video or audio track with samples")


def _sample_table_index(movie: Mp4Movie, size: int) -> MediaIndex:
    primary, secondary = _choose_tracks(movie, need_units=True)
    units = [t.units for t in (primary, *secondary) if t.units is not None]
    return MediaIndex(
        "mp4 sample tables",
        units[0],
        units[1:],
        duration_s=movie.duration_s,
        media_bytes=sum(int(t.units.size.sum()) for t in movie.tracks if t.units is not None),
        notes=[note for track in movie.tracks for note in track.notes],
        piece_size=size,
    )
