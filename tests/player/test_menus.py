"""The menus, the right-click menu, the shortcuts overlay and the remembered pieces, driven in the real window.

Every action is triggered as a person would (its QAction, its key) against the real proxy, emulator and
QMediaPlayer, and checked by what the viewer gets: a frame where it was asked, a PNG on disk, a HAR that parses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence
from PySide6.QtMultimedia import QMediaPlayer
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QScrollBar,
)

from player.file_commands import file_target
from player.host import ProxyHost
from player.main_window import MainWindow
from player.menus import MENUS
from player.places import Places
from player.playback import PlayState
from player.resources import demo_pieces
from player.settings import Settings
from player.shortcuts_overlay import ShortcutsOverlay
from tests.player.test_gui_window import close_window, finished, open_demo, run, until
from tests.player.test_gui_window import loop as loop  # a fixture: the qasync loop the window runs on

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _places(tmp_path: Path) -> Places:
    return Places(videos=tmp_path / "Videos", pictures=tmp_path / "Pictures", downloads=tmp_path / "Downloads")


def _window(settings: Settings, media_dir: Path, tmp_path: Path) -> MainWindow:
    host = ProxyHost(settings.host_config(media_dir, demo_first=True, sources=[]))
    host.start()
    main = MainWindow(settings, host, demo=demo_pieces(media_dir), demo_dir=media_dir, places=_places(tmp_path))
    main.show()
    return main


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(tmp_path / "settings.ini")
    settings.cache_dir = tmp_path / "cache"
    settings.demo_latency_ms = 20.0
    return settings


@pytest.fixture
def window(qapp: QApplication, settings: Settings, media_dir: Path, tmp_path: Path, loop) -> Iterator[MainWindow]:
    """Asks for ``loop`` so the window shuts down while its loop is open, as in the app (see player/gui_loop.py)."""
    main = _window(settings, media_dir, tmp_path)
    yield main
    close_window(main)


def test_every_action_shows_its_keys_and_the_video_menu_holds_every_menu(window: MainWindow) -> None:
    titles = [action.text() for action in window.menuBar().actions()]
    assert titles == ["&File", "&Playback", "&Audio", "&Subtitles", "&Video", "Vie&w", "&Help"]
    for row in window.menus.rows:
        if row.is_menu:
            continue
        action = window.menus.actions[row.name]
        assert [key.toString() for key in action.shortcuts()] == [QKeySequence(k).toString() for k in row.keys]
        assert action.toolTip(), row.name
        if row.keys:
            assert QKeySequence(row.keys[0]).toString(QKeySequence.SequenceFormat.NativeText) in action.toolTip()
    context = window.menus.video_menu
    submenus = [action.menu() for action in context.actions() if action.menu() is not None]
    assert submenus == [window.menus.menus[key] for key in MENUS]
    top = [action.objectName() for action in context.actions() if action.menu() is None and action.text()]
    assert top[:3] == ["file.open_piece", "file.open_file", "playback.toggle"]
    assert "video.screenshot" in top and "video.fullscreen" in top
    recent = window.menus.menus["file.recent"]
    recent.aboutToShow.emit()
    assert [a.text() for a in recent.actions() if a.text()] == ["No recent pieces", "Clear recent pieces"]


def test_playback_menu_steps_frames_changes_speed_loops_and_goes_to_a_time(window: MainWindow, loop) -> None:
    actions, player = window.menus.actions, window.playback.player

    async def scenario() -> None:
        await open_demo(window)
        await until(lambda: window.playback.state == PlayState.PLAYING, "playing")
        actions["playback.toggle"].trigger()
        await until(lambda: window.playback.state == PlayState.PAUSED, "paused")
        actions["playback.forward"].trigger()
        seek = await finished(window, 2, "the 5 s seek")
        assert seek.outcome == "shown" and seek.target_ms >= 5000
        before = window.commands.shown_ms()
        actions["playback.next_frame"].trigger()
        step = await finished(window, 3, "the frame step")
        assert step.outcome == "shown" and player.playbackState() == QMediaPlayer.PlaybackState.PausedState
        assert 0 < window.commands.shown_ms() - before <= 2 * window.commands.frame_ms()
        dialog = window.commands.ask_time(window)
        dialog.setTextValue("0:08")
        dialog.accept()
        jump = await finished(window, 4, "go to 0:08")
        assert jump.target_ms == 8000 and jump.outcome == "shown"

    run(loop, scenario())
    actions["playback.faster"].trigger()
    assert player.playbackRate() == pytest.approx(1.25) and actions["playback.speed_1.25"].isChecked()
    actions["playback.normal_speed"].trigger()
    assert player.playbackRate() == pytest.approx(1.0) and actions["playback.speed_1"].isChecked()
    actions["playback.loop"].trigger()
    assert player.loops() == QMediaPlayer.Loops.Infinite and actions["playback.loop"].isChecked()
    actions["playback.ab"].trigger()
    assert window.commands.a_ms is not None and actions["playback.ab"].isChecked()
    assert "A set at" in window.status.message.text()


def test_screenshot_saves_the_frame_as_a_png_in_pictures(window: MainWindow, loop, tmp_path: Path) -> None:
    run(loop, open_demo(window))
    window.menus.actions["video.screenshot"].trigger()
    shots = list((tmp_path / "Pictures").glob("*.png"))
    assert len(shots) == 1 and shots[0].name.startswith(window.controller.current.title.split(".")[0])
    image = QImage(str(shots[0]))
    assert (image.width(), image.height()) == (640, 360)
    assert "Screenshot saved" in window.status.message.text()


def test_aspect_and_always_on_top_and_panel_follow_their_menu_items(window: MainWindow) -> None:
    actions, video = window.menus.actions, window.video_area.video
    actions["video.cycle_aspect"].trigger()
    assert video.aspectRatioMode() == Qt.AspectRatioMode.KeepAspectRatioByExpanding
    assert actions["video.aspect_fill"].isChecked()
    actions["video.aspect_stretch"].trigger()
    assert video.aspectRatioMode() == Qt.AspectRatioMode.IgnoreAspectRatio
    actions["view.on_top"].trigger()
    assert window.windowFlags() & Qt.WindowType.WindowStaysOnTopHint and actions["view.on_top"].isChecked()
    visible = window.dock.isVisible()
    actions["view.panel"].trigger()
    assert window.dock.isVisible() is not visible and actions["view.panel"].isChecked() is not visible


def test_open_file_starts_in_videos_and_plays_a_local_file(window: MainWindow, loop, media_dir: Path) -> None:
    window.files.places.videos.mkdir()
    dialog = window.files.ask_file(window)
    assert Path(dialog.directory().absolutePath()) == window.files.places.videos
    dialog.reject()
    clip = media_dir / "clip.webm"

    async def scenario() -> None:
        window.files.open_file(clip)
        first = await finished(window, 1, "the local file's first frame")
        assert first.outcome == "shown"
        await until(lambda: window.playback.player.duration() > 0, "the duration")

    run(loop, scenario())
    assert window.controller.current.url == file_target(clip).text and window.controller.current.title == "clip.webm"
    # no piece, so the panel says why its byte map stays empty instead of waiting for a size that never comes
    assert window.panel.byte_summary.text() == "Playing directly, without the proxy: no piece, so no bytes to map"
    recent = window.menus.menus["file.recent"]
    recent.aboutToShow.emit()
    assert recent.actions()[0].text().startswith("clip.webm  (0:0")
    assert recent.actions()[0].toolTip() == file_target(clip).text


def test_export_starts_in_downloads_with_a_dated_name_and_writes_the_log(window: MainWindow, loop) -> None:
    run(loop, open_demo(window))
    window.files.places.downloads.mkdir()
    window.panel.request_log.har_button.click()  # the panel's own button asks the same way as File ▸ Export
    dialog = window.findChild(QFileDialog)
    chosen = Path(dialog.selectedFiles()[0])
    assert chosen.parent == window.files.places.downloads
    assert chosen.name.startswith("pieceplayer-requests-20") and chosen.suffix == ".har"
    dialog.accept()
    assert json.loads(chosen.read_text())["log"]["entries"]


def test_copy_piece_link_puts_what_plays_on_the_clipboard(window: MainWindow, loop) -> None:
    run(loop, open_demo(window))
    window.menus.actions["file.copy_link"].trigger()
    assert QGuiApplication.clipboard().text() == window.controller.current.target.text


def test_f1_shows_every_shortcut_and_any_key_closes_it(window: MainWindow, qtbot) -> None:
    window.activateWindow()
    window.centralWidget().setFocus()
    qtbot.keyClick(window.centralWidget(), Qt.Key.Key_F1)
    overlay = window.findChild(ShortcutsOverlay)
    assert overlay is not None and overlay.isVisible()
    assert overlay.keys_shown == sum(1 for row in window.menus.rows if row.keys)
    texts = [label.text() for label in overlay.findChildren(type(window.status.state))]
    assert "F1, ?" in texts and "Space, K" in texts and "Next frame" in texts
    qtbot.keyClick(overlay, Qt.Key.Key_Escape)
    assert not overlay.isVisible()
    qtbot.keyClick(window.centralWidget(), "?")  # mpv's key for the same card
    assert overlay.isVisible()
    qtbot.mouseClick(overlay, Qt.MouseButton.LeftButton)
    assert not overlay.isVisible()


def test_position_speed_and_recent_titles_are_remembered_and_offered_back(
    window: MainWindow, loop, settings: Settings, media_dir: Path, tmp_path: Path
) -> None:
    async def play_to_eight_seconds() -> None:
        await open_demo(window)
        window.playback.seek(8000)
        await finished(window, 2, "the seek to 8 s")
        # paused there: the 12 s clip playing on while a loaded machine gets to close() could pass 11.4 s, where
        # the piece counts as watched to its end and no resume is offered (seen under load average 8)
        window.playback.player.pause()

    run(loop, play_to_eight_seconds())
    window.menus.actions["playback.faster"].trigger()
    title = window.controller.current.title
    window.close()
    again = _window(Settings(settings.path), media_dir, tmp_path)
    try:
        assert again.commands.speed() == 1.25
        recent = again.menus.menus["file.recent"]
        recent.aboutToShow.emit()
        assert recent.actions()[0].text() == f"{title}  (0:12)"

        async def resume() -> None:
            await open_demo(again)
            assert again.playback.player.playbackRate() == pytest.approx(1.25)  # the remembered speed plays
            bar = again.resume_bar
            assert bar.isVisible() and bar.resume_button.text() == "Resume from 0:08"
            bar.resume_button.click()
            record = await finished(again, 2, "the resume seek")
            assert record.outcome == "shown" and abs(record.target_ms - 8000) < 1500
            assert not bar.isVisible()

        run(loop, resume())
        clear = next(a for a in recent.actions() if a.objectName() == "file.clear_recent")
        clear.trigger()
        assert again.settings.history == [] and again.settings.pieces == {}
        assert again.cid_bar.combo.count() == 0
    finally:
        close_window(again)


def test_every_control_has_an_accessible_name_and_a_tooltip(window: MainWindow) -> None:
    window.panel  # noqa: B018 — built now, so its controls are checked too
    controls = [
        widget
        for kind in (QAbstractButton, QAbstractSlider, QComboBox, QLineEdit)
        for widget in window.findChildren(kind)
        if widget.isVisibleTo(window) and not isinstance(widget.parent(), QScrollBar | QAbstractSpinBox)
    ]
    assert len(controls) > 10
    missing = [
        f"{type(w).__name__} {w.objectName() or w.toolTip() or w.accessibleName()!r}"
        for w in controls
        if not (w.accessibleName() and w.toolTip())
    ]
    assert missing == []


def test_tab_walks_from_the_cid_bar_through_the_resume_offer_to_the_video(window: MainWindow, qtbot) -> None:
    window.activateWindow()
    window.resume_bar.offer(83_000)
    window.cid_bar.focus()
    reached = []
    for _ in range(20):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    bar = window.resume_bar
    assert {bar.resume_button, bar.start_over, bar.close_button, window.centralWidget()} <= set(reached)
    assert window.cid_bar.combo in reached  # and round again
    for title in [a.text() for a in window.menuBar().actions()]:  # Alt+letter opens each menu
        assert QKeySequence.mnemonic(title).toString().startswith("Alt+")


def test_fullscreen_hides_the_menu_bar_and_its_keys_still_work(window: MainWindow, qtbot) -> None:
    window.activateWindow()
    window.centralWidget().setFocus()
    window.menus.actions["video.fullscreen"].trigger()
    assert window.isFullScreen() and window.menuBar().isHidden()
    assert window.menus.actions["video.fullscreen"].isChecked()
    qtbot.keyClick(window.centralWidget(), Qt.Key.Key_L, Qt.KeyboardModifier.ShiftModifier)  # with the bar hidden
    assert window.playback.player.loops() == QMediaPlayer.Loops.Infinite
    qtbot.keyClick(window.centralWidget(), Qt.Key.Key_Escape)
    assert not window.isFullScreen() and not window.menuBar().isHidden()
    assert not window.menus.actions["video.fullscreen"].isChecked()


def test_the_manual_in_the_help_menu_is_the_readme_that_came_with_this_copy() -> None:
    """Help ▸ Read the manual opens a file that exists (a checkout's README; a frozen build bundles the same)."""
    from player.about import manual_path

    path = manual_path()
    assert path.is_file() and path.name == "README.md"
    assert path.read_text(encoding="utf-8").startswith("# PiecePlayer")


def test_tab_reaches_every_transport_control_and_space_still_plays_and_pauses(window: MainWindow, loop, qtbot) -> None:
    """Keyboard users reach each control; the keys of the window keep their meaning on a focused button."""
    window.activateWindow()
    transport, bar = window.transport, window.cid_bar
    wanted = {transport.play_button, transport.slider, transport.speed, transport.fullscreen_button}
    wanted.add(bar.settings_button)
    window.cid_bar.focus()
    reached = []
    for _ in range(80):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    assert wanted <= set(reached), wanted - set(reached)

    async def scenario() -> None:
        await open_demo(window)
        transport.play_button.setFocus()
        playing = window.playback.player.isPlaying()
        qtbot.keyClick(transport.play_button, Qt.Key.Key_Space)
        await until(lambda: window.playback.player.isPlaying() != playing, "one toggle of play/pause")
        await asyncio.sleep(0.3)
        assert window.playback.player.isPlaying() != playing  # toggled once, not by the action and the button

    run(loop, scenario())
