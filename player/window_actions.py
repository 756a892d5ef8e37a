"""The window's table of actions: every menu item, its keys and what it calls, in one place.

Keys follow VLC and mpv (Space/K play, ←/→ 5 s, Shift+←/→ 30 s, ``.``/``,`` frame step, ``[``/``]`` speed,
``L``/Shift+L A-B repeat/loop, F fullscreen, S screenshot, A aspect, T always on top, F1/``?`` the shortcuts,
Ctrl+O open file, Ctrl+T go to time). Another part of the player adds its actions as rows here (audio and
subtitle tracks go in the ``TRACKS`` section of their menus).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt

from player.errors_text import cid_hint
from player.media_views import OPEN_EXTERNAL_KEY
from player.menus import TRACKS, ActionRow, WindowMenus, choice_name, choice_rows
from player.playback_actions import PlaybackActions
from player.target import parse_target
from player.tracks import CYCLE_AUDIO_KEY, CYCLE_SUBTITLE_KEY
from player.transport_bar import VOLUME_STEP
from player.video_commands import ASPECTS
from proxy.api import CidError

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

    from player.main_window import MainWindow
    from player.shortcuts_overlay import ShortcutsOverlay


class WindowActions(QObject):
    """The rows, and the few actions that are the window's as a whole (recent pieces, on top, the overlay)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.overlay: ShortcutsOverlay | None = None

    def rows(self) -> list[ActionRow]:
        return [
            *self.file(),
            *PlaybackActions(self.window).rows(),
            *self.audio(),
            *self.video(),
            *self.view(),
            *self.help(),
        ]

    def file(self) -> list[ActionRow]:
        w = self.window
        exports = self.tr("&Export request log")

        def export_row(kind: str, words: str) -> ActionRow:
            """File ▸ Export request log ▸ one format (the panel's request log, built now if it was not yet)."""
            return ActionRow(
                f"file.export_{kind}",
                "file",
                words,
                lambda: w.files.ask_export(w, kind, w.panel.request_log),
                submenu=exports,
                section="share",
            )

        return [
            ActionRow(
                "file.open_piece",
                "file",
                self.tr("Open &piece…"),
                w.cid_bar.focus,
                ("Ctrl+L",),
                self.tr("Type or paste a PieceCID or a URL"),
                on_video=True,
            ),
            ActionRow(
                "file.open_file",
                "file",
                self.tr("Open &file…"),
                lambda: w.files.ask_file(w),
                ("Ctrl+O",),
                self.tr("Play a video file from this computer"),
                on_video=True,
            ),
            ActionRow("file.recent", "file", self.tr("Open &recent"), None, is_menu=True),
            ActionRow(
                "file.open_external",
                "file",
                self.tr("Open in &external player"),
                w.media_views.open_external,
                (OPEN_EXTERNAL_KEY,),
                self.tr("Play this piece's proxy URL in mpv, VLC or the system's player; the panel keeps its requests"),
            ),
            ActionRow(
                "file.copy_link",
                "file",
                self.tr("&Copy piece link"),
                lambda: w.files.copy_link(w.controller.current),
                ("Ctrl+Shift+C",),
                self.tr("Copy the PieceCID or URL of what is playing"),
                section="share",
            ),
            export_row("har", self.tr("HAR (for browser tools)…")),
            export_row("csv", self.tr("CSV (for spreadsheets)…")),
            ActionRow(
                "file.settings",
                "file",
                self.tr("&Settings…"),
                w.open_settings,
                ("Ctrl+,",),
                self.tr("Where videos come from, the cache"),
                section="settings",
            ),
            ActionRow("file.quit", "file", self.tr("&Quit"), w.close, ("Ctrl+Q",), section="quit"),
        ]

    def audio(self) -> list[ActionRow]:
        w = self.window
        return [
            ActionRow(
                "audio.louder", "audio", self.tr("Volume up"), lambda: w.transport.change_volume(VOLUME_STEP), ("Up",)
            ),
            ActionRow(
                "audio.quieter",
                "audio",
                self.tr("Volume down"),
                lambda: w.transport.change_volume(-VOLUME_STEP),
                ("Down",),
            ),
            ActionRow("audio.mute", "audio", self.tr("&Mute"), w.transport.toggle_mute, ("M",)),
            ActionRow(
                "audio.next_track",
                "audio",
                self.tr("Next audio track"),
                w.media_views.tracks.cycle_audio,
                (CYCLE_AUDIO_KEY,),
                self.tr("The next audio track (the transport bar's track button lists them all)"),
                section=TRACKS,
            ),
            ActionRow(
                "subtitles.next_track",
                "subtitles",
                self.tr("Next subtitles (or off)"),
                w.media_views.tracks.cycle_subtitle,
                (CYCLE_SUBTITLE_KEY,),
                self.tr("The next subtitle track, then off, as mpv's j"),
                section=TRACKS,
            ),
        ]

    def video(self) -> list[ActionRow]:
        w, video = self.window, self.window.video_commands
        words = {
            "fit": self.tr("Fit to the window"),
            "fill": self.tr("Fill the window (crop)"),
            "stretch": self.tr("Stretch"),
        }
        return [
            ActionRow(
                "video.fullscreen",
                "video",
                self.tr("&Fullscreen"),
                w.toggle_fullscreen,
                ("F",),
                on_video=True,
                checkable=True,
            ),
            ActionRow("video.leave_fullscreen", "", self.tr("Leave fullscreen"), w.leave_fullscreen, ("Esc",)),
            ActionRow(
                "video.screenshot",
                "video",
                self.tr("Take a &screenshot"),
                lambda: video.screenshot(w.controller.current),
                ("S",),
                self.tr("Save the frame on screen as a picture in Pictures"),
                on_video=True,
            ),
            ActionRow(
                "video.cycle_aspect",
                "video",
                self.tr("Next: fit, fill, stretch"),
                video.cycle_aspect,
                ("A",),
                submenu=self.tr("&Aspect"),
            ),
            *choice_rows("video", self.tr("&Aspect"), "aspect", ((n, words[n], n) for n in ASPECTS), video.set_aspect),
        ]

    def view(self) -> list[ActionRow]:
        w = self.window
        return [
            ActionRow(
                "view.panel",
                "view",
                self.tr("Side &panel"),
                w.toggle_panel,
                ("P",),
                self.tr("Show or hide the cache map, request log and statistics"),
                checkable=True,
            ),
            ActionRow("view.on_top", "view", self.tr("Always on &top"), self.toggle_on_top, ("T",), checkable=True),
        ]

    def help(self) -> list[ActionRow]:
        w = self.window
        return [
            ActionRow("help.shortcuts", "help", self.tr("&Keyboard shortcuts"), self.show_shortcuts, ("F1", "?")),
            ActionRow("help.readme", "help", self.tr("Read the &manual"), _open_readme),
            ActionRow("help.about", "help", self.tr("&About PiecePlayer"), lambda: _show_about(w)),
        ]

    def open_recent(self, text: str, title: str) -> None:
        w = self.window
        try:
            target = parse_target(text)
        except CidError as exc:
            w.cid_bar.show_error(cid_hint(str(exc)))
            return
        w.cid_bar.set_text(text)
        w.open_target(target, title)

    def clear_recent(self) -> None:
        w = self.window
        w.memory.clear()
        w.cid_bar.set_history([])
        w.status.show_message(self.tr("Recent pieces cleared"), "info")

    def toggle_on_top(self) -> None:
        w = self.window
        on_top = not bool(w.windowFlags() & Qt.WindowType.WindowStaysOnTopHint)
        w.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, on_top)
        w.show()  # changing a window flag hides the window
        w.menus.set_checked("view.on_top", on_top)

    def show_shortcuts(self) -> ShortcutsOverlay:
        """F1 shows the card; F1 again (or any key) hides it."""
        if self.overlay is None:
            from player.shortcuts_overlay import ShortcutsOverlay  # built when first asked for (F1)

            self.overlay = ShortcutsOverlay(self.window.menus.shortcut_table(), self.window)
        if self.overlay.isVisible():
            self.overlay.hide()
        else:
            self.overlay.show_over(self.window)
        return self.overlay


def install_menus(window: MainWindow) -> WindowMenus:
    """Build the menus from the table, and keep their check marks true to what changes elsewhere."""
    actions = WindowActions(window)
    menus = WindowMenus(window, actions.rows())
    for widget in (window.video_area.video, window.video_area.card):
        widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        widget.customContextMenuRequested.connect(
            lambda at, source=widget: menus.show_video_menu(source.mapToGlobal(at))
        )
    recent = menus.menus["file.recent"]
    recent.aboutToShow.connect(lambda: window.files.fill_recent(recent, actions.open_recent, actions.clear_recent))
    commands, speed = window.commands, window.transport.speed

    def sync_speed() -> None:
        menus.set_checked(choice_name("playback", "speed", f"{commands.speed():g}"), True)

    def sync_aspect(name: str) -> None:
        menus.set_checked(choice_name("video", "aspect", name), True)

    def sync_repeat() -> None:
        menus.set_checked("playback.loop", commands.looping)
        menus.set_checked("playback.ab", commands.a_ms is not None)

    speed.currentIndexChanged.connect(sync_speed)
    commands.repeatChanged.connect(sync_repeat)
    window.playback.opening.connect(lambda _url: sync_repeat())
    window.video_commands.aspectChanged.connect(sync_aspect)

    def sync_panel(visible: bool) -> None:
        """The dock hides for fullscreen (the panel stays chosen) and when the window is deleted (its children go
        after it: the window is no longer there to ask, which raised in this slot)."""
        if shiboken6.isValid(window) and not window.isFullScreen():
            menus.set_checked("view.panel", visible)

    window.dock.visibilityChanged.connect(sync_panel)
    sync_speed()
    sync_aspect(window.video_commands.aspect())
    menus.set_checked("view.panel", window.settings.panel_visible)
    return menus


def _open_readme() -> bool:
    from player.about import open_readme  # the Help menu's module is imported when first used, not at launch

    return open_readme()


def _show_about(window: MainWindow) -> QMessageBox:
    from player.about import show_about

    return show_about(window)
