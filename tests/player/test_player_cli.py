"""``pieceplayer --self-test`` as CI and the packaged build run it: a subprocess, headless, real media.

The contract: the last stdout line is one JSON object with ttff_ms, seeks (target_s, latency_ms, cached),
frames, stalls, upstream_bytes, served_bytes; exit 0 only if frames were decoded and every seek showed a frame
near its target.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from player.seek_monitor import DEFAULT_TOLERANCE_MS
from proxy.emulator import Emulator
from tests.conftest import piece_of

SELF_TEST_LIMIT_S = 90


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


async def pieceplayer(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """Run the command; return its status, the JSON of its last stdout line, and its stderr (``env``: more)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "player",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**_env(tmp_path), **(env or {})},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), SELF_TEST_LIMIT_S)
    except TimeoutError:
        process.kill()
        raise
    lines = out.decode().strip().splitlines()
    assert lines, f"no stdout; stderr:\n{err.decode()[-2000:]}"
    return process.returncode, json.loads(lines[-1]), err.decode()


def assert_contract(summary: dict) -> None:
    for key in ("ttff_ms", "seeks", "frames", "stalls", "upstream_bytes", "served_bytes"):
        assert key in summary, key
    for seek in summary["seeks"]:
        assert {"target_s", "latency_ms", "cached"} <= seek.keys()


async def test_self_test_plays_the_demo_and_lands_every_seek(media_dir: Path, tmp_path: Path) -> None:
    status, summary, err = await pieceplayer(
        tmp_path, "--self-test", "--demo-dir", str(media_dir), "--seeks", "2,8,4,2"
    )
    assert status == 0, f"{summary}\n{err[-2000:]}"
    assert_contract(summary)
    assert summary["ok"] is True and summary["error"] is None
    assert summary["ttff_ms"] > 0 and summary["frames"] > 0
    assert [s["target_s"] for s in summary["seeks"]] == [2, 8, 4, 2]
    for seek in summary["seeks"]:
        assert seek["latency_ms"] is not None and seek["latency_ms"] > 0
        assert abs(seek["frame_s"] - seek["target_s"]) <= DEFAULT_TOLERANCE_MS / 1000
    assert summary["seeks"][-1]["cached"] is True  # 2 s was played (and cached) before the last seek
    size = (media_dir / "clip-faststart.mp4").stat().st_size
    assert summary["upstream_bytes"] > 0 and summary["served_bytes"] >= size // 2
    assert summary["source"] == "emulator" and summary["via"] == "proxy"


async def test_self_test_clamps_seeks_to_the_media(media_dir: Path, tmp_path: Path) -> None:
    status, summary, err = await pieceplayer(tmp_path, "--self-test", "--demo-dir", str(media_dir), "--seeks", "45")
    assert status == 0, f"{summary}\n{err[-2000:]}"
    assert summary["seeks"][0]["target_s"] == pytest.approx(summary["duration_s"] - 1.0)


async def test_self_test_fails_for_a_piece_that_is_not_media(emulator: Emulator, tmp_path: Path) -> None:
    cid, _ = piece_of(emulator, "random-2MiB.bin")
    status, summary, err = await pieceplayer(
        tmp_path, "--self-test", cid, "--upstream", f"{emulator.base_url}/{{cid}}", "--timeout", "40"
    )
    assert status != 0
    assert summary["ok"] is False and summary["frames"] == 0
    assert "not audio or video this player can decode" in summary["error"]
    assert "application/octet-stream" in summary["error"]
    assert "self-test failed:" in err


async def test_self_test_direct_plays_a_range_capable_upstream_without_the_proxy(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.knobs.update(mode="curio")
    cid, _ = piece_of(emulator, "clip-faststart.mp4")
    status, summary, err = await pieceplayer(
        tmp_path, "--self-test", cid, "--direct", "--upstream", f"{emulator.base_url}/piece/{{cid}}", "--seeks", "3,9"
    )
    assert status == 0, f"{summary}\n{err[-2000:]}"
    assert summary["via"] == "direct" and summary["source"] == "direct"
    assert all(s["cached"] is False for s in summary["seeks"])
    assert emulator.counters.bytes_sent > 0 and emulator.counters.requests >= 2  # the open and a seek, no proxy
    assert summary["upstream_bytes"] is None  # another process's origin: the player cannot count its bytes


async def test_a_bad_cid_on_the_command_line_is_refused_in_words(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "player", "not-a-cid", "--self-test",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "'not-a-cid' is not playable" in err.decode()
