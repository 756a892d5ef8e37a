"""Where each piece was left, mpv's "watch later": a "Resume from 12:34 / Start over" bar, not a blocking dialog.

A piece opened again plays from the start at once (nothing waits for an answer), and a bar above the video
offers to jump back to where it was left. Positions are kept in the settings with each piece's title and
duration, which the File ▸ Open recent menu shows; a piece watched to its end (or barely started) is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from player.playback import Playback
from player.settings import Settings
from player.units import format_clock

#: Positions this close to the start are not worth a prompt.
_START_MS = 5_000
#: ...nor those this close to the end (the credits), as mpv forgets a file played to its end: the last 10 s, or
#: the last 5 % of a piece shorter than 200 s.
_END_MS = 10_000
_END_SHARE = 0.05
#: Pieces remembered (title, duration, position); the oldest go first.
_PIECES_KEPT = 200


@dataclass(frozen=True)
class PieceNote:
    """What is remembered of one piece, keyed by what was opened (a CID or a URL)."""

    text: str
    title: str = ""
    duration_ms: int = 0
    position_ms: int = 0


class PieceMemory:
    """Titles, durations and positions of the pieces played, in the settings file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def note(self, text: str) -> PieceNote:
        entry = self.settings.pieces.get(text, {})
        return PieceNote(
            text,
            str(entry.get("title", "")),
            int(entry.get("duration_ms", 0)),
            int(entry.get("position_ms", 0)),
        )

    def record(self, text: str, **values: object) -> None:
        """Update ``title``, ``duration_ms`` or ``position_ms`` of a piece (it becomes the newest)."""
        pieces = dict(self.settings.pieces)
        entry = {**pieces.pop(text, {}), **values}
        pieces[text] = entry
        self.settings.pieces = dict(list(pieces.items())[-_PIECES_KEPT:])

    def resume_at(self, text: str) -> int | None:
        """Where to offer to resume ``text``, or None when it was barely started or watched to its end."""
        note = self.note(text)
        if note.position_ms < _START_MS:
            return None
        if note.duration_ms and note.position_ms > note.duration_ms - min(_END_MS, note.duration_ms * _END_SHARE):
            return None
        return note.position_ms

    def recent(self) -> list[PieceNote]:
        return [self.note(text) for text in self.settings.history]

    def clear(self) -> None:
        """File ▸ Open recent ▸ Clear: the list, and the positions with it."""
        self.settings.history = []
        self.settings.pieces = {}


class ResumeBar(QFrame):
    """The offer to resume, above the video; it goes away on either choice, on ×, or when another piece opens."""

    resumeRequested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resumeBar")
        self.setAccessibleName(self.tr("Resume playback"))
        self.label = QLabel()
        self.resume_button = QPushButton()
        self.resume_button.setObjectName("primary")
        self.start_over = QPushButton(self.tr("Start over"))
        self.start_over.setToolTip(self.tr("Keep playing from the beginning"))
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip(self.tr("Close"))
        self.close_button.setAccessibleName(self.tr("Close the resume offer"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.resume_button)
        layout.addWidget(self.start_over)
        layout.addWidget(self.close_button)
        self._position_ms = 0.0
        self.resume_button.clicked.connect(self._resume)
        self.start_over.clicked.connect(self.hide)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def offer(self, position_ms: float) -> None:
        self._position_ms = position_ms
        clock = format_clock(position_ms)
        self.label.setText(self.tr("You stopped this piece at {time} last time.").format(time=clock))
        self.resume_button.setText(self.tr("Resume from {time}").format(time=clock))
        self.resume_button.setToolTip(self.tr("Jump to {time}, where you left it").format(time=clock))
        self.resume_button.setAccessibleName(self.resume_button.text())
        self.show()  # not focused: Space would press its button instead of pausing

    def _resume(self) -> None:
        self.hide()
        self.resumeRequested.emit(self._position_ms)


class Resumer:
    """Ties the memory to playback: notes where the piece being left was, offers the resume for the one opened."""

    def __init__(self, memory: PieceMemory, playback: Playback, bar: ResumeBar) -> None:
        self.memory = memory
        self.playback = playback
        self.bar = bar
        self._text: str | None = None
        bar.resumeRequested.connect(playback.seek)
        playback.player.durationChanged.connect(self._duration)

    def leave(self) -> None:
        """Remember where the current piece is (before another opens, and when the window closes)."""
        player = self.playback.player
        if self._text is not None and player.duration() > 0 and self.playback.error is None:
            self.memory.record(self._text, position_ms=int(player.position()), duration_ms=int(player.duration()))

    def opened(self, text: str, title: str) -> None:
        self._text = text
        self.memory.record(text, title=title)
        position = self.memory.resume_at(text)
        if position is None:
            self.bar.hide()
        else:
            self.bar.offer(position)

    def _duration(self, duration_ms: int) -> None:
        if self._text is not None and duration_ms > 0:
            self.memory.record(self._text, duration_ms=int(duration_ms))
