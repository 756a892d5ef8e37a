"""Play/pause, time, seek bar, volume, speed, and the panel and fullscreen toggles.

It observes a :class:`Playback` and sends the user's choices to it; the panel and fullscreen buttons only emit
signals, because the window owns those.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from player.icons import icon
from player.playback import Playback
from player.seek_slider import SeekSlider
from player.units import format_clock

SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
VOLUME_STEP = 0.05
#: Below this width the volume slider is hidden so the seek bar keeps its room.
_ROOMY_WIDTH = 640


def _button(name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(icon(name))
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
    return button


class TransportBar(QWidget):
    panelToggled = Signal()
    fullscreenToggled = Signal()
    #: The user asked for a seek (ms) with the slider.
    seekRequested = Signal(float)

    def __init__(self, playback: Playback, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transport")
        self.playback = playback
        player = playback.player
        self.play_button = _button("play", "Play (Space)")
        self.play_button.setObjectName("playButton")
        self.play_button.setAccessibleName(self.tr("Play or pause"))  # its tooltip changes with the state
        self.elapsed = QLabel("0:00")
        self.total = QLabel("--:--")
        for label in (self.elapsed, self.total):
            label.setObjectName("clock")
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("00:00:00") + 4)
        self.elapsed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.slider = SeekSlider()
        self.mute_button = _button("volume", "Mute (M)")
        self.mute_button.setAccessibleName(self.tr("Mute or unmute"))
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setMinimumWidth(48)
        self.volume.setMaximumWidth(96)
        self.volume.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.volume.setToolTip("Volume (↑/↓)")
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed")
        self.speed.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speed.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.panel_button = _button("panel", "Show or hide the side panel (P)")
        self.panel_button.setCheckable(True)
        self.fullscreen_button = _button("fullscreen", "Fullscreen (F)")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 6)
        layout.setSpacing(6)
        layout.addWidget(self.play_button)
        layout.addWidget(self.elapsed)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.total)
        layout.addSpacing(6)
        layout.addWidget(self.mute_button)
        layout.addWidget(self.volume)
        layout.addWidget(self.speed)
        layout.addWidget(self.panel_button)
        layout.addWidget(self.fullscreen_button)

        self.play_button.clicked.connect(playback.toggle)
        self.slider.seekRequested.connect(self.seekRequested)
        self.slider.scrubbing.connect(lambda ms: self.elapsed.setText(format_clock(ms)))
        self.mute_button.clicked.connect(self.toggle_mute)
        self.volume.valueChanged.connect(self._volume_moved)
        self.speed.currentIndexChanged.connect(lambda: player.setPlaybackRate(self.speed.currentData()))
        self.panel_button.clicked.connect(self.panelToggled)
        self.fullscreen_button.clicked.connect(self.fullscreenToggled)
        playback.opening.connect(self.reset)
        # A refused seek (past where a damaged piece ends) moved nothing: the bar shows where playback really is.
        playback.refused.connect(lambda _words: self._position(player.position()))
        player.positionChanged.connect(self._position)
        player.durationChanged.connect(self._duration)
        player.playbackStateChanged.connect(self._playing)
        if playback.audio is not None:
            playback.audio.volumeChanged.connect(self._show_volume)
            playback.audio.mutedChanged.connect(self._show_volume)
            self._show_volume()

    def add_tool(self, button: QWidget) -> None:
        """A button of another part (the track menu), placed before the panel and fullscreen toggles."""
        layout = self.layout()
        layout.insertWidget(layout.indexOf(self.panel_button), button)

    def show_fullscreen(self, fullscreen: bool) -> None:
        self.fullscreen_button.setIcon(icon("fullscreen-exit" if fullscreen else "fullscreen"))
        self.fullscreen_button.setToolTip("Leave fullscreen (F or Esc)" if fullscreen else "Fullscreen (F)")

    def resizeEvent(self, event: object) -> None:
        """Narrow windows keep the seek bar usable: the volume slider goes first (↑/↓ and M still work)."""
        self.volume.setVisible(self.width() >= _ROOMY_WIDTH)
        super().resizeEvent(event)  # type: ignore[arg-type]

    def reset(self) -> None:
        self._duration(0)
        self._position(0)
        self.slider.set_cached([])

    def _position(self, ms: int) -> None:
        shown = self.playback.seeks.shown_position(float(ms))  # never the old place once a seek was asked
        self.slider.set_position(shown)
        if not self.slider.dragging:
            self.elapsed.setText(format_clock(shown))

    def _duration(self, ms: int) -> None:
        self.slider.set_duration(ms)
        self.total.setText(format_clock(ms) if ms > 0 else "--:--")

    def _playing(self, state: QMediaPlayer.PlaybackState) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")

    # --- volume --------------------------------------------------------------------------------------------

    def set_volume(self, volume: float) -> None:
        if self.playback.audio is not None:
            self.playback.audio.setVolume(min(1.0, max(0.0, volume)))

    def change_volume(self, delta: float) -> None:
        if self.playback.audio is not None:
            self.playback.audio.setMuted(False)
            self.set_volume(self.playback.audio.volume() + delta)

    def toggle_mute(self) -> None:
        if self.playback.audio is not None:
            self.playback.audio.setMuted(not self.playback.audio.isMuted())

    def _volume_moved(self, value: int) -> None:
        if self.playback.audio is not None and round(self.playback.audio.volume() * 100) != value:
            self.playback.audio.setMuted(False)
            self.playback.audio.setVolume(value / 100)

    def _show_volume(self, *_: object) -> None:
        audio = self.playback.audio
        assert audio is not None
        muted = audio.isMuted() or audio.volume() == 0
        self.mute_button.setIcon(icon("mute" if muted else "volume"))
        self.mute_button.setToolTip("Unmute (M)" if muted else "Mute (M)")
        self.volume.blockSignals(True)
        self.volume.setValue(round(audio.volume() * 100))
        self.volume.blockSignals(False)
