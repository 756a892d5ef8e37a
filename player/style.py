"""The dark theme: Qt's Fusion style with a dark palette, and ``resources/style.qss`` on top.

Fusion looks the same on every platform and follows the palette, so the parts the style sheet does not reach
(file dialogs, menus, pyqtgraph's context) are dark too.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from player.panel import palette as colours
from player.resources import resource


def style_sheet() -> str:
    path = resource("style.qss")
    if not path.exists():
        return ""
    return path.read_text(encoding="utf-8").replace("@icons@", resource("icons").as_posix())


def dark_palette() -> QPalette:
    result = QPalette()
    roles = {
        QPalette.ColorRole.Window: colours.BACKGROUND,
        QPalette.ColorRole.WindowText: colours.TEXT,
        QPalette.ColorRole.Base: QColor("#0f1115"),
        QPalette.ColorRole.AlternateBase: colours.SURFACE,
        QPalette.ColorRole.Text: colours.TEXT,
        QPalette.ColorRole.Button: QColor("#262b35"),
        QPalette.ColorRole.ButtonText: colours.TEXT,
        QPalette.ColorRole.Highlight: QColor("#2b4a78"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.ToolTipBase: QColor("#232733"),
        QPalette.ColorRole.ToolTipText: colours.TEXT,
        QPalette.ColorRole.PlaceholderText: colours.MUTED,
        QPalette.ColorRole.Link: colours.ACCENT,
    }
    for role, colour in roles.items():
        result.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        result.setColor(QPalette.ColorGroup.Disabled, role, QColor("#646c7b"))
    return result


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(style_sheet())
