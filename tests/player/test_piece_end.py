"""Where a damaged piece's data ends, as the proxy's map tells it, and the words the player says about it.

``truncated-faststart.mp4`` is the first 60 % of ``mp4-faststart-h264-aac.mp4``: its ``moov`` still lists all
200 video samples, but from 4.76 s on (in decode order) their bytes are not in the piece. FFmpeg agrees: decoding
the cut file gives every frame before 4.76 s and almost nothing after.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from player.piece_end import ends_early_text, refused_text, stopped_text
from proxy.media import build_index
from tests.conftest import CORPUS


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
