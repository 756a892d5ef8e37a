"""The media engine: a QMediaPlayer playing one URL, with its seek and stall measurements attached.

The window and the headless self-test share this class, so what the self-test proves is what the window runs.
It knows nothing about CIDs or the proxy: it plays a URL and reports what the viewer would see.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from player.audio_output import native_audio_output
from player.frame_keeper import FrameKeeper
from player.piece_end import DATA_END_SLACK_MS, refused_text, stopped_text
from player.seek_monitor import SeekMonitor, SeekRecord
from player.stall_monitor import StallMonitor

_Status = QMediaPlayer.MediaStatus
_State = QMediaPlayer.PlaybackState


class PlayState(enum.Enum):
    IDLE = "Idle"
    LOADING = "Loading"
    BUFFERING = "Buffering"
    PLAYING = "Playing"
    PAUSED = "Paused"
    STALLED = "Stalled"
    ENDED = "Ended"
    ERROR = "Error"

    @property
    def busy(self) -> bool:
        """Waiting for bytes: the busy indicator spins."""
        return self in (PlayState.LOADING, PlayState.BUFFERING, PlayState.STALLED)


class Playback(QObject):
    stateChanged = Signal(object)  # PlayState
    #: A new URL is about to be opened (views forget the old media's duration and position).
    opening = Signal(str)
    #: Qt's own error text; the window asks the proxy for the sentence behind it.
    failed = Signal(str)
    #: A seek was not made, and why in words (past where a damaged piece's data ends: ``player.piece_end``).
    refused = Signal(str)

    def __init__(
        self,
        video_output: QObject,
        flush_events: Callable[[], None] = lambda: None,
        *,
        audio: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio: QAudioOutput | None = native_audio_output(self) if audio else None
        if self.audio is not None:
            self.player.setAudioOutput(self.audio)
        self.player.setVideoOutput(video_output)
        self.seeks = SeekMonitor(flush_events, parent=self)
        self.seeks.attach(self.player.videoSink())
        self.stalls = StallMonitor(self.player, self.seeks, parent=self)
        #: Keeps the last frame on screen at the end, and redraws a still frame at a new size.
        self.frames = FrameKeeper(self.player, parent=self)
        self.url: str | None = None
        self.error: str | None = None
        #: Where the media's data stops when the piece ends before its header says (ms), else None.
        self.data_end_ms: float | None = None
        #: Where to go once the media has loaded again after playback ran into a damaged piece's end (ms).
        self._resume_at_ms: float | None = None
        self._state = PlayState.IDLE
        #: True while ``open`` hands the player its URL: state changes wait (see ``open``).
        self._handing_over = False
        self._loading_seen = False
        self.player.mediaStatusChanged.connect(self._on_status)
        self.player.playbackStateChanged.connect(self._update_state)
        self.player.errorOccurred.connect(self._on_error)
        self.seeks.finished.connect(self._update_state)
        self.stalls.changed.connect(self._update_state)

    @property
    def state(self) -> PlayState:
        return self._state

    def open(self, url: str, *, autoplay: bool = True) -> SeekRecord:
        """Play ``url`` from the start; the returned record completes with the time to first frame."""
        self.error = None
        self.url = url
        self.data_end_ms = self._resume_at_ms = None
        self.opening.emit(url)
        self.seeks.reset()
        self.stalls.reset()
        record = self.seeks.start("open", 0.0)
        self._loading_seen = False
        # Qt tells its slots "loading" from inside setSource and starts FFmpeg's loading only when setSource
        # returns: the window's answer to the new state (the status bar's relayout, ~4 ms) waited in front of the
        # piece's first request. It now follows once the player has its URL, while FFmpeg connects.
        self._handing_over = True
        try:
            if self.player.source() == QUrl(url):
                self.player.setSource(QUrl())  # Qt ignores the URL it already has: a retry would load nothing
            self.player.setSource(QUrl(url))
            if autoplay:
                self.player.play()
        finally:
            self._handing_over = False
        self._update_state()
        return record

    def close(self) -> None:
        self.seeks.cancel()
        self.player.stop()
        self.player.setSource(QUrl())
        self.url = None
        self.error = None
        self._update_state()

    def seek(self, position_ms: float) -> SeekRecord | None:
        """Seek to a position (clamped to the media); the record completes when a frame near it is shown."""
        if self.url is None or self.error is not None:
            return None
        duration = self.player.duration()
        target = max(0.0, float(position_ms))
        if duration > 0:
            target = min(target, max(0.0, duration - 250.0))
        if self.data_end_ms is not None and target > self.data_end_ms:
            self.refused.emit(refused_text(target / 1000.0, self.data_end_ms / 1000.0))
            return None
        record = self.seeks.start("seek", target)
        if self._resume_at_ms is not None:  # loading again after a damaged piece's end: Qt ignores positions now
            self._resume_at_ms = target
            self._update_state()
            return record
        ended = self.player.mediaStatus() == _Status.EndOfMedia
        self.player.setPosition(int(target))
        if ended and self.player.playbackState() == _State.StoppedState:
            self.player.pause()  # a stopped player decodes nothing: without this the seek never showed a frame
        self._update_state()
        return record

    def ends_early_at(self, end_ms: float) -> None:
        """The proxy's map says the piece's data stops here: seeks past it are refused from now on (this URL).

        A seek made past it before the map arrived waits for bytes that will never come: it is refused now, and
        playback goes back to just before the end."""
        self.data_end_ms = float(end_ms)
        pending = self.seeks.pending
        past = pending.target_ms if pending is not None and pending.kind == "seek" else self.player.position()
        if past > end_ms and self.error is None:
            self.refused.emit(refused_text(past / 1000.0, end_ms / 1000.0))
            self.seek(max(0.0, end_ms - DATA_END_SLACK_MS))

    def seek_by(self, delta_ms: float) -> SeekRecord | None:
        return self.seek(self.player.position() + delta_ms)

    def toggle(self) -> None:
        if self.player.playbackState() == _State.PlayingState:
            self.player.pause()
        elif self.url is not None and self.error is None:
            if self.player.mediaStatus() == _Status.EndOfMedia:
                self.seek(0)
            self.player.play()

    def _on_error(self, error: QMediaPlayer.Error, text: str) -> None:
        if error == QMediaPlayer.Error.NoError:
            return
        if self._at_data_end():
            self._stop_at_data_end()
            return
        self.error = text or error.name
        self.seeks.cancel()
        self._update_state()
        self.failed.emit(self.error)

    def _at_data_end(self) -> bool:
        """Qt fails where a damaged piece's data stops (FFmpeg: "Invalid data found"): there, that is its end."""
        return self.data_end_ms is not None and self.player.position() >= self.data_end_ms - DATA_END_SLACK_MS

    def _stop_at_data_end(self) -> None:
        """Load the media again, paused just before its data ends: the picture stays, and seeks before it work."""
        assert self.url is not None and self.data_end_ms is not None
        url, end_ms = self.url, self.data_end_ms
        self._resume_at_ms = 0.0  # seeks from now until the media has loaded wait for it (see ``seek``)
        self.player.setSource(QUrl())
        self.player.setSource(QUrl(url))
        self.player.pause()
        self.seek(max(0.0, end_ms - DATA_END_SLACK_MS))
        self.refused.emit(stopped_text(end_ms / 1000.0))

    def _compute_state(self) -> PlayState:
        status, playing = self.player.mediaStatus(), self.player.playbackState()
        pending = self.seeks.pending
        if self.error is not None or status == _Status.InvalidMedia:
            return PlayState.ERROR
        if self.url is None:
            return PlayState.IDLE
        if (pending is not None and pending.kind == "open") or status == _Status.LoadingMedia:
            return PlayState.LOADING
        if self.stalls.stalled:
            return PlayState.STALLED
        if pending is not None:
            return PlayState.BUFFERING
        if status == _Status.EndOfMedia:
            return PlayState.ENDED
        if playing == _State.PlayingState:
            return PlayState.PLAYING
        if playing == _State.PausedState:
            return PlayState.PAUSED
        return PlayState.IDLE

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == _Status.LoadingMedia:
            self._loading_seen = True
        elif self._loading_seen and status in (_Status.LoadedMedia, _Status.BufferingMedia, _Status.BufferedMedia):
            self.seeks.arm()  # Qt reports the old media's status first; only a load after LoadingMedia is ours
        if self._resume_at_ms is not None and status in (_Status.LoadedMedia, _Status.BufferedMedia):
            position, self._resume_at_ms = self._resume_at_ms, None
            self.player.setPosition(int(position))  # the last seek asked while it loaded: its record is pending
        self._update_state()

    def _update_state(self, *_: object) -> None:
        if self._handing_over:
            return
        state = self._compute_state()
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)
