"""PySide6 still gets its own answer to "does this module use PySide6?" once it is read from files.

In a fresh interpreter: PySide6's own check is kept aside, the file-reading one is put in place
(``player.pyside_feature_scan``), then the window's modules, pyqtgraph and numpy are imported (source modules,
packages, compiled extensions, built-ins) and both checks are asked about every loaded module. They must agree on
each, and PySide6's table must mark a new module that imports Qt as a Qt user and one that does not as not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import PySide6
feature = sys.modules["shibokensupport.feature"]
own = feature._mod_uses_pyside
from player.pyside_feature_scan import answer_from_files
installed = answer_from_files()
import player.main_window, player.window_self_test, pyqtgraph, numpy
import uses_qt, plain
modules = [m for m in list(sys.modules.values()) if m is not None]
differ = [m.__name__ for m in modules if own(m) != feature._mod_uses_pyside(m)]
print(json.dumps({
    "installed": installed,
    "asked": len(modules),
    "users": sum(own(m) for m in modules),
    "differ": differ,
    "uses_qt": feature.pyside_feature_dict.get("uses_qt"),
    "plain": feature.pyside_feature_dict.get("plain"),
}))
"""


def test_the_file_reading_check_gives_pyside6s_own_answer_for_every_module(tmp_path):
    (tmp_path / "uses_qt.py").write_text("from PySide6.QtCore import QObject\n")
    (tmp_path / "plain.py").write_text("import json\nVALUE = 1\n")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["installed"] is True
    assert result["asked"] > 300 and result["users"] > 10  # both answers are met many times over
    assert result["differ"] == []
    assert result["uses_qt"] == 0  # PySide6's "uses Qt, no feature selected"
    assert result["plain"] == -1  # PySide6's "ignore this module"
