"""Open the real main window, report its geometry as JSON, optionally save its state; run by test_window_geometry.

A separate process because QT_SCALE_FACTOR and the offscreen screen size only take effect before QApplication
exists, and the test process has one already.

    python tests/player/window_geometry_probe.py SETTINGS.ini [--resize W H] [--save]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtWidgets import QApplication

from player.host import HostConfig, ProxyHost
from player.main_window import MainWindow
from player.settings import Settings


def settle(app: QApplication) -> None:
    for _ in range(30):
        app.processEvents()


def main(argv: list[str]) -> int:
    settings_path = Path(argv[0])
    app = QApplication(sys.argv[:1])
    settings = Settings(settings_path)
    host = ProxyHost(HostConfig(cache_dir=settings_path.parent / "cache"))  # never started: no proxy is needed
    window = MainWindow(settings, host, demo=[], demo_mode=False)
    window.show()
    settle(app)
    if "--resize" in argv:
        at = argv.index("--resize")
        window.resize(int(argv[at + 1]), int(argv[at + 2]))
        settle(app)
    available = window.screen().availableGeometry()
    frame = window.frameGeometry()
    report = {
        "scale": window.devicePixelRatio(),
        "available": [available.x(), available.y(), available.width(), available.height()],
        "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
        "minimum": [window.minimumWidth(), window.minimumHeight()],
        "window_width": window.width(),
        "panel_width": window.dock.width(),
        "panel_visible": window.dock.isVisible(),
    }
    if "--save" in argv:
        window.save_state()
    print(json.dumps(report))
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
