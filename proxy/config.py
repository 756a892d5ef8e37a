"""Defaults shared by the command line, the GUI and tests: where the cache lives, how big it may grow."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "pieceplayer"


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("pieceplayer")``: ~/.cache/pieceplayer on Linux."""
    return Path(platformdirs.user_cache_dir(APP_NAME))
