"""``pieceplayer --self-test --window``: the self-test in the real main window, on a real (Xvfb) display.

What a user sees at launch is the window with its side panel, not the headless sink the plain self-test plays
into. This runs the command as CI would, under its own Xvfb and openbox, on two real demo pieces, and checks the
contract's additions: ``launch_ms`` (process start → first frame), a shown window with its panel, and a second
piece opened from the CID bar with its own first frame. Timing goals are the bench's (``bench`` scenario
``window``), not asserted here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak_desktop import Desktop
from tests.player.test_player_cli import assert_contract, pieceplayer


@pytest.fixture
def display(tmp_path: Path) -> Iterator[str]:
    if shutil.which("Xvfb") is None or shutil.which("openbox") is None:
        pytest.skip("Xvfb and openbox are needed (./dev test installs them)")
    fixed = os.environ.get("PIECEPLAYER_TEST_DISPLAY")  # a display number reserved for this work, if any
    desktop = Desktop(tmp_path, int(fixed) if fixed else None)
    name = desktop.start()
    try:
        yield name
    finally:
        desktop.stop()


async def window_self_test(tmp_path: Path, media_dir: Path, display: str, *args: str) -> tuple[int, dict, str]:
    """``pieceplayer --self-test --window`` on the demo pieces in ``media_dir``, shown on ``display``."""
    env = {"DISPLAY": display, "QT_QPA_PLATFORM": ""}
    return await pieceplayer(tmp_path, "--self-test", "--window", "--demo-dir", str(media_dir), *args, env=env)


async def test_the_window_self_test_shows_frames_and_opens_a_second_piece_from_the_cid_bar(
    media_dir: Path, tmp_path: Path, display: str
) -> None:
    status, summary, err = await window_self_test(
        tmp_path, media_dir, display, "--seeks", "2,8", "--timeout", "80", "--report", str(tmp_path / "report.html")
    )
    assert status == 0, f"{summary}\n{err[-2000:]}"
    assert_contract(summary)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")  # the seeks' piece, not the second one opened
    assert summary["report"] == str((tmp_path / "report.html").resolve())
    assert "seek to 2.0 s" in report and "seek to 8.0 s" in report and summary["piece"] in report
    assert summary["window"] == {"platform": "xcb", "shown": True, "panel_visible": True}
    assert summary["ttff_ms"] > 0 and summary["frames"] > 0
    assert summary["launch_ms"] > summary["ttff_ms"]  # the process started before it opened the piece
    assert summary["launch_from"] == "process start (/proc/self/stat)"
    second = summary["second_open"]
    assert second is not None and second["piece"] != summary["piece"], summary
    assert second["ttff_ms"] > 0 and second["frames"] > 0, second


async def test_the_window_self_test_fails_in_words_within_its_time_limit(
    media_dir: Path, tmp_path: Path, display: str
) -> None:
    status, summary, _ = await window_self_test(tmp_path, media_dir, display, "--timeout", "0.5")
    assert status == 1
    assert summary["ok"] is False and summary["error"] == "the self-test did not finish within 0.5 s"
