"""A level meter fed by the decoded audio itself (QAudioBufferOutput, Qt ≥ 6.8).

The player hands a copy of every decoded buffer, converted by Qt to a small mono float format, so the meter shows
what is being played — not an animation. Levels fall back smoothly when playback pauses or ends.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtMultimedia import QAudioBuffer, QAudioBufferOutput, QAudioFormat, QMediaPlayer
from PySide6.QtWidgets import QSizePolicy, QWidget

#: Enough for a meter; Qt resamples to it, so the GUI thread touches few samples.
_METER_RATE = 8000
FLOOR_DB = -60.0
#: How fast the bar falls when the sound gets quieter (dB per second), like a VU meter's release.
_FALL_DB_PER_S = 30.0
_FRAME_MS = 33


def decibels(amplitude: float) -> float:
    """Full scale 1.0 → 0 dB, clamped at the meter's floor."""
    return FLOOR_DB if amplitude <= 10 ** (FLOOR_DB / 20) else max(FLOOR_DB, 20 * math.log10(amplitude))


class LevelProbe(QObject):
    """Peak and RMS of each decoded buffer, in dBFS."""

    #: (rms_db, peak_db)
    level = Signal(float, float)

    def __init__(self, player: QMediaPlayer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        audio_format = QAudioFormat()
        audio_format.setSampleRate(_METER_RATE)
        audio_format.setChannelCount(1)
        audio_format.setSampleFormat(QAudioFormat.SampleFormat.Float)
        self.player = player
        #: A child of the player, so it is deleted after the player's engine (``~QMediaPlayer`` deletes it first);
        #: owned by this probe, every run of the 20-cycle test crashed at exit (segfault). It is made from Python
        #: (Qt has no QML type or invokable constructor for it, unlike ``audio_output.py``'s QAudioOutput), so
        #: FFmpeg's audio thread must never run Python through it: the buffers reach ``_measure`` queued, on the
        #: GUI thread. Once attached it stays attached (see ``attach``).
        self.output = QAudioBufferOutput(audio_format, player)
        self._measuring = False

    @property
    def active(self) -> bool:
        return self.player.audioBufferOutput() is self.output

    def attach(self) -> None:
        """Measure the sound of audio-only media, once the player says that is what it loaded; from then on, for
        as long as the player lives.

        Not before: attached to every piece as its media was set, the copy and conversion of each decoded buffer
        made a video's first frame in the window ~200 ms later (bench ``window``: 523–634 ms against 334–424 ms
        without it), for a meter only the audio view shows. Never detached: ``setAudioBufferOutput(None)`` on
        Qt 6.11's FFmpeg player is what broke teardown (``tests/player/test_level_meter_teardown.py``, 20 opens
        and closes of audio pieces: detached on every new source, one run in three hung; detached before each
        stop, every run of four ended in ``malloc(): unaligned tcache chunk detected``; never detached, seven of
        seven runs were clean). The price: a video opened after an audio piece in the same window pays the
        meter's copy. Attaching restarts Qt's audio output once, at the load.
        """
        if not self.active:
            self.player.setAudioBufferOutput(self.output)
        if not self._measuring:
            self.output.audioBufferReceived.connect(self._measure, Qt.ConnectionType.QueuedConnection)
            self._measuring = True

    def rest(self) -> None:
        """Media with video loaded: the output stays attached (see ``attach``), but its buffers no longer cross into
        Python, so a video after an audio piece pays Qt's copy of the sound, not a queued call and numpy per buffer."""
        if self._measuring:
            self.output.audioBufferReceived.disconnect(self._measure)
            self._measuring = False

    def _measure(self, buffer: QAudioBuffer) -> None:
        import numpy as np  # here, not at start-up: ~100 ms the window's first frame does not need

        if buffer.format().sampleFormat() != QAudioFormat.SampleFormat.Float:
            return
        samples = np.frombuffer(buffer.constData(), dtype=np.float32)
        if samples.size == 0:
            return
        peak = float(np.abs(samples).max())
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        self.level.emit(decibels(rms), decibels(peak))


class LevelMeter(QWidget):
    """A horizontal bar: RMS filled, peak as a thin mark, on a −60…0 dBFS scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelMeter")
        self.setMinimumSize(220, 14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.rms_db = FLOOR_DB
        self.peak_db = FLOOR_DB
        self._fall = QTimer(self, interval=_FRAME_MS)
        self._fall.timeout.connect(self._release)

    def show_level(self, rms_db: float, peak_db: float) -> None:
        self.rms_db = max(rms_db, self.rms_db)
        self.peak_db = max(peak_db, self.peak_db)
        if not self._fall.isActive():
            self._fall.start()
        self.update()

    def _release(self) -> None:
        step = _FALL_DB_PER_S * _FRAME_MS / 1000
        self.rms_db = max(FLOOR_DB, self.rms_db - step)
        self.peak_db = max(FLOOR_DB, self.peak_db - step / 2)
        if self.rms_db <= FLOOR_DB and self.peak_db <= FLOOR_DB:
            self._fall.stop()
        self.update()

    @staticmethod
    def _share(db: float) -> float:
        return (db - FLOOR_DB) / -FLOOR_DB

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 24))
        painter.drawRoundedRect(area, 3, 3)
        gradient = QLinearGradient(area.topLeft(), area.topRight())
        gradient.setColorAt(0.0, QColor("#3fb37f"))
        gradient.setColorAt(0.75, QColor("#e0c341"))
        gradient.setColorAt(1.0, QColor("#e05a47"))
        filled = QRectF(area.left(), area.top(), area.width() * self._share(self.rms_db), area.height())
        painter.setBrush(gradient)
        painter.drawRoundedRect(filled, 3, 3)
        if self.peak_db > FLOOR_DB:
            x = area.left() + area.width() * self._share(self.peak_db)
            painter.fillRect(QRectF(x - 1, area.top(), 2, area.height()), QColor(255, 255, 255, 200))
        painter.end()
