"""Take the README's screenshots: run the real window under an X server and capture it with ImageMagick.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 python docs/make_screenshots.py [--demo-dir DIR] [--scenario tour|reopen|all]

The tour takes playing, seeking, bad-cid and not-found; menus takes menu-file, menu-playback, menu-right-click,
shortcuts-overlay, error-details, settings-simple and settings-advanced; reopen takes second-open and third-open
(a second piece typed into the CID bar, then the first one picked again from the history list), which show that every
open gets its own first-frame time and leaves "Loading".

Settings and cache are temporary, so the shots show a first run. Two changes from the defaults, for these shots
only: the demo CDN gets a bandwidth cap (a local emulator at full speed caches the whole 2 MB demo piece before
the first seek) and the slice size is 256 KiB, so the byte map of a small piece has more than two slices.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qasync  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from player.host import ProxyHost  # noqa: E402
from player.icons import app_icon  # noqa: E402
from player.main_window import MainWindow  # noqa: E402
from player.resources import default_demo_dir, demo_pieces  # noqa: E402
from player.settings import Settings  # noqa: E402
from player.style import apply_theme  # noqa: E402
from player.target import parse_target  # noqa: E402

SIZE = (1600, 1000)
BANDWIDTH = 160_000  # bytes/s per connection of the demo CDN: about 5× the demo's bitrate
SLICE_SIZE = 256 << 10


def shoot(name: str) -> None:
    path = ROOT / "docs" / f"{name}.png"
    subprocess.run(["import", "-window", "root", "-define", "png:compression-level=9", str(path)], check=True)
    print(f"wrote {path}")


async def seek(window: MainWindow, target_s: float, limit_s: float = 10.0) -> None:
    """Seek and wait for its frame, as a viewer would before the next seek."""
    window.playback.seek(target_s * 1000)
    for _ in range(int(limit_s / 0.05)):
        if window.playback.seeks.pending is None:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)


async def scenario(window: MainWindow) -> None:
    host = window.controller.host
    assert host.emulator is not None
    host.emulator.knobs.update(bandwidth=BANDWIDTH)
    window.dock.hide()
    window.open_demo()
    await asyncio.sleep(3.0)
    shoot("playing")

    window.dock.show()
    for target_s in (20, 5, 38, 12, 22, 3):
        await seek(window, target_s)
    shoot("seeking")

    window.cid_bar.set_text("bafkzcibcaapao7mkdxq4ecsmqj3bhmzymrtzpovazs2no4g5hksidwa")
    window.cid_bar.focus()
    await asyncio.sleep(0.5)
    shoot("bad-cid")

    unknown = "bafkzcibewdzacc576w7wajusg6b5nchzkvtt3eqz6ynavqccdttkqqjthrkymq5ram"
    window.cid_bar.set_text(unknown)
    window.open_target(parse_target(unknown))
    await asyncio.sleep(3.0)
    shoot("not-found")


async def reopen(window: MainWindow) -> None:
    """Three opens in one session, each by the user's own hand: what a later open used to get wrong."""
    window.dock.show()
    window.open_demo()
    await asyncio.sleep(2.0)
    second, _ = window.controller.demo_target(2)
    window.cid_bar.focus()
    QTest.keyClicks(window.cid_bar.combo, second.text)  # the combo box has the focus and feeds its line edit
    QTest.keyClick(window.cid_bar.combo, Qt.Key.Key_Return)
    await asyncio.sleep(3.0)
    shoot("second-open")
    first, _ = window.controller.demo_target(0)
    combo = window.cid_bar.combo
    combo.showPopup()
    await asyncio.sleep(0.5)
    view = combo.view()
    row = view.visualRect(view.model().index(combo.findText(first.text), 0))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=row.center())
    await asyncio.sleep(3.0)
    shoot("third-open")


async def menus(window: MainWindow) -> None:
    """Issue 22: the menus, the right-click menu, the shortcuts card, an error with its Details, both settings
    pages."""
    window.dock.hide()
    window.open_demo()
    await asyncio.sleep(2.5)
    bar = window.menuBar()
    for key in ("file", "playback"):
        action = window.menus.menus[key].menuAction()
        window.menus.menus[key].popup(bar.mapToGlobal(bar.actionGeometry(action).bottomLeft()))
        await asyncio.sleep(0.6)
        shoot(f"menu-{key}")
        window.menus.menus[key].hide()
    video = window.video_area.video
    menu = window.menus.show_video_menu(video.mapToGlobal(video.rect().center()))
    await asyncio.sleep(0.4)
    submenu = window.menus.menus["video"]
    menu.setActiveAction(submenu.menuAction())
    submenu.popup(menu.mapToGlobal(menu.actionGeometry(submenu.menuAction()).topRight()))
    await asyncio.sleep(0.6)
    shoot("menu-right-click")
    submenu.hide()
    menu.hide()
    window.menus.actions["help.shortcuts"].trigger()
    await asyncio.sleep(0.6)
    shoot("shortcuts-overlay")
    window.menus.actions["help.shortcuts"].trigger()
    ipfs = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    window.cid_bar.set_text(ipfs)
    unknown = "bafkzcibewdzacc576w7wajusg6b5nchzkvtt3eqz6ynavqccdttkqqjthrkymq5ram"
    window.open_target(parse_target(unknown))
    await asyncio.sleep(3.0)
    window.video_area.card.details_button.click()
    await asyncio.sleep(0.4)
    shoot("error-details")
    dialog = window.open_settings()
    dialog.move(window.geometry().center() - dialog.rect().center())
    await asyncio.sleep(0.6)
    shoot("settings-simple")
    dialog.tabs.setCurrentIndex(1)
    await asyncio.sleep(0.4)
    shoot("settings-advanced")
    dialog.reject()


SCENARIOS = {"tour": (scenario,), "reopen": (reopen,), "menus": (menus,), "all": (scenario, reopen, menus)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo-dir", type=Path, default=default_demo_dir())
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="all")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    apply_theme(app)
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as temp:
        settings = Settings(Path(temp) / "settings.ini")
        settings.cache_dir = Path(temp) / "cache"
        settings.slice_size = SLICE_SIZE
        host = ProxyHost(settings.host_config(args.demo_dir, demo_first=True, sources=[]))
        host.start()
        window = MainWindow(settings, host, demo=demo_pieces(args.demo_dir), demo_dir=args.demo_dir)
        window.setGeometry(0, 0, *SIZE)
        window.move(QPoint(0, 0))
        window.show()
        try:
            for step in SCENARIOS[args.scenario]:
                loop.run_until_complete(step(window))
            window.close()
        finally:
            window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
