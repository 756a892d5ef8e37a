"""Stats over time: throughput to the player and from upstream, open streams, stalls, cache use.

``StatsModel`` (``stats_model.py``) turns the proxy's counters into rates; ``StatsWidget`` draws the last minute
and a few numbers.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from player.panel import palette
from player.panel.plots import panel_plot
from player.panel.stats_model import WINDOW_S, StatsModel
from player.units import format_bytes, format_duration, format_rate
from proxy.api import MiB


class StatsWidget(QWidget):
    def __init__(self, model: StatsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.plot = panel_plot("MiB/s", "seconds since open")
        self.served = self.plot.plot(pen=pg.mkPen(palette.ACCENT, width=2))
        self.upstream = self.plot.plot(pen=pg.mkPen(palette.FETCHING, width=2))
        legend = QLabel(
            f"<b>Throughput</b> &nbsp; <span style='color:{palette.css(palette.ACCENT)}'>━</span> to the player"
            f" &nbsp; <span style='color:{palette.css(palette.FETCHING)}'>━</span> from upstream"
        )
        legend.setObjectName("panelSummary")
        legend.setWordWrap(True)
        self.numbers: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        names = (
            "Served",
            "From upstream",
            "Open streams",
            "Stalls",
            "Memory cache",
            "Disk cache",
            "Fetched ahead, not played yet",
            "Cache hits / misses",
            "Paid upstream",
            "Fetched twice",
        )
        for i, name in enumerate(names):
            caption = QLabel(name)
            caption.setObjectName("caption")
            value = QLabel("—")
            value.setObjectName("value")
            grid.addWidget(caption, (i // 2) * 2, i % 2)
            grid.addWidget(value, (i // 2) * 2 + 1, i % 2)
            self.numbers[name] = value
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(grid)
        layout.addSpacing(6)
        layout.addWidget(legend)
        layout.addWidget(self.plot, 1)
        model.changed.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        model = self.model
        xs = [s.at for s in model.samples]
        self.served.setData(xs, [s.served_rate / MiB for s in model.samples])
        self.upstream.setData(xs, [s.upstream_rate / MiB for s in model.samples])
        highest = max((max(s.served_rate, s.upstream_rate) for s in model.samples), default=0.0) / MiB
        self.plot.setYRange(0, max(1.0, highest * 1.15), padding=0)
        if xs:
            self.plot.setXRange(max(0.0, xs[-1] - WINDOW_S), max(xs[-1], 10.0), padding=0.02)
        latest = model.latest
        now_rate = model.samples[-1] if model.samples else None
        self.numbers["Open streams"].setText(str(latest.get("open_streams", "—")))
        self.numbers["Stalls"].setText(f"{model.stalls}  ({format_duration(model.stalled_s)} in total)")
        served = format_bytes(latest.get("bytes_served")) if latest else "—"
        upstream = format_bytes(latest.get("bytes_upstream")) if latest else "—"
        if now_rate is not None:
            served += f"  ({format_rate(now_rate.served_rate)})"
            upstream += f"  ({format_rate(now_rate.upstream_rate)})"
        self.numbers["Served"].setText(served)
        self.numbers["From upstream"].setText(upstream)
        self.numbers["Memory cache"].setText(format_bytes(latest.get("memory_cache_bytes")) if latest else "—")
        self.numbers["Disk cache"].setText(format_bytes(latest.get("disk_cache_bytes")) if latest else "—")
        unserved = latest.get("unserved_bytes_by_reason")
        self.numbers["Fetched ahead, not played yet"].setText(
            format_bytes(sum(unserved.values())) if isinstance(unserved, dict) else "—"
        )
        self.numbers["Fetched ahead, not played yet"].setToolTip(
            "\n".join(f"{reason}: {format_bytes(n)}" for reason, n in sorted((unserved or {}).items()))
            or "Read-ahead and prefetched bytes the player has not asked for (egress that may be wasted)"
        )
        hits, misses = latest.get("cache_hits"), latest.get("cache_misses")
        self.numbers["Cache hits / misses"].setText(f"{hits} / {misses}" if latest else "—")
        bill = latest.get("egress_by_piece")
        paid = self.numbers["Paid upstream"]
        paid.setText(paid_summary(bill, latest.get("egress_usd")) if isinstance(bill, dict) else "—")
        paid.setToolTip(paid_details(bill) if isinstance(bill, dict) else "")
        twice = latest.get("bytes_fetched_twice")
        self.numbers["Fetched twice"].setText(
            format_bytes(twice) + ("" if twice else "  (goal: none)") if latest else "—"
        )


def paid_summary(bill: dict, usd: float | None) -> str:
    """``12.0 MiB CDN (8.00 MiB miss) · 40.0 MiB providers · ≈ $0.0001``: what the session paid, in one line."""
    rows = [row for piece in bill.values() for row in piece.get("sources", {}).values()]
    cdn = sum(r.get("bytes", 0) for r in rows if r.get("kind") == "filbeam")
    miss = sum(r.get("cdn_miss_bytes", 0) for r in rows if r.get("kind") == "filbeam")
    providers = sum(r.get("bytes", 0) for r in rows if r.get("kind") != "filbeam")
    parts = []
    if cdn:
        parts.append(f"{format_bytes(cdn)} CDN ({format_bytes(miss)} miss)")
    if providers:
        parts.append(f"{format_bytes(providers)} providers")
    if usd:
        parts.append(f"≈ {dollars(usd)}")
    return " · ".join(parts) or "nothing yet"


def dollars(usd: float) -> str:
    """``$0.00003``: a session's egress is often a fraction of a cent, and rounding it to $0.00 hides it."""
    return "$" + (f"{usd:.6f}".rstrip("0").rstrip(".") or "0")


def paid_details(bill: dict) -> str:
    """Per piece and source, for the tooltip: bytes, FilBeam's hit/miss split, dollars, bytes fetched twice."""
    lines = ["Egress per piece (FilBeam: $7/TiB on a cache hit, $14/TiB on a miss; providers: no egress charge)"]
    for key, piece in bill.items():
        twice = format_bytes(piece.get("bytes_fetched_twice", 0))
        lines.append(f"{key[:16]}…  ≈ {dollars(piece.get('usd', 0))}, fetched twice: {twice}")
        for source, row in piece.get("sources", {}).items():
            split = ""
            if row.get("kind") == "filbeam":
                hit, miss = format_bytes(row.get("cdn_hit_bytes")), format_bytes(row.get("cdn_miss_bytes"))
                split = f" (hit {hit}, miss {miss})"
            lines.append(f"    {source}: {format_bytes(row.get('bytes'))}{split}")
    return "\n".join(lines)
