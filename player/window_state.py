"""What the window remembers between runs: its place and size, the dock, volume, speed, recent pieces.

The window's size is fitted to the screen it opens on (a geometry saved at another scale factor may not fit);
where each piece was left is the resumer's (``player/resume.py``), told here when the window closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication

from player.window_fit import centred, fit_size, panel_width

if TYPE_CHECKING:
    from player.main_window import MainWindow

#: Preferred sizes in logical pixels; both shrink to fit a smaller screen (or a larger scale factor).
DEFAULT_SIZE = (1440, 880)
MINIMUM_SIZE = (960, 600)
PANEL_WIDTH = 560


def _available(window: MainWindow) -> QRect:
    """The screen area the window may use (without panels and docks of the desktop), in logical pixels."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def restore_window(window: MainWindow) -> None:
    settings = window.settings
    available = _available(window)
    window.setMinimumSize(fit_size(QSize(*MINIMUM_SIZE), available))
    size = fit_size(QSize(*DEFAULT_SIZE), available)
    window.resize(size)
    window.move(centred(size, available))
    if settings.geometry is not None:
        window.restoreGeometry(settings.geometry)
        if window.width() > available.width() or window.height() > available.height():  # saved at a smaller scale
            window.resize(size)
            window.move(centred(size, available))
    window.limit_panel()
    if settings.window_state is not None:
        window.restoreState(settings.window_state)
    else:
        window.resizeDocks([window.dock], [panel_width(window.width(), PANEL_WIDTH)], Qt.Orientation.Horizontal)
    window.dock.setVisible(settings.panel_visible)
    window.transport.panel_button.setChecked(settings.panel_visible)
    audio = window.playback.audio
    if audio is not None:
        audio.setVolume(settings.volume)
        audio.setMuted(settings.muted)
    window.commands.set_speed(settings.speed, announce=False)
    window.cid_bar.set_history(settings.history)


def save_window(window: MainWindow) -> None:
    settings = window.settings
    settings.geometry = window.saveGeometry()
    settings.window_state = window.saveState()
    settings.panel_visible = window.dock.isVisible()
    settings.speed = window.commands.speed()
    window.resumer.leave()
    audio = window.playback.audio
    if audio is not None:
        settings.volume = round(audio.volume(), 3)
        settings.muted = audio.isMuted()
    settings.sync()
