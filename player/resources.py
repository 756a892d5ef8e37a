"""Where the player's bundled files live (icons, style sheet, demo media), in a source tree and a frozen build.

Why one module: PyInstaller unpacks data next to ``sys._MEIPASS`` while a source checkout keeps it at the
repository root, and every caller should not have to know which.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from proxy.api import ManifestEntry, ManifestError, read_manifest

#: File types the demo folder may hold when it has no manifest (the emulator serves every file regardless).
_MEDIA_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".mp3", ".ogg", ".opus")


@functools.cache
def resources_dir() -> Path:
    """``resources/`` of a source checkout, or the one a frozen build unpacked.

    Found once: the window asks for some 26 icons and files while it is built, and ``Path.resolve`` (a system
    call per path component) each time took 10–45 ms of the launch."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def default_demo_dir() -> Path:
    return resource("demo")


#: One file of the demo folder, as the demo manifest describes it (or as little as the file name tells).
DemoPiece = ManifestEntry


class DemoError(Exception):
    """The demo folder is missing or empty; the message says which folder and what was expected."""


def demo_pieces(directory: Path) -> list[DemoPiece]:
    """The demo pieces of ``directory``: the manifest's entries in order (first = default), else media files.

    Without a manifest, the PieceCIDs are unknown here; the emulator computes them when it loads the folder.
    """
    if not directory.is_dir():
        raise DemoError(f"the demo folder {directory} does not exist")
    try:
        listed = read_manifest(directory)
    except ManifestError as exc:
        raise DemoError(str(exc)) from exc
    if listed is not None:
        pieces = [p for p in listed if (directory / p.file).is_file()]
    else:
        pieces = [
            DemoPiece(file=p.name, title=p.stem)
            for p in sorted(directory.iterdir())
            if p.is_file() and p.suffix.lower() in _MEDIA_SUFFIXES
        ]
    if not pieces:
        raise DemoError(f"the demo folder {directory} holds no playable media")
    return pieces
