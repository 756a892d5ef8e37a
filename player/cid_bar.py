"""The CID bar: paste a PieceCID or URL, see at once whether it is usable, open it; recent pieces below.

Validation runs on every keystroke with ``proxy.cid`` (no network): a bad CID says why in words, a good one
says what it is (v1/v2, size when the CID carries it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player.errors_text import cid_hint
from player.icons import icon
from player.target import Target, parse_target
from proxy.api import CidError


class HistoryCombo(QComboBox):
    """An editable combo box that tells a pick from its list apart from Qt's echoes.

    QComboBox also emits ``activated`` when Enter is pressed in its line edit or when it loses focus while the
    text matches a list item; connected to "open", that opened the same piece two more times after every Enter
    (and the extra opens of an unchanged URL never showed a first frame). A pick always closes the popup first,
    so only an ``activated`` right after the popup closed counts, and only once.
    """

    #: The text of the list item the user chose.
    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._popup_closed = False
        self.activated.connect(self._on_activated)

    def hidePopup(self) -> None:
        self._popup_closed = True
        super().hidePopup()
        QTimer.singleShot(0, self, self._forget_popup)  # dismissed without a choice: nothing is picked

    def _forget_popup(self) -> None:
        self._popup_closed = False

    def _on_activated(self, index: int) -> None:
        if self._popup_closed and index >= 0:
            self._popup_closed = False
            self.picked.emit(self.itemText(index))


class CidBar(QWidget):
    openRequested = Signal(object)  # Target
    settingsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cidBar")
        self.combo = HistoryCombo()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMaxVisibleItems(15)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setMinimumContentsLength(16)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setToolTip(
            self.tr("A PieceCID (v2 bafkzcib… or v1 baga6ea4seaq…), or a URL that ends in one. Ctrl+L")
        )
        self.edit = self.combo.lineEdit()
        self.edit.setPlaceholderText(self.tr("Paste a PieceCID (bafkzcib…, baga6ea4seaq…) or a URL, then press Enter"))
        self.edit.setObjectName("cidEdit")
        self.open_button = QPushButton(icon("open"), self.tr("Open"))
        self.open_button.setObjectName("primary")
        self.open_button.setToolTip(self.tr("Play this piece (Enter)"))
        self.open_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.settings_button = QToolButton()
        self.settings_button.setIcon(icon("settings"))
        self.settings_button.setToolTip(self.tr("Settings: where videos come from, the cache (Ctrl+,)"))
        self.settings_button.setAutoRaise(True)
        self.settings_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.message = QLabel()
        self.message.setObjectName("cidMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it echoes pasted text and the proxy's errors

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.combo, 1)
        row.addWidget(self.open_button)
        row.addWidget(self.settings_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 6)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.message)

        self.combo.editTextChanged.connect(self._validate)
        self.combo.picked.connect(self._history_chosen)
        self.edit.returnPressed.connect(self.submit)
        self.open_button.clicked.connect(self.submit)
        self.settings_button.clicked.connect(self.settingsRequested)
        self._validate("")

    def set_history(self, history: list[str]) -> None:
        text = self.edit.text()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(history)
        self.combo.setCurrentIndex(-1)
        self.edit.setText(text)
        self.combo.blockSignals(False)

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self.edit.setCursorPosition(0)  # show where the CID begins
        self._validate(text)

    def focus(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def submit(self) -> None:
        target = self._validate(self.edit.text())
        if target is not None:
            self.openRequested.emit(target)

    def show_error(self, text: str) -> None:
        self._show(text, "error")

    def _history_chosen(self, text: str) -> None:
        self.set_text(text)
        self.submit()

    def _validate(self, text: str) -> Target | None:
        if not text.strip():
            self._show("", "hint")
            self.open_button.setEnabled(False)
            return None
        try:
            target = parse_target(text)
        except CidError as exc:
            self._show(cid_hint(str(exc)), "error")
            self.open_button.setEnabled(False)
            return None
        self._show(target.describe(), "ok")
        self.open_button.setEnabled(True)
        return target

    def _show(self, text: str, level: str) -> None:
        self.message.setText(text)
        self.message.setProperty("level", level)
        self.combo.setProperty("level", level)
        for widget in (self.message, self.combo):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
