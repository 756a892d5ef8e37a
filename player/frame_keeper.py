"""Keep the picture on screen: the last frame at the end of a piece, and a paused frame at a new window size.

Qt's FFmpeg backend hands the video sink an empty frame when a piece ends, so the video turned black instead of
showing the last picture; and while paused no new frame arrives, so after a resize the video widget could keep
drawing the old frame at its old size (seen on X11 on the first resize after a pause, cut off or small). The keeper
remembers the last real frame of the current source and hands that same frame to the sink again in both cases. A
frame handed again is the same object (``==``), which is how the seek monitor knows it is a redraw and not a new
picture. The sink ignores the frame it already holds, so a redraw hands it an empty frame first; both arrive before
the widget next paints.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtMultimedia import QMediaPlayer, QVideoFrame
from PySide6.QtWidgets import QWidget

_Status = QMediaPlayer.MediaStatus
#: A resize by dragging sends many resize events; the still frame is drawn again once they pause this long.
_RESIZE_SETTLE_MS = 60


class FrameKeeper(QObject):
    def __init__(self, player: QMediaPlayer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.last: QVideoFrame | None = None
        self._sink = player.videoSink()
        if self._sink is not None:
            self._sink.videoFrameChanged.connect(self._on_frame)
        player.mediaStatusChanged.connect(self._on_status)
        player.sourceChanged.connect(self.forget)
        self._presenting = False
        self._redraw = QTimer(self, singleShot=True, interval=_RESIZE_SETTLE_MS)
        self._redraw.timeout.connect(self._redraw_still)

    def forget(self, *_: object) -> None:
        """A new source: the old piece's picture must not come back."""
        self.last = None

    def redraw_on_resize(self, widget: QWidget) -> None:
        """Draw a still frame again when ``widget`` (the video widget) changes size."""
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._redraw.start()  # once the size has settled, not on every step of a drag
        return super().eventFilter(watched, event)

    def _on_frame(self, frame: QVideoFrame) -> None:
        if frame.isValid():
            self.last = frame
        elif self.player.mediaStatus() == _Status.EndOfMedia:
            self._present()

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == _Status.EndOfMedia and self._sink is not None and not self._sink.videoFrame().isValid():
            self._present()

    def _redraw_still(self) -> None:
        if self.player.playbackState() != QMediaPlayer.PlaybackState.PlayingState:
            self._present()

    def _present(self) -> None:
        sink, last = self._sink, self.last
        if last is None or sink is None or self._presenting:
            return
        self._presenting = True
        try:
            if sink.videoFrame() == last:
                sink.setVideoFrame(QVideoFrame())
            sink.setVideoFrame(last)
        finally:
            self._presenting = False
