"""Where the player's dialogs start and where its files go: the user's own folders, with dated file names.

A save dialog that opens in the program's folder makes people hunt for their file later; desktop players start in
Videos to open, save screenshots to Pictures and exports to Downloads. The folders come from QStandardPaths (the
XDG user dirs on Linux); tests hand their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QStandardPaths

_Location = QStandardPaths.StandardLocation
_UNSAFE = re.compile(r"[^\w.-]+")


def _first(*locations: QStandardPaths.StandardLocation) -> Path:
    """The first of the folders that exists. QStandardPaths names ``~/Videos`` even on a machine without one, and a
    dialog started in a missing folder opens elsewhere with "Videos" typed in as the file name."""
    for location in locations:
        folder = QStandardPaths.writableLocation(location)
        if folder and Path(folder).is_dir():
            return Path(folder)
    return Path.home()


@dataclass(frozen=True)
class Places:
    #: Open file… starts here.
    videos: Path
    #: Screenshots are saved here.
    pictures: Path
    #: Exports (HAR, CSV) are offered here.
    downloads: Path

    @classmethod
    def from_system(cls) -> Places:
        return cls(
            videos=_first(_Location.MoviesLocation, _Location.HomeLocation),
            pictures=_first(_Location.PicturesLocation, _Location.HomeLocation),
            downloads=_first(_Location.DownloadLocation, _Location.DocumentsLocation, _Location.HomeLocation),
        )


def dated_name(stem: str, suffix: str, when: datetime | None = None) -> str:
    """``pieceplayer-requests-2026-12-02-1130.har``: sorts by date, never collides within a minute's exports."""
    when = when or datetime.now()
    clean = _UNSAFE.sub("-", stem).strip("-") or "pieceplayer"
    return f"{clean}-{when:%Y-%m-%d-%H%M%S}{suffix}"
