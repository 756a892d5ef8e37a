"""Shared fixtures: real media made by ffmpeg, a real emulator origin, a real proxy — no mocks.

Media is generated once per session into a temporary folder (ffmpeg's test sources, so nothing unlicensed),
small enough to keep the suite fast but real enough for QMediaPlayer to decode and seek.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from proxy.emulator import Emulator, Knobs
from proxy.server import ProxyConfig, ProxyServer
from proxy.units import MiB
from proxy.upstream import template_source

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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


@pytest.fixture
async def emulator(media_dir: Path) -> AsyncIterator[Emulator]:
    """A FilBeam-mode origin with no added latency (tests set knobs they need)."""
    origin = Emulator(media_dir, Knobs(latency_ms=0))
    await origin.start()
    yield origin
    await origin.stop()


def piece_of(emulator: Emulator, file_name: str) -> tuple[str, bytes]:
    """(v2 CID, file bytes) of one served file."""
    for cid in emulator.piece_cids():
        piece = emulator.pieces[cid]
        if piece.path.name == file_name:
            return cid, piece.path.read_bytes()
    raise KeyError(file_name)


@pytest.fixture
async def proxy(emulator: Emulator, tmp_path: Path) -> AsyncIterator[ProxyServer]:
    """Our proxy in front of the emulator, with a fresh cache folder."""
    server = ProxyServer(ProxyConfig([template_source(emulator.base_url + "/{cid}")], tmp_path / "cache"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session
