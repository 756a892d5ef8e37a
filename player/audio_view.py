"""The window's face for audio-only pieces: the cover art when the file carries one, else a clean card with the
title, the codec, the duration and a level meter from the decoded sound — never a black video area.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from player.icons import icon
from player.level_meter import LevelMeter
from player.media_info import MediaInfo
from player.units import format_clock

COVER_SIZE = 320
_NOTE_SIZE = 120


def describe(info: MediaInfo) -> str:
    """ "FLAC · 0:08" — the codec line under the title."""
    parts = [info.audio_codec or "audio of an unknown codec"]
    if info.file_format and info.file_format != info.audio_codec:
        parts.append(f"in {info.file_format}")
    if info.duration_ms > 0:
        parts.append(format_clock(info.duration_ms))
    return " · ".join(parts)


class AudioView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioView")
        self.cover = QLabel()
        self.cover.setObjectName("coverArt")
        self.cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cover.setFixedSize(COVER_SIZE, COVER_SIZE)
        self.title = QLabel()
        self.title.setObjectName("cardTitle")
        self.codec = QLabel()
        self.codec.setObjectName("cardText")
        for label in (self.title, self.codec):
            label.setTextFormat(Qt.TextFormat.PlainText)  # titles come from the file: no rich text
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meter = LevelMeter()
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(self.title)
        column.addWidget(self.codec)
        column.addSpacing(14)
        column.addWidget(self.meter)
        column.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(40, 24, 40, 24)
        row.setSpacing(32)
        row.addStretch(1)
        row.addWidget(self.cover)
        row.addLayout(column, 2)
        row.addStretch(1)
        self.has_cover = False

    def show_info(self, info: MediaInfo, fallback_title: str) -> None:
        self.title.setText(info.title or fallback_title)
        self.codec.setText(describe(info))
        self.show_cover(info.cover)

    def show_cover(self, image: QImage | None) -> None:
        self.has_cover = image is not None
        if image is None:
            self.cover.setPixmap(icon("music").pixmap(_NOTE_SIZE, _NOTE_SIZE))
            self.cover.setProperty("empty", True)
        else:
            scaled = QPixmap.fromImage(image).scaled(
                COVER_SIZE,
                COVER_SIZE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.cover.setPixmap(scaled)
            self.cover.setProperty("empty", False)
        self.cover.style().unpolish(self.cover)
        self.cover.style().polish(self.cover)
