"""The byte map: the whole piece as one bar — what is cached, what is being fetched, what the player reads.

``ByteMapModel`` keeps the state of the current piece from proxy events (slices stored/evicted per tier, upstream
fetches in flight, the range each player request is reading) and the proxy's counters. ``ByteMapWidget`` only
draws it. Bytes and time are joined by the proxy's byte ↔ time map of the container (``MediaIndexed``): with it, cached
bytes become exactly the moments that can be played, and the playhead sits on the keyframe the player would read
from. Until the map is known (or for a container the proxy cannot index) both are mapped linearly, which is only
approximate — bitrate varies — and the legend says "≈".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from player.panel import palette
from player.units import format_bytes
from proxy.api import TrackUnits, keyframe_byte, playable_times, track_units
from proxy.events import (
    Event,
    MediaIndexed,
    PieceKnown,
    PieceVerified,
    RequestFinished,
    RequestHeaders,
    RequestProgress,
    SliceEvicted,
    SliceRead,
    SliceStored,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamStarted,
)

DISK = 1
MEMORY = 2
_TIER_FLAGS = {"disk": DISK, "memory": MEMORY}
_HIT_TIERS = ("memory", "disk")


@dataclass
class ActiveRead:
    start: int
    end: int
    pos: int


class ByteMapModel(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reset(None)

    def reset(self, key: str | None, size: int | None = None, slice_size: int | None = None) -> None:
        self.key = key
        self.size = size
        self.slice_size = slice_size
        self.flags = bytearray()
        self.fetches: dict[int, tuple[int, int]] = {}
        self.reads: dict[int, ActiveRead] = {}
        self.playhead: float | None = None
        self.hits = 0
        self.misses = 0
        self.served_done = 0
        self.upstream_bytes = 0
        #: Bytes the proxy has served since this piece was opened (from its live counter), once known.
        self.served_live: int | None = None
        self._served_base: int | None = None
        #: The piece's byte ↔ time map once the proxy built it (``MediaIndexed``): keyframes ``(time_s, offset)``
        #: and the units of the tracks that decide what is playable, main track first (arrays, built once).
        self.keyframes: tuple[tuple[float, int], ...] = ()
        self.tracks: tuple[TrackUnits, ...] = ()
        self.duration_s: float | None = None
        #: None until the cached piece has been hashed against its PieceCID; then True or False.
        self.verified: bool | None = None
        self._resize()
        self.changed.emit()

    def _resize(self) -> None:
        if self.size is not None and self.slice_size:
            count = max(1, -(-self.size // self.slice_size))
            if len(self.flags) != count:
                self.flags = bytearray(count)

    # --- inputs --------------------------------------------------------------------------------------------

    def apply(self, events: list[Event]) -> None:
        touched = False
        for event in events:
            if getattr(event, "piece", None) != self.key:
                continue
            touched = True
            self._apply(event)
        if touched:
            self.changed.emit()

    def _apply(self, event: Event) -> None:
        if isinstance(event, PieceKnown):
            self.size, self.slice_size = event.size, event.slice_size
            self._resize()
            for index in event.cached_slices:
                if index < len(self.flags) and not self.flags[index]:
                    self.flags[index] = DISK
        elif isinstance(event, SliceStored | SliceEvicted) and event.index < len(self.flags):
            flag = _TIER_FLAGS.get(event.tier, 0)
            if isinstance(event, SliceStored):
                self.flags[event.index] |= flag
            else:
                self.flags[event.index] &= ~flag & 0xFF
        elif isinstance(event, SliceRead):
            if event.tier in _HIT_TIERS:
                self.hits += 1
            else:
                self.misses += 1
        elif isinstance(event, UpstreamStarted):
            self.fetches[event.fetch_id] = (event.start, event.end)
        elif isinstance(event, UpstreamResponse) and event.fetch_id in self.fetches:
            self.fetches[event.fetch_id] = (event.body_start, event.body_end)
        elif isinstance(event, UpstreamFinished):
            self.fetches.pop(event.fetch_id, None)
        elif isinstance(event, RequestHeaders) and event.ranges:
            start, end = event.ranges[0][0], event.ranges[-1][1]
            self.reads[event.request_id] = ActiveRead(start, end, start)
        elif isinstance(event, RequestProgress) and event.request_id in self.reads:
            self.reads[event.request_id].pos = event.position
        elif isinstance(event, RequestFinished):
            self.reads.pop(event.request_id, None)
            self.served_done += event.bytes_sent
        elif isinstance(event, MediaIndexed):
            self.keyframes, self.duration_s = event.keyframes, event.duration_s
            self.tracks = tuple(track_units(track) for track in event.tracks)
        elif isinstance(event, PieceVerified):
            self.verified = event.ok

    def forget_cached(self) -> None:
        """The cache was cleared (the proxy reports no evictions for that)."""
        self.flags = bytearray(len(self.flags))
        self.changed.emit()

    def set_position(self, position_s: float | None, duration_s: float | None) -> None:
        """Place the playhead: on the keyframe a player reads from (with the map), else linearly."""
        if position_s is None or not self.size:
            fraction = None
        elif self.exact:
            fraction = keyframe_byte(self.keyframes, position_s) / self.size
        elif duration_s:
            fraction = position_s / duration_s
        else:
            fraction = None
        self.playhead = None if fraction is None else min(1.0, max(0.0, fraction))
        self.changed.emit()

    @property
    def exact(self) -> bool:
        """Whether bytes and time are joined by the container's map (else linearly, approximately)."""
        return bool(self.keyframes and self.tracks)

    def set_served_base(self, bytes_served: int) -> None:
        """The proxy's all-time served counter when this piece was opened (one piece plays at a time)."""
        self._served_base = bytes_served

    def set_counters(self, snapshot: dict) -> None:
        """The proxy's live counts: bytes pulled for this piece, and bytes served since it was opened (per-request
        events only report a response's bytes at slice boundaries and when it ends)."""
        by_piece = snapshot.get("upstream_bytes_by_piece", {}).get(self.key or "", {})
        upstream = sum(by_piece.values())
        served = None
        if self._served_base is not None and "bytes_served" in snapshot:
            served = max(0, int(snapshot["bytes_served"]) - self._served_base)
        if (upstream, served) != (self.upstream_bytes, self.served_live):
            self.upstream_bytes, self.served_live = upstream, served
            self.changed.emit()

    # --- derived -------------------------------------------------------------------------------------------

    def slice_length(self, index: int) -> int:
        assert self.size is not None and self.slice_size
        return min(self.slice_size, self.size - index * self.slice_size)

    def cached_bytes(self) -> int:
        if not self.slice_size:
            return 0
        return sum(self.slice_length(i) for i, flag in enumerate(self.flags) if flag)

    def runs(self) -> list[tuple[int, int, int]]:
        """Consecutive slices with the same flags: ``(first_index, last_index, flags)``."""
        result: list[tuple[int, int, int]] = []
        for index, flag in enumerate(self.flags):
            if result and result[-1][2] == flag and result[-1][1] == index - 1:
                result[-1] = (result[-1][0], index, flag)
            else:
                result.append((index, index, flag))
        return result

    def cached_byte_ranges(self) -> list[tuple[int, int]]:
        """Cached ``(start, stop)`` byte ranges, stop exclusive."""
        if not self.size or not self.slice_size:
            return []
        return [
            (first * self.slice_size, min(self.size, (last + 1) * self.slice_size))
            for first, last, flag in self.runs()
            if flag
        ]

    def cached_timeline(self, duration_s: float | None) -> list[tuple[float, float]]:
        """Cached media as fractions of the timeline (for the seek slider): the moments that can be played from
        cache when the map is known, else the cached bytes' share of the piece."""
        ranges = self.cached_byte_ranges()
        if self.exact and duration_s:
            times = playable_times(self.tracks, self.duration_s or 0.0, ranges)
            return [(t0 / duration_s, t1 / duration_s) for t0, t1 in times]
        if not self.size:
            return []
        return [(start / self.size, stop / self.size) for start, stop in ranges]

    def served_bytes(self) -> int:
        from_events = self.served_done + sum(r.pos - r.start for r in self.reads.values())
        return max(from_events, self.served_live or 0)

    def hit_ratio(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None

    def summary(self) -> str:
        if self.key is None:  # the controller resets to no key for what plays directly (a file, a plain URL)
            return "Playing directly, without the proxy: no piece, so no bytes to map"
        if self.size is None:
            return "Waiting for the piece's size…"
        cached = self.cached_bytes()
        ratio = self.hit_ratio()
        hit_text = f"{ratio:.0%} of slice reads from cache" if ratio is not None else "no reads yet"
        if self.verified is not None:
            hit_text += " · ✓ verified against its CID" if self.verified else " · ✗ failed verification, refetching"
        return (
            f"Cached {format_bytes(cached)} of {format_bytes(self.size)} ({cached / self.size:.0%}) · {hit_text}\n"
            f"Pulled from upstream {format_bytes(self.upstream_bytes)} · served to the player "
            f"{format_bytes(self.served_bytes())}"
        )


class ByteMapWidget(QWidget):
    """Draws a :class:`ByteMapModel`: the bar, the player's reads under it, and a legend."""

    BAR_HEIGHT = 26
    LANE_HEIGHT = 12
    LEGEND_HEIGHT = 18
    _LEGEND = (
        ("memory", palette.MEMORY),
        ("disk", palette.DISK),
        ("fetching", palette.FETCHING),
        ("reading", palette.READING),
        ("playhead", palette.PLAYHEAD),
    )

    def __init__(self, model: ByteMapModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        model.changed.connect(self.update)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(360)
        self.setToolTip("The whole piece, left to right. Hover for the byte offset and slice.")

    def sizeHint(self) -> QSize:
        return QSize(480, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(360, self._height())

    def _height(self) -> int:
        return 8 + self.BAR_HEIGHT + self.LANE_HEIGHT + 8 + self.LEGEND_HEIGHT

    def _bar(self) -> QRectF:
        return QRectF(1, 8, self.width() - 2, self.BAR_HEIGHT)

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = self._bar()
        clip = QPainterPath()
        clip.addRoundedRect(bar, 4, 4)
        painter.fillPath(clip, palette.TRACK)
        model = self.model
        if model.size and model.slice_size:
            painter.save()
            painter.setClipPath(clip)
            self._paint_slices(painter, bar)
            self._paint_fetches(painter, bar)
            painter.restore()
            self._paint_reads(painter, bar)
            self._paint_playhead(painter, bar)
        self._paint_legend(painter, bar.bottom() + self.LANE_HEIGHT + 8)
        painter.end()

    def _x(self, bar: QRectF, byte: float) -> float:
        assert self.model.size
        return bar.left() + bar.width() * byte / self.model.size

    def _paint_slices(self, painter: QPainter, bar: QRectF) -> None:
        model = self.model
        assert model.slice_size and model.size
        for first, last, flag in model.runs():
            if not flag:
                continue
            color = palette.MEMORY if flag & MEMORY else palette.DISK
            x0 = self._x(bar, first * model.slice_size)
            x1 = self._x(bar, min(model.size, (last + 1) * model.slice_size))
            painter.fillRect(QRectF(x0, bar.top(), max(1.0, x1 - x0), bar.height()), color)

    def _paint_fetches(self, painter: QPainter, bar: QRectF) -> None:
        band = QRectF(bar.left(), bar.bottom() - 6, bar.width(), 6)
        fill = QColor(palette.FETCHING)
        fill.setAlpha(45)
        for start, end in self.model.fetches.values():
            x0, x1 = self._x(bar, start), self._x(bar, end + 1)
            painter.fillRect(QRectF(x0, bar.top(), max(2.0, x1 - x0), bar.height()), fill)
            painter.fillRect(QRectF(x0, band.top(), max(2.0, x1 - x0), band.height()), palette.FETCHING)

    def _paint_reads(self, painter: QPainter, bar: QRectF) -> None:
        lane = bar.bottom() + 3 + self.LANE_HEIGHT / 2
        for read in self.model.reads.values():
            x0, x_pos, x1 = self._x(bar, read.start), self._x(bar, read.pos), self._x(bar, read.end + 1)
            painter.setPen(QPen(palette.MUTED, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(x_pos, lane), QPointF(x1, lane))
            painter.setPen(QPen(palette.READING, 2))
            painter.drawLine(QPointF(x0, lane), QPointF(max(x0 + 1, x_pos), lane))
            painter.setBrush(palette.READING)
            painter.drawEllipse(QPointF(x_pos, lane), 3, 3)

    def _paint_playhead(self, painter: QPainter, bar: QRectF) -> None:
        if self.model.playhead is None:
            return
        x = bar.left() + bar.width() * self.model.playhead
        painter.setPen(QPen(palette.PLAYHEAD, 2))
        painter.drawLine(QPointF(x, bar.top() - 2), QPointF(x, bar.bottom() + 2))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.PLAYHEAD)
        painter.drawPolygon(QPolygonF([QPointF(x - 5, 0), QPointF(x + 5, 0), QPointF(x, 7)]))

    def _paint_legend(self, painter: QPainter, top: float) -> None:
        metrics = painter.fontMetrics()
        x = 1.0
        painter.setPen(palette.MUTED)
        for label, color in self._LEGEND:
            if color is palette.PLAYHEAD and not self.model.exact:
                label += " ≈"
            painter.fillRect(QRectF(x, top + 4, 10, 10), color)
            x += 14
            painter.drawText(QPointF(x, top + 13), label)
            x += metrics.horizontalAdvance(label) + 14

    def mouseMoveEvent(self, event: object) -> None:
        model = self.model
        bar = self._bar()
        position = event.position()  # type: ignore[attr-defined]
        if not model.size or not model.slice_size or not bar.adjusted(0, -8, 0, 8).contains(position):
            QToolTip.hideText()
            return
        byte = int((position.x() - bar.left()) / bar.width() * model.size)
        byte = max(0, min(model.size - 1, byte))
        index = byte // model.slice_size
        flag = model.flags[index] if index < len(model.flags) else 0
        where = " and ".join(t for t, f in (("memory", MEMORY), ("disk", DISK)) if flag & f) or "not cached"
        QToolTip.showText(
            event.globalPosition().toPoint(),  # type: ignore[attr-defined]
            f"byte {byte:,} · slice {index} ({format_bytes(model.slice_length(index))}) · {where}",
            self,
        )
