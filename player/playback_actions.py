"""The Playback menu's rows: play/pause, ±5 s/±30 s, frame step, speed, loop, A-B repeat, go to time.

Kept apart from :mod:`player.window_actions` (the other menus) because it is the longest table; the keys are
VLC's and mpv's (see there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from player.menus import ActionRow
from player.transport_bar import SPEEDS

if TYPE_CHECKING:
    from player.main_window import MainWindow

SHORT_SEEK_MS = 5_000
LONG_SEEK_MS = 30_000


class PlaybackActions(QObject):
    """The Playback menu of ``window``, as rows for :class:`player.menus.WindowMenus`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def rows(self) -> list[ActionRow]:
        w, commands = self.window, self.window.commands
        seek = w.playback.seek_by
        rows = [
            ActionRow(
                "playback.toggle",
                "playback",
                self.tr("&Play / Pause"),
                w.playback.toggle,
                ("Space", "K"),
                on_video=True,
            ),
            ActionRow(
                "playback.back",
                "playback",
                self.tr("Back 5 seconds"),
                lambda: seek(-SHORT_SEEK_MS),
                ("Left",),
                section="seek",
            ),
            ActionRow(
                "playback.forward",
                "playback",
                self.tr("Forward 5 seconds"),
                lambda: seek(SHORT_SEEK_MS),
                ("Right",),
                section="seek",
            ),
            ActionRow(
                "playback.back_long",
                "playback",
                self.tr("Back 30 seconds"),
                lambda: seek(-LONG_SEEK_MS),
                ("Shift+Left",),
                section="seek",
            ),
            ActionRow(
                "playback.forward_long",
                "playback",
                self.tr("Forward 30 seconds"),
                lambda: seek(LONG_SEEK_MS),
                ("Shift+Right",),
                section="seek",
            ),
            ActionRow(
                "playback.next_frame",
                "playback",
                self.tr("Next frame"),
                lambda: commands.step_frame(1),
                (".",),
                self.tr("Pause and show the next frame"),
                section="frame",
            ),
            ActionRow(
                "playback.previous_frame",
                "playback",
                self.tr("Previous frame"),
                lambda: commands.step_frame(-1),
                (",",),
                self.tr("Pause and show the previous frame"),
                section="frame",
            ),
            ActionRow(
                "playback.go_to",
                "playback",
                self.tr("&Go to time…"),
                lambda: commands.ask_time(w),
                ("Ctrl+T",),
                section="frame",
            ),
            ActionRow(
                "playback.faster",
                "playback",
                self.tr("Faster"),
                lambda: commands.change_speed(1),
                ("]",),
                submenu=self.tr("&Speed"),
            ),
            ActionRow(
                "playback.slower",
                "playback",
                self.tr("Slower"),
                lambda: commands.change_speed(-1),
                ("[",),
                submenu=self.tr("&Speed"),
            ),
            ActionRow(
                "playback.normal_speed",
                "playback",
                self.tr("Normal speed"),
                lambda: commands.set_speed(1.0),
                ("Backspace",),
                submenu=self.tr("&Speed"),
            ),
        ]
        rows += [
            ActionRow(
                f"playback.speed_{speed:g}",
                "playback",
                f"{speed:g}×",
                lambda s=speed: commands.set_speed(s),
                submenu=self.tr("&Speed"),
                checkable=True,
                group="speed",
                section="speeds",
            )
            for speed in SPEEDS
        ]
        rows += [
            ActionRow(
                "playback.loop",
                "playback",
                self.tr("&Loop"),
                commands.toggle_loop,
                ("Shift+L",),
                self.tr("Start again at the end"),
                checkable=True,
                section="repeat",
            ),
            ActionRow(
                "playback.ab",
                "playback",
                self.tr("&A-B repeat"),
                commands.cycle_ab,
                ("L",),
                self.tr("Press once to set A, again to set B and repeat, a third time to stop"),
                checkable=True,
                section="repeat",
            ),
        ]
        return rows
