"""The icon set: simple geometric SVGs in ``resources/icons`` drawn for the dark theme."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from player.resources import resource


@cache
def icon(name: str) -> QIcon:
    """``icon("play")`` → resources/icons/play.svg (an empty icon if the file is missing)."""
    path = resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    """The application icon, with the pre-rendered PNG sizes so small sizes stay crisp."""
    result = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        path = resource("icons", "app", f"pieceplayer-{size}.png")
        if path.exists():
            result.addFile(str(path))
    return result if not result.isNull() else icon("pieceplayer")
