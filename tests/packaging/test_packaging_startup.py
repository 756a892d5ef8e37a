"""A player that cannot start says why in words and exits with status 1, instead of a traceback or an abort.

The failures are real: a Qt platform plugin that does not exist (Qt's fatal error, which would abort), and a
system library the loader cannot use (an empty ``libpulse.so.0`` found first, so importing QtMultimedia fails
as it does on a system without PulseAudio's library).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from player.startup_error import missing_library

ROOT = Path(__file__).resolve().parents[2]


def _run_player(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environment.update(env)
    command = [sys.executable, "-m", "player", *args]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)


def test_a_loader_error_is_told_apart_from_a_missing_python_module() -> None:
    loader = ImportError("libEGL.so.1: cannot open shared object file: No such file or directory")
    assert missing_library(loader) == str(loader)
    assert missing_library(ImportError("DLL load failed while importing QtGui")) is not None
    assert missing_library(ModuleNotFoundError("No module named 'PySide6.QtOpenGL'")) is None


def test_a_failing_qt_platform_is_explained_not_aborted() -> None:
    run = _run_player("--self-test", "--timeout", "10", QT_QPA_PLATFORM="no-such-platform")
    assert run.returncode == 1, run.stderr
    assert "PiecePlayer cannot open a window" in run.stderr
    assert 'Qt platform plugin "no-such-platform"' in run.stderr


def test_a_missing_system_library_is_named(tmp_path: Path) -> None:
    (tmp_path / "libpulse.so.0").write_bytes(b"")
    for args in (["--self-test", "--timeout", "10"], []):  # headless, and the window (no display: stderr only)
        run = _run_player(*args, QT_QPA_PLATFORM="offscreen", LD_LIBRARY_PATH=str(tmp_path))
        assert run.returncode == 1, run.stderr
        assert "a library of this system is missing or does not load" in run.stderr
        assert "libpulse.so.0" in run.stderr and "Traceback" not in run.stderr


def test_the_window_without_a_display_says_so_and_points_to_the_headless_commands() -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    command = [sys.executable, "-m", "player", "--demo"]
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "there is no display" in run.stderr
    assert "pieceplayer --self-test" in run.stderr and "pieceplayer-proxy" in run.stderr
    headless = subprocess.run(
        [sys.executable, "-m", "player", "--self-test", "--timeout", "30", "--seeks", "2"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert headless.returncode == 0, headless.stderr  # the self-test still runs where there is no display
