"""Window sizes that fit the screen the window opens on, at any scale factor, and the side panel's share of it.

Why: sizes in Qt are in logical pixels, so at 200 % scaling a 1920×1080 screen is only 960×540 wide and high;
a fixed first size of 1440×880 (and a minimum of 960×600) put the transport and status bars off-screen. The
first size is now the preferred size shrunk to the available area (less room for the window frame), and the
minimum never exceeds it. The panel is the inspector, not the show: it never takes more than ``PANEL_SHARE`` of
the window's width.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QDockWidget

#: Part of the available area the first window may cover: the rest is left for the frame the window manager adds.
SCREEN_SHARE = 0.92
#: The most of the window's width the docked side panel may take.
PANEL_SHARE = 0.4
#: The docked panel's narrowest width, unless its share of the window is narrower still.
PANEL_MIN_WIDTH = 320
#: Qt's "no maximum" for a widget's size (QWIDGETSIZE_MAX, not exported by PySide6).
_NO_MAXIMUM = (1 << 24) - 1
_SIDES = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)


def fit_size(wanted: QSize, available: QRect, share: float = SCREEN_SHARE) -> QSize:
    """``wanted``, shrunk where needed to ``share`` of ``available`` (each side on its own)."""
    return QSize(
        min(wanted.width(), int(available.width() * share)),
        min(wanted.height(), int(available.height() * share)),
    )


def centred(size: QSize, available: QRect) -> QPoint:
    """Where a window of ``size`` sits in the middle of ``available``."""
    return QPoint(
        available.x() + max(0, (available.width() - size.width()) // 2),
        available.y() + max(0, (available.height() - size.height()) // 2),
    )


def panel_width(window_width: int, preferred: int) -> int:
    """The panel's width in a window ``window_width`` wide: ``preferred``, but at most its share."""
    return min(preferred, panel_limit(window_width))


def panel_limit(window_width: int) -> int:
    return max(1, int(window_width * PANEL_SHARE))


def limit_panel_width(dock: QDockWidget, area: Qt.DockWidgetArea, window_width: int) -> None:
    """A panel docked at a side (``area``) of a window ``window_width`` wide takes at most its share of it;
    floating, or docked above or below the video, it is as wide as the user makes it."""
    if dock.isFloating() or area not in _SIDES:
        dock.setMinimumWidth(PANEL_MIN_WIDTH)
        dock.setMaximumWidth(_NO_MAXIMUM)
        return
    limit = panel_limit(window_width)
    dock.setMinimumWidth(min(PANEL_MIN_WIDTH, limit))
    dock.setMaximumWidth(limit)
