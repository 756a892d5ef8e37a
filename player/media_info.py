"""What the loaded media is, read from QMediaPlayer's metadata: title, codecs, duration, cover art.

The audio view shows it, the track menu labels tracks with it, and the undecodable check names the codec from it.
Qt's enum-valued keys (codecs, file format) have no Python converter in PySide6, so they are read as strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QImage
from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer

_Key = QMediaMetaData.Key
#: What Qt says when it does not know.
_UNKNOWN = ("", "Unspecified", "UnspecifiedFormat")


@dataclass(frozen=True)
class MediaInfo:
    #: The title the file carries (ID3, Vorbis comment, container title), or "".
    title: str
    #: Codec names as Qt spells them ("FLAC", "AAC", "AV1"…), "" when unknown or absent.
    audio_codec: str
    video_codec: str
    file_format: str
    duration_ms: int
    #: Embedded cover art (an attached picture, ID3 APIC, MP4 covr), or None.
    cover: QImage | None
    has_video: bool
    has_audio: bool

    @property
    def audio_only(self) -> bool:
        return self.has_audio and not self.has_video


def text(metadata: QMediaMetaData, key: QMediaMetaData.Key) -> str:
    value = metadata.stringValue(key)
    return "" if value in _UNKNOWN else value


def cover_of(metadata: QMediaMetaData) -> QImage | None:
    for key in (_Key.CoverArtImage, _Key.ThumbnailImage):
        image = metadata.value(key)  # None when the file has no such picture
        if isinstance(image, QImage) and not image.isNull():
            return image
    return None


def read_media_info(player: QMediaPlayer) -> MediaInfo:
    metadata = player.metaData()
    video_codec = text(metadata, _Key.VideoCodec)
    if not video_codec and player.videoTracks():
        video_codec = text(player.videoTracks()[0], _Key.VideoCodec)
    return MediaInfo(
        title=text(metadata, _Key.Title),
        audio_codec=text(metadata, _Key.AudioCodec),
        video_codec=video_codec,
        file_format=text(metadata, _Key.FileFormat),
        duration_ms=max(0, player.duration()),
        cover=cover_of(metadata),
        has_video=player.hasVideo(),
        has_audio=player.hasAudio(),
    )
