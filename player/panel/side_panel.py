"""The side panel: byte map on top, seek latency chart, then the request log and stats in tabs.

It only arranges the panel's widgets and joins the seek chart to the request log (clicking a seek highlights
the requests it caused); the data lives in the models the controller feeds.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from player.anatomy.recorder import SeekAnatomy
from player.anatomy.report import ReportFacts
from player.panel.byte_map import ByteMapModel, ByteMapWidget
from player.panel.request_log import PLAYER, UPSTREAM, RequestLogModel
from player.panel.request_view import RequestLogView
from player.panel.seek_anatomy_view import SeekAnatomyView
from player.panel.seek_chart import SeekChart
from player.panel.stats import StatsModel, StatsWidget
from player.seek_monitor import SeekRecord


class SidePanel(QWidget):
    def __init__(
        self,
        byte_map: ByteMapModel,
        requests: RequestLogModel,
        stats: StatsModel,
        anatomy: SeekAnatomy,
        make_report: Callable[[], ReportFacts],
        parent: QWidget | None = None,
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

        self.anatomy = anatomy
        self.seek_chart = SeekChart(anatomy.get)
        self.seek_anatomy = SeekAnatomyView(make_report)
        seeks = QWidget()
        seeks_layout = QVBoxLayout(seeks)
        seeks_layout.setContentsMargins(0, 0, 0, 0)
        seeks_layout.setSpacing(4)
        seeks_layout.addWidget(self.seek_chart, 1)
        seeks_layout.addWidget(self.seek_anatomy)
        self.request_log = RequestLogView(requests)
        self.stats = StatsWidget(stats)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.request_log, "Requests")
        self.tabs.addTab(self.stats, "Stats")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(seeks)
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

    def new_piece(self) -> None:
        """Another piece opened: its seeks start a new chart, and the last piece's selected seek and hint go."""
        self.seek_chart.clear()
        self.seek_anatomy.show_seek(None)
        self.seek_anatomy.set_hint(None)

    def add_seek(self, record: SeekRecord) -> None:
        """A finished seek: onto the chart, and the piece's keyframe hint once its index is known."""
        self.seek_chart.add(record)
        self.seek_anatomy.set_hint(self.anatomy.hint())

    def show_seek(self, record: SeekRecord) -> None:
        """Show where a seek's time went, highlight the requests it caused and bring them into view."""
        self.seek_anatomy.show_seek(self.anatomy.get(record.id))
        keys = {(PLAYER, i) for i in record.request_ids} | {(UPSTREAM, i) for i in record.fetch_ids}
        rows = self.request_log.model.highlight(keys)
        self.tabs.setCurrentWidget(self.request_log)
        self.request_log.show_rows(rows)
