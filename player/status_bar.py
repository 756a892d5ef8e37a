"""The status bar: a busy spinner, the playback state, where bytes come from, and messages in words."""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from player.panel import palette
from player.playback import PlayState

_INFO_SHOWN_MS = 8000


class BusySpinner(QWidget):
    """A small rotating arc; it only animates while running, so an idle window costs nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(16, 16)
        self._angle = 0
        self._timer = QTimer(self, interval=40)
        self._timer.timeout.connect(self._step)
        self.setToolTip(self.tr("Waiting for bytes"))
        self.setVisible(False)

    def sizeHint(self) -> QSize:
        return QSize(16, 16)

    def set_running(self, running: bool) -> None:
        self.setVisible(running)
        if running:
            self._timer.start()
        else:
            self._timer.stop()

    def _step(self) -> None:
        self._angle = (self._angle + 30) % 360
        self.update()

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(2, 2, self.width() - 4, self.height() - 4)
        painter.setPen(QPen(palette.TRACK, 2))
        painter.drawEllipse(rect)
        pen = QPen(palette.ACCENT, 2)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawArc(rect, -self._angle * 16, 100 * 16)
        painter.end()


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when its text does not fit (the tooltip has all of it)."""

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(6, 0, -6, 0)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
        painter.end()


class PlayerStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.setContentsMargins(8, 0, 4, 0)
        self.spinner = BusySpinner()
        self.state = QLabel(PlayState.IDLE.value)
        self.state.setObjectName("stateLabel")
        self.state.setToolTip(self.tr("Playback state"))
        self.source = QLabel()
        self.source.setObjectName("sourceLabel")
        self.source.setToolTip(self.tr("Where the bytes come from now"))
        self.message = ElidedLabel()
        self.message.setObjectName("statusMessage")
        self.addWidget(self.spinner)
        self.addWidget(self.state)
        self.addWidget(self.message, 1)
        self.piece = QLabel()
        self.piece.setObjectName("pieceLabel")
        self.piece.setToolTip(self.tr("The piece playing"))
        self.addPermanentWidget(self.piece)
        self.addPermanentWidget(self.source)
        self._clear = QTimer(self, singleShot=True, interval=_INFO_SHOWN_MS)
        self._clear.timeout.connect(lambda: self.show_message("", "info"))
        self.set_source("")

    def set_state(self, state: PlayState) -> None:
        self.state.setText(state.value)
        self.state.setProperty("state", state.name.lower())
        self._repolish(self.state)
        self.spinner.set_running(state.busy)

    def set_piece(self, title: str) -> None:
        self.piece.setText(title)

    def set_source(self, label: str) -> None:
        self.source.setText(self.tr("Source: {label}").format(label=label or "—"))

    def show_message(self, text: str, level: str) -> None:
        """Errors and warnings stay until the next message; other messages fade after a few seconds."""
        self.message.setText(text)
        self.message.setToolTip(_plain_tooltip(text))
        self.message.setProperty("level", level)
        self._repolish(self.message)
        if level in ("error", "warning") or not text:
            self._clear.stop()
        else:
            self._clear.start()

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def _plain_tooltip(text: str) -> str:
    """Qt renders a tooltip as rich text when it looks like HTML; messages carry upstream words, so escape them
    and they show as written, never as a server's own markup."""
    return f"<p>{html.escape(text)}</p>" if text else ""
