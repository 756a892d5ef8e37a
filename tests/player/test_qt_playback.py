"""The client that matters: a real QMediaPlayer (FFmpeg backend, offscreen) playing through the proxy.

The proxy runs on its own thread (``ProxyRunner``), as in the app, with the emulator on that thread's loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtMultimedia import QMediaPlayer, QVideoSink

from proxy.emulator import Emulator, Knobs
from proxy.events import RequestStarted
from proxy.runner import ProxyRunner
from proxy.server import ProxyConfig
from proxy.sources import template_source

GOP_SECONDS = 1.0


@pytest.fixture
def threaded_proxy(media_dir: Path, tmp_path: Path):
    """(runner, emulator) with 50 ms emulated edge latency, both on the proxy thread."""
    emulator = Emulator(media_dir, Knobs(latency_ms=50))
    runner = ProxyRunner(ProxyConfig([template_source("http://127.0.0.1:9/{cid}")], tmp_path / "cache"))
    runner.start()
    base = runner.call(emulator.start)
    runner.server.upstream.sources[:] = [template_source(base + "/{cid}")]
    yield runner, emulator
    runner.call(emulator.stop)
    runner.stop()


class FrameLog:
    def __init__(self, sink: QVideoSink) -> None:
        self.times: list[float] = []
        sink.videoFrameChanged.connect(lambda frame: self.times.append(frame.startTime() / 1e6))


@pytest.mark.parametrize("file_name", ["clip-faststart.mp4", "clip-moov-at-end.mp4"])
def test_qmediaplayer_plays_through_the_proxy_and_seeks_land_near_target(qtbot, threaded_proxy, file_name):
    runner, emulator = threaded_proxy
    [cid] = [c for c in emulator.piece_cids() if emulator.pieces[c].path.name == file_name]
    requests: list[RequestStarted] = []
    runner.bus.subscribe(lambda e: requests.append(e) if isinstance(e, RequestStarted) else None)
    player, sink = QMediaPlayer(), QVideoSink()
    player.setVideoSink(sink)
    frames = FrameLog(sink)
    errors: list[str] = []
    player.errorOccurred.connect(lambda _error, text: errors.append(text))
    player.setSource(QUrl(f"{runner.base_url}/piece/{cid}"))
    player.play()
    qtbot.waitUntil(lambda: len(frames.times) >= 5 or bool(errors), timeout=15_000)
    assert not errors
    for target in (9.0, 3.0):
        frames.times.clear()
        player.setPosition(int(target * 1000))
        qtbot.waitUntil(lambda t=target: any(abs(x - t) <= GOP_SECONDS for x in frames.times), timeout=15_000)
    player.stop()
    assert not errors
    assert requests, "the player must have read through the proxy"
    assert all(r.range_header is None or r.range_header.startswith("bytes=") for r in requests)
