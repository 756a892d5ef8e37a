"""Audio and subtitle tracks: list them, choose one, cycle with mpv's keys (``#`` audio, ``j`` subtitles), and
remember the choice per piece.

Qt plays the first audio track and no subtitles by default; a choice made once for a piece is applied again
whenever that piece loads. Embedded text subtitles (SRT, WebVTT, ASS as text) are drawn by the video widget
itself once a subtitle track is active.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtMultimedia import QMediaMetaData, QMediaPlayer
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from player.icons import icon
from player.media_info import text
from player.settings import Settings

_Key = QMediaMetaData.Key
OFF = -1
CYCLE_AUDIO_KEY = "#"
CYCLE_SUBTITLE_KEY = "J"


def track_label(track: QMediaMetaData, number: int, codec_key: QMediaMetaData.Key | None) -> str:
    """ "2: French (Opus)" — what the menu and the status bar call a track."""
    language = text(track, _Key.Language)
    language = "" if language == "Default" else language
    title = text(track, _Key.Title)
    codec = text(track, codec_key) if codec_key is not None else ""
    name = " — ".join(part for part in (title, language) if part) or f"Track {number}"
    return f"{number}: {name}" + (f" ({codec})" if codec else "")


class TrackChooser(QObject):
    """The tracks of the piece that plays, the active ones, and the per-piece memory."""

    #: The list of tracks or the active ones changed (menus rebuild from it).
    changed = Signal()
    #: A sentence for the status bar after a choice ("Audio 2/2: French (Opus)").
    announced = Signal(str)

    def __init__(
        self,
        player: QMediaPlayer,
        settings: Settings,
        seek: Callable[[float], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = player
        self.settings = settings
        #: Playback's seek, used to stay in place after a switch (see ``_stay``).
        self.seek = seek
        self.piece = ""
        player.tracksChanged.connect(self._tracks_arrived)
        player.activeTracksChanged.connect(self.changed)

    def set_piece(self, piece: str) -> None:
        """A new piece opens: its remembered choice applies once its tracks are known."""
        self.piece = piece
        self._tracks_arrived()

    # --- what there is ------------------------------------------------------------------------------------

    def audio_labels(self) -> list[str]:
        return [track_label(t, i + 1, _Key.AudioCodec) for i, t in enumerate(self.player.audioTracks())]

    def subtitle_labels(self) -> list[str]:
        return [track_label(t, i + 1, None) for i, t in enumerate(self.player.subtitleTracks())]

    @property
    def audio(self) -> int:
        return self.player.activeAudioTrack()

    @property
    def subtitle(self) -> int:
        return self.player.activeSubtitleTrack()

    # --- choosing -----------------------------------------------------------------------------------------

    def choose_audio(self, index: int) -> None:
        labels = self.audio_labels()
        if not 0 <= index < len(labels):
            return
        self.player.setActiveAudioTrack(index)
        self._stay()
        self._remember(audio=index)
        self.announced.emit(f"Audio {index + 1}/{len(labels)}: {labels[index].split(': ', 1)[1]}")

    def choose_subtitle(self, index: int) -> None:
        labels = self.subtitle_labels()
        if not OFF <= index < len(labels):
            return
        self.player.setActiveSubtitleTrack(index)
        self._stay()
        self._remember(subtitle=index)
        if index == OFF:
            self.announced.emit("Subtitles off")
        else:
            self.announced.emit(f"Subtitles {index + 1}/{len(labels)}: {labels[index].split(': ', 1)[1]}")

    def cycle_audio(self) -> None:
        count = len(self.player.audioTracks())
        if count < 2:
            self.announced.emit("This piece has one audio track" if count else "This piece has no audio")
            return
        self.choose_audio((max(self.audio, 0) + 1) % count)

    def cycle_subtitle(self) -> None:
        """Off → 1 → 2 → … → off, as mpv's ``j`` does."""
        count = len(self.player.subtitleTracks())
        if not count:
            self.announced.emit("This piece has no subtitles")
            return
        following = self.subtitle + 1
        self.choose_subtitle(OFF if following >= count else following)

    def _stay(self) -> None:
        """Seek to where the viewer is. Qt's FFmpeg engine, switching a track while it plays from HTTP, jumped to
        where its demuxer had read ahead (0.2 s → 4.2 s on the ASS corpus file) and showed no subtitle; after a
        seek to the same place it keeps the place and the subtitles show."""
        self.seek(self.player.position())

    def _remember(self, **choice: int) -> None:
        if self.piece:
            self.settings.remember_tracks(self.piece, **choice)
        self.changed.emit()

    def _tracks_arrived(self) -> None:
        remembered = self.settings.tracks_for(self.piece) if self.piece else {}
        audio, subtitle = remembered.get("audio"), remembered.get("subtitle")
        if audio is not None and 0 <= audio < len(self.player.audioTracks()) and audio != self.audio:
            self.player.setActiveAudioTrack(audio)
        if subtitle is not None and OFF <= subtitle < len(self.player.subtitleTracks()) and subtitle != self.subtitle:
            self.player.setActiveSubtitleTrack(subtitle)
        self.changed.emit()


class TracksButton(QToolButton):
    """The transport bar's track button: a menu of audio tracks and subtitles, rebuilt each time it opens."""

    def __init__(self, chooser: TrackChooser, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chooser = chooser
        self.setObjectName("tracksButton")
        self.setIcon(icon("tracks"))
        self.setToolTip(f"Audio track and subtitles ({CYCLE_AUDIO_KEY} / {CYCLE_SUBTITLE_KEY.lower()})")
        self.setAutoRaise(True)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Tab reaches it; a click does not take the keys
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.menu_.aboutToShow.connect(self.rebuild)
        self.setMenu(self.menu_)

    def rebuild(self) -> None:
        fill_track_menu(self.menu_, self.chooser)


def fill_track_menu(menu: QMenu, chooser: TrackChooser) -> None:
    """Audio tracks, then subtitles (with Off), each a group of checkable actions; usable by a menu bar too."""
    menu.clear()
    _header(menu, "Audio")
    audio = QActionGroup(menu)
    labels = chooser.audio_labels()
    for index, label in enumerate(labels):
        action = menu.addAction(label, lambda i=index: chooser.choose_audio(i))
        action.setCheckable(True)
        action.setChecked(index == chooser.audio)
        audio.addAction(action)
    if not labels:
        menu.addAction("No audio").setEnabled(False)
    menu.addSeparator()
    _header(menu, "Subtitles")
    subtitles = QActionGroup(menu)
    for index, label in [(OFF, "Off"), *enumerate(chooser.subtitle_labels())]:
        action = menu.addAction(label, lambda i=index: chooser.choose_subtitle(i))
        action.setCheckable(True)
        action.setChecked(index == chooser.subtitle)
        subtitles.addAction(action)
    if not chooser.subtitle_labels():
        menu.actions()[-1].setEnabled(False)
        menu.actions()[-1].setText("Off (this piece has no subtitles)")


def _header(menu: QMenu, title: str) -> None:
    """A group's title (QMenu.addSection draws only a line in most styles)."""
    header = menu.addAction(title)
    header.setEnabled(False)
    font = header.font()
    font.setBold(True)
    header.setFont(font)
