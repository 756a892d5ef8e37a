"""The two questions the proxy asks of a piece's bytes, whatever the container.

1. :func:`sniff_layout` — from the head alone: what container, where its index is, which bytes the player will
   read out of order next (to prefetch), or how much more head is needed. Never raises: bytes it does not
   understand give an ``UNKNOWN`` layout with the reason, and the proxy proxies them plainly.
2. :func:`build_index` — from the head and the bytes of the index span: the byte ↔ time map
   (:class:`~proxy.media.index.MediaIndex`). Raises only :class:`~proxy.media.errors.ContainerError` (its
   subclass :class:`~proxy.media.errors.TruncatedError` says how far the given bytes must reach).

The intended flow, for a piece of ``size`` bytes::

    layout = sniff_layout(head, size)           # head: the first slice
    while layout.needs_more:                    # rare: a head that ends inside the first boxes
        head = <first layout.needs_more bytes>; layout = sniff_layout(head, size)
    for span in layout.prefetch:                # out-of-order reads to come: moov after mdat, Cues, Tags…
        <fetch span.start … span.last>, reason span.what (span.at_open: read while opening, else at first seek)
    if layout.index is not None:
        index = build_index(head, size, <bytes span.start … span.last of layout.index>, layout.index.start)
    elif layout.known and not layout.fragmented:
        index = build_index(head, size)         # the whole index is in the head
"""

from __future__ import annotations

from proxy.media.ebml import EBML_MAGIC
from proxy.media.errors import ContainerError
from proxy.media.index import MediaIndex
from proxy.media.layout import ContainerKind, ContainerLayout, unknown
from proxy.media.mp4 import build_mp4_index, looks_like_mp4, sniff_mp4_layout
from proxy.media.mpegts import looks_like_ts, sniff_ts_layout

# Matroska's parsers are imported when a Matroska/WebM piece is first met, inside the functions below: most pieces
# are MP4, and every launch imports this module before its first frame (~20 ms of imports for Matroska alone).

#: Enough head to tell MP4 (a box header) from Matroska (the EBML magic) from neither.
_MIN_HEAD = 8


def sniff_layout(head: bytes | memoryview, size: int) -> ContainerLayout:
    """The layout of a piece of ``size`` bytes whose first bytes are ``head`` (the first slice is plenty).

    Give more head and ask again when the answer has ``needs_more``.
    """
    if size < 0 or len(head) > size:
        return unknown(f"inconsistent input: {len(head)} head bytes for a piece of {size} bytes")
    needed = min(_MIN_HEAD, size)
    if len(head) < needed:
        return ContainerLayout(ContainerKind.UNKNOWN, f"need {needed} bytes to tell the container", needs_more=needed)
    try:
        if bytes(head[:4]) == EBML_MAGIC:
            from proxy.media.matroska import sniff_matroska_layout

            layout = sniff_matroska_layout(head, size)
        elif looks_like_mp4(head):
            layout = sniff_mp4_layout(head, size)
        elif looks_like_ts(head):
            return sniff_ts_layout(head, size)
        else:
            return unknown("neither MP4, Matroska/WebM nor MPEG-TS: no index to use")
    except ContainerError as error:
        return unknown(str(error))
    if layout.needs_more is not None and layout.needs_more <= len(head):
        return unknown(f"the piece ends inside a structure that starts before byte {len(head)}")
    outside = [s for s in (layout.index, *layout.prefetch) if s is not None and not 0 <= s.start < s.stop <= size]
    if outside:
        span = outside[0]
        return unknown(f"{span.what} at bytes {span.start}–{span.last} does not lie inside the piece of {size} bytes")
    return layout


def build_index(
    head: bytes | memoryview, size: int, index_bytes: bytes | memoryview = b"", index_offset: int = 0
) -> MediaIndex:
    """The byte ↔ time map of a piece of ``size`` bytes.

    ``head`` is the piece's first bytes (what :func:`sniff_layout` was given); ``index_bytes`` are the piece's
    bytes from ``index_offset`` on — normally exactly the layout's ``index`` span (for a faststart MP4 whose
    ``moov`` is all in the head, nothing more is needed). Raises :class:`ContainerError` saying what is missing
    or wrong.
    """
    if index_offset < 0 or index_offset + len(index_bytes) > size or len(head) > size:
        raise ContainerError(f"byte spans given lie outside the piece of {size} bytes")
    if bytes(head[:4]) == EBML_MAGIC:
        from proxy.media.matroska_cues import build_matroska_index

        return build_matroska_index(head, size, index_bytes, index_offset)
    if looks_like_mp4(head):
        return build_mp4_index([(head, 0), (index_bytes, index_offset)], size)
    if looks_like_ts(head):
        raise ContainerError("MPEG-TS has no index: only its byte rate is known (from its clock)")
    raise ContainerError("neither MP4 nor Matroska/WebM: no index")
