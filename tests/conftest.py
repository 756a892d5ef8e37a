"""Shared fixtures: real media made by ffmpeg, a real emulator origin, a real proxy — no mocks.

Media is generated once per session into a temporary folder (ffmpeg's test sources, so nothing unlicensed),
small enough to keep the suite fast but real enough for QMediaPlayer to decode and seek.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.emulator import Emulator, Knobs
from proxy.events import Event, UpstreamFinished, UpstreamStarted
from proxy.prefetch import PrefetchConfig
from proxy.server import ProxyConfig, ProxyServer
from proxy.sources import Source, provider_source, template_source
from proxy.units import MiB
from proxy.upstream import RetryPolicy, Timeouts

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: The playability corpus (ffmpeg-made files; see tests/corpus/SOURCES).
CORPUS = Path(__file__).resolve().parent / "corpus"


def _ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed to make test media (./dev test installs it)")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make_mp4(path: Path, seconds: int = 12, faststart: bool = True, size: str = "640x360") -> Path:
    """H.264/AAC with a keyframe every second and a burnt-in timestamp-like pattern (testsrc2)."""
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1500k", "-g", "30", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", *(["-movflags", "+faststart"] if faststart else []), str(path),
    )  # fmt: skip
    return path


def make_webm(path: Path, seconds: int = 6) -> Path:
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
        "-c:v", "libvpx-vp9", "-b:v", "400k", "-deadline", "realtime", "-cpu-used", "8", "-g", "25",
        "-c:a", "libopus", str(path),
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of real pieces: an MP4 (moov first), the same with moov last, random binaries of awkward sizes."""
    folder = tmp_path_factory.mktemp("media")
    make_mp4(folder / "clip-faststart.mp4")
    make_mp4(folder / "clip-moov-at-end.mp4", faststart=False)
    make_webm(folder / "clip.webm")
    rng = __import__("random").Random(20261126)
    for name, size in (("random-3.5MiB.bin", 3 * MiB + MiB // 2), ("random-2MiB.bin", 2 * MiB), ("tiny.bin", 1)):
        (folder / name).write_bytes(rng.randbytes(size))
    return folder


def random_piece_folder(tmp_path_factory: pytest.TempPathFactory, name: str, size: int, seed: int) -> Path:
    """A folder holding one file of ``size`` seeded random bytes: a piece larger than the media clips."""
    folder = tmp_path_factory.mktemp(Path(name).stem)
    (folder / name).write_bytes(random.Random(seed).randbytes(size))
    return folder


@contextlib.asynccontextmanager
async def running_emulator(directory: Path, **knobs: Any) -> AsyncIterator[Emulator]:
    """The emulator serving ``directory`` with these knobs, stopped on the way out."""
    origin = Emulator(directory, Knobs(**knobs))
    await origin.start()
    try:
        yield origin
    finally:
        await origin.stop()


@pytest.fixture
async def emulator(media_dir: Path) -> AsyncIterator[Emulator]:
    """A FilBeam-mode origin with no added latency (tests set knobs they need)."""
    async with running_emulator(media_dir, latency_ms=0) as origin:
        yield origin


def piece_of(emulator: Emulator, file_name: str) -> tuple[str, bytes]:
    """(v2 CID, file bytes) of one served file."""
    for cid in emulator.piece_cids():
        piece = emulator.pieces[cid]
        if piece.path.name == file_name:
            return cid, piece.path.read_bytes()
    raise KeyError(file_name)


def cdn_sources(cdn: Emulator, provider: Emulator | None = None) -> list[Source]:
    """An emulated FilBeam as the first source, and an emulated provider behind it when given: the routed setup."""
    sources = [Source("FilBeam (emulated)", "filbeam", cdn.base_url + "/{cid}")]
    if provider is not None:
        sources.append(provider_source(provider.base_url))
    return sources


async def start_proxy(
    upstream: Emulator | str | list[Source],
    cache_dir: Path,
    *,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    prefetch: PrefetchConfig | None = None,
    **cache: Any,
) -> ProxyServer:
    """Our proxy, started, in front of an emulator (its ``/{cid}`` URLs), a base URL, or a list of sources.

    ``cache`` goes to the slice cache (``readahead=…``, ``memory_cap=…``, ``whole_streams=…``). The caller stops it.
    """
    if isinstance(upstream, list):
        sources = upstream
    else:
        base = upstream if isinstance(upstream, str) else upstream.base_url
        sources = [template_source(base + "/{cid}")]
    chosen = {"prefetch": prefetch} if prefetch is not None else {}
    server = ProxyServer(ProxyConfig(sources, cache_dir, cache=cache, retry=retry, timeouts=timeouts, **chosen))
    await server.start()
    return server


async def play_once(
    http: aiohttp.ClientSession, upstream: Emulator, cache_dir: Path, cid: str, **options: Any
) -> bytes:
    """A previous session: a proxy on ``cache_dir`` reads the whole piece, then quits and leaves its cache behind."""
    first = await start_proxy(upstream, cache_dir, **options)
    try:
        async with http.get(f"{first.base_url}/piece/{cid}") as response:
            return await response.read()
    finally:
        await first.stop()


@contextlib.asynccontextmanager
async def reopen_from_cache(
    http: aiohttp.ClientSession, upstream: Emulator, cache_dir: Path, file_name: str
) -> AsyncIterator[tuple[ProxyServer, str, bytes, list[Event]]]:
    """A piece played once by a proxy that then quit (:func:`play_once`), and a second proxy started on the cache it
    left: yields that proxy, the piece's CID and bytes, and the events it publishes; stops it on leaving."""
    cid, data = piece_of(upstream, file_name)
    assert await play_once(http, upstream, cache_dir, cid) == data
    second = await start_proxy(upstream, cache_dir)
    events = record_events(second)
    try:
        yield second, cid, data, events
    finally:
        await second.stop()


def record_events(publisher: Any, also: Callable[[Event], None] | None = None) -> list[Event]:
    """Every event a proxy (or runner) publishes from now on, in order; each is also handed to ``also``."""
    events: list[Event] = []

    def keep(event: Event) -> None:
        events.append(event)
        if also is not None:
            also(event)

    publisher.bus.subscribe(keep)
    return events


async def upstream_fetches_ended(events: list[Event], within: float = 30.0) -> None:
    """Wait until every upstream fetch the recorded events show started has also finished (a hang fails)."""
    async with asyncio.timeout(within):
        while True:
            started = {e.fetch_id for e in events if isinstance(e, UpstreamStarted)}
            if started <= {e.fetch_id for e in events if isinstance(e, UpstreamFinished)}:
                return
            await asyncio.sleep(0.02)


async def eventually(condition: Callable[[], object], within: float = 5.0) -> None:
    """Wait for background work (a fetch finishing its slice) without a fixed sleep; a hang fails the test."""
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def proxy(emulator: Emulator, tmp_path: Path) -> AsyncIterator[ProxyServer]:
    """Our proxy in front of the emulator, with a fresh cache folder."""
    server = await start_proxy(emulator, tmp_path / "cache")
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session
