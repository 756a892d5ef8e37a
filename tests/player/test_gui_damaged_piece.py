"""The real window on corpus pieces the proxy maps differently: a damaged MP4 and MKV, and a fragmented MP4.

``truncated-faststart.mp4`` keeps its whole index while its data stops at 4.76 s: the window says where it ends,
marks that point on the seek bar and refuses seeks past it in words at once (instead of a seek that never shows
a frame); ``truncated.mkv``, cut before its Cues, the same from the Clusters in its last bytes. ``fmp4-mfra.mp4``
is fragmented: its map comes from its ``moof`` boxes, so the seek bar shades cached time exactly and a hover
prefetches where the pointer rests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from player.main_window import MainWindow
from player.playback import PlayState
from proxy.events import Prefetch
from proxy.media import build_index
from tests.conftest import CORPUS
from tests.player.test_gui_window import (  # noqa: F401 — loop: a fixture
    assert_lands,
    finished,
    loop,
    red_pixels,
    run,
    shown_window,
    until,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: Demo order (no manifest: sorted file names).
FRAGMENTED, DAMAGED, DAMAGED_MKV = 0, 1, 2
#: Where truncated-faststart.mp4's video data stops (its first video sample past the cut, by its sample table).
DATA_END_S = 4.76
#: Where truncated.mkv's video stops: its last complete frame (4.503 s) and one more frame's time.
MKV_DATA_END_S = 4.543


@pytest.fixture
def window(qapp: QApplication, tmp_path: Path, loop) -> Iterator[MainWindow]:  # noqa: F811 — loop: shut down while it is open
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    for name in ("fmp4-mfra.mp4", "truncated-faststart.mp4", "truncated.mkv"):
        shutil.copyfile(CORPUS / name, pieces / name)
    yield from shown_window(pieces, tmp_path)


def pixel_ms(window: MainWindow) -> float:
    """How much of the piece one pixel of the seek bar is: a click lands within it (the offscreen screen is small)."""
    return window.playback.player.duration() / max(1, window.transport.slider._groove().width())


def click_at(qtbot, window: MainWindow, fraction: float) -> None:
    slider = window.transport.slider
    groove = slider._groove()
    x = round(groove.left() + groove.width() * fraction)
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(x, slider.height() // 2))


def test_a_damaged_piece_says_where_it_ends_and_refuses_seeks_past_it(window: MainWindow, loop, qtbot) -> None:  # noqa: F811
    slider = window.transport.slider

    async def scenario() -> None:
        assert window.open_demo(DAMAGED) is not None
        await finished(window, 1, "the first frame")
        await until(lambda: window.playback.player.duration() > 0, "the duration")
        await until(lambda: slider.end_mark_ms is not None, "the end mark from the proxy's map")
        assert window.status.message.text().startswith("The piece ends early, at 0:04.8 of the 0:08 its header")
        assert window.status.message.property("level") == "warning"
        assert window.video_area.currentWidget() is window.video_area.video  # it plays on: no "cannot be played" card
        click_at(qtbot, window, 0.8)  # 6.4 s, past the data
        await until(lambda: window.status.message.text().startswith("Nothing to play at 0:06"), "the refusal")
        assert "the piece ends early, at 0:04.8" in window.status.message.text()
        assert len(window.playback.seeks.history) == 1 and window.playback.seeks.pending is None
        slack_ms = max(60.0, 1.5 * pixel_ms(window))
        click_at(qtbot, window, 0.25)  # 2 s, inside the data: an ordinary seek
        assert_lands(await finished(window, 2, "the seek to 2 s"), 2000.0, slack_ms=slack_ms)
        # Playing on reaches the missing data: Qt fails there, and the window says it is the piece's end.
        await until(lambda: window.status.message.text().startswith("Playback stopped at 0:04.8"), "the data's end")
        assert window.playback.state is not PlayState.ERROR and window.playback.error is None
        assert window.video_area.currentWidget() is window.video_area.video
        click_at(qtbot, window, 0.125)  # 1 s: the piece still seeks and plays before its end
        history = window.playback.seeks.history
        await until(lambda: history and history[-1].target_ms == pytest.approx(1000.0, abs=slack_ms), "the seek to 1 s")
        assert_lands(history[-1], 1000.0, slack_ms=slack_ms)

    run(loop, scenario())
    assert slider.end_mark_ms == pytest.approx(DATA_END_S * 1000, abs=1)
    assert red_pixels(slider) > 0  # the mark and the struck-out rest of the groove


def test_a_matroska_piece_cut_before_its_cues_says_where_it_ends_and_refuses_seeks_past_it(
    window: MainWindow,
    loop,  # noqa: F811
    qtbot,
) -> None:
    """``truncated.mkv`` lost its Cues with its last 45 %: the proxy finds its end in its last Clusters (4.54 s)."""
    slider = window.transport.slider

    async def scenario() -> None:
        assert window.open_demo(DAMAGED_MKV) is not None
        await finished(window, 1, "the first frame")
        await until(lambda: slider.end_mark_ms is not None, "the end mark from the proxy's map")
        assert window.status.message.text().startswith("The piece ends early, at 0:04.5 of the 0:08 its header")
        click_at(qtbot, window, 0.8)  # 6.4 s, past the data
        await until(lambda: window.status.message.text().startswith("Nothing to play at 0:06"), "the refusal")
        assert "the piece ends early, at 0:04.5" in window.status.message.text()
        assert len(window.playback.seeks.history) == 1 and window.playback.seeks.pending is None
        assert slider.position_ms < MKV_DATA_END_S * 1000  # the bar shows where playback is, not the refused 6.4 s
        click_at(qtbot, window, 0.25)  # 2 s, inside the data: an ordinary seek
        assert_lands(await finished(window, 2, "the seek to 2 s"), 2000.0, slack_ms=max(60.0, 1.5 * pixel_ms(window)))

    run(loop, scenario())
    assert slider.end_mark_ms == pytest.approx(MKV_DATA_END_S * 1000, abs=1)


def test_a_fragmented_piece_shades_cached_time_and_prefetches_on_hover(window: MainWindow, loop, qtbot) -> None:  # noqa: F811
    reasons: list[str] = []
    window.bridge.events.connect(lambda events: reasons.extend(e.reason for e in events if isinstance(e, Prefetch)))
    slider = window.transport.slider

    async def scenario() -> None:
        assert window.open_demo(FRAGMENTED) is not None
        await finished(window, 1, "the first frame")
        await until(lambda: window.controller.byte_map.tracks, "the proxy's byte ↔ time map")
        await until(lambda: slider.exact and slider.cached, "exact cached ranges")
        # 0.7, not test_gui_window's 0.75: a pointer already resting there sends no move, so no hover
        x = round(slider._groove().left() + slider._groove().width() * 0.7)
        qtbot.mouseMove(slider, QPoint(x, slider.height() // 2))
        await until(lambda: any(r.startswith("prefetch: hover at") for r in reasons), "a hover prefetch")

    run(loop, scenario())
    model = window.controller.byte_map
    data = (CORPUS / "fmp4-mfra.mp4").read_bytes()
    index = build_index(data, len(data))  # the proxy's own map of the same bytes, built here to compare with
    assert index.source == "mp4 fragments (moof)" and len(model.keyframes) == len(index.keyframes()) == 8
    assert slider.end_mark_ms is None
    duration_s = window.playback.player.duration() / 1000
    expected = index.time_ranges(model.cached_byte_ranges())
    assert window.controller.cached_timeline() == [(t0 / duration_s, t1 / duration_s) for t0, t1 in expected]


def test_a_seek_past_the_end_made_before_the_map_arrived_is_refused_when_it_does(window: MainWindow, loop) -> None:  # noqa: F811
    """Whether the map is there when the seek is asked (refused at once) or comes while Qt waits for bytes that
    will never arrive (refused then), the viewer gets the same words and playback returns to before the end."""

    async def scenario() -> None:
        assert window.open_demo(DAMAGED) is not None
        await until(lambda: window.playback.player.duration() > 0, "the duration")
        window.playback.seek(6400.0)
        await until(lambda: window.status.message.text().startswith("Nothing to play at 0:06.4"), "the refusal")
        history = window.playback.seeks.history
        await until(lambda: history and history[-1].target_ms < DATA_END_S * 1000, "the seek back before the end")
        assert_lands(history[-1], history[-1].target_ms)

    run(loop, scenario())


def test_opening_a_damaged_piece_again_in_the_same_run_still_says_where_it_ends(window: MainWindow, loop) -> None:  # noqa: F811
    """The proxy reads a piece's head once per run; a second open gets the map it built then, not nothing."""
    slider = window.transport.slider

    async def scenario() -> None:
        for count, (piece, marked) in enumerate([(DAMAGED, True), (FRAGMENTED, False), (DAMAGED, True)], start=1):
            assert window.open_demo(piece) is not None
            await finished(window, 1, f"the first frame of open {count}")
            await until(lambda: window.controller.byte_map.tracks, f"the map on open {count}")
            if marked:
                await until(lambda: slider.end_mark_ms is not None, f"the end mark on open {count}")
                assert window.playback.seek(6400.0) is None
            else:
                assert slider.end_mark_ms is None and window.playback.data_end_ms is None

    run(loop, scenario())
    assert window.status.message.text().startswith("Nothing to play at 0:06.4")
