"""The soak's peer for event-loop lag: an idle Qt event loop with the app's own probe, run beside the app.

Why: the soak's loop-lag figure mixes two things, the GUI thread's own stalls and a machine that keeps it from a
core. On a quiet machine the app's lag p99 is about 30 ms; on a loaded CI machine the same build measured 153 ms
with a median tick 9 ms late, which is the machine, not the app. A loop that does nothing, on the same machine at
the same time, measures the machine alone; the soak's goal is then the app's p99 over this peer's (the bench's
rule: every figure beside a peer measured in the same run).

Run as ``python -m bench.lag_peer FILE``: a ``QCoreApplication`` (no display) ticks the same 50 ms probe as the
app (``player/loop_lag.py``) until SIGTERM, and the probe's file has the same format.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

_STOP_TIMEOUT_S = 5.0


class LagPeer:
    """Starts and stops the peer process; ``path`` holds its samples once stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "bench.lag_peer", str(self.path)]
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()  # the peer flushes its last samples on SIGTERM
        try:
            self._process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def main(argv: list[str]) -> int:
    from PySide6.QtCore import QCoreApplication

    from player.loop_lag import LoopLagProbe

    app = QCoreApplication([])
    probe = LoopLagProbe(Path(argv[0]))
    signal.signal(signal.SIGTERM, lambda *_: app.quit())  # runs at the next tick: the probe wakes Python every 50 ms
    probe.start()
    app.exec()
    probe.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
