"""The settings dialog's round trip: open it without blocking, then apply what changed to the running player.

Kept out of the window: what a change means (new sources for the proxy, a restarted proxy for a new cache folder
or size, the demo origin's latency) is about the controller and the proxy host, not about widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QWidget

from player.controller import Controller
from player.host import HostConfig
from player.settings import Settings

if TYPE_CHECKING:
    from player.settings_dialog import SettingsDialog


class SettingsFlow(QObject):
    def __init__(
        self,
        settings: Settings,
        controller: Controller,
        host_config: Callable[[], HostConfig],
        say: Callable[[str, str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.controller = controller
        #: The proxy host's configuration from the saved settings (the window knows the demo and CLI parts).
        self.host_config = host_config
        #: (text, level) into the status bar.
        self.say = say

    def open(self, parent: QWidget) -> SettingsDialog:
        """Window-modal but not blocking: a nested event loop would run async tasks inside one another."""
        used = self.controller.stats.latest.get("disk_cache_bytes")
        from player.settings_dialog import SettingsDialog  # a launch does not need the dialog's module

        dialog = SettingsDialog(self.settings, used, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.clearCacheRequested.connect(self.clear_cache)
        dialog.accepted.connect(lambda: self._accepted(dialog))
        dialog.open()
        return dialog

    def _accepted(self, dialog: SettingsDialog) -> None:
        changes = dialog.changes()
        dialog.save()
        self.apply(changes)

    def apply(self, changes: set[str]) -> None:
        controller = self.controller
        controller.settings_sources = self.settings.sources()
        controller.hover_prefetch = self.settings.hover_prefetch
        if "cache" in changes:
            controller.restart_host(self.host_config())
        elif "sources" in changes:
            controller.host.set_sources(controller.configured_sources())
        if "latency" in changes:
            controller.host.set_demo_latency(self.settings.demo_latency_ms)
        if changes:
            self.say("Settings saved", "info")

    def clear_cache(self) -> None:
        self.controller.host.clear_cache()
        self.controller.byte_map.forget_cached()
        self.say("Cache cleared", "info")
