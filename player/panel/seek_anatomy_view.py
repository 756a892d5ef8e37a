"""The selected seek's anatomy in the side panel: its waterfall (phases named and sized), its verdict, the piece's
keyframe hint, and the buttons that share the evidence ("Save report…", "Copy summary").

Widgets only draw: the timelines live in the controller's ``SeekAnatomy``; the report's facts come from the
``make_report`` function the window passes in (``player/report_export.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from player.anatomy.recorder import ExplainedSeek
from player.anatomy.report import ReportFacts, render_html, summary_text
from player.anatomy.timeline import PHASE_COLOURS
from player.panel import palette

_ROW_H = 16
_LABEL_W = 150


class Waterfall(QWidget):
    """One bar per span of the seek, each starting where the previous ended, with its duration."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.seek: ExplainedSeek | None = None

    def show_seek(self, seek: ExplainedSeek | None) -> None:
        self.seek = seek
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        rows = len(self.seek.timeline.spans) if self.seek is not None else 1
        return QSize(300, 6 + rows * _ROW_H)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.seek is None:
            painter.setPen(palette.MUTED)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignLeft, "Click a seek on the chart to see where its time went"
            )
            return
        timeline = self.seek.timeline
        total = max(timeline.seek.latency_ms, 1.0)
        scale = max(10.0, self.width() - _LABEL_W - 60) / total
        for row, span in enumerate(timeline.spans):
            y = 2 + row * _ROW_H
            painter.setPen(palette.TEXT)
            painter.drawText(QRectF(0, y, _LABEL_W - 6, _ROW_H), Qt.AlignmentFlag.AlignVCenter, span.phase)
            x, width = _LABEL_W + span.start_ms * scale, max(1.5, span.duration_ms * scale)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(PHASE_COLOURS[span.phase]))
            painter.drawRoundedRect(QRectF(x, y + 2, width, _ROW_H - 4), 2, 2)
            painter.setPen(palette.MUTED)
            painter.drawText(
                QRectF(x + width + 4, y, 80, _ROW_H), Qt.AlignmentFlag.AlignVCenter, f"{span.duration_ms:.0f} ms"
            )


class SeekAnatomyView(QWidget):
    #: A sentence for the status bar ("Saved the report to …").
    exported = Signal(str)

    def __init__(self, make_report: Callable[[], ReportFacts], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._make_report = make_report
        self.hint = QLabel()
        self.hint.setObjectName("panelSummary")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {palette.css(palette.FETCHING)}")
        self.hint.hide()
        self.waterfall = Waterfall()
        self.verdict = QLabel()
        self.verdict.setObjectName("panelSummary")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save = QPushButton("Save report…")
        self.save.setToolTip("One HTML file with every seek's timeline, the byte map and the request log")
        self.copy = QPushButton("Copy summary")
        self.copy.setToolTip("A short text of every seek and its verdict, to paste into a bug report")
        self.save.clicked.connect(self._ask_save)
        self.copy.clicked.connect(self.copy_summary)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.save)
        buttons.addWidget(self.copy)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.hint)
        layout.addWidget(self.waterfall)
        layout.addWidget(self.verdict)
        layout.addLayout(buttons)

    def show_seek(self, seek: ExplainedSeek | None) -> None:
        self.waterfall.show_seek(seek)
        self.verdict.setText(seek.verdict if seek is not None else "")

    def set_hint(self, text: str | None) -> None:
        """The piece's keyframe hint, said once for the piece (not per seek)."""
        self.hint.setText(text or "")
        self.hint.setVisible(bool(text))

    def save_report(self, path: Path) -> None:
        path.write_text(render_html(self._make_report()), encoding="utf-8")
        self.exported.emit(f"Saved the seek report to {path}")

    def copy_summary(self) -> str:
        text = summary_text(self._make_report())
        QGuiApplication.clipboard().setText(text)
        self.exported.emit("Copied the seek summary to the clipboard")
        return text

    def _ask_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save seek report", "seek-report.html", "HTML (*.html)")
        if name:
            self.save_report(Path(name))
