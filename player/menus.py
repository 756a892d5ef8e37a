"""The menu bar and the video's right-click menu, built from one table of actions.

Every action a person can take lives in one row (:class:`ActionRow`): its menu, its words, its keys, what it
does. The menu bar, the right-click menu, the keyboard shortcuts and the shortcuts overlay are all made from the
same rows, so a key shown in a menu is the key that works, and an action added as a row (the audio and subtitle
tracks, say) appears everywhere at once. Keys follow mpv and VLC where the two agree, mpv where they do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QPoint
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

#: The menus' keys in the order they appear.
MENUS = ("file", "playback", "audio", "subtitles", "video", "view", "help")


def menu_titles() -> dict[str, str]:
    """The menus' titles with their mnemonics (Alt+F opens File), translated when a translation is installed."""
    return {
        "file": QCoreApplication.translate("Menus", "&File"),
        "playback": QCoreApplication.translate("Menus", "&Playback"),
        "audio": QCoreApplication.translate("Menus", "&Audio"),
        "subtitles": QCoreApplication.translate("Menus", "&Subtitles"),
        "video": QCoreApplication.translate("Menus", "&Video"),
        "view": QCoreApplication.translate("Menus", "Vie&w"),
        "help": QCoreApplication.translate("Menus", "&Help"),
    }


#: Where the audio and subtitle track rows go: the lead adds rows with ``section=TRACKS`` to those menus.
TRACKS = "tracks"


@dataclass(frozen=True)
class ActionRow:
    """One action: ``name`` is its id (``"playback.toggle"``), ``menu`` one of :data:`MENUS` or ``""``
    for a key without a menu entry (Esc leaving fullscreen)."""

    name: str
    menu: str
    text: str
    run: Callable[[], object] | None
    keys: tuple[str, ...] = ()
    tip: str = ""
    #: A submenu of ``menu`` this row sits in (``"Speed"``), created on first use.
    submenu: str = ""
    #: Rows with the same group are exclusive choices (radio items); a checkable row without a group is a toggle.
    checkable: bool = False
    group: str = ""
    #: A separator goes above rows whose section differs from the row before.
    section: str = ""
    #: Also at the top of the video's right-click menu.
    on_video: bool = False
    enabled: bool = True
    #: The row is a submenu whose items are filled when it opens (File ▸ Open recent); see ``WindowMenus.menus``.
    is_menu: bool = False


Choice = TypeVar("Choice")


def choice_name(menu: str, group: str, key: str) -> str:
    """The name of one of :func:`choice_rows`' rows (``"playback.speed_1.25"``), to mirror a choice made elsewhere."""
    return f"{menu}.{group}_{key}"


def choice_rows(
    menu: str,
    submenu: str,
    group: str,
    choices: Iterable[tuple[str, str, Choice]],
    choose: Callable[[Choice], object],
) -> list[ActionRow]:
    """Exclusive choices (radio items: the speeds, the aspects) in ``submenu`` of ``menu``: one checkable row of
    ``group`` per ``(key, words, value)``, named :func:`choice_name`, that calls ``choose(value)``; a separator
    sets them apart from the submenu's rows above."""
    return [
        ActionRow(
            choice_name(menu, group, key),
            menu,
            words,
            lambda chosen=value: choose(chosen),
            submenu=submenu,
            checkable=True,
            group=group,
            section=group,
        )
        for key, words, value in choices
    ]


def key_text(keys: Iterable[str]) -> str:
    """``("Space", "K")`` → ``"Space, K"`` in the platform's words (``Ctrl`` vs ``⌘``)."""
    return ", ".join(QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) for key in keys)


class WindowMenus:
    """The QActions of a window, its menu bar and its right-click menu, made from ``rows``."""

    def __init__(self, window: QMainWindow, rows: list[ActionRow]) -> None:
        self.rows = rows
        self.actions: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self._groups: dict[str, QActionGroup] = {}
        bar = window.menuBar()
        bar.setAccessibleName(QCoreApplication.translate("Menus", "Menu bar"))
        for key, title in menu_titles().items():
            menu = bar.addMenu(title)
            menu.setObjectName(f"{key}Menu")
            menu.setToolTipsVisible(True)
            self.menus[key] = menu
        last_section: dict[QMenu, str] = {}
        for row in rows:
            menu = self._menu_for(row) if row.menu else None
            if menu is not None and menu in last_section and last_section[menu] != row.section:
                menu.addSeparator()
            if menu is not None:
                last_section[menu] = row.section
            if row.is_menu:
                assert menu is not None, row.name
                sub = self.menus[row.name] = menu.addMenu(row.text)
                sub.setObjectName(row.name)
                sub.setToolTipsVisible(True)
                continue
            action = self._action(window, row)
            self.actions[row.name] = action
            window.addAction(action)  # its keys work while the menu bar is hidden (fullscreen)
            if menu is not None:
                menu.addAction(action)
        self.video_menu = self._video_menu(window)

    def _action(self, window: QMainWindow, row: ActionRow) -> QAction:
        action = QAction(row.text, window)
        action.setObjectName(row.name)
        keys = [QKeySequence(key) for key in row.keys]
        action.setShortcuts(keys)
        tip = row.tip or row.text.replace("&", "").rstrip("…")
        action.setToolTip(f"{tip} ({key_text(row.keys)})" if row.keys else tip)
        action.setStatusTip(tip)
        action.setEnabled(row.enabled)
        if row.checkable:
            action.setCheckable(True)
        if row.group:
            group = self._groups.get(row.group)
            if group is None:
                group = self._groups[row.group] = QActionGroup(window)
                group.setExclusive(True)
            group.addAction(action)
        if row.run is not None:
            run = row.run
            action.triggered.connect(lambda _checked=False: run())
        return action

    def _menu_for(self, row: ActionRow) -> QMenu:
        menu = self.menus[row.menu]
        if not row.submenu:
            return menu
        key = f"{row.menu}/{row.submenu}"
        if key not in self.menus:
            sub = menu.addMenu(row.submenu)
            sub.setObjectName(key)
            sub.setToolTipsVisible(True)
            self.menus[key] = sub
        return self.menus[key]

    def _video_menu(self, window: QMainWindow) -> QMenu:
        """VLC's habit: the right-click menu holds the common actions, then every menu of the bar."""
        menu = QMenu(window)
        menu.setObjectName("videoContextMenu")
        menu.setToolTipsVisible(True)
        for row in self.rows:
            if row.on_video:
                menu.addAction(self.actions[row.name])
        menu.addSeparator()
        for key in MENUS:
            menu.addMenu(self.menus[key])
        return menu

    def show_video_menu(self, at: QPoint) -> QMenu:
        """Pop up the right-click menu at ``at`` (global coordinates) without waiting for a choice."""
        self.video_menu.popup(at)
        return self.video_menu

    def set_checked(self, name: str, checked: bool) -> None:
        """Mirror a state changed elsewhere (the panel's close box, a speed picked in the transport bar)."""
        action = self.actions[name]
        action.blockSignals(True)
        action.setChecked(checked)
        action.blockSignals(False)

    def shortcut_table(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(menu title, [(action words, keys)]) for every row with keys: what the shortcuts overlay lists.

        Rows without a menu (Esc) are listed with the Video menu, where fullscreen is.
        """
        titles = {key: title.replace("&", "") for key, title in menu_titles().items()}
        table: dict[str, list[tuple[str, str]]] = {key: [] for key in MENUS}
        for row in self.rows:
            if row.keys:
                words = f"{row.submenu}: {row.text}" if row.submenu else row.text
                table[row.menu or "video"].append((words.replace("&", ""), key_text(row.keys)))
        return [(titles[key], table[key]) for key in MENUS if table[key]]
