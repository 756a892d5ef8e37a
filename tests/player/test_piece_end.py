"""Where a damaged piece's data ends, as the proxy's map tells it, and the words the player says about it.

``truncated-faststart.mp4`` is the first 60 % of ``mp4-faststart-h264-aac.mp4``: its ``moov`` still lists all
200 video samples, but from 4.76 s on (in decode order) their bytes are not in the piece. FFmpeg agrees: decoding
the cut file gives every frame before 4.76 s and almost nothing after.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtMultimedia import QVideoSink

from player.piece_end import ends_early_text, refused_text, stopped_text
from player.playback import Playback
from player.seek_monitor import SeekRecord
from player.self_test import _refused_past_end
from player.self_test_wait import wait_for_record
from proxy.media import build_index
from tests.conftest import CORPUS
from tests.player.test_gui_damaged_piece import MKV_DATA_END_S
from tests.player.test_gui_window import loop, run  # noqa: F401 — loop: a fixture


def test_the_map_of_a_cut_mp4_says_where_its_data_ends_and_ffmpeg_agrees() -> None:
    cut = (CORPUS / "truncated-faststart.mp4").read_bytes()
    index = build_index(cut, len(cut))
    assert index.duration_s == pytest.approx(8.0)  # what the header promises
    assert index.ends_early_s == pytest.approx(4.76)
    frames = subprocess.run(
        ["ffprobe", "-v", "quiet", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "json",
         str(CORPUS / "truncated-faststart.mp4")],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    times = sorted(float(f["pts_time"]) for f in json.loads(frames)["frames"])
    before = [t for t in times if t < index.ends_early_s]
    assert len(before) == round(index.ends_early_s * 25)  # 25 fps: every frame up to the end is there…
    assert times[-1] - index.ends_early_s < 0.2  # …and nothing plays much past it (a reordered P-frame at most)


def test_a_whole_piece_and_one_cut_within_the_margin_do_not_end_early() -> None:
    whole = (CORPUS / "mp4-faststart-h264-aac.mp4").read_bytes()
    assert build_index(whole, len(whole)).ends_early_s is None
    almost = whole[: len(whole) - 2000]  # the last few samples only: less than half a second
    index = build_index(almost, len(almost))
    assert index.notes and index.ends_early_s is None


def test_the_words_name_the_times_to_a_tenth_of_a_second() -> None:
    assert ends_early_text(4.76, 8.0).startswith("The piece ends early, at 0:04.8 of the 0:08 its header promises")
    assert refused_text(6.44, 4.76) == (
        "Nothing to play at 0:06.4: the piece ends early, at 0:04.8 (its data stops there)"
    )
    assert stopped_text(59.96).startswith("Playback stopped at 1:00.0,")


def test_the_self_tests_wait_ends_when_the_map_refuses_a_seek_already_asked(qapp, loop) -> None:  # noqa: F811
    """On a loaded machine the proxy's map can come after the self-test asked for a seek past a damaged piece's
    end: ``Playback`` refuses it then and seeks back (a new record supersedes it). The wait must end there, not at
    the self-test's limit (the corpus matrix saw 40 s), and the self-test records it as refused."""
    playback = Playback(QVideoSink(), audio=False)
    record = playback.open(QUrl.fromLocalFile(str(CORPUS / "truncated.mkv")).toString())

    async def scenario() -> SeekRecord:
        await wait_for_record(playback, record, None, set())
        seek = playback.seek(6000.0)  # the map is not here yet: Qt is asked, and waits for bytes past the cut
        assert seek is not None
        waiting = asyncio.ensure_future(wait_for_record(playback, seek, None, set()))
        await asyncio.sleep(0.2)
        playback.ends_early_at(MKV_DATA_END_S * 1000.0)  # what the controller does when MediaIndexed says so
        return await asyncio.wait_for(waiting, 5.0)

    try:
        done = run(loop, scenario())
    finally:
        playback.close()
    assert done.outcome != "shown" and _refused_past_end(done, playback.data_end_ms)
