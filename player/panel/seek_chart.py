"""Seek latency: every seek's time from request to first frame, cached vs upstream, with TTFF, median and p95.

Fed by ``SeekMonitor.finished``. Clicking a point selects that seek; the side panel then highlights the requests
the seek caused in the request log.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from player.anatomy.recorder import ExplainedSeek
from player.anatomy.timeline import PHASE_COLOURS, PHASES
from player.panel import palette
from player.panel.plots import panel_plot
from player.seek_monitor import SeekRecord

pg.setConfigOptions(antialias=True, background=palette.SURFACE, foreground=palette.MUTED)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (what a latency report usually means by p95)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def latency_summary(records: list[SeekRecord]) -> dict[str, float | None]:
    """TTFF and the median/p95 of seeks that showed a frame."""
    ttff = next((r.latency_ms for r in records if r.kind == "open" and r.latency_ms is not None), None)
    seeks = [r.latency_ms for r in records if r.kind == "seek" and r.latency_ms is not None]
    return {
        "ttff_ms": ttff,
        "median_ms": statistics.median(seeks) if seeks else None,
        "p95_ms": percentile(seeks, 0.95) if seeks else None,
    }


class SeekChart(QWidget):
    #: The SeekRecord the user clicked.
    selected = Signal(object)

    def __init__(
        self, explained: Callable[[int], ExplainedSeek | None] = lambda _id: None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        #: A seek's timeline by record id: points are coloured by their dominant phase.
        self._explained = explained
        self.records: list[SeekRecord] = []
        self.summary = QLabel()
        self.summary.setObjectName("panelSummary")
        self.summary.setWordWrap(True)
        self.plot = panel_plot("ms to first frame", "seek # (0 = open)")
        self.plot.setMinimumHeight(150)
        self.plot.getAxis("bottom").setTickSpacing(major=5, minor=1)
        self.median_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(palette.MUTED, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.median_line)
        self.median_line.hide()
        self.points = pg.ScatterPlotItem(size=11, hoverable=True, hoverSize=14, tip=self._tip)
        self.points.sigClicked.connect(self._clicked)
        self.plot.addItem(self.points)
        self.selection = pg.ScatterPlotItem(size=19, brush=None, pen=pg.mkPen(palette.TEXT, width=2))
        self.plot.addItem(self.selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)
        self._refresh()

    def clear(self) -> None:
        self.records.clear()
        self._refresh()

    def add(self, record: SeekRecord) -> None:
        self.records.append(record)
        self._refresh()

    def _refresh(self) -> None:
        spots = []
        for number, record in enumerate(self.records):
            if record.latency_ms is None:
                y, brush, symbol = 0.0, pg.mkBrush(palette.ERROR), "x"
            else:
                explained = self._explained(record.id)
                if explained is not None:
                    color = PHASE_COLOURS[explained.timeline.dominant]
                else:
                    color = palette.CACHED_SEEK if record.cached else palette.UPSTREAM_SEEK
                y, brush, symbol = record.latency_ms, pg.mkBrush(color), "star" if record.kind == "open" else "o"
            spots.append({"pos": (number, y), "data": record, "brush": brush, "symbol": symbol, "pen": None})
        self.points.setData(spots)
        self.selection.setData([])
        stats = latency_summary(self.records)
        if stats["median_ms"] is not None:
            self.median_line.setValue(stats["median_ms"])
            self.median_line.show()
        else:
            self.median_line.hide()
        self.plot.setXRange(-0.5, max(5, len(self.records)) - 0.5, padding=0.02)
        highest = max((r.latency_ms for r in self.records if r.latency_ms is not None), default=0.0)
        top = max(50.0, highest * 1.2)
        self.plot.setYRange(-top * 0.04, top, padding=0)  # a little room below 0 so fast seeks stay visible
        self.summary.setText(self._summary_text(stats))

    def _summary_text(self, stats: dict[str, float | None]) -> str:
        def ms(value: float | None) -> str:
            return f"{value:.0f} ms" if value is not None else "—"

        legend = " &nbsp;".join(f"<span style='color:{PHASE_COLOURS[p]}'>●</span> {p}" for p in PHASES)
        count = sum(1 for r in self.records if r.kind == "seek")
        return (
            f"<b>Seek latency</b> &nbsp; TTFF {ms(stats['ttff_ms'])} · median {ms(stats['median_ms'])} · "
            f"p95 {ms(stats['p95_ms'])} · {count} seek{'' if count == 1 else 's'}<br>coloured by where the time "
            f"went: {legend} &nbsp;★ open"
        )

    def _tip(self, x: float, y: float, data: SeekRecord) -> str:
        what = "first frame after opening" if data.kind == "open" else f"seek to {data.target_ms / 1000:.1f} s"
        if data.latency_ms is None:
            return f"{what}: no frame within the time limit"
        explained = self._explained(data.id)
        where = explained.verdict if explained is not None else "from cache" if data.cached else "waited for upstream"
        return f"{what}: {data.latency_ms:.0f} ms, {where}\nclick to see where its time went"

    def _clicked(self, _item: object, points: list, _event: object = None) -> None:
        if not len(points):
            return
        point = points[0]
        self.selection.setData([{"pos": (point.pos().x(), point.pos().y())}])
        self.selected.emit(point.data())
