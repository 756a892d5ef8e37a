"""Open in external player: hand the proxy's URL to mpv, VLC or the system's default handler.

For what this build cannot decode. The proxy keeps running and keeps the piece's cache, so the other player gets
the same slices, and the side panel shows its requests as it shows QMediaPlayer's. ``PIECEPLAYER_EXTERNAL_PLAYER``
(a command line; the URL is appended) picks another player, and lets the tests run mpv without a window.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, QProcess, QUrl
from PySide6.QtGui import QDesktopServices

ENVIRONMENT_KEY = "PIECEPLAYER_EXTERNAL_PLAYER"
#: In this order: the players that play nearly everything from an HTTP URL with ranges.
KNOWN_PLAYERS = (("mpv", ("mpv", "--force-window=immediate")), ("VLC", ("vlc",)))
#: Desktops' "open this URL" commands, which QDesktopServices uses; without one it cannot open anything.
SYSTEM_OPENERS = ("xdg-open", "gio", "kde-open", "open")


@dataclass(frozen=True)
class ExternalPlayer:
    #: What the button and messages call it: "mpv", "VLC", "the system's default player".
    name: str
    #: The command before the URL; empty for the system's handler (QDesktopServices).
    command: tuple[str, ...]


def find_external_player(environ: Mapping[str, str] = os.environ) -> ExternalPlayer | None:
    """The player to hand a URL to, or None when none is installed."""
    override = environ.get(ENVIRONMENT_KEY, "").strip()
    if override:
        command = tuple(shlex.split(override))
        if shutil.which(command[0]):
            return ExternalPlayer(os.path.basename(command[0]), command)
    for name, command in KNOWN_PLAYERS:
        if shutil.which(command[0]):
            return ExternalPlayer(name, command)
    if any(shutil.which(opener) for opener in SYSTEM_OPENERS):
        return ExternalPlayer("the system's default player", ())
    return None


def open_external(player: ExternalPlayer, url: str, parent: QObject | None = None) -> QProcess | None:
    """Start ``player`` on ``url``; the process (None for the system handler) is reaped by Qt when it ends."""
    if not player.command:
        QDesktopServices.openUrl(QUrl(url))
        return None
    process = QProcess(parent)
    process.setProgram(player.command[0])
    process.setArguments([*player.command[1:], url])
    process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
    process.setStandardOutputFile(QProcess.nullDevice())
    process.finished.connect(process.deleteLater)
    process.start()
    return process
