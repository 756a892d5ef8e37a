"""The seek bar: position, cached ranges, click or drag to seek.

Cached ranges are the moments that play from cache when the proxy knows the container's byte ↔ time map;
before that (or for a container it cannot index) cached bytes are mapped linearly onto time, which is
approximate — bitrate varies and the index sits at one end — and the tooltip says which it is.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from player.panel import palette
from player.units import format_clock

_GROOVE = 6.0
_HANDLE = 7.0
_CACHED = QColor("#55647d")
#: A damaged piece: the groove past where its data ends, and the mark at that point.
_MISSING = QColor(255, 107, 107, 70)
_END_MARK = QColor("#ff4d4d")
#: How long the pointer rests on a spot before it counts as a hover (a prefetch hint), not a pass-over.
_REST_MS = 250


class SeekSlider(QWidget):
    #: The user chose a position (ms): on release after a drag, or on a click.
    seekRequested = Signal(float)
    #: While dragging: the position under the mouse (ms), for the time label.
    scrubbing = Signal(float)
    #: The pointer rested on a position (ms) without clicking: a seek there may follow.
    hovered = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration_ms = 0.0
        self.position_ms = 0.0
        self.cached: list[tuple[float, float]] = []
        #: Cached ranges come from the container's byte ↔ time map (else linear, approximate).
        self.exact = False
        #: Where a damaged piece's data ends (ms): the groove after it is struck out. None: the media is whole.
        self.end_mark_ms: float | None = None
        self.dragging = False
        self._hover = False
        self._hover_ms = 0.0
        self._rest = QTimer(self, singleShot=True, interval=_REST_MS)
        self._rest.timeout.connect(lambda: self.hovered.emit(self._hover_ms))
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.setAccessibleName("Seek")

    def sizeHint(self) -> QSize:
        return QSize(300, 24)

    def minimumSizeHint(self) -> QSize:
        return QSize(100, 24)

    def set_duration(self, ms: float) -> None:
        self.duration_ms = max(0.0, float(ms))
        self.update()

    def set_position(self, ms: float) -> None:
        if not self.dragging:
            self.position_ms = float(ms)
            self.update()

    def set_cached(self, fractions: list[tuple[float, float]], exact: bool = False) -> None:
        if fractions != self.cached or exact != self.exact:
            self.cached = fractions
            self.exact = exact
            self.update()

    def set_end_mark(self, ms: float) -> None:
        """Mark where a damaged piece's data ends (``player.piece_end``); a negative value clears the mark."""
        self.end_mark_ms = float(ms) if ms >= 0 else None
        self.setToolTip("" if self.end_mark_ms is None else f"The piece's data ends at {format_clock(ms)}")
        self.update()

    def _groove(self) -> QRectF:
        return QRectF(_HANDLE, (self.height() - _GROOVE) / 2, self.width() - 2 * _HANDLE, _GROOVE)

    def _fraction(self) -> float:
        return min(1.0, self.position_ms / self.duration_ms) if self.duration_ms > 0 else 0.0

    def _ms_at(self, x: float) -> float:
        groove = self._groove()
        fraction = min(1.0, max(0.0, (x - groove.left()) / max(1.0, groove.width())))
        return fraction * self.duration_ms

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        groove = self._groove()
        path = QPainterPath()
        path.addRoundedRect(groove, _GROOVE / 2, _GROOVE / 2)
        painter.fillPath(path, palette.TRACK)
        painter.save()
        painter.setClipPath(path)
        for start, end in self.cached:
            x0 = groove.left() + groove.width() * start
            painter.fillRect(QRectF(x0, groove.top(), max(1.0, groove.width() * (end - start)), _GROOVE), _CACHED)
        played = groove.width() * self._fraction()
        painter.fillRect(QRectF(groove.left(), groove.top(), played, _GROOVE), palette.ACCENT)
        end_x = self._end_mark_x(groove)
        if end_x is not None:  # nothing to play past here: the rest of the groove is struck out
            painter.fillRect(QRectF(end_x, groove.top(), groove.right() - end_x, _GROOVE), _MISSING)
        painter.restore()
        if end_x is not None:
            painter.fillRect(QRectF(end_x - 1.0, groove.top() - 4.0, 2.0, _GROOVE + 8.0), _END_MARK)
        if self.duration_ms > 0:
            radius = _HANDLE if (self._hover or self.dragging) else _HANDLE - 1.5
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.TEXT)
            painter.drawEllipse(QPointF(groove.left() + played, groove.center().y()), radius, radius)
        painter.end()

    def _end_mark_x(self, groove: QRectF) -> float | None:
        if self.end_mark_ms is None or self.duration_ms <= 0:
            return None
        return groove.left() + groove.width() * min(1.0, self.end_mark_ms / self.duration_ms)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.duration_ms > 0:
            self.dragging = True
            self.position_ms = self._ms_at(event.position().x())
            self.scrubbing.emit(self.position_ms)
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self.dragging:
            self.position_ms = self._ms_at(x)
            self.scrubbing.emit(self.position_ms)
            self.update()
        if self.duration_ms > 0:
            self._hover_ms = self._ms_at(x)
            self._rest.start()
            cached = (
                "Lighter band: what plays from cache (from the container's index)"
                if self.exact
                else "Lighter band: cached bytes mapped linearly to time (approximate)"
            )
            QToolTip.showText(event.globalPosition().toPoint(), f"{format_clock(self._hover_ms)}\n{cached}", self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.dragging and event.button() == Qt.MouseButton.LeftButton:
            self.dragging = False
            self.position_ms = self._ms_at(event.position().x())
            self.update()
            self.seekRequested.emit(self.position_ms)

    def enterEvent(self, _event: object) -> None:
        self._hover = True
        self.update()

    def leaveEvent(self, _event: object) -> None:
        self._hover = False
        self._rest.stop()
        self.update()
