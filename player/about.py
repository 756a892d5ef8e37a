"""Help ▸ About: the versions a bug report needs (the app, Qt, PySide6, the FFmpeg that decodes), and the README.

Qt's multimedia backend carries its own FFmpeg libraries; their versions are read from their file names
(``libavformat.so.61.7.103``) next to Qt's, which works without loading them and says which build decodes.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import PySide6
from PySide6.QtCore import QCoreApplication, QLibraryInfo, Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from player import __version__
from player.resources import resource, resources_dir

_VERSION_IN_NAME = re.compile(r"(avformat|avcodec)[^0-9]*?[.-](\d+(?:\.\d+)*)")


def ffmpeg_versions(folder: Path | None = None) -> str:
    """``avformat 61.7.103, avcodec 61.19.101`` from the library files beside Qt's; ``unknown`` when absent."""
    folder = folder or Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.LibrariesPath))
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*av*")) if folder.is_dir() else []:
        match = _VERSION_IN_NAME.search(path.name)
        if match and len(match.group(2)) > len(found.get(match.group(1), "")):
            found[match.group(1)] = match.group(2)
    return ", ".join(f"{name} {found[name]}" for name in ("avformat", "avcodec") if name in found) or "unknown"


def versions() -> dict[str, str]:
    return {
        "PiecePlayer": __version__,
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "FFmpeg": ffmpeg_versions(),
        "Python": platform.python_version(),
        "System": f"{platform.system()} {platform.release()}",
    }


def about_text() -> str:
    lines = [
        QCoreApplication.translate(
            "About", "PiecePlayer plays video stored on Filecoin by its PieceCID, through a local cache."
        ),
        "",
        *(f"{name}: {value}" for name, value in versions().items()),
    ]
    return "\n".join(lines)


def show_about(parent: QWidget) -> QMessageBox:
    """A non-blocking box (a nested event loop would run the GUI's async tasks inside one another)."""
    box = QMessageBox(parent)
    box.setWindowTitle(QCoreApplication.translate("About", "About PiecePlayer"))
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setText(about_text())
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # to paste in a bug report
    box.setAccessibleName(QCoreApplication.translate("About", "About PiecePlayer"))
    box.open()
    return box


def manual_path() -> Path:
    """The README that came with this copy: bundled in ``resources/`` by a frozen build, at the top of a checkout.

    Why not a web address: the project has no public home yet, and a manual that matches the installed version is
    the one a user needs.
    """
    bundled = resource("README.md")
    return bundled if bundled.is_file() else resources_dir().parent / "README.md"


def open_readme() -> bool:
    """Help ▸ Read the manual: the README in the system's viewer for Markdown or text."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(manual_path())))
