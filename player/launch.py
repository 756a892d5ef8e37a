"""The ``pieceplayer`` command's first step: read the last launch's files ahead, then start the app.

Why a module of its own: ``player.app`` imports the proxy (aiohttp) and, through it, hundreds of modules at its
top. The read-ahead must be asked for before those imports to overlap with them, so the entry point is this light
module, which imports the app only once the read-ahead child is on its way (``launch_readahead``).
"""

from __future__ import annotations

import sys

from player import launch_readahead


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if not {"-h", "--help", "--version"} & set(arguments):
        launch_readahead.start(launch_readahead.mode_for(arguments))
    from player.app import main as app_main

    return app_main(argv)
