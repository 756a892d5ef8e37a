"""The dark theme: ``resources/style.qss``, with its icon paths pointed at this install's icons folder."""

from __future__ import annotations

from player.resources import resource


def style_sheet() -> str:
    path = resource("style.qss")
    if not path.exists():
        return ""
    return path.read_text(encoding="utf-8").replace("@icons@", resource("icons").as_posix())
