"""The seek bar: position, cached ranges, click or drag to seek.

Cached ranges are byte ranges of the piece mapped linearly onto time. That is approximate — bitrate varies and
the container's index sits at one end — so the tooltip says so.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from player.panel import palette
from player.units import format_clock

_GROOVE = 6.0
_HANDLE = 7.0
_CACHED = QColor("#55647d")


class SeekSlider(QWidget):
    #: The user chose a position (ms): on release after a drag, or on a click.
    seekRequested = Signal(float)
    #: While dragging: the position under the mouse (ms), for the time label.
    scrubbing = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.duration_ms = 0.0
        self.position_ms = 0.0
        self.cached: list[tuple[float, float]] = []
        self.dragging = False
        self._hover = False
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
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

    def set_cached(self, fractions: list[tuple[float, float]]) -> None:
        if fractions != self.cached:
            self.cached = fractions
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
        painter.restore()
        if self.duration_ms > 0:
            radius = _HANDLE if (self._hover or self.dragging) else _HANDLE - 1.5
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.TEXT)
            painter.drawEllipse(QPointF(groove.left() + played, groove.center().y()), radius, radius)
        painter.end()

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
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"{format_clock(self._ms_at(x))}\nLighter band: cached bytes, mapped to time (approximate)",
                self,
            )

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
        self.update()
