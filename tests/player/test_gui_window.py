"""The real window, offscreen, playing real media from the real proxy in front of the real emulator.

Each test drives the window like a user (open, slider, keys, CID bar) and checks what the viewer and the panel
would show: frames near each seek target, the byte map and request log filled from proxy events, an exported HAR
that parses, and errors in words.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import qasync
import shiboken6
from aiohttp import web
from PySide6 import QtGui
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent, QImage, QTextDocument
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget

from player.gui_loop import finish_tasks, gui_loop
from player.host import ProxyHost
from player.main_window import MainWindow
from player.panel.har import CSV_COLUMNS
from player.panel.request_log import PLAYER, UPSTREAM
from player.playback import PlayState
from player.resources import demo_pieces
from player.seek_monitor import DEFAULT_TOLERANCE_MS, SeekRecord
from player.settings import Settings
from player.settings_dialog import SettingsDialog
from player.target import parse_target
from proxy.commp import commp_of_bytes
from proxy.events import Prefetch

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: conftest's clip: 12 s of H.264 with a keyframe every second.
CLIP_MS = 12_000


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop over Qt's, as the app runs: tests run their steps as coroutines on it."""
    with gui_loop(qapp) as event_loop:
        yield event_loop


def shown_window(pieces: Path, tmp_path: Path) -> Iterator[MainWindow]:
    """The main window with its own settings and cache, playing the files of ``pieces`` as its demo; shut down after."""
    settings = Settings(tmp_path / "settings.ini")
    settings.cache_dir = tmp_path / "cache"
    settings.demo_latency_ms = 20.0
    host = ProxyHost(settings.host_config(pieces, demo_first=True, sources=[]))
    host.start()
    main = MainWindow(settings, host, demo=demo_pieces(pieces), demo_dir=pieces)
    main.show()
    yield main
    close_window(main)


def close_window(main: MainWindow) -> None:
    """Close, shut down and delete a test's window, here on the GUI thread.

    Deleted, not left to Python: the signals its parts are connected to hold its methods, so Python never frees
    it, and every test's window — player, video surface, timers — lived on to the end of the run.
    """
    main.close()
    main.shutdown()
    loop = asyncio.get_event_loop()
    if not loop.is_running():  # what waits on the window (a paint, a frame) ends while the window is still there
        finish_tasks(loop)
    shiboken6.delete(main)


@pytest.fixture
def window(qapp: QApplication, media_dir: Path, tmp_path: Path, loop) -> Iterator[MainWindow]:
    """Asks for ``loop`` so the window shuts down while its loop is open, as in the app (see player/gui_loop.py)."""
    yield from shown_window(media_dir, tmp_path)


def run(loop: qasync.QEventLoop, coroutine, timeout: float = 40.0):
    return loop.run_until_complete(asyncio.wait_for(coroutine, timeout))


async def until(condition: Callable[[], object], what: str, limit_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def finished(window: MainWindow, count: int, what: str) -> SeekRecord:
    """Wait until the seek monitor has ``count`` final records; return the last."""
    history = window.playback.seeks.history
    await until(lambda: len(history) >= count, what)
    return history[count - 1]


async def open_demo(window: MainWindow) -> SeekRecord:
    assert window.open_demo() is not None
    first = await finished(window, 1, "the first frame")
    assert first.kind == "open" and first.outcome == "shown"
    await until(lambda: window.playback.player.duration() > 0, "the duration")
    return first


def assert_lands(record: SeekRecord, target_ms: float, slack_ms: float = 1.0) -> None:
    """The seek went where it was asked (within ``slack_ms``: playback moves on while a key is pressed) and a frame
    near its target was shown."""
    assert record.outcome == "shown", f"seek to {target_ms} ms showed no frame"
    assert abs(record.target_ms - target_ms) <= slack_ms, (record.target_ms, target_ms)
    assert record.frame_ms is not None and abs(record.frame_ms - record.target_ms) <= DEFAULT_TOLERANCE_MS


def test_demo_plays_and_the_panel_fills_from_proxy_events(window: MainWindow, loop, media_dir: Path) -> None:
    async def scenario() -> None:
        first = await open_demo(window)
        assert first.latency_ms is not None and first.latency_ms > 0
        await until(lambda: window.playback.state == PlayState.PLAYING, "the Playing state")
        model = window.controller.byte_map
        await until(lambda: model.cached_bytes() > 0, "cached slices on the byte map")
        assert model.size == (media_dir / "clip-faststart.mp4").stat().st_size
        requests = window.controller.requests
        await until(lambda: any(e.kind == UPSTREAM and e.done for e in requests.entries), "a finished upstream fetch")
        player_rows = [e for e in requests.entries if e.kind == PLAYER]
        assert player_rows and player_rows[0].status == 206 and player_rows[0].range_asked == "bytes=0-"
        assert window.status.state.text() == "Playing"
        assert window.status.source.text() == "Source: emulator"
        await until(lambda: model.upstream_bytes > 0, "the proxy's upstream counter")
        await until(lambda: (model.served_live or 0) > 0, "the proxy's served counter")
        assert "Cached" in window.panel.byte_summary.text()
        assert window.panel.seek_chart.records == [first]

    run(loop, scenario())


def test_seeks_by_slider_and_keys_show_frames_near_their_targets(window: MainWindow, loop, qtbot) -> None:
    async def scenario() -> None:
        await open_demo(window)
        slider = window.transport.slider
        x = round(slider._groove().left() + slider._groove().width() * 0.5)
        qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))
        record = await finished(window, 2, "the slider seek")
        duration = window.playback.player.duration()
        assert_lands(record, record.target_ms)
        assert abs(record.target_ms - duration * 0.5) < duration * 0.02

        window.activateWindow()
        player = window.playback.player
        before = player.position()
        qtbot.keyClick(window, Qt.Key.Key_Right)
        assert_lands(await finished(window, 3, "the → seek"), before + 5000, slack_ms=300)
        qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
        assert_lands(await finished(window, 4, "the Shift+← seek"), 0)
        qtbot.keyClick(window, Qt.Key.Key_Space)
        await until(lambda: window.playback.state == PlayState.PAUSED, "pause on Space")
        before = player.position()
        qtbot.keyClick(window, Qt.Key.Key_Right)  # a seek while paused still shows its frame
        assert_lands(await finished(window, 5, "the → seek while paused"), before + 5000)
        assert len(window.panel.seek_chart.records) == 5

    run(loop, scenario(), timeout=60)


def test_exported_har_parses_and_holds_every_request(window: MainWindow, loop, tmp_path: Path) -> None:
    async def scenario() -> None:
        await open_demo(window)
        window.playback.seek(CLIP_MS / 2)
        await finished(window, 2, "the seek")
        await until(lambda: all(e.done for e in window.controller.requests.entries if e.kind == UPSTREAM), "fetches")

    run(loop, scenario())
    view = window.panel.request_log
    entries = view.model.entries
    view.export_har(tmp_path / "log.har")
    har = json.loads((tmp_path / "log.har").read_text())["log"]
    assert har["version"] == "1.2" and har["creator"]["name"] == "PiecePlayer"
    assert len(har["entries"]) == len(entries)
    for entry in har["entries"]:
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= entry.keys()
        request, response = entry["request"], entry["response"]
        required_request = {"method", "url", "httpVersion", "cookies", "headers", "queryString"}
        assert required_request | {"headersSize", "bodySize"} <= request.keys()
        required_response = {"status", "statusText", "httpVersion", "cookies", "headers", "content"}
        assert required_response | {"redirectURL", "headersSize", "bodySize"} <= response.keys()
        assert {"size", "mimeType"} <= response["content"].keys()
        assert {"send", "wait", "receive"} <= entry["timings"].keys()
        assert entry["time"] == pytest.approx(sum(entry["timings"].values()), abs=0.01)
    kinds = {e["_kind"] for e in har["entries"]}
    assert kinds == {PLAYER, UPSTREAM}
    token = window.controller.host.token
    player_urls = [e["request"]["url"] for e in har["entries"] if e["_kind"] == PLAYER]
    assert all("/_token_/piece/" in url and token not in url for url in player_urls)
    assert any(e["response"]["status"] == 206 for e in har["entries"])

    view.export_csv(tmp_path / "log.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "log.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(entries) + 1


def test_a_bad_cid_says_why_and_opens_nothing(window: MainWindow, loop, qtbot) -> None:
    opened = []
    window.controller.opened.connect(opened.append)
    bar = window.cid_bar
    bar.edit.clear()
    qtbot.keyClicks(bar.edit, "bafkzcib-this-is-not-a-cid")
    assert bar.message.text().startswith("Not playable:")
    assert bar.message.property("level") == "error"
    assert not bar.open_button.isEnabled()
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert opened == []
    bar.edit.clear()
    qtbot.keyClicks(bar.edit, "ipfs://bafy")
    assert "only http:// and https://" in bar.message.text()


def test_an_unknown_piece_shows_the_proxys_reason(window: MainWindow, loop) -> None:
    unknown = commp_of_bytes(b"a piece the demo CDN does not hold" * 100).v2()

    async def scenario() -> dict:
        opened = window.open_target(parse_target(unknown))
        assert opened is not None
        async with aiohttp.ClientSession() as session, session.get(opened.url) as response:
            document = await response.json()
        await until(lambda: window.controller.error is not None, "the error message")
        return document

    document = run(loop, scenario())
    card = window.video_area.card
    assert window.controller.friendly(document["error"]) in card.detail.text()  # the raw words, under Details
    assert document["detail"] in card.detail.text()
    assert not card.detail.isVisible() and card.details_button.isVisible()
    card.details_button.click()
    assert card.detail.isVisible()
    assert card.title.text() == "This piece was not found"  # what happened, in words
    assert window.status.message.text().startswith("This piece was not found.")
    assert window.playback.state == PlayState.ERROR
    assert window.video_area.currentWidget() is window.video_area.card
    assert window.status.state.text() == "Error"


def test_window_state_volume_and_history_are_remembered(window: MainWindow, loop, tmp_path: Path) -> None:
    async def scenario() -> None:
        await open_demo(window)

    run(loop, scenario())
    window.transport.set_volume(0.3)
    window.toggle_panel()
    window.save_state()
    settings = Settings(tmp_path / "settings.ini")
    assert settings.volume == pytest.approx(0.3, abs=0.01)
    assert settings.panel_visible is False
    assert settings.history[0] == window.controller.current.target.text
    assert settings.geometry is not None and settings.window_state is not None


def test_a_dropped_cid_is_opened(window: MainWindow, loop) -> None:
    target, _ = window.controller.demo_target(0)
    mime = QMimeData()
    mime.setText(f"  {target.text}\n")
    drop = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )

    async def scenario() -> None:
        window.dropEvent(drop)
        await finished(window, 1, "the first frame of the dropped piece")

    run(loop, scenario())
    assert window.controller.current is not None and window.controller.current.target.cid == target.cid
    assert window.cid_bar.edit.text() == target.text


def test_clicking_a_seek_in_the_chart_highlights_its_requests(window: MainWindow, loop) -> None:
    async def scenario() -> None:
        await open_demo(window)
        window.playback.seek(8000)
        await finished(window, 2, "the seek")

    run(loop, scenario())
    chart = window.panel.seek_chart
    points = chart.points.points()
    assert len(points) == 2
    opening = points[0].data()
    assert opening.kind == "open" and opening.request_ids and opening.fetch_ids
    chart._clicked(chart.points, [points[0]])
    requests = window.controller.requests
    marked = {(e.kind, e.ident) for e in requests.entries if (e.kind, e.ident) in requests.highlighted}
    assert {(PLAYER, i) for i in opening.request_ids} <= marked
    assert {(UPSTREAM, i) for i in opening.fetch_ids} <= marked
    assert window.panel.tabs.currentWidget() is window.panel.request_log


def test_settings_are_checked_saved_and_applied(window: MainWindow, loop) -> None:
    async def scenario() -> None:
        await open_demo(window)
        await until(lambda: window.controller.stats.latest.get("disk_cache_bytes", 0) > 0, "slices on disk")

    run(loop, scenario())
    dialog = SettingsDialog(window.settings, 0, window)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.payer.setText("0x12")
    assert "40 hexadecimal digits" in dialog.problem.text() and not ok.isEnabled()
    dialog.payer.setText("0x" + "Ab" * 20)
    dialog.templates.setPlainText("https://sp.example/piece/{cid}\nsp.example/{cid}")
    assert "line 2" in dialog.problem.text() and not ok.isEnabled()
    dialog.templates.setPlainText("https://sp.example/piece/{cid}\n")
    dialog.network.setCurrentIndex(dialog.network.findData("calibration"))
    assert ok.isEnabled() and dialog.problem.text() == ""
    assert dialog.changes() == {"sources"}
    dialog.save()
    window.apply_settings({"sources"})
    names = [s.name for s in window.controller.host.sources()]
    assert names[1:] == ["FilBeam (calibration)", "upstream sp.example"]
    assert names[0] == window.controller.host.emulator_source.name  # demo mode: the demo CDN first
    assert Settings(window.settings.path).payer == "0x" + "Ab" * 20

    window.clear_cache()
    assert window.controller.byte_map.cached_bytes() == 0
    assert window.controller.host.runner is not None
    snapshot = window.controller.host.runner.snapshot().result(10)
    assert snapshot["disk_cache_bytes"] == 0 and snapshot["memory_cache_bytes"] == 0


def test_seek_bar_paints_playable_time_from_the_proxys_media_map(window: MainWindow, loop) -> None:
    async def scenario() -> None:
        await open_demo(window)
        await until(lambda: window.controller.byte_map.exact, "the proxy's byte ↔ time map")
        await until(lambda: window.transport.slider.exact and window.transport.slider.cached, "exact cached ranges")

    run(loop, scenario())
    model = window.controller.byte_map
    duration_s = window.playback.player.duration() / 1000
    runner = window.controller.host.runner
    assert runner is not None and runner.server.prefetcher is not None
    index = runner.server.prefetcher.indexes[model.key]  # the proxy's own map: the GUI only got its numbers
    expected = index.time_ranges(model.cached_byte_ranges())
    assert window.controller.cached_timeline() == [(t0 / duration_s, t1 / duration_s) for t0, t1 in expected]
    assert window.transport.slider.cached[0][0] == pytest.approx(0.0, abs=0.01)  # the start was played


def test_resting_the_pointer_on_the_seek_bar_asks_the_proxy_to_prefetch_there(window: MainWindow, loop, qtbot) -> None:
    reasons: list[str] = []
    window.bridge.events.connect(lambda events: reasons.extend(e.reason for e in events if isinstance(e, Prefetch)))
    slider = window.transport.slider

    async def scenario() -> None:
        await open_demo(window)
        await until(lambda: window.controller.byte_map.exact, "the proxy's byte ↔ time map")
        x = round(slider._groove().left() + slider._groove().width() * 0.75)
        qtbot.mouseMove(slider, QPoint(x, slider.height() // 2))
        await until(lambda: any(r.startswith("prefetch: hover at") for r in reasons), "a hover prefetch")

    run(loop, scenario())
    hover = next(r for r in reasons if r.startswith("prefetch: hover at"))
    seconds = float(hover.removeprefix("prefetch: hover at").removesuffix("s").strip())
    assert seconds == pytest.approx(CLIP_MS / 1000 * 0.75, abs=0.3)


def red_pixels(widget: QWidget) -> int:
    """Pixels of ``widget`` as drawn now that are plainly red (the app's palette has none in text)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    raw = bytes(image.constBits())[: image.sizeInBytes()]
    return sum(1 for i in range(0, len(raw), 4) if raw[i + 2] > 170 and raw[i + 1] < 90 and raw[i] < 90)


def test_an_upstreams_words_are_shown_as_written_never_as_its_markup(window: MainWindow, loop) -> None:
    """A server's error body reaches the card as the detail; as rich text it could draw its own red "warnings"."""
    markup = '<h1 style="color:red">Your licence expired: call +1 555 0100</h1>'
    piece = commp_of_bytes(b"a piece only the hostile server is asked for" * 100).v2()

    async def refusing(_request: web.Request) -> web.Response:
        return web.Response(status=404, text=markup)

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", refusing)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            assert window.open_target(parse_target(f"{base}/piece/{piece}")) is not None
            await until(lambda: window.controller.error is not None, "the error message")
        finally:
            await runner.cleanup()

    run(loop, scenario())
    card = window.video_area.card
    assert window.video_area.currentWidget() is card
    assert markup in card.detail.text()  # the upstream's words are there, character for character…
    for label in (card.title, card.text, card.detail):
        assert red_pixels(label) == 0, label.objectName()  # …and none of them is drawn as its markup
    window.status.show_message(markup, "error")  # the status bar's tooltip repeats a message in full
    tooltip = window.status.message.toolTip()
    shown = QTextDocument()
    shown.setHtml(tooltip) if QtGui.Qt.mightBeRichText(tooltip) else shown.setPlainText(tooltip)  # as QToolTip decides
    assert shown.toPlainText() == markup


def test_a_new_piece_clears_the_last_pieces_selected_seek_from_the_panel(window: MainWindow, loop) -> None:
    """The waterfall and verdict under the seek chart belong to the piece the chart shows, not to the one before."""

    async def scenario() -> None:
        await open_demo(window)
        window.playback.seek(2000.0)
        record = await finished(window, 2, "the seek to 2 s")
        panel = window.panel
        await until(lambda: (panel.show_seek(record), panel.seek_anatomy.verdict.text())[1], "the seek's verdict")
        assert window.open_demo(1) is not None
        assert panel.seek_anatomy.verdict.text() == ""
        assert panel.seek_anatomy.waterfall.seek is None
        await until(lambda: window.playback.seeks.history, "the second piece's first frame")

    run(loop, scenario())
