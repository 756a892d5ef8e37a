"""An opt-in probe of the GUI thread's event-loop lag, for the windowed soak (``bench/soak.py``).

Why inside the app: only the GUI thread knows how late it gets to its own events; from outside, a busy window and
an idle one look alike. A 50 ms precise timer is re-armed on every tick, and each tick records how much later than
asked it ran — the time a click or a frame would have waited — and how much CPU the GUI thread used since the
last tick, which tells a thread busy with its own work from one that waited (on the GIL, or for a core on a
loaded machine). Samples are appended to a text file (``<monotonic s> <lag ms> <GUI thread CPU ms>`` a line)
about once a second, so a reader sees them while the app runs and a crash loses at most the last second.

It runs only when ``PIECEPLAYER_LOOP_LAG_LOG`` names a file; the composition root (``player/app.py``) starts it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer

ENV_VAR = "PIECEPLAYER_LOOP_LAG_LOG"
INTERVAL_MS = 50
_FLUSH_EVERY = 20  # samples: about once a second


class LoopLagProbe(QObject):
    """Measures each tick's lateness on the thread it lives on (the GUI thread) and appends it to ``path``."""

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._lines: list[str] = []
        self._timer = QTimer(self, singleShot=True, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._due = 0.0
        self._cpu = 0.0

    def start(self) -> None:
        self._cpu = time.thread_time()
        self._arm(time.monotonic())

    def _arm(self, now: float) -> None:
        self._due = now + INTERVAL_MS / 1000
        self._timer.start(INTERVAL_MS)

    def _tick(self) -> None:
        now, cpu = time.monotonic(), time.thread_time()
        self._lines.append(f"{now:.3f} {max(0.0, (now - self._due) * 1000):.1f} {(cpu - self._cpu) * 1000:.1f}\n")
        self._cpu = cpu
        self._arm(now)
        if len(self._lines) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        with self.path.open("a") as handle:
            handle.writelines(lines)


def probe_from_environment(parent: QObject) -> LoopLagProbe | None:
    """A started probe when ``PIECEPLAYER_LOOP_LAG_LOG`` is set, else None (the normal case: nothing runs)."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return None
    probe = LoopLagProbe(Path(path), parent)
    probe.start()
    return probe
