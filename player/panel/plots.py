"""The panel's charts share one look: a pyqtgraph plot that does not pan, zoom or offer its menu, muted axes."""

from __future__ import annotations

import pyqtgraph as pg

from player.panel import palette


def panel_plot(left: str, bottom: str) -> pg.PlotWidget:
    """A plot styled for the side panel, its axes labelled ``left`` and ``bottom``.

    Panning and zooming are off: the charts follow the session by themselves, and a stray drag in a narrow dock
    would otherwise leave a chart looking at nothing.
    """
    plot = pg.PlotWidget()
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=False, y=False)
    plot.showGrid(x=False, y=True, alpha=0.25)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setTextPen(pg.mkPen(palette.MUTED))
        axis.setPen(pg.mkPen(palette.GRID))
    plot.setLabel("left", left, color=palette.css(palette.MUTED))
    plot.setLabel("bottom", bottom, color=palette.css(palette.MUTED))
    return plot
