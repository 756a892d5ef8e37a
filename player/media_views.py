"""What the window shows for the media that loaded, beyond the video: the audio view for audio-only pieces, the
track chooser, and — for video this build cannot decode — the message naming the codec with **Open in external
player**.

One object wires these parts to the playback, the video area and the controller, so the main window adds it with
a few lines and a menu bar can reuse its actions (``actions()``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtMultimedia import QMediaPlayer

from player.controller import Controller, Opened
from player.external_player import ExternalPlayer, find_external_player, open_external
from player.level_meter import LevelProbe
from player.media_info import read_media_info
from player.playback import Playback
from player.settings import Settings
from player.tracks import TrackChooser, TracksButton
from player.undecodable import UndecodableVideo
from player.video_area import VideoArea

OPEN_EXTERNAL_KEY = "Ctrl+E"
NO_EXTERNAL_PLAYER = "No external player is installed: install mpv or VLC to play this piece"


class MediaViews(QObject):
    def __init__(
        self,
        playback: Playback,
        video_area: VideoArea,
        controller: Controller,
        settings: Settings,
        say: Callable[[str, str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.playback = playback
        self.player = playback.player
        self.area = video_area
        self.controller = controller
        #: (text, level) into the status bar.
        self.say = say
        self.title = ""
        self.levels = LevelProbe(self.player, self)
        self.tracks = TrackChooser(self.player, settings, playback.seek, self)
        self.tracks_button = TracksButton(self.tracks)
        self.undecodable = UndecodableVideo(self.player, self)
        #: The last external player started (for the tests and for nothing else to steer).
        self.external_process = None
        self.levels.level.connect(video_area.audio.meter.show_level)
        self.tracks.announced.connect(lambda words: say(words, "info"))
        controller.opened.connect(self._opened)
        self.player.mediaStatusChanged.connect(self._refresh)
        self.player.metaDataChanged.connect(self._refresh)
        self.player.hasVideoChanged.connect(self._refresh)
        self.player.positionChanged.connect(self._audio_position)
        self.undecodable.found.connect(self._undecodable)
        video_area.card.actionTriggered.connect(self.open_external)

    def _opened(self, opened: Opened) -> None:
        self.title = opened.title
        self.tracks.set_piece(opened.target.text)

    def _refresh(self, *_: object) -> None:
        """Audio-only media gets the audio view; anything else keeps the video (or the card that explains)."""
        area = self.area
        status = self.player.mediaStatus()
        if area.currentWidget() is area.card or status in (
            QMediaPlayer.MediaStatus.NoMedia,
            QMediaPlayer.MediaStatus.LoadingMedia,
            QMediaPlayer.MediaStatus.InvalidMedia,
        ):
            return
        info = read_media_info(self.player)
        if info.audio_only:
            area.audio.show_info(info, self.title)
            area.show_audio()
            self.levels.attach()
            return
        self.levels.rest()
        if area.currentWidget() is area.audio:
            area.show_video()

    def _audio_position(self, position_ms: int) -> None:
        """Audio-only media shows no frame: sound playing on from a target is what lands an open or a seek, for the
        seek chart as for the self-test (``SeekMonitor.on_position``)."""
        player = self.player
        if not player.hasAudio() or player.hasVideo():
            return
        if player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.playback.seeks.on_position(float(position_ms))
        else:
            self.playback.seeks.on_paused_position(float(position_ms))

    def _undecodable(self, sentence: str, codec: str) -> None:
        self.playback.seeks.cancel()  # no first frame is coming: the state says Paused, not Loading
        self.player.pause()  # the sound alone behind a message is not what the user asked for
        external = find_external_player()
        if external is None:
            detail, action = f"{NO_EXTERNAL_PLAYER}.", ""
        else:
            detail = f"{external.name} can play it from this player's proxy; the side panel keeps showing its requests."
            action = f"Open in {external.name}"
        self.area.show_message("The picture cannot be shown here", f"{sentence}.", "error", detail, action)
        self.say(sentence, "error")

    def open_external(self) -> ExternalPlayer | None:
        """Hand the piece's URL (the proxy's, so its requests show in the panel) to an external player."""
        current = self.controller.current
        if current is None:
            self.say("Open a piece first", "info")
            return None
        external = find_external_player()
        if external is None:
            self.say(NO_EXTERNAL_PLAYER, "error")
            return None
        self.player.pause()
        self.external_process = open_external(external, current.url, self)
        where = "the proxy keeps serving it" if current.via == "proxy" else "it plays directly"
        self.say(f"Playing in {external.name}; {where}", "info")
        return external
