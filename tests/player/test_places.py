"""Where the dialogs start: the user's own folders when they exist, home when they do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths

from player.places import Places


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose XDG user dirs point at Videos, Pictures and Downloads, none created yet."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "user-dirs.dirs").write_text(
        'XDG_VIDEOS_DIR="$HOME/Videos"\nXDG_PICTURES_DIR="$HOME/Pictures"\nXDG_DOWNLOAD_DIR="$HOME/Downloads"\n'
    )
    QStandardPaths.setTestModeEnabled(False)
    return tmp_path


def test_a_missing_videos_folder_opens_the_dialog_at_home(qapp, home: Path) -> None:
    places = Places.from_system()
    assert places.videos == home
    assert places.pictures == home
    assert places.downloads == home


def test_existing_user_folders_are_where_the_dialogs_start(qapp, home: Path) -> None:
    for name in ("Videos", "Pictures", "Downloads"):
        (home / name).mkdir()
    places = Places.from_system()
    assert (places.videos, places.pictures, places.downloads) == (
        home / "Videos",
        home / "Pictures",
        home / "Downloads",
    )
