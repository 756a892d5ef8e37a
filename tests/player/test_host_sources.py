"""The demo CDN runs when its source is used, and only then (``ProxyHost._start_emulator``).

A launch that opens a CID from configured upstreams never asks the demo CDN; starting it anyway put its start
before that launch's first frame. A user who then clears the upstreams still gets the demo as the fallback, and
demo mode has it from the start.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

from player.host import HostConfig, ProxyHost
from proxy.api import template_source
from proxy.commp import commp_of_bytes

#: An upstream that is never asked here (nothing listens on port 9 of loopback).
CONFIGURED = [template_source("http://127.0.0.1:9/{cid}")]


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.read()


def test_a_launch_from_configured_upstreams_starts_no_demo_cdn_until_it_is_the_fallback(
    media_dir: Path, tmp_path: Path
) -> None:
    host = ProxyHost(HostConfig(cache_dir=tmp_path / "cache", sources=CONFIGURED, demo_dir=media_dir, demo_first=False))
    host.start()
    try:
        assert host.emulator is None, "the demo CDN was started for a launch that does not use it"
        assert [s.name for s in host.sources()] == [s.name for s in CONFIGURED]
        host.set_sources([])  # the user cleared the upstreams: the demo is the fallback
        assert host.emulator is not None and host.emulator_source is not None
        assert [s.name for s in host.sources()] == [host.emulator_source.name]
        data = (media_dir / "clip-faststart.mp4").read_bytes()
        assert _read(host.piece_url(str(commp_of_bytes(data).v2()))) == data, "the demo plays through the proxy"
    finally:
        host.stop()


def test_demo_mode_has_the_demo_cdn_first_from_the_start(media_dir: Path, tmp_path: Path) -> None:
    host = ProxyHost(HostConfig(cache_dir=tmp_path / "cache", sources=CONFIGURED, demo_dir=media_dir, demo_first=True))
    host.start()
    try:
        assert host.emulator is not None and host.emulator_source is not None
        assert host.sources()[0].name == host.emulator_source.name
    finally:
        host.stop()


def test_opening_with_the_same_sources_does_not_wait_for_a_busy_proxy(media_dir: Path, tmp_path: Path) -> None:
    """Every open applies its piece's sources from the GUI thread. Applying them waits for the proxy's loop (the
    next request must see them), so an open used to stall the window whenever that loop was busy, and at launch
    it held the player's URL back while the head fetched ahead was arriving. Unchanged sources need no wait; a
    change after that is still applied before the next request."""
    host = ProxyHost(HostConfig(cache_dir=tmp_path / "cache", sources=CONFIGURED, demo_dir=media_dir, demo_first=False))
    host.start()
    loop_free, loop_ran = threading.Event(), threading.Event()
    try:
        assert host.runner is not None
        host.runner.call_soon(lambda: loop_free.wait(30))  # the proxy's loop is busy until the test frees it
        host.runner.call_soon(loop_ran.set)
        started = time.monotonic()
        host.set_sources(list(CONFIGURED))  # what an open does: the same sources as before
        took = time.monotonic() - started
        assert not loop_ran.is_set(), "the proxy's loop was not busy: this test proves nothing"
        assert took < 5, f"applying unchanged sources waited {took:.1f} s for the proxy's busy loop"
        loop_free.set()
        host.set_sources([])  # the user cleared the only (unreachable) upstream: the demo CDN must now serve
        data = (media_dir / "clip-faststart.mp4").read_bytes()
        assert _read(host.piece_url(str(commp_of_bytes(data).v2()))) == data, "the change did not reach the proxy"
    finally:
        loop_free.set()
        host.stop()
