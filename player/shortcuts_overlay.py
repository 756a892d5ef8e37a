"""F1 or ``?``: every keyboard shortcut on one card over the window, grouped by menu, as mpv and YouTube show them.

It is made from the same rows as the menus (``WindowMenus.shortcut_table``), so it cannot list a key that does not
work. It is a frameless child window rather than a widget drawn over the video: the video's native surface does
not let other widgets paint above it reliably. Any key or click closes it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

#: Columns of the card (groups are spread so that each holds about as many keys).
_COLUMNS = 3


class ShortcutsOverlay(QFrame):
    def __init__(self, table: list[tuple[str, list[tuple[str, str]]]], parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("shortcutsOverlay")
        self.setAccessibleName(self.tr("Keyboard shortcuts"))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        title = QLabel(self.tr("Keyboard shortcuts"))
        title.setObjectName("cardTitle")
        hint = QLabel(self.tr("Press any key or click to close"))
        hint.setObjectName("hint")
        columns = QHBoxLayout()
        columns.setSpacing(36)
        total = sum(len(rows) + 2 for _, rows in table)  # a heading and a gap count as two rows
        column, filled = None, total  # groups flow into a new column once one holds its share
        for menu, rows in table:
            if filled >= total / _COLUMNS:
                column, filled = QVBoxLayout(), 0
                column.setSpacing(2)
                columns.addLayout(column)
            assert column is not None
            heading = QLabel(menu)
            heading.setObjectName("overlayHeading")
            column.addWidget(heading)
            grid = QGridLayout()
            grid.setHorizontalSpacing(16)
            grid.setVerticalSpacing(3)  # the style's default spacing made the card taller than the screen
            for line, (words, keys) in enumerate(rows):
                key_label = QLabel(keys)
                key_label.setObjectName("overlayKeys")
                grid.addWidget(key_label, line, 0, Qt.AlignmentFlag.AlignRight)
                grid.addWidget(QLabel(words), line, 1)
            column.addLayout(grid)
            column.addSpacing(10)
            filled += len(rows) + 2
        for layout in (columns.itemAt(i).layout() for i in range(columns.count())):
            layout.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 20, 28, 20)
        outer.addWidget(title)
        outer.addLayout(columns)
        outer.addWidget(hint, 0, Qt.AlignmentFlag.AlignRight)
        self.keys_shown = sum(len(rows) for _, rows in table)
        parent.installEventFilter(self)

    def show_over(self, window: QWidget) -> None:
        """Centred over ``window``, focused so the next key closes it."""
        self.adjustSize()
        centre = window.mapToGlobal(window.rect().center())
        self.move(centre.x() - self.width() // 2, centre.y() - self.height() // 2)
        self.show()
        self.raise_()
        self.activateWindow()
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    def event(self, event: QEvent) -> bool:
        """Keys close the card first: the window's shortcuts (Esc, F1) would otherwise take them."""
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
        event.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The window moved, shrank or went away: the card goes with it instead of floating alone."""
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Hide) and self.isVisible():
            self.hide()
        return super().eventFilter(watched, event)
