"""The window fits the screen at any scale factor, the panel keeps to its share, a still frame follows a resize.

Scale factors are tried in a child process (``window_geometry_probe.py``) on Qt's offscreen platform with a
1920×1080 screen: at 200 % that is 960×540 logical pixels, the case where the first window used to be larger
than the screen. The panel and the redraw of a paused frame are checked on the real window in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from player.main_window import MainWindow
from player.playback import PlayState
from player.window_fit import PANEL_SHARE
from tests.player import test_gui_window as gui
from tests.player.test_gui_window import open_demo, run, until

#: The real window on the real proxy and emulator, and the qasync loop it runs on (shared with test_gui_window).
loop = gui.loop
window = gui.window

PROBE = Path(__file__).with_name("window_geometry_probe.py")
SCREEN = (1920, 1080)


def probe(tmp_path: Path, scale: float, *args: str) -> dict:
    config = tmp_path / "screens.json"
    screen = {"name": "probe", "x": 0, "y": 0, "width": SCREEN[0], "height": SCREEN[1], "logicalDpi": 96}
    config.write_text(json.dumps({"screens": [screen]}))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={config}",
        "QT_SCALE_FACTOR": str(scale),
        "QT_ENABLE_HIGHDPI_SCALING": "1",
    }
    done = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "settings.ini"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_fits(report: dict) -> None:
    available, frame = QRect(*report["available"]), QRect(*report["frame"])
    assert available.contains(frame), f"window {report['frame']} is not inside the screen's {report['available']}"
    assert report["minimum"][0] <= available.width() and report["minimum"][1] <= available.height()
    assert report["panel_visible"]
    assert report["panel_width"] <= report["window_width"] * PANEL_SHARE + 1


@pytest.mark.parametrize("scale", [1, 1.5, 2, 3])
def test_the_first_window_fits_the_screen_at_any_scale_factor(tmp_path: Path, scale: float) -> None:
    report = probe(tmp_path, scale)
    assert report["scale"] == pytest.approx(scale)
    assert report["available"][2] == round(SCREEN[0] / scale)
    assert_fits(report)
    assert report["frame"][2] >= report["available"][2] * 0.7, "the window fits, but is needlessly small"


def test_a_window_saved_at_100_percent_fits_when_reopened_at_200(tmp_path: Path) -> None:
    saved = probe(tmp_path, 1, "--resize", "1800", "1000", "--save")
    assert saved["window_width"] == 1800
    assert_fits(probe(tmp_path, 2))


def test_the_panel_never_takes_more_than_its_share_of_the_width(window: MainWindow, qapp: QApplication) -> None:
    dock = window.dock
    for width in (900, 1200, 1600, 2400):
        window.resize(width, 800)
        window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)  # as if dragged all the way
        for _ in range(10):
            qapp.processEvents()
        assert window.width() == width
        assert dock.isVisible() and 0 < dock.width() <= width * PANEL_SHARE + 1, (width, dock.width())
    dock.setFloating(True)  # a floating panel is its own window: no share of the main one applies
    qapp.processEvents()
    dock.resize(1000, 600)
    qapp.processEvents()
    assert dock.width() == 1000
    dock.setFloating(False)


def test_a_paused_frame_is_drawn_again_when_the_window_is_resized(window: MainWindow, loop, qapp) -> None:
    sink = window.playback.player.videoSink()
    handed: list[int] = []
    seeks = window.playback.seeks

    async def scenario() -> None:
        await open_demo(window)
        await until(lambda: window.playback.player.position() > 500, "half a second of playback")
        window.playback.toggle()
        await until(lambda: window.playback.state == PlayState.PAUSED, "Paused")
        await asyncio.sleep(0.3)  # frames decoded before the pause have arrived
        sink.videoFrameChanged.connect(lambda frame: handed.append(frame.startTime()))
        shown, frames = sink.videoFrame().startTime(), seeks.frames
        window.resize(window.width() - 200, window.height() - 100)
        await until(lambda: handed, "the paused frame handed to the video again")
        assert handed[-1] == shown, "a different frame was shown: the paused picture moved"
        assert seeks.frames == frames, "a redraw was counted as a new frame"

    run(loop, scenario())
