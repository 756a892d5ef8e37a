"""What the File menu does besides the CID bar: open a local file, the recent pieces, copy the link, exports.

Dialogs start where people keep things (``player/places.py``): Videos to open, Downloads with a dated name to
export. They are window-modal but never block: a nested event loop would run the GUI's async tasks inside one
another (see ``MainWindow.open_settings``). The dialogs are returned so tests can answer them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from player.controller import Opened
from player.places import Places, dated_name
from player.resume import PieceMemory
from player.target import Target
from player.units import format_clock

if TYPE_CHECKING:  # the panel is built after the first frame (main_window.py); its module is not needed before
    from player.panel.request_view import RequestLogView

#: What Open file… lists first (anything else is one filter away).
MEDIA_PATTERNS = "*.mp4 *.m4v *.mov *.mkv *.webm *.avi *.ogv *.ts *.mp3 *.m4a *.aac *.ogg *.opus *.flac *.wav"


def file_target(path: Path) -> Target:
    """A local file, played by QMediaPlayer from its file:// URL (no piece, so nothing for the proxy to cache)."""
    url = QUrl.fromLocalFile(str(path.resolve())).toString()
    return Target(text=url, direct_url=url)


class FileCommands(QObject):
    #: (target, title) to open.
    openRequested = Signal(object, str)
    #: (sentence, level) for the status bar.
    message = Signal(str, str)

    def __init__(self, places: Places, memory: PieceMemory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.places = places
        self.memory = memory

    def ask_file(self, parent: QWidget) -> QFileDialog:
        dialog = QFileDialog(parent, self.tr("Open file"), str(self.places.videos))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(
            [self.tr("Audio and video ({patterns})").format(patterns=MEDIA_PATTERNS), self.tr("All files (*)")]
        )
        dialog.fileSelected.connect(lambda name: self.open_file(Path(name)))
        dialog.open()
        return dialog

    def open_file(self, path: Path) -> None:
        self.openRequested.emit(file_target(path), path.name)

    def copy_link(self, current: Opened | None) -> None:
        if current is None:
            self.message.emit(self.tr("Nothing is playing: there is no link to copy"), "info")
            return
        link = current.target.text
        QGuiApplication.clipboard().setText(link)
        self.message.emit(self.tr("Copied: {link}").format(link=link), "info")

    def ask_export(self, parent: QWidget, kind: str, log: RequestLogView) -> QFileDialog:
        """Export the request log as ``kind`` ("har" or "csv"); the dialog starts in Downloads with a dated name."""
        suffix, name_filter = {"har": (".har", self.tr("HAR (*.har)")), "csv": (".csv", self.tr("CSV (*.csv)"))}[kind]
        start = self.places.downloads / dated_name("pieceplayer-requests", suffix)
        dialog = QFileDialog(parent, self.tr("Export the request log"), str(start))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(name_filter)
        dialog.setDefaultSuffix(suffix.lstrip("."))
        dialog.selectFile(str(start))
        save = log.export_har if kind == "har" else log.export_csv
        dialog.fileSelected.connect(lambda name: save(Path(name)))
        dialog.open()
        return dialog

    def fill_recent(self, menu: QMenu, open_text: Callable[[str, str], None], clear: Callable[[], None]) -> None:
        """File ▸ Open recent: title and duration of each piece (its CID or URL in the tooltip), then Clear."""
        menu.clear()
        notes = self.memory.recent()
        for note in notes:
            title = note.title or note.text
            words = f"{title}  ({format_clock(note.duration_ms)})" if note.duration_ms else title
            action = menu.addAction(words.replace("&", "&&"))
            action.setToolTip(note.text)
            action.triggered.connect(lambda _=False, text=note.text, t=note.title: open_text(text, t))
        if not notes:
            menu.addAction(self.tr("No recent pieces")).setEnabled(False)
        menu.addSeparator()
        clear_action = menu.addAction(self.tr("Clear recent pieces"))
        clear_action.setObjectName("file.clear_recent")
        clear_action.setToolTip(self.tr("Forget the list and where each piece was left"))
        clear_action.setEnabled(bool(notes))
        clear_action.triggered.connect(clear)
