"""What the Playback menu does beyond the transport bar: frame steps, speed steps, loop, A-B repeat, go to time.

mpv's habits: ``.``/``,`` step one frame and pause, ``[``/``]`` change speed and Backspace resets it, ``l`` sets A,
then B, then clears the A-B repeat, ``L`` loops the piece. Messages go out as a signal; the window shows them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer
from PySide6.QtWidgets import QInputDialog, QWidget

from player.playback import Playback
from player.transport_bar import SPEEDS, TransportBar
from player.units import format_clock, parse_clock

#: When the media does not say its frame rate.
_DEFAULT_FPS = 30.0


class PlaybackCommands(QObject):
    #: A sentence for the status bar.
    message = Signal(str)
    #: The loop or the A-B repeat changed (the menu's check marks follow).
    repeatChanged = Signal()

    def __init__(self, playback: Playback, transport: TransportBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.playback = playback
        self.transport = transport
        self.a_ms: float | None = None
        self.b_ms: float | None = None
        playback.player.positionChanged.connect(self._repeat_ab)
        playback.opening.connect(self._forget_ab)

    # --- frames --------------------------------------------------------------------------------------------

    def frame_ms(self) -> float:
        rate = self.playback.player.metaData().value(QMediaMetaData.Key.VideoFrameRate)
        fps = float(rate) if isinstance(rate, int | float) and rate > 0 else _DEFAULT_FPS
        return 1000.0 / fps

    def shown_ms(self) -> float:
        """The time of the frame on screen (the player's position runs ahead of it while playing)."""
        frame = self.playback.frames.last
        if frame is not None and frame.isValid() and frame.startTime() >= 0:
            return frame.startTime() / 1000.0
        return float(self.playback.player.position())

    def step_frame(self, frames: int) -> None:
        """Pause and show the next (``1``) or previous (``-1``) frame."""
        if self.playback.url is None:
            return
        self.playback.player.pause()
        self.playback.seek(self.shown_ms() + frames * self.frame_ms() + (1 if frames > 0 else 0))

    # --- speed ---------------------------------------------------------------------------------------------

    def set_speed(self, speed: float, *, announce: bool = True) -> None:
        """Through the transport bar's speed box (which sets the player's rate); ``announce`` says it in words."""
        index = self.transport.speed.findData(speed)
        if index >= 0:
            self.transport.speed.setCurrentIndex(index)
            if announce:
                self.message.emit(self.tr("Speed {speed}×").format(speed=f"{speed:g}"))

    def change_speed(self, steps: int) -> None:
        index = min(len(SPEEDS) - 1, max(0, self.transport.speed.currentIndex() + steps))
        self.set_speed(SPEEDS[index])

    def speed(self) -> float:
        return float(self.transport.speed.currentData())

    # --- loop and A-B repeat -------------------------------------------------------------------------------

    @property
    def looping(self) -> bool:
        return self.playback.player.loops() != 1

    def toggle_loop(self) -> None:
        looping = not self.looping
        self.playback.player.setLoops(QMediaPlayer.Loops.Infinite if looping else 1)
        self.message.emit(self.tr("Loop on: the piece starts again at its end") if looping else self.tr("Loop off"))
        self.repeatChanged.emit()

    def cycle_ab(self) -> None:
        """First press sets A, the second sets B (and repeats A→B), the third clears both."""
        now = self.shown_ms()
        if self.a_ms is None:
            self.a_ms = now
            self.message.emit(
                self.tr("A-B repeat: A set at {time}; press again to set B").format(time=format_clock(now))
            )
        elif self.b_ms is None and now > self.a_ms:
            self.b_ms = now
            self.message.emit(
                self.tr("A-B repeat: {a} to {b}").format(a=format_clock(self.a_ms), b=format_clock(self.b_ms))
            )
            self.playback.seek(self.a_ms)
        else:
            self._forget_ab()
            self.message.emit(self.tr("A-B repeat off"))
        self.repeatChanged.emit()

    def _forget_ab(self, *_: object) -> None:
        self.a_ms = self.b_ms = None

    def _repeat_ab(self, position_ms: int) -> None:
        if self.a_ms is not None and self.b_ms is not None and position_ms >= self.b_ms:
            pending = self.playback.seeks.pending
            if pending is None:
                self.playback.seek(self.a_ms)

    # --- go to time ----------------------------------------------------------------------------------------

    def ask_time(self, parent: QWidget) -> QInputDialog:
        """VLC's "Jump to time": a small dialog, window-modal but not blocking (see MainWindow.open_settings)."""
        dialog = QInputDialog(parent)
        dialog.setWindowTitle(self.tr("Go to time"))
        dialog.setLabelText(self.tr("Time (like 12:34 or 1:02:03):"))
        dialog.setTextValue(format_clock(self.shown_ms()))
        dialog.setAccessibleName(self.tr("Go to time"))
        dialog.textValueSelected.connect(self.go_to)
        dialog.open()
        return dialog

    def go_to(self, text: str) -> None:
        try:
            target = parse_clock(text)
        except ValueError as exc:
            self.message.emit(str(exc))
            return
        self.playback.seek(target)
