"""The Playback menu's rows: play/pause, ±5 s/±30 s, frame step, speed, loop, A-B repeat, go to time.

Kept apart from :mod:`player.window_actions` (the other menus) because it is the longest table; the keys are
VLC's and mpv's (see there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from player.menus import ActionRow, choice_rows
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

        def seek_row(name: str, words: str, step_ms: int, key: str) -> ActionRow:
            return ActionRow(name, "playback", words, lambda: seek(step_ms), (key,), section="seek")

        rows = [
            ActionRow(
                "playback.toggle",
                "playback",
                self.tr("&Play / Pause"),
                w.playback.toggle,
                ("Space", "K"),
                on_video=True,
            ),
            seek_row("playback.back", self.tr("Back 5 seconds"), -SHORT_SEEK_MS, "Left"),
            seek_row("playback.forward", self.tr("Forward 5 seconds"), SHORT_SEEK_MS, "Right"),
            seek_row("playback.back_long", self.tr("Back 30 seconds"), -LONG_SEEK_MS, "Shift+Left"),
            seek_row("playback.forward_long", self.tr("Forward 30 seconds"), LONG_SEEK_MS, "Shift+Right"),
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
        speeds = ((f"{speed:g}", f"{speed:g}×", speed) for speed in SPEEDS)
        rows += choice_rows("playback", self.tr("&Speed"), "speed", speeds, commands.set_speed)
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
