"""``pieceplayer --self-test --window``: the self-test in the main window as a user sees it, side panel shown.

The headless self-test plays into a bare video sink; a user's first frame also waits for the window, its side
panel and their imports. This session builds the same ``MainWindow`` the app builds (after the proxy started, as
``app._gui`` does), shows it on the real display, opens the piece as the app opens its first one, and runs the
same seeks. ``launch_ms`` is then process start → first frame shown in that window (see ``launch_clock``).

Afterwards, with the window idle, a second piece (the next demo piece) is opened by typing its CID into the CID bar
and pressing Enter, as a user would: ``second_open`` reports its own ``ttff_ms`` and ``frames``. The window's
settings (geometry, history) go to a temporary file, so a test run leaves the user's settings as they were.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from player.controller import Controller, Opened
from player.host import HostConfig
from player.icons import app_icon
from player.main_window import MainWindow
from player.self_test import PlaySession, SelfTestFailed
from player.settings import Settings
from player.style import apply_theme
from player.target import Target

#: Idle time before the second open: the window has settled, as it would before a user types a CID.
IDLE_BEFORE_SECOND_S = 0.5
#: Playing time after the second piece's first frame, so its frame count shows it plays on.
PLAY_AFTER_SECOND_S = 0.5


class WindowSession(PlaySession):
    window: MainWindow | None = None

    def _build(self, config: HostConfig, demo: list) -> Controller:
        assert self.host is not None
        app = QApplication.instance()
        app.setWindowIcon(app_icon())
        apply_theme(app)
        self._settings_dir = tempfile.TemporaryDirectory(prefix="pieceplayer-window-settings-")
        settings = Settings(Path(self._settings_dir.name) / "settings.ini")
        settings.demo_latency_ms = self.plan.latency_ms
        window = self.window = MainWindow(
            settings,
            self.host,
            cli_sources=config.sources,
            demo=demo,
            demo_dir=config.demo_dir,
            demo_mode=config.demo_first,
        )
        window.bridge.events.connect(self._note_verification)
        window.video_area.show_video()  # a piece opens at launch: as in ``app._gui``, its page is up from the start
        return window.controller

    async def _before_open(self) -> None:
        """Show the window (after ``prepare``, as ``app._gui`` does) and wait for its first paint."""
        window = self.window
        assert window is not None
        window.show()
        self.summary["window"] = {
            "platform": QGuiApplication.platformName(),
            "shown": window.isVisible(),
            "panel_visible": window.dock.isVisible(),
        }
        await window.until_painted()

    def _open(self, target: Target, title: str | None) -> Opened | None:
        assert self.window is not None
        self.window.cid_bar.set_text(target.text)
        return self.window.open_target(target, title, direct=self.plan.direct)

    async def _then(self, controller: Controller) -> None:
        """Open the next demo piece from the CID bar while the window is idle; time its first frame."""
        window, summary = self.window, self.summary
        assert window is not None
        playback = controller.playback
        summary["frames"], summary["stalls"] = playback.seeks.frames, playback.stalls.count
        self._first_piece = (summary["frames"], summary["stalls"], round(playback.stalls.total_now(), 3))
        if len(controller.demo) < 2 or self.plan.target is not None:
            summary["second_open"] = None
            return
        await asyncio.sleep(IDLE_BEFORE_SECOND_S)
        current = controller.current.target.text if controller.current is not None else ""
        target = next((t for t, _ in map(controller.demo_target, range(len(controller.demo))) if t.text != current))
        window.cid_bar.set_text(target.text)
        window.cid_bar.submit()
        record = playback.seeks.pending
        if record is None or controller.current is None or controller.current.target.text != target.text:
            raise SelfTestFailed(f"the CID bar did not open {target.text}: {controller.error or 'no reason given'}")
        second = summary["second_open"] = {"piece": target.text, "title": controller.current.title, "ttff_ms": None}
        done = await self._wait(playback, record)
        if done.latency_ms is None:
            raise SelfTestFailed("the second piece, opened from the CID bar, showed no frame")
        second["ttff_ms"] = round(done.latency_ms, 1)
        await asyncio.sleep(PLAY_AFTER_SECOND_S)
        second["frames"] = playback.seeks.frames

    async def collect(self) -> None:
        await super().collect()
        first = getattr(self, "_first_piece", None)
        if first is not None:  # the contract's figures are the first piece's; the second open has its own
            self.summary["frames"], self.summary["stalls"], self.summary["stalled_s"] = first

    async def close(self) -> None:
        if self.window is not None:
            self.window.hide()
        await super().close()
        if self.window is not None:
            self.window.deleteLater()
        if getattr(self, "_settings_dir", None) is not None:
            self._settings_dir.cleanup()
