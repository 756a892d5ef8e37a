"""The level meter's tap on the decoded sound survives switching pieces and closing the window, many times over.

The meter (``player/level_meter.py``) hands a ``QAudioBufferOutput`` to the player for audio-only media; FFmpeg's
audio thread writes every decoded buffer into it. A teardown crash was seen once in six runs while it was
attached, so this opens audio-only corpus pieces in the real window (offscreen, real proxy, real emulator, a real
QMediaPlayer), waits until the meter shows their sound, then switches to another piece or closes the window —
twenty times. A crash ends the test run; a Python exception in a slot fails this test (pytest-qt reports it).
A crash at exit shows as the run's status: with the meter detached from the player on every new source, one run
in three hung; detached before each stop, every run ended in heap corruption at exit (status 134).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from player.level_meter import FLOOR_DB
from player.main_window import MainWindow
from tests.conftest import CORPUS
from tests.player.test_gui_window import loop, run, shown_window, until  # noqa: F401 — loop: a fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AUDIO = ("audio-aac.m4a", "audio-flac-cover.flac", "audio-mp3.mp3", "audio-opus.opus")
CYCLES = 20


@pytest.fixture(scope="module")
def pieces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audio files and a manifest naming them in ``AUDIO``'s order (the demo's pieces, with their CIDs)."""
    folder = tmp_path_factory.mktemp("audio")
    listed = {entry["file"]: entry for entry in json.loads((CORPUS / "manifest.json").read_text())["pieces"]}
    for name in AUDIO:
        shutil.copyfile(CORPUS / name, folder / name)
    (folder / "manifest.json").write_text(json.dumps({"pieces": [listed[name] for name in AUDIO]}))
    return folder


async def _hear(window: MainWindow, piece: int) -> None:
    """Open a piece and wait until the meter is tapped into it and shows its sound."""
    meter = window.media_views.area.audio.meter
    meter.rms_db = meter.peak_db = FLOOR_DB
    assert window.open_demo(piece) is not None, window.status.message.text()
    await until(lambda: window.media_views.levels.active, f"the meter attached to {AUDIO[piece]}")
    await until(lambda: meter.peak_db > FLOOR_DB, f"the sound of {AUDIO[piece]} on the meter")


def test_switching_and_closing_audio_pieces_twenty_times_neither_crashes_nor_raises(
    qapp: QApplication,
    pieces: Path,
    tmp_path: Path,
    loop,  # noqa: F811
) -> None:
    measured_on: set[bool] = set()

    async def cycles() -> None:
        def watched(home: Path) -> tuple[MainWindow, Iterator[MainWindow]]:
            """A shown window (test_gui_window's), and what closes and shuts it down when advanced."""
            closer = shown_window(pieces, home)
            window = next(closer)
            window.media_views.levels.level.connect(
                lambda *_: measured_on.add(QThread.currentThread() is qapp.thread())
            )
            return window, closer

        window, closer = watched(tmp_path / "home-0")
        for cycle in range(CYCLES):
            await _hear(window, cycle % len(AUDIO))
            if cycle % 2:  # every other cycle the window closes while the sound plays, and a new one opens
                next(closer, None)
                window, closer = watched(tmp_path / f"home-{cycle}")
        next(closer, None)

    run(loop, cycles(), timeout=240.0)
    assert measured_on == {True}  # every buffer was measured on the GUI thread, never on FFmpeg's audio thread
