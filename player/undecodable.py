"""Video the bundled decoder cannot play, noticed as playback starts and named by its codec.

Qt's FFmpeg loads such media without an error: the container is read, the codec is known (``VideoCodec`` in the
metadata, AV1 say), the sound plays — and no picture ever comes. Asking Qt which codecs it decodes does not help
(``QMediaFormat`` lists neither H.264 nor HEVC, which play). So the check is what a viewer sees: the media has a
video track, the clock has run for a while, and not one frame has arrived.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtMultimedia import QMediaPlayer, QVideoFrame

from player.media_info import read_media_info

#: How long playback runs without a single frame before the video is called undecodable. A decodable stream shows
#: its first frame before its clock moves at all.
NO_FRAME_AFTER_MS = 1200
#: Position steps larger than this are seeks or Qt's jumps, not time played.
_STEP_LIMIT_MS = 500


def sentence(codec: str) -> str:
    what = f"video is {codec}" if codec else "video uses a codec"
    return f"This piece's {what}, which this build's decoder cannot play"


class UndecodableVideo(QObject):
    """Emits ``found(sentence, codec)`` once per open when the video cannot be decoded."""

    found = Signal(str, str)

    def __init__(self, player: QMediaPlayer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self._frame_seen = False
        self._last_ms: int | None = None
        self._played_ms = 0
        self._reported = False
        self.codec = ""
        player.videoSink().videoFrameChanged.connect(self._frame)
        player.positionChanged.connect(self._position)
        player.sourceChanged.connect(self.reset)

    def reset(self, *_: object) -> None:
        self._frame_seen = False
        self._last_ms = None
        self._played_ms = 0
        self._reported = False
        self.codec = ""

    @property
    def reported(self) -> bool:
        return self._reported

    def _frame(self, frame: QVideoFrame) -> None:
        if frame.isValid():
            self._frame_seen = True

    def _position(self, position_ms: int) -> None:
        if self._frame_seen or self._reported or not self.player.hasVideo():
            return
        step = position_ms - (position_ms if self._last_ms is None else self._last_ms)
        self._last_ms = position_ms
        if 0 < step <= _STEP_LIMIT_MS:
            self._played_ms += step
        if self._played_ms >= NO_FRAME_AFTER_MS:
            self._reported = True
            self.codec = read_media_info(self.player).video_codec
            self.found.emit(sentence(self.codec), self.codec)
