"""What the window imports before its first frame: nothing the first frame does not need.

numpy (~100 ms here) is needed only to hash pieces and to build a container's byte ↔ time map, both after the first
bytes flow; pyqtgraph only when the side panel is built, after the first frame. A module that imports either at
its top puts that time back in front of every launch's first frame. The emulator's server (``proxy.emulator.origin``,
~60 ms with its command line) runs only for the demo: a launch that opens a CID must not import it. Smaller parts
each a launch paid for before its first frame (tens of ms together): Matroska's parsers (most pieces are MP4; they
load with the first WebM/MKV head), the emulator's knobs, the settings dialog, the About box and the shortcuts
overlay (loaded when first opened), the seek report's HTML and SVG (loaded when a report is written).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

STARTUP = "import player.app, player.main_window, player.window_self_test, proxy.server, proxy.runner"


@pytest.mark.parametrize(
    "heavy",
    [
        "numpy",
        "pyqtgraph",
        "proxy.emulator.origin",
        "proxy.emulator.knobs",
        "proxy.media.matroska",
        "player.settings_dialog",
        "player.about",
        "player.shortcuts_overlay",
        "player.anatomy.report",
    ],
)
def test_starting_the_window_and_the_proxy_does_not_import(heavy: str) -> None:
    loaded = f"sorted(m for m in sys.modules if m == {heavy!r} or m.startswith({heavy!r} + '.'))"
    probe = f"import sys; {STARTUP}; print({loaded})"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "[]", (
        f"{heavy} is imported at start-up; find who with: python -X importtime -c '{STARTUP}'"
    )
