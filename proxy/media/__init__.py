"""Understanding the media a piece carries, without Qt: container layout from the head, and a byte ↔ time map.

The proxy uses :func:`sniff_layout` on a piece's first bytes to prefetch what the player will read out of order
(an MP4 ``moov`` after ``mdat``, Matroska ``Cues``), and :func:`build_index` to turn cached byte ranges into
cached time ranges, keyframes and seek targets. Modules, one concept each:

* ``layout`` — the result types; ``container`` — the two entry points;
* ``boxes``, ``mp4``, ``mp4_tables``, ``mp4_samples`` — ISO/IEC 14496-12 boxes, top-level layout, tracks and
  ``sidx``, sample tables;
* ``fragmented``, ``mfra`` — fragmented MP4: ``moof``/``traf``/``trun`` samples, the ``mfra`` at the end;
* ``mpegts`` — MPEG-TS: no index, a byte rate from its clock;
* ``ebml``, ``matroska``, ``matroska_cues`` — EBML (RFC 8794) and Matroska (RFC 9559) SeekHead, and Cues;
* ``index`` — :class:`MediaIndex`, the container-independent map; ``tracks`` — its units as arrays;
  ``playable`` — pure functions over units (what cached bytes play), which the GUI runs too.
"""

from proxy.media.container import build_index, sniff_layout
from proxy.media.errors import ContainerError, TruncatedError
from proxy.media.index import MediaIndex, TrackUnits
from proxy.media.layout import ByteSpan, ContainerKind, ContainerLayout
from proxy.media.mfra import MFRO_SIZE, mfra_span

__all__ = [
    "MFRO_SIZE",
    "ByteSpan",
    "ContainerError",
    "ContainerKind",
    "ContainerLayout",
    "MediaIndex",
    "TrackUnits",
    "TruncatedError",
    "build_index",
    "mfra_span",
    "sniff_layout",
]
