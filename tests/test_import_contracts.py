"""The import contracts in ``pyproject.toml`` hold: the proxy stays Qt-free, range logic stays pure, the cache stays
below the server and the parts that answer its hooks, the emulator stays apart from the proxy it emulates an
upstream for, and the player uses only the proxy's public face (``proxy.api``, ``proxy.events``, ``proxy.runner``).
import-linter checks them on every run, so a shortcut import fails here instead of surfacing as a frozen app that
drags Qt into a headless proxy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe is not None, "import-linter is part of requirements.lock: run ./dev test"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
