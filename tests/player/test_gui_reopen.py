"""The real window after the first open: every later open, a retry, a pick from history, the end of a piece.

A user opens more than one piece per session, by typing into the CID bar, picking from its history, dropping a
CID or following a link. Each open must get its own first-frame time and leave "Loading" as soon as frames
flow; a retry after an error must ask again; picking the piece that is playing must keep its place; and the
last frame must stay on screen at the end. Driven like a user (keys, the history popup, a drop) against the
real proxy, the real emulator and a real QMediaPlayer.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtMultimedia import QMediaPlayer

from player.main_window import MainWindow
from player.playback import PlayState
from player.seek_monitor import SeekRecord
from proxy.commp import commp_of_bytes
from proxy.events import RequestStarted
from tests.player import test_gui_window as gui
from tests.player.test_gui_window import CLIP_MS, finished, open_demo, run, until

#: The real window on the real proxy and emulator, and the qasync loop it runs on (shared with test_gui_window).
loop = gui.loop
window = gui.window


def type_and_enter(window: MainWindow, qtbot, text: str) -> None:
    """Into the CID bar (what Ctrl+L does), the text, Enter: how a user opens a piece from the CID bar.

    Keys go to the combo box, as a real keyboard's do (it has the focus and hands them to its line edit); sent
    to the line edit directly, an Enter it ignores would reach it a second time through the combo box.
    """
    window.cid_bar.focus()
    qtbot.keyClicks(window.cid_bar.combo, text)
    assert window.cid_bar.edit.text() == text
    qtbot.keyClick(window.cid_bar.combo, Qt.Key.Key_Return)


def pick_from_history(window: MainWindow, qtbot, text: str) -> None:
    """Open the CID bar's list and click the entry ``text``."""
    combo = window.cid_bar.combo
    index = combo.findText(text)
    assert index >= 0, f"{text} is not in the history"
    combo.showPopup()
    view = combo.view()
    rect = view.visualRect(view.model().index(index, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def drop_text(window: MainWindow, text: str) -> None:
    mime = QMimeData()
    mime.setText(text)
    drop = QDropEvent(
        QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    window.dropEvent(drop)


async def first_frame_of_this_open(window: MainWindow, what: str) -> SeekRecord:
    """Wait for the open's own first-frame record and for the status to say Playing."""
    await finished(window, 1, f"the first frame of {what}")
    record = window.playback.seeks.history[0]
    assert record.kind == "open" and record.outcome == "shown", (what, record)
    await until(lambda: window.playback.state == PlayState.PLAYING, f"Playing after {what}")
    return record


def test_every_open_gets_its_own_first_frame_time_and_leaves_loading(window: MainWindow, loop, qtbot) -> None:
    opened, asked = [], []
    window.controller.opened.connect(opened.append)
    window.cid_bar.openRequested.connect(asked.append)
    texts = [window.controller.demo_target(i)[0].text for i in range(3)]

    async def scenario() -> list[SeekRecord]:
        records = []
        type_and_enter(window, qtbot, texts[0])
        records.append(await first_frame_of_this_open(window, "the first piece (CID bar)"))
        type_and_enter(window, qtbot, texts[1])
        records.append(await first_frame_of_this_open(window, "the second piece (CID bar)"))
        pick_from_history(window, qtbot, texts[0])
        records.append(await first_frame_of_this_open(window, "the third open (history)"))
        drop_text(window, f" {texts[2]}\n")
        records.append(await first_frame_of_this_open(window, "the fourth open (drop)"))
        type_and_enter(window, qtbot, f"pieceplayer://{texts[1]}/")
        records.append(await first_frame_of_this_open(window, "the fifth open (pieceplayer:// link)"))
        return records

    records = run(loop, scenario(), timeout=90)
    expected = [texts[0], texts[1], texts[0], texts[2], texts[1]]
    assert [o.target.text for o in opened] == expected, "one open per action"
    assert len(asked) == len(expected), "the CID bar asked more than once for one action"
    assert len({id(r) for r in records}) == 5 and all(r.latency_ms and r.latency_ms > 0 for r in records)
    chart = window.panel.seek_chart
    assert chart.records == [records[-1]], "the chart shows the open of the piece on screen, not an older one"
    assert f"TTFF {records[-1].latency_ms:.0f} ms" in chart.summary.text()
    assert window.status.state.text() == "Playing"


def test_the_first_seek_after_a_later_open_is_plotted_as_a_seek(window: MainWindow, loop, qtbot) -> None:
    second = window.controller.demo_target(2)[0].text

    async def scenario() -> None:
        await open_demo(window)
        type_and_enter(window, qtbot, second)
        await first_frame_of_this_open(window, "the second piece")
        window.playback.seek(3000)
        await finished(window, 2, "the seek")

    run(loop, scenario())
    kinds = [r.kind for r in window.panel.seek_chart.records]
    assert kinds == ["open", "seek"]


def test_picking_the_playing_piece_from_history_keeps_its_place(window: MainWindow, loop, qtbot) -> None:
    opened = []
    player = window.playback.player

    async def scenario() -> tuple[int, int]:
        await open_demo(window)
        window.controller.opened.connect(opened.append)
        await until(lambda: player.position() > 1500, "playback past 1.5 s")
        before = player.position()
        pick_from_history(window, qtbot, window.controller.current.target.text)
        await until(lambda: player.position() > before + 500, "playback going on")
        return before, player.position()

    before, after = run(loop, scenario())
    assert opened == [], "the playing piece was opened again"
    assert after > before
    assert window.transport.total.text() != "--:--"
    assert len(window.playback.seeks.history) == 1  # still the first open's record: nothing restarted
    assert window.status.state.text() == "Playing"


def test_a_retry_after_an_error_asks_again_and_says_why(window: MainWindow, loop, qtbot) -> None:
    unknown = commp_of_bytes(b"a piece the demo CDN does not hold, asked twice" * 50).v2()
    started: list[RequestStarted] = []
    window.bridge.events.connect(lambda events: started.extend(e for e in events if isinstance(e, RequestStarted)))
    emulator = window.controller.host.emulator
    assert emulator is not None

    def asked_upstream() -> int:
        return sum(1 for entry in list(emulator.counters.log) if entry.piece == unknown)

    async def attempt(number: int) -> str:
        before = len(started)
        type_and_enter(window, qtbot, unknown)
        await until(lambda: len(started) > before, f"a request from the player for attempt {number}")
        await until(lambda: window.controller.error is not None, f"the error of attempt {number}")
        await until(lambda: window.status.message.text() != "", f"the status text of attempt {number}")
        return window.status.message.text()

    async def scenario() -> tuple[str, int, str, int]:
        first = await attempt(1)
        upstream_first = asked_upstream()
        second = await attempt(2)
        return first, upstream_first, second, asked_upstream()

    first, upstream_first, second, upstream_second = run(loop, scenario())
    assert upstream_first >= 1 and upstream_second > upstream_first, "the retry did not reach the upstream"
    assert second == first and second.strip()
    assert window.status.state.text() == "Error"
    card = window.video_area.card
    assert window.video_area.currentWidget() is card and second.startswith(card.title.text())  # what happened

    async def then_a_good_piece() -> None:
        type_and_enter(window, qtbot, window.controller.demo_target(0)[0].text)
        await first_frame_of_this_open(window, "a good piece after the error")

    run(loop, then_a_good_piece())
    assert window.video_area.currentWidget() is window.video_area.video
    assert window.status.state.text() == "Playing" and window.status.message.text() == ""


def test_the_last_frame_stays_on_screen_at_the_end(window: MainWindow, loop) -> None:
    player = window.playback.player
    sink = player.videoSink()

    async def scenario() -> None:
        await open_demo(window)
        window.playback.seek(CLIP_MS - 1000)
        await until(lambda: player.mediaStatus() == QMediaPlayer.MediaStatus.EndOfMedia, "the end", limit_s=20)
        await until(lambda: window.playback.state == PlayState.ENDED, "the Ended state")

    run(loop, scenario())
    loop.run_until_complete(asyncio.sleep(0.3))  # anything Qt still hands the sink after the end has arrived by now
    frame = sink.videoFrame()
    assert frame.isValid(), "the picture went black at the end"
    assert frame.startTime() / 1000 >= CLIP_MS - 500
    assert window.video_area.currentWidget() is window.video_area.video
    assert window.status.state.text() == "Ended"


def test_a_seek_after_the_end_shows_its_frame(window: MainWindow, loop) -> None:
    player = window.playback.player

    async def scenario() -> SeekRecord:
        await open_demo(window)
        window.playback.seek(CLIP_MS - 1000)
        await until(lambda: window.playback.state == PlayState.ENDED, "the Ended state", limit_s=20)
        count = len(window.playback.seeks.history)
        window.playback.seek(4000)
        return await finished(window, count + 1, "the seek back from the end")

    record = run(loop, scenario())
    assert record.outcome == "shown" and abs(record.frame_ms - 4000) <= 500
    assert window.playback.state == PlayState.PAUSED
    assert player.videoSink().videoFrame().isValid()
