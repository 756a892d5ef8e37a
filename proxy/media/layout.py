"""What a piece's first bytes say about where its index is and which bytes the player will ask for next.

A plain value, decided from the head of the piece alone, so the proxy can start fetching the bytes a player
will certainly request out of order (an MP4 ``moov`` after ``mdat``, Matroska ``Cues``) in parallel with serving
the head. Byte spans are half-open: ``start`` is the first byte, ``stop`` one past the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ContainerKind(StrEnum):
    MP4 = "mp4"
    MATROSKA = "matroska"
    WEBM = "webm"
    MPEGTS = "mpegts"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ByteSpan:
    """Bytes ``start … stop-1`` of the piece holding ``what``.

    ``exact`` is False when the span is a bound known to contain ``what`` (the tail after ``mdat``, which holds
    ``moov``; a Matroska element up to the next known element). ``at_open`` says whether the player reads it
    while opening (certain) or only at its first seek (FFmpeg reads Matroska ``Cues`` then).
    """

    start: int
    stop: int
    what: str
    exact: bool = True
    at_open: bool = True

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def last(self) -> int:
        """The inclusive last byte, as HTTP ranges and the slice cache count."""
        return self.stop - 1


@dataclass(frozen=True)
class ContainerLayout:
    """The container's shape as far as the head shows it.

    * ``index``: where the seek index is — MP4 ``moov`` (or the ``sidx`` of a fragmented MP4), Matroska ``Cues``
      — or None when there is none or it cannot be known.
    * ``prefetch``: spans beyond the head the player will read out of order (in the order it reads them): what
      the proxy may fetch ahead, each with its reason.
    * ``needs_more``: the head ends before the layout can be decided; sniff again with this many bytes from
      byte 0. None when decided.
    * ``fragmented``: an MP4 whose samples are described by ``moof`` boxes, not by ``moov`` — as far as the head
      shows: a ``moov`` that does not end in the head is not searched for ``mvex``.
    * ``duration_s``: the media duration when the head holds it (Matroska ``Info``, MP4 ``mvhd`` of a ``moov`` at
      the front), else None. ``size / duration_s`` is the average byte rate before any index is built.
    * ``reason``: the decision in words (shown in the side panel; explains an ``UNKNOWN``).
    """

    kind: ContainerKind
    reason: str
    index: ByteSpan | None = None
    prefetch: tuple[ByteSpan, ...] = ()
    needs_more: int | None = None
    fragmented: bool = False
    duration_s: float | None = None

    @property
    def index_range(self) -> tuple[int, int] | None:
        """``(start, stop)`` of :attr:`index`, stop exclusive."""
        return None if self.index is None else (self.index.start, self.index.stop)

    @property
    def known(self) -> bool:
        return self.kind is not ContainerKind.UNKNOWN


def unknown(reason: str) -> ContainerLayout:
    """The layout of bytes we do not understand: the proxy just proxies them."""
    return ContainerLayout(ContainerKind.UNKNOWN, reason)
