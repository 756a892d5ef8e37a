"""Seek anatomy from real runs: the real proxy and emulator, a real QMediaPlayer decoding ffmpeg-made media, the
controller that the window and the self-test use — and the timeline built from the events the run published.

Each test checks that the phases add up to the measured latency and that the phase and verdict name the cause
that the run was set up to have: bytes from cache, bytes from upstream, FilBeam's 200 from byte 0 on a miss, and a
long distance from the keyframe.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtMultimedia import QVideoSink

from player.anatomy.timeline import DECODE, NETWORK, PHASES, SeekTimeline
from player.bridge import EventBridge
from player.controller import Controller
from player.host import HostConfig, ProxyHost
from player.playback import Playback
from player.seek_monitor import SeekRecord
from player.target import parse_target
from tests.conftest import _ffmpeg, make_mp4
from tests.player.anatomy_recording import save

#: Phases are cut from one clock, so they add up exactly; this allows for float rounding only.
SUM_TOLERANCE_MS = 3.0
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def anatomy_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s clip with a keyframe every second, and a 20 s clip with one every 250 frames (8.3 s at 30 fps)."""
    folder = tmp_path_factory.mktemp("anatomy-media")
    make_mp4(folder / "gop1s.mp4", seconds=30)
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=20",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k", "-g", "250", "-keyint_min", "250",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(folder / "gop250.mp4"),
    )  # fmt: skip
    return folder


class Run:
    """The app's own composition without a window: a proxy host (emulated CDN included), playback, controller."""

    def __init__(self, qtbot, folder: Path, cache_dir: Path, **knobs) -> None:
        self.qtbot = qtbot
        self.host = ProxyHost(HostConfig(cache_dir=cache_dir, demo_dir=folder, demo_latency_ms=50.0))
        self.host.start()
        assert self.host.emulator is not None
        self.host.emulator.knobs.update(**knobs)
        self.bridge = EventBridge(self.host.bus)
        self.playback = Playback(QVideoSink(), self.bridge.flush, audio=False)
        self.controller = Controller(self.host, self.playback, self.bridge)
        self.closed = False

    def open(self, file_name: str) -> SeekRecord:
        emulator = self.host.emulator
        assert emulator is not None
        [cid] = [c for c in emulator.piece_cids() if emulator.pieces[c].path.name == file_name]
        assert self.controller.open(parse_target(cid)) is not None
        return self.wait(self.playback.seeks.pending)

    def wait(self, record: SeekRecord | None) -> SeekRecord:
        assert record is not None
        self.qtbot.waitUntil(lambda: record.outcome != "pending", timeout=WAIT_MS)
        assert record.outcome == "shown", f"the seek to {record.target_ms} ms showed no frame"
        return record

    def seek(self, target_s: float) -> SeekTimeline:
        record = self.wait(self.playback.seek(target_s * 1000.0))
        explained = self.controller.anatomy.get(record.id)
        assert explained is not None
        print(f"seek to {target_s} s: {record.latency_ms:.0f} ms — {explained.verdict}")
        assert_adds_up(explained.timeline, record.latency_ms)
        if os.environ.get("ANATOMY_RECORD_DIR"):  # keep the run for the pure model's tests (anatomy_events/)
            name = os.environ.get("PYTEST_CURRENT_TEST", "seek").split("::")[-1].split(" ")[0]
            save(Path(os.environ["ANATOMY_RECORD_DIR"]) / f"{name}.json", explained, self.controller.anatomy.media)
        return explained.timeline

    def cache_whole(self) -> None:
        """Until every byte is cached and the proxy has published the piece's keyframes (it indexes a moment later)."""
        byte_map, anatomy = self.controller.byte_map, self.controller.anatomy
        self.qtbot.waitUntil(lambda: bool(byte_map.size) and byte_map.cached_bytes() >= byte_map.size, timeout=WAIT_MS)
        self.qtbot.waitUntil(lambda: bool(anatomy.media.keyframes), timeout=WAIT_MS)

    def close(self) -> None:
        """Stop the proxy, and delete the Qt objects here, on the GUI thread: left to Python's garbage collector
        they may be destroyed on the proxy's thread, which Qt does not survive (their timers belong to this one)."""
        if self.closed:
            return
        self.closed = True
        self.controller.close()
        for part in (self.controller, self.playback, self.bridge):
            shiboken6.delete(part)


def assert_adds_up(timeline: SeekTimeline, latency_ms: float) -> None:
    spans = timeline.spans
    assert abs(sum(s.duration_ms for s in spans) - latency_ms) <= SUM_TOLERANCE_MS
    assert all(s.phase in PHASES and s.duration_ms > 0 for s in spans)
    for before, after in itertools.pairwise(spans):  # one after the other, no gap, no overlap
        assert abs(before.start_ms + before.duration_ms - after.start_ms) <= 0.01


@pytest.fixture
def run(qtbot, anatomy_media: Path, tmp_path: Path) -> Iterator:
    runs: list[Run] = []

    def start(cache_dir: Path | None = None, **knobs) -> Run:
        runs.append(Run(qtbot, anatomy_media, cache_dir or tmp_path / f"cache{len(runs)}", **knobs))
        return runs[-1]

    yield start
    for each in runs:
        each.close()


def test_a_cached_seek_spends_no_time_on_the_network(run) -> None:
    player = run()
    player.open("gop1s.mp4")
    player.cache_whole()
    timeline = player.seek(20.5)
    assert timeline.cached and timeline.total(NETWORK) == 0.0
    assert timeline.keyframe_s == 20.0
    verdict = player.controller.anatomy.get(player.controller.anatomy.seeks[-1].record_id).verdict
    assert verdict.startswith(("cached;", "no request")), verdict
    assert "from the keyframe at 20.0 s" in verdict


def test_an_upstream_seek_waits_on_the_network(run) -> None:
    player = run(mode="curio", bandwidth=400_000)  # true ranges, slow: read-ahead is far from the target
    player.open("gop1s.mp4")
    timeline = player.seek(25.0)
    assert timeline.fetches and not timeline.cached
    assert timeline.total(NETWORK) > 0.0
    assert player.controller.anatomy.seeks[-1].verdict.startswith("waited ")


def test_filbeam_answering_200_from_byte_zero_is_named(run, tmp_path: Path) -> None:
    """A piece cached except around the target; the CDN answers every miss with the whole piece from byte 0."""
    cache = tmp_path / "warm"
    first = run(cache)
    first.open("gop1s.mp4")
    first.cache_whole()
    first.close()
    [piece_dir] = [p for p in cache.rglob("*") if p.is_dir() and any(p.glob("00000000.*"))]
    for path in piece_dir.glob("0*.*"):  # slice files only (not the checks saved beside them: ``slice_checks``)
        if int(path.name.split(".")[0]) >= 3:
            path.unlink()
    # The CDN is the only source, and slow enough that its whole stream still runs at the seek: the open's own read
    # may reach the first missing slice before the seek does (then the seek joins that stream) or not (then the
    # seek's miss starts it); either way the seek waits on a 200 from byte 0.
    player = run(cache, edge_fill="never", bandwidth=2_000_000)
    player.open("gop1s.mp4")
    timeline = player.seek(25.0)
    waited_on = (*timeline.fetches, *timeline.joined)
    assert waited_on and timeline.total(NETWORK) > 0.0, waited_on  # the seek waited on the CDN
    answered = [f for f in waited_on if f.status is not None]
    assert all(f.whole_stream for f in answered), answered  # and whatever the CDN answered was 200 from byte 0
    if answered:  # under load the answer can land after the frame (the recorded replay checks those words always)
        assert "200 from byte 0" in player.controller.anatomy.seeks[-1].verdict


def test_a_seek_ahead_of_the_cdn_whole_stream_names_it(run) -> None:
    """The open's miss made the CDN stream the whole piece from byte 0; a seek ahead of it rides it or asks for its
    range, and either way the verdict says a 200 from byte 0 was what it waited on."""
    player = run(bandwidth=2_000_000)  # about 3 s for the whole piece: still streaming at the seek
    player.open("gop1s.mp4")
    timeline = player.seek(12.0)
    assert any(f.status == 200 and f.body_start == 0 for f in timeline.joined), timeline.joined
    assert timeline.total(NETWORK) > 0.0
    assert "200 from byte 0" in player.controller.anatomy.seeks[-1].verdict


def test_a_long_gop_seek_decodes_from_the_keyframe_seconds_before(run) -> None:
    player = run()
    player.open("gop250.mp4")
    player.cache_whole()
    timeline = player.seek(8.0)
    assert timeline.keyframe_s == 0.0
    assert timeline.frames_decoded is not None and timeline.frames_decoded >= 230
    assert timeline.total(DECODE) > 0.0
    assert player.controller.anatomy.hint() == "keyframes every 8.3 s: seeks between them decode up to 249 frames"


def test_media_with_short_gops_gets_no_hint(run) -> None:
    player = run()
    player.open("gop1s.mp4")
    player.cache_whole()
    assert player.controller.anatomy.hint() is None
