"""Why the player cannot start, said where a person who double-clicked it will see it.

A missing system library shows up in one of two ways: as an ImportError of a Qt module ("libEGL.so.1: cannot
open shared object file"), or as Qt's fatal "no Qt platform plugin could be initialized", which would abort the
process. A double-clicked app has no terminal, so besides stderr the message goes to a dialog: Qt's own when a Qt
application already runs, else zenity, kdialog or xmessage when one is installed. With none of them, stderr is
all there is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

TITLE = "PiecePlayer cannot start"
#: What the loader says when a shared library is missing, on Linux, Windows and macOS.
_LIBRARY_WORDS = (".so", "shared object", "DLL load failed", "Library not loaded", ".dylib")


def missing_library(exc: ImportError) -> str | None:
    """The loader's words when ``exc`` is a shared library that failed to load (not a missing Python module)."""
    text = str(exc)
    return text if any(words in text for words in _LIBRARY_WORDS) else None


_HINT = (
    "The .deb package brings what it needs when installed with apt (apt install ./pieceplayer_….deb). "
    "On other systems, install the package that provides the library named above."
)


def explain(detail: str) -> str:
    """For a library that failed to load (the loader's words in ``detail``)."""
    intro = "PiecePlayer cannot start: a library of this system is missing or does not load."
    return f"{intro}\n\n{detail.strip()}\n\n{_HINT}"


def explain_platform(detail: str) -> str:
    """For Qt's platform failure (Qt's own lines in ``detail``, which name the missing library when it knows it)."""
    return (
        "PiecePlayer cannot open a window: Qt could not start its display plugin, most often because a library "
        f"of this system is missing.\n\n{detail.strip()}\n\n{_HINT}"
    )


#: Exit status of a window started where no window can be shown (``EX_UNAVAILABLE``).
NO_DISPLAY_STATUS = 69


def no_display() -> bool:
    """Linux without an X or Wayland display and no platform chosen: a window would play invisible, forever."""
    return (
        sys.platform.startswith("linux")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        and not os.environ.get("QT_QPA_PLATFORM")
    )


def explain_no_display() -> str:
    return (
        "PiecePlayer cannot open its window: there is no display (DISPLAY and WAYLAND_DISPLAY are not set, as "
        "over SSH).\n\n"
        "To check that playback works here, run: pieceplayer --self-test\n"
        "To serve pieces to another player (mpv, VLC, a browser), run: pieceplayer-proxy --help\n"
        "To see the window, start it from a desktop session, or over ssh -X."
    )


def show(text: str, *, graphical: bool, qt: bool = True) -> None:
    """Print ``text`` to stderr and, for a windowed start, show it in a dialog (this waits until it is closed).

    ``qt=False`` while Qt itself is failing: its half-made application must not be asked for a message box.
    """
    print(f"pieceplayer: {text}", file=sys.stderr, flush=True)
    if not graphical or not _has_display():
        return
    if not (qt and _qt_box(text)):
        _external_box(text)


@contextmanager
def reporting_qt_fatal(*, graphical: bool) -> Iterator[None]:
    """While Qt starts: turn its fatal platform error (an abort) into the message above and exit status 1."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    said: list[str] = []

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        print(message, file=sys.stderr, flush=True)  # Qt's own lines stay visible, as without this handler
        said.append(message)
        if kind == QtMsgType.QtFatalMsg:
            show(explain_platform("\n".join(said)), graphical=graphical, qt=False)
            os._exit(1)

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


def _has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _qt_box(text: str) -> bool:
    """A Qt message box, only when a QApplication already runs (making one could hit the same failure)."""
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox
    except ImportError:
        return False
    if QApplication.instance() is None:
        return False
    QMessageBox.critical(None, TITLE, text)
    return True


def _external_box(text: str) -> None:
    commands = (
        ["zenity", "--error", "--no-markup", f"--title={TITLE}", f"--text={text}"],
        ["kdialog", "--title", TITLE, "--error", text],
        ["xmessage", "-center", "-title", TITLE, _plain(text)],
    )
    for command in commands:
        if shutil.which(command[0]):
            subprocess.run(command, env=_system_environment(), check=False)
            return


def _plain(text: str) -> str:
    """For xmessage, which neither wraps lines nor shows UTF-8."""
    text = text.replace("…", "...")
    return "\n".join(textwrap.fill(line, 78) if line else "" for line in text.splitlines())


def _system_environment() -> dict[str, str]:
    """The environment without the frozen app's library path, so a system tool loads the system's libraries."""
    env = dict(os.environ)
    if getattr(sys, "frozen", False):
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is None:
            env.pop("LD_LIBRARY_PATH", None)
        else:
            env["LD_LIBRARY_PATH"] = original
    return env
