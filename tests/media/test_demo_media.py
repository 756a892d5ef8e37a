"""The committed demo pieces and their manifest: honest, small, playable through the proxy, reproducible.

The 60 s files are committed (``resources/demo``); nothing here encodes them again. ``make_demo.py`` itself is
exercised on 1-second clips.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.cid import parse_piece_cid
from proxy.commp import commp_of_file
from proxy.emulator import COMMP_CACHE_NAME, Emulator, Knobs
from proxy.server import ProxyServer
from tests.conftest import running_emulator, start_proxy

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
MANIFEST = json.loads((DEMO / "manifest.json").read_text())
ENTRIES = MANIFEST["pieces"]
MB = 1_000_000


def load_make_demo():
    """``resources/make_demo.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location("make_demo", DEMO.parent / "make_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is being loaded
    spec.loader.exec_module(module)
    return module


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def root_boxes(path: Path) -> list[str]:
    """Top-level MP4 boxes in file order, as ffmpeg's own demuxer reports them (independent of make_demo)."""
    trace = subprocess.run(["ffprobe", "-v", "trace", str(path)], capture_output=True, text=True).stderr
    return re.findall(r"type:'(\w{4})' parent:'root'", trace)


def by_file(name: str) -> dict:
    return next(entry for entry in ENTRIES if entry["file"] == name)


# --- the manifest ----------------------------------------------------------------------------------------------


def test_the_default_demo_piece_comes_first_and_is_the_faststart_mp4() -> None:
    first = ENTRIES[0]
    assert (first["file"], first["codec"], first["moov"]) == ("clock-720p-faststart.mp4", "h264/aac", "front")


def test_the_manifest_lists_exactly_the_files_in_the_demo_folder() -> None:
    files = sorted(p.name for p in DEMO.iterdir() if p.is_file() and not p.name.startswith("."))
    assert sorted([*(entry["file"] for entry in ENTRIES), "manifest.json"]) == files
    assert {"h264/aac", "vp9/opus"} <= {entry["codec"] for entry in ENTRIES}
    assert MANIFEST["ffmpeg"]  # which ffmpeg made them, for anyone rebuilding


def test_the_committed_demo_media_stays_small() -> None:
    sizes = {entry["file"]: (DEMO / entry["file"]).stat().st_size for entry in ENTRIES}
    assert sum(sizes.values()) < 12 * MB, sizes
    assert max(sizes.values()) < 5 * MB, sizes


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["file"] for entry in ENTRIES])
def test_each_manifest_entry_tells_the_truth_about_its_file(entry: dict) -> None:
    path = DEMO / entry["file"]
    assert entry["size"] == path.stat().st_size
    assert entry["sha256"] == sha256_of(path)
    computed = commp_of_file(path)
    assert (entry["piece_cid"], entry["piece_cid_v1"]) == (computed.v2(), computed.v1())
    assert parse_piece_cid(entry["piece_cid"]).payload_size == entry["size"]
    assert entry["duration_s"] == pytest.approx(60, abs=0.1)


@pytest.mark.parametrize("name", ["clock-720p-faststart.mp4", "clock-720p-moov-at-end.mp4"])
def test_the_mp4s_index_sits_where_the_manifest_says(name: str) -> None:
    boxes = [box for box in root_boxes(DEMO / name) if box in ("moov", "mdat")]
    expected = ["moov", "mdat"] if by_file(name)["moov"] == "front" else ["mdat", "moov"]
    assert boxes == expected


def test_both_mp4s_carry_the_same_samples() -> None:
    """The moov-at-end file differs from the faststart one only in box order: every packet is the same."""

    def packets(name: str) -> str:
        return subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts,size,flags", "-of", "csv",
             str(DEMO / name)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    assert packets("clock-720p-faststart.mp4") == packets("clock-720p-moov-at-end.mp4")


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["file"] for entry in ENTRIES])
def test_keyframes_come_at_least_every_two_seconds_so_seeks_land_quickly(entry: dict) -> None:
    times = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-skip_frame", "nokey", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(DEMO / entry["file"])],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    keyframes = [float(t.strip(",")) for t in times if t.strip(",")]
    gaps = [b - a for a, b in zip([0.0, *keyframes], [*keyframes, entry["duration_s"]], strict=True)]
    assert max(gaps) <= 2.05, gaps


# --- the emulator and the manifest ---------------------------------------------------------------------------


def test_the_emulator_takes_demo_cids_from_the_manifest_without_hashing(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    emulator = Emulator(folder, Knobs(latency_ms=0))
    assert emulator.piece_cids() == sorted(
        (e["piece_cid"] for e in ENTRIES), key=lambda c: emulator.pieces[c].path.name
    )
    assert not (folder / COMMP_CACHE_NAME).exists()  # nothing was computed, so nothing was cached


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("clock-480p.webm", "append"),  # a size change
        ("clock-720p-faststart.mp4", "flip"),  # same size, other bytes: only the SHA-256 tells
    ],
)
def test_a_file_that_no_longer_matches_the_manifest_gets_its_cid_computed_again(
    tmp_path: Path, name: str, change: str
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    path = folder / name
    data = bytearray(path.read_bytes())
    if change == "append":
        data += b"\0"
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    emulator = Emulator(folder, Knobs(latency_ms=0))
    served = {emulator.pieces[cid].path.name: cid for cid in emulator.piece_cids()}
    assert served[name] == commp_of_file(path).v2() != by_file(name)["piece_cid"]
    others = [entry for entry in ENTRIES if entry["file"] != name]
    assert all(served[entry["file"]] == entry["piece_cid"] for entry in others)
    assert (folder / COMMP_CACHE_NAME).exists()


# --- ffprobe through the real proxy ------------------------------------------------------------------------------


@pytest.fixture
async def demo_proxy(tmp_path: Path) -> AsyncIterator[ProxyServer]:
    """The demo folder behind the emulator (FilBeam mode, a 20 ms edge) behind a fresh proxy."""
    async with running_emulator(DEMO, latency_ms=20) as origin:
        server = await start_proxy(origin, tmp_path / "cache")
        yield server
        await server.stop()


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["file"] for entry in ENTRIES])
async def test_ffprobe_reads_every_demo_piece_through_the_proxy(demo_proxy: ProxyServer, entry: dict) -> None:
    url = f"{demo_proxy.base_url}/piece/{entry['piece_cid']}"
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name,width,height",
        "-of", "json", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    probed = json.loads(out)
    video = next(s for s in probed["streams"] if s["codec_type"] == "video")
    audio = next(s for s in probed["streams"] if s["codec_type"] == "audio")
    assert f"{video['codec_name']}/{audio['codec_name']}" == entry["codec"]
    assert (video["width"], video["height"]) == (entry["width"], entry["height"])
    assert float(probed["format"]["duration"]) == pytest.approx(entry["duration_s"], abs=0.05)


# --- make_demo.py ------------------------------------------------------------------------------------------------


def test_make_demo_makes_a_consistent_reproducible_set(tmp_path: Path) -> None:
    make_demo = load_make_demo()
    font = make_demo.find_font()
    first = make_demo.make_demo(tmp_path / "a", 1, font)
    second = make_demo.make_demo(tmp_path / "b", 1, font)
    assert [e["sha256"] for e in first["pieces"]] == [e["sha256"] for e in second["pieces"]]
    assert [e["file"] for e in first["pieces"]] == [e["file"] for e in ENTRIES]
    for entry in first["pieces"]:
        path = tmp_path / "a" / entry["file"]
        assert (entry["size"], entry["sha256"]) == (path.stat().st_size, sha256_of(path))
        assert entry["piece_cid"] == commp_of_file(path).v2()
        assert entry["duration_s"] == pytest.approx(1, abs=0.05)
        assert (entry["codec"], entry["moov"]) == (by_file(entry["file"])["codec"], by_file(entry["file"])["moov"])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [*(e["file"] for e in ENTRIES), "manifest.json"]
    )


def test_make_demo_says_which_font_to_install(tmp_path: Path) -> None:
    make_demo = load_make_demo()
    with pytest.raises(make_demo.DemoError, match="does not exist"):
        make_demo.find_font(tmp_path / "missing.ttf")
    assert make_demo.main(["--font", str(tmp_path / "missing.ttf"), "--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


def test_make_demo_keeps_the_large_piece_out_of_the_demo_folder(tmp_path: Path) -> None:
    make_demo = load_make_demo()
    with pytest.raises(make_demo.DemoError, match="must not be committed"):
        make_demo.make_large(DEMO / "large.mp4", 16, make_demo.find_font(), DEMO)
