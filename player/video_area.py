"""The video, the audio view for audio-only pieces, or a card in its place when there is nothing to show (an
error, nothing opened yet, a codec this build cannot decode — then with a button that offers a way out).

QVideoWidget renders through a native surface that other widgets cannot be drawn over reliably, so messages
replace the video in a stack instead of floating above it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QToolButton, QVBoxLayout, QWidget

from player.audio_view import AudioView
from player.icons import icon

_TEXT_WIDTH = 620


class MessageCard(QWidget):
    #: The card's button was pressed (it is shown only by a message that offers an action).
    actionTriggered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageCard")
        self.symbol = QLabel()
        self.symbol.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setObjectName("cardTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setObjectName("cardText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel()
        self.detail.setObjectName("cardDetail")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAccessibleName(self.tr("Error details"))
        # The raw words of the layer that failed are one click away, not in the way (issue 22).
        self.details_button = QToolButton()
        self.details_button.setObjectName("detailsButton")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip(
            self.tr("Show the technical words behind this message (they are also in the log)")
        )
        self.details_button.toggled.connect(self._show_details)
        for label in (self.title, self.text, self.detail):
            # The text and detail carry upstream words; rich text would let a server draw its own "messages".
            label.setTextFormat(Qt.TextFormat.PlainText)
        box = QWidget()  # a column of bounded width, centred: wrapped labels then get their full height
        box.setObjectName("cardColumn")
        box.setMaximumWidth(_TEXT_WIDTH)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.symbol)
        column.addSpacing(8)
        column.addWidget(self.title)
        column.addWidget(self.text)
        column.addSpacing(6)
        column.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.detail)
        self.action = QPushButton()
        self.action.setObjectName("primary")
        self.action.setVisible(False)
        self.action.clicked.connect(self.actionTriggered)
        column.addSpacing(10)
        column.addWidget(self.action, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 4)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)

    def show_message(self, title: str, text: str, symbol: str, detail: str = "", action: str = "") -> None:
        self.symbol.setPixmap(icon(symbol).pixmap(56, 56))
        self.title.setText(title)
        self.text.setText(text)
        self.detail.setText(detail)
        self.action.setText(action)
        self.action.setVisible(bool(action))
        self.details_button.setVisible(bool(detail))
        self.details_button.setChecked(False)
        self._show_details(False)

    def _show_details(self, shown: bool) -> None:
        self.detail.setVisible(shown and bool(self.detail.text()))
        self.details_button.setText(self.tr("Hide details") if shown else self.tr("Details"))
        self.details_button.setAccessibleName(self.details_button.text())


class VideoArea(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._surface_made = False
        self.video = QVideoWidget()
        self.video.setObjectName("video")
        self.card = MessageCard()
        self.audio = AudioView()
        self.addWidget(self.video)
        self.addWidget(self.card)
        self.addWidget(self.audio)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._surface_made:
            self._surface_made = True
            self._make_video_surface()

    def _make_video_surface(self) -> None:
        """Show the video page once, as the window is first shown, and go back to the page that was showing.

        QVideoWidget creates its native video window and graphics context (Qt's RHI: OpenGL, on Xvfb the
        software llvmpipe) the first time it is shown, which took the GUI thread for 110–250 ms on a 2-core
        machine. Left to the first open, that happened between ``play()`` and the first frame, and held the
        frame back (``mediaStatusChanged`` and the frames reach the widget through this thread). Made here, it is
        part of the window's own first show, before any open; nothing is painted in between, so nothing flashes.
        """
        showing = self.currentWidget()
        self.setCurrentWidget(self.video)
        self.setCurrentWidget(showing)

    def show_video(self) -> None:
        self.setCurrentWidget(self.video)

    def show_audio(self) -> None:
        self.setCurrentWidget(self.audio)

    def show_message(self, title: str, text: str, symbol: str = "info", detail: str = "", action: str = "") -> None:
        self.card.show_message(title, text, symbol, detail, action)
        self.setCurrentWidget(self.card)
