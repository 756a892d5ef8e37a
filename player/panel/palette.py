"""The panel's colours, named once: the byte map, the seek chart, the request log and the style sheet agree."""

from __future__ import annotations

from PySide6.QtGui import QColor

BACKGROUND = QColor("#14161b")
SURFACE = QColor("#1b1e25")
TRACK = QColor("#2a2f3a")
GRID = QColor("#2f3541")
TEXT = QColor("#d7dbe3")
MUTED = QColor("#8a93a6")
ACCENT = QColor("#3da5ff")
MEMORY = QColor("#5cd0ff")
DISK = QColor("#2f7fd8")
FETCHING = QColor("#f5a524")
READING = QColor("#f2f4f8")
PLAYHEAD = QColor("#ff4d6d")
CACHED_SEEK = QColor("#34d399")
UPSTREAM_SEEK = QColor("#f5a524")
ERROR = QColor("#ff6b6b")
HIGHLIGHT = QColor(61, 165, 255, 60)


def css(color: QColor) -> str:
    return color.name()
