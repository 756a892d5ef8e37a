"""The side panel: byte map on top, seek latency chart, then the request log and stats in tabs.

It only arranges the panel's widgets and joins the seek chart to the request log (clicking a seek highlights
the requests it caused); the data lives in the models the controller feeds.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from player.panel.byte_map import ByteMapModel, ByteMapWidget
from player.panel.request_log import PLAYER, UPSTREAM, RequestLogModel
from player.panel.request_view import RequestLogView
from player.panel.seek_chart import SeekChart
from player.panel.stats import StatsModel, StatsWidget
from player.seek_monitor import SeekRecord


class SidePanel(QWidget):
    def __init__(
        self, byte_map: ByteMapModel, requests: RequestLogModel, stats: StatsModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.byte_map_model = byte_map
        self.byte_map = ByteMapWidget(byte_map)
        self.byte_summary = QLabel()
        self.byte_summary.setObjectName("panelSummary")
        self.byte_summary.setWordWrap(True)
        title = QLabel("Piece bytes")
        title.setObjectName("panelTitle")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 6)
        top_layout.setSpacing(4)
        top_layout.addWidget(title)
        top_layout.addWidget(self.byte_map)
        top_layout.addWidget(self.byte_summary)

        self.seek_chart = SeekChart()
        self.request_log = RequestLogView(requests)
        self.stats = StatsWidget(stats)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.request_log, "Requests")
        self.tabs.addTab(self.stats, "Stats")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.seek_chart)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addWidget(top)
        layout.addWidget(self.splitter, 1)

        byte_map.changed.connect(self._summarise)
        self.seek_chart.selected.connect(self.show_seek)
        self._summarise()

    def _summarise(self) -> None:
        self.byte_summary.setText(self.byte_map_model.summary())

    def show_seek(self, record: SeekRecord) -> None:
        """Highlight the requests a seek caused and bring them into view."""
        keys = {(PLAYER, i) for i in record.request_ids} | {(UPSTREAM, i) for i in record.fetch_ids}
        rows = self.request_log.model.highlight(keys)
        self.tabs.setCurrentWidget(self.request_log)
        self.request_log.show_rows(rows)
