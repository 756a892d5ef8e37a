"""Stalls: playback that should show frames but does not.

Qt's FFmpeg backend does not say when it runs dry (no StalledMedia, no buffer levels), so a stall is defined by
what a viewer sees: the player is playing a video, no seek is in progress, the media has not ended, and no new
frame has arrived for longer than a few frame intervals. Waiting for a seek's first frame is seek latency, not a
stall.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtMultimedia import QMediaPlayer

from player.seek_monitor import SeekMonitor

#: No frame for this long while playing is a stall (a 24 fps video shows a frame every 42 ms).
STALL_AFTER_S = 0.5
_CHECK_EVERY_MS = 100
#: The last moments of a file deliver their last frames and then nothing, which is not a stall.
_END_MARGIN_MS = 1000


class StallMonitor(QObject):
    #: True when a stall begins, False when frames flow again.
    changed = Signal(bool)

    def __init__(self, player: QMediaPlayer, seeks: SeekMonitor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.seeks = seeks
        self.count = 0
        self.total_s = 0.0
        self.stalled_since: float | None = None
        self._last_frame = time.monotonic()
        seeks.frame.connect(self._on_frame)
        player.playbackStateChanged.connect(self._restart_clock)
        self._timer = QTimer(self, interval=_CHECK_EVERY_MS)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    @property
    def stalled(self) -> bool:
        return self.stalled_since is not None

    def reset(self) -> None:
        self.count = 0
        self.total_s = 0.0
        self.stalled_since = None
        self._last_frame = time.monotonic()

    def total_now(self) -> float:
        """Stalled seconds so far, including a stall in progress."""
        running = time.monotonic() - self.stalled_since if self.stalled_since is not None else 0.0
        return self.total_s + running

    def _restart_clock(self, *_: object) -> None:
        self._last_frame = time.monotonic()
        if self.player.playbackState() != QMediaPlayer.PlaybackState.PlayingState:
            self._end()

    def _on_frame(self, _start_ms: float) -> None:
        self._last_frame = time.monotonic()
        self._end()

    def _expecting_frames(self) -> bool:
        player = self.player
        near_end = player.duration() > 0 and player.position() >= player.duration() - _END_MARGIN_MS
        return (
            player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
            and player.hasVideo()
            and self.seeks.pending is None
            and not near_end
            and player.mediaStatus() not in (QMediaPlayer.MediaStatus.EndOfMedia, QMediaPlayer.MediaStatus.InvalidMedia)
        )

    def _check(self) -> None:
        now = time.monotonic()
        if not self._expecting_frames():
            self._last_frame = now  # the clock starts again when frames are expected again
            self._end()
            return
        if self.stalled_since is None and now - self._last_frame > STALL_AFTER_S:
            self.stalled_since = self._last_frame
            self.count += 1
            self.changed.emit(True)

    def _end(self) -> None:
        if self.stalled_since is not None:
            self.total_s += time.monotonic() - self.stalled_since
            self.stalled_since = None
            self.changed.emit(False)
