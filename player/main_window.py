"""The main window: menus, CID bar, video, transport bar, status bar, and the side panel in a dock.

It arranges widgets and remembers the window between runs. Its menus and keys come from one table
(``window_actions.py``); what opening a piece means lives in ``controller.py``; what the panel shows lives in the
panel's models; errors are put in words by ``errors_text.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from player.accessibility import name_controls
from player.bridge import EventBridge
from player.cid_bar import CidBar
from player.controller import Controller, Opened
from player.errors_text import explain
from player.file_commands import FileCommands
from player.host import ProxyHost
from player.icons import app_icon
from player.media_views import MediaViews
from player.places import Places
from player.playback import Playback, PlayState
from player.playback_commands import PlaybackCommands
from player.resources import DemoPiece
from player.resume import PieceMemory, ResumeBar, Resumer
from player.seek_monitor import SeekRecord
from player.settings import Settings
from player.settings_flow import SettingsFlow
from player.status_bar import PlayerStatusBar
from player.target import Target
from player.transport_bar import TransportBar
from player.video_area import VideoArea
from player.video_commands import VideoCommands
from player.window_actions import install_menus
from player.window_fit import limit_panel_width
from player.window_state import restore_window, save_window
from proxy.api import Source

if TYPE_CHECKING:
    from player.panel.side_panel import SidePanel
    from player.settings_dialog import SettingsDialog

APP_TITLE = "PiecePlayer"
#: The side panel is built this long after the first frame of the first open, once that frame is on screen.
PANEL_AFTER_FIRST_FRAME_MS = 50
#: ...or this long after the window was built or a piece was opened, whichever comes first (nothing opened, or a
#: slow first frame).
PANEL_AT_THE_LATEST_MS = 1500
#: The longest the first open waits for the window's first paint (a platform that never paints does not block).
FIRST_PAINT_LIMIT_S = 0.5


class MainWindow(QMainWindow):
    #: The user closed the window (the app quits when this fires).
    closed = Signal()
    #: The window painted itself for the first time (see ``until_painted``).
    painted = Signal()

    def __init__(
        self,
        settings: Settings,
        host: ProxyHost,
        *,
        cli_sources: list[Source] | None = None,
        demo: list[DemoPiece] | None = None,
        demo_dir: Path | None = None,
        demo_mode: bool = True,
        places: Places | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.cli_sources = list(cli_sources or [])
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)

        self.bridge = EventBridge(host.bus, self)
        self.video_area = VideoArea()
        self.playback = Playback(self.video_area.video, self.bridge.flush, parent=self)
        self.controller = Controller(host, self.playback, self.bridge, sources=self.cli_sources, demo=demo, parent=self)
        self.controller.settings_sources = settings.sources()
        self.controller.hover_prefetch = settings.hover_prefetch
        self.cid_bar = CidBar()
        self.transport = TransportBar(self.playback)
        self.status = PlayerStatusBar()
        self.settings_flow = SettingsFlow(
            settings,
            self.controller,
            lambda: settings.host_config(demo_dir, demo_first=demo_mode, sources=self.cli_sources),
            self.status.show_message,
            self,
        )
        self.resume_bar = ResumeBar()
        places = places or Places.from_system()
        self.memory = PieceMemory(settings)
        self.resumer = Resumer(self.memory, self.playback, self.resume_bar)
        self.files = FileCommands(places, self.memory, self)
        self.commands = PlaybackCommands(self.playback, self.transport, self)
        self.video_commands = VideoCommands(self.playback, self.video_area.video, places.pictures, self)
        self._panel: SidePanel | None = None
        self._painted = False
        #: Seeks (and the open) that finished before the panel was built: its seek chart starts with them.
        self._seeks_before_panel: list[SeekRecord] = []

        central = QWidget()
        central.setObjectName("central")
        central.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.cid_bar)
        layout.addWidget(self.resume_bar)
        layout.addWidget(self.video_area, 1)
        layout.addWidget(self.transport)
        self.setCentralWidget(central)
        self.setStatusBar(self.status)
        self.dock = QDockWidget("Inspector")
        self.dock.setObjectName("inspectorDock")
        placeholder = QWidget()
        placeholder.setObjectName("sidePanel")  # the panel's background until the panel is built
        self.dock.setWidget(placeholder)
        self.dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        self._connect()
        say = self.status.show_message
        self.media_views = MediaViews(self.playback, self.video_area, self.controller, settings, say, self)
        self.transport.add_tool(self.media_views.tracks_button)
        self.menus = install_menus(self)
        restore_window(self)
        self.video_area.show_message(
            self.tr("Nothing playing yet"),
            self.tr("Paste a PieceCID or a URL above, drop one here, or open a file (Ctrl+O). F1 lists every key."),
            "pieceplayer",
        )
        self._panel_timer = QTimer(self, singleShot=True, interval=PANEL_AT_THE_LATEST_MS)
        self._panel_timer.timeout.connect(self._build_panel)
        self._panel_timer.start()

    # --- the side panel, built after the first frame --------------------------------------------------------

    @property
    def panel(self) -> SidePanel:
        """The side panel (built now if it was not yet).

        Why later: its charts (pyqtgraph, ~0.2 s to import) and its first layout and paint are work the first
        frame does not need, and on a 2-core machine they delayed it by about 100 ms. The models it shows live
        in the controller from the start, so a panel built after the first frame shows everything since the
        open; only the seek chart's records are held here until then.
        """
        if self._panel is None:
            self._panel_timer.stop()
            from player.panel.side_panel import SidePanel
            from player.report_export import collect, settings_facts

            controller = self.controller
            panel = self._panel = SidePanel(
                controller.byte_map,
                controller.requests,
                controller.stats,
                controller.anatomy,
                lambda: collect(controller, settings_facts(self.settings)),
            )
            for record in self._seeks_before_panel:
                panel.add_seek(record)
            self._seeks_before_panel.clear()
            log = panel.request_log
            log.exported.connect(lambda text: self.status.show_message(text, "info"))
            log.exportRequested.connect(lambda kind: self.files.ask_export(self, kind, log))
            panel.seek_anatomy.exported.connect(lambda text: self.status.show_message(text, "info"))
            placeholder = self.dock.widget()
            self.dock.setWidget(panel)
            placeholder.deleteLater()
            name_controls(self)  # the window's and the panel's: 12 ms a launch's first frame no longer waits for
        return self._panel

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.painted.emit()

    async def until_painted(self, limit_s: float = FIRST_PAINT_LIMIT_S) -> None:
        """Wait for the window's first paint (at most ``limit_s``), before the first piece is opened.

        The first paint (style polish, layout, the video surface) takes the GUI thread for tens of ms; done while
        the first piece loads, it slowed FFmpeg's loading of the media by 30–40 ms (``LoadedMedia`` at 100–112 ms
        after the open with the window shown, 70–74 ms with it not shown). Opening after the paint keeps the
        open's time its own; ``launch_ms`` counts both.
        """
        if self._painted or not self.isVisible():
            return
        done = asyncio.get_running_loop().create_future()

        def mark() -> None:
            if not done.done():
                done.set_result(None)

        self.painted.connect(mark)
        try:
            # asyncio.wait, not wait_for: on Python 3.11 a wait_for nested in the self-test's own wait_for lost the
            # outer cancellation when the paint and the outer limit landed together (the run ignored --timeout).
            await asyncio.wait({done}, timeout=limit_s)
        finally:
            self.painted.disconnect(mark)

    def _build_panel(self) -> None:
        self.panel  # noqa: B018 — building it is the point

    # --- wiring --------------------------------------------------------------------------------------------

    def _connect(self) -> None:
        controller, playback = self.controller, self.playback
        self.cid_bar.openRequested.connect(self.open_target)
        self.transport.seekRequested.connect(playback.seek)
        self.transport.slider.hovered.connect(controller.hover)
        self.transport.panelToggled.connect(self.toggle_panel)
        self.transport.fullscreenToggled.connect(self.toggle_fullscreen)
        self.cid_bar.settingsRequested.connect(self.open_settings)
        playback.stateChanged.connect(self._on_state)
        playback.seeks.finished.connect(self._on_seek)
        controller.sourceChanged.connect(self.status.set_source)
        controller.message.connect(self._on_message)
        controller.opened.connect(self._on_opened)
        controller.endsEarly.connect(self.transport.slider.set_end_mark)
        controller.byte_map.changed.connect(self._paint_cached)
        self.files.openRequested.connect(self.open_target)
        for messages in (self.files.message, self.video_commands.message):
            messages.connect(self.status.show_message)
        self.commands.message.connect(lambda text: self.status.show_message(text, "info"))
        self.dock.visibilityChanged.connect(self._sync_panel_button)
        self.dock.topLevelChanged.connect(self.limit_panel)
        self.dock.dockLocationChanged.connect(self.limit_panel)
        self.video_area.video.installEventFilter(self)
        playback.frames.redraw_on_resize(self.video_area.video)

    # --- opening -------------------------------------------------------------------------------------------

    def open_target(self, target: Target, title: str | None = None, *, direct: bool = False) -> Opened | None:
        self.resumer.leave()
        opened = self.controller.open(target, title=title or None, direct=direct)
        if opened is not None:
            self.centralWidget().setFocus()
        return opened

    def open_demo(self, index: int = 0, *, direct: bool = False) -> Opened | None:
        try:
            target, title = self.controller.demo_target(index)
        except LookupError as exc:
            self._on_message(f"The demo is not available: {exc}", "error")
            return None
        self.cid_bar.set_text(target.text)
        return self.open_target(target, title, direct=direct)

    def _on_opened(self, opened: Opened) -> None:
        self.settings.remember(opened.target.text)
        self.resumer.opened(opened.target.text, opened.title)
        self.cid_bar.set_history(self.settings.history)
        self.cid_bar.set_text(opened.target.text)
        self.setWindowTitle(f"{opened.title} — {APP_TITLE}")
        self.status.set_piece(opened.title)
        if self._panel is not None:
            self._panel.new_piece()
        else:  # the panel's "at the latest" counts from the open: built mid-open, it held that open's first frame
            self._panel_timer.start(PANEL_AT_THE_LATEST_MS)
        self._seeks_before_panel.clear()
        self.status.show_message("" if opened.via == "proxy" else "Playing directly, without the proxy", "info")
        self.video_area.show_video()

    def _on_message(self, text: str, level: str) -> None:
        if level != "error":
            self.status.show_message(text, level)
            return
        problem = explain(text, self.controller.error_detail)
        self.status.show_message(problem.sentence(), level)
        self.video_area.show_message(problem.what, f"{problem.why}\n\n{problem.todo}", "error", problem.detail)

    def _on_state(self, state: PlayState) -> None:
        self.status.set_state(state)

    def _on_seek(self, record: SeekRecord) -> None:
        if self._panel is not None:
            self._panel.add_seek(record)
            return
        self._seeks_before_panel.append(record)
        if self._panel_timer.remainingTime() > PANEL_AFTER_FIRST_FRAME_MS:
            self._panel_timer.start(PANEL_AFTER_FIRST_FRAME_MS)

    def _paint_cached(self) -> None:
        self.transport.slider.set_cached(self.controller.cached_timeline(), self.controller.byte_map.exact)

    # --- panel, fullscreen, settings -----------------------------------------------------------------------

    def toggle_panel(self) -> None:
        self.dock.setVisible(not self.dock.isVisible())

    def limit_panel(self, *_: object) -> None:
        """A panel docked at a side takes at most its share of the window's width (window_fit.PANEL_SHARE)."""
        limit_panel_width(self.dock, self.dockWidgetArea(self.dock), self.width())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.limit_panel()

    def _sync_panel_button(self, visible: bool) -> None:
        if not self.isFullScreen():
            self.transport.panel_button.setChecked(visible)

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
            return
        self._panel_before_fullscreen = self.dock.isVisible()
        for widget in (self.cid_bar, self.status, self.dock):
            widget.hide()
        self.menuBar().hide()
        self.showFullScreen()
        self.transport.show_fullscreen(True)
        self.menus.set_checked("video.fullscreen", True)

    def leave_fullscreen(self) -> None:
        if not self.isFullScreen():
            return
        self.showNormal()
        self.transport.show_fullscreen(False)
        self.menus.set_checked("video.fullscreen", False)
        self.menuBar().show()
        self.cid_bar.show()
        self.status.show()
        self.dock.setVisible(getattr(self, "_panel_before_fullscreen", True))

    def open_settings(self) -> SettingsDialog:
        return self.settings_flow.open(self)

    def apply_settings(self, changes: set[str]) -> None:
        self.settings_flow.apply(changes)

    def clear_cache(self) -> None:
        self.settings_flow.clear_cache()

    # --- input ---------------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.video_area.video and event.type() == QEvent.Type.MouseButtonDblClick:
            self.toggle_fullscreen()
            return True
        if watched is self.video_area.video and event.type() == QEvent.Type.MouseButtonPress:
            self.centralWidget().setFocus()
        return super().eventFilter(watched, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasText() or event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        text = data.urls()[0].toString() if data.hasUrls() else data.text()
        self.cid_bar.set_text(text.strip())
        self.cid_bar.submit()
        event.acceptProposedAction()

    # --- persistence ---------------------------------------------------------------------------------------

    def save_state(self) -> None:
        if self.isFullScreen():
            self.leave_fullscreen()
        save_window(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        event.accept()
        QTimer.singleShot(0, self, self.closed.emit)  # the window as context: none if it is deleted first

    def shutdown(self) -> None:
        """Stop playback and the proxy (after the window closed)."""
        self.controller.close()
