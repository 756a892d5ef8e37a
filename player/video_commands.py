"""What the Video menu does besides fullscreen: a screenshot of the frame on screen, and the picture's aspect.

mpv's ``s`` saves the frame as it was decoded (not the window): here the video sink's last frame is saved as a PNG
in the Pictures folder, named after the piece and the time in it. The aspect is Qt's: fit (letterbox), fill
(crop to the window) or stretch.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtMultimediaWidgets import QVideoWidget

from player.controller import Opened
from player.places import dated_name
from player.playback import Playback
from player.units import format_clock

_Aspect = Qt.AspectRatioMode
#: The aspect choices in the order ``A`` cycles through them.
ASPECTS = ("fit", "fill", "stretch")
_MODES = {
    "fit": _Aspect.KeepAspectRatio,
    "fill": _Aspect.KeepAspectRatioByExpanding,
    "stretch": _Aspect.IgnoreAspectRatio,
}


class VideoCommands(QObject):
    #: (sentence, level) for the status bar.
    message = Signal(str, str)
    aspectChanged = Signal(str)

    def __init__(self, playback: Playback, video: QVideoWidget, pictures: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.playback = playback
        self.video = video
        self.pictures = pictures

    def screenshot(self, opened: Opened | None = None) -> Path | None:
        """Save the frame on screen; returns the file, or None (and says why) when there is no frame."""
        title = opened.title if opened is not None else "pieceplayer"
        frame = self.playback.player.videoSink().videoFrame()
        if not frame.isValid():
            frame = self.playback.frames.last
        image = frame.toImage() if frame is not None and frame.isValid() else None
        if image is None or image.isNull():
            self.message.emit(self.tr("No picture to save yet: open a piece with video first"), "info")
            return None
        at = format_clock(frame.startTime() / 1000 if frame.startTime() >= 0 else self.playback.player.position())
        self.pictures.mkdir(parents=True, exist_ok=True)
        path = self.pictures / dated_name(f"{title}-{at.replace(':', '.')}", ".png")
        if not image.save(str(path), "PNG"):
            self.message.emit(
                self.tr("The screenshot could not be saved in {folder}").format(folder=self.pictures), "error"
            )
            return None
        self.message.emit(self.tr("Screenshot saved: {path}").format(path=path), "info")
        return path

    def aspect(self) -> str:
        mode = self.video.aspectRatioMode()
        return next(name for name, value in _MODES.items() if value == mode)

    def set_aspect(self, name: str) -> None:
        self.video.setAspectRatioMode(_MODES[name])
        self.aspectChanged.emit(name)

    def cycle_aspect(self) -> None:
        following = ASPECTS[(ASPECTS.index(self.aspect()) + 1) % len(ASPECTS)]
        self.set_aspect(following)
        words = {"fit": self.tr("Fit"), "fill": self.tr("Fill (crop)"), "stretch": self.tr("Stretch")}
        self.message.emit(self.tr("Aspect: {name}").format(name=words[following]), "info")
