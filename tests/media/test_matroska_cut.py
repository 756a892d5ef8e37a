"""A Matroska piece cut short: its header promises the whole Duration, its data stops early, and the map says where.

FFmpeg writes ``Cues`` after the last Cluster, so the usual cut (an interrupted upload) loses the index with the
data: the map is then built from the first Cluster and the Clusters of the piece's last bytes
(:mod:`proxy.media.matroska_tail`). With ``-reserve_index_space`` the Cues come first and survive the cut: their
cue points past the piece's end say where the data stops, a Cluster at a time. Every file here is made by ffmpeg
and checked against what ffprobe decodes from the same cut bytes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from proxy.events import MediaIndexed, MediaLayoutKnown
from proxy.media import build_index, sniff_layout
from tests.conftest import _ffmpeg, record_events, running_emulator, start_proxy

SECONDS = 8
FRAME_S = 1 / 25
HEAD = 1 << 20


def _make_mkv(path: Path, *extra: str) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={SECONDS}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "300k", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", *extra, str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def mkvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("mkv")
    return {
        "cues_at_end": _make_mkv(folder / "end.mkv").read_bytes(),
        "cues_in_front": _make_mkv(folder / "front.mkv", "-reserve_index_space", "4096").read_bytes(),
    }


def _map(data: bytes):
    """The map the proxy builds: the layout from the head, then the bytes of its index span."""
    layout = sniff_layout(data[:HEAD], len(data))
    span = layout.index
    index_bytes = data[span.start : span.stop] if span else b""
    return layout, build_index(data[:HEAD], len(data), index_bytes, span.start if span else 0)


def _last_video_frame_s(data: bytes, tmp_path: Path) -> float:
    """The presentation time of the last video frame ffprobe decodes from these bytes."""
    path = tmp_path / "cut.mkv"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "quiet", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return max(float(frame["pts_time"]) for frame in json.loads(out)["frames"])


@pytest.mark.parametrize("share", [0.3, 0.6])
def test_a_cut_before_its_cues_is_mapped_from_its_tail_and_ends_where_ffprobe_stops(mkvs, tmp_path, share) -> None:
    whole = mkvs["cues_at_end"]
    cut = whole[: int(len(whole) * share)]
    layout, index = _map(cut)
    assert layout.index is not None and layout.index.stop == len(cut) and not layout.index.at_open
    assert "cut at byte" in layout.reason and "no Cues" in layout.reason
    assert index.source == "matroska tail"
    assert index.duration_s == pytest.approx(SECONDS, abs=0.05)  # what the header promises
    # as an MP4's: the time of the first frame that is not there, one frame after the last ffprobe decodes
    assert index.ends_early_s == pytest.approx(_last_video_frame_s(cut, tmp_path) + FRAME_S, abs=FRAME_S / 2)
    assert all(offset < len(cut) for _time, offset in index.keyframes())
    assert index.keyframes()[0][0] == 0.0 and len(index.keyframes()) >= 2


def test_a_cut_with_its_cues_in_front_ends_at_the_first_cluster_not_all_in_the_piece(mkvs, tmp_path) -> None:
    whole = mkvs["cues_in_front"]
    cut = whole[: int(len(whole) * 0.6)]
    layout, index = _map(cut)
    assert layout.index.what == "Cues" and index.source == "matroska cues"
    keyframes = index.keyframes()
    assert index.ends_early_s > keyframes[-1][0]  # the cued Clusters wholly in the piece play…
    last_frame = _last_video_frame_s(cut, tmp_path)
    assert last_frame - 1.0 < index.ends_early_s <= last_frame  # …and the one the cut falls in (a second) does not
    assert any("lie outside the piece" in note for note in index.notes)


@pytest.mark.parametrize("name", ["cues_at_end", "cues_in_front"])
def test_a_whole_piece_and_a_cut_within_half_a_second_do_not_end_early(mkvs, name) -> None:
    whole = mkvs[name]
    assert _map(whole)[1].ends_early_s is None
    almost = whole[: len(whole) - len(whole) // 25]  # the last 0.3 s of the Clusters, and the Cues at the end
    assert _map(almost)[1].ends_early_s is None


def test_a_cut_piece_whose_tail_holds_no_cluster_start_gets_no_map(mkvs) -> None:
    whole = mkvs["cues_at_end"]
    cut = whole[: int(len(whole) * 0.6)]
    layout = sniff_layout(cut[:HEAD], len(cut))
    inside_one_cluster = cut[-200:]  # no Cluster ID in 200 bytes of block data
    with pytest.raises(Exception, match="no Cluster starts"):
        build_index(cut[:HEAD], len(cut), inside_one_cluster, len(cut) - 200)
    assert layout.index is not None


async def test_the_proxy_publishes_where_a_cut_mkv_ends(mkvs, tmp_path, http) -> None:
    """End to end: the real emulator serves the cut piece, the proxy reads its head and tail and says it ends early."""
    served = tmp_path / "served"
    served.mkdir()
    whole = mkvs["cues_at_end"]
    cut = whole[: int(len(whole) * 0.6)]
    (served / "cut.mkv").write_bytes(cut)
    async with running_emulator(served, mode="curio", latency_ms=0) as origin:
        proxy = await start_proxy(origin, tmp_path / "cache")
        events = record_events(proxy)
        try:
            [cid] = origin.piece_cids()
            async with http.get(f"{proxy.base_url}/piece/{cid}", headers={"Range": "bytes=0-65535"}) as response:
                assert await response.read() == cut[:65536]
            async with asyncio.timeout(10):
                while not [e for e in events if isinstance(e, MediaIndexed)]:
                    await asyncio.sleep(0.01)
        finally:
            await proxy.stop()
    [indexed] = [e for e in events if isinstance(e, MediaIndexed)]
    [layout] = [e for e in events if isinstance(e, MediaLayoutKnown)]
    assert "cut at byte" in layout.reason
    assert indexed.duration_s == pytest.approx(SECONDS, abs=0.05)
    assert indexed.ends_early_s == pytest.approx(_map(cut)[1].ends_early_s)
    assert indexed.ends_early_s < SECONDS - 2
