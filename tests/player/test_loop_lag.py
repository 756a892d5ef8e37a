"""The soak's event-loop lag probe tells a GUI thread that was kept waiting from one that was busy.

A real Qt event loop runs the probe; the GUI thread is then blocked twice, once sleeping (waiting, as on a lock
or the GIL) and once computing, and the probe's file must show both stalls, with the CPU it spent in each.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from bench.soak_watch import read_lag
from player.loop_lag import LoopLagProbe, probe_from_environment


def _run_events(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_probe_records_a_wait_and_a_busy_stall(qapp: QApplication, tmp_path: Path) -> None:
    path = tmp_path / "lag.txt"
    probe = LoopLagProbe(path)
    probe.start()
    _run_events(0.3)
    waiting_from = time.monotonic()
    QTimer.singleShot(0, lambda: time.sleep(0.3))
    _run_events(0.4)
    busy_from = time.monotonic()
    QTimer.singleShot(0, lambda: _spin(0.3))
    _run_events(0.4)
    probe.flush()
    samples = read_lag(path)
    assert len(samples) >= 6  # 1.1 s of 50 ms ticks, less the two stalls
    assert [t for t, _, _ in samples] == sorted(t for t, _, _ in samples)

    def worst(start: float, end: float) -> tuple[float, float]:
        """The longest stall the probe saw in [start, end): each span holds one blocked GUI thread (a late tick
        elsewhere, from a shared machine's stolen time, is not the test's business)."""
        return max(((lag, cpu) for t, lag, cpu in samples if start <= t < end), default=(0.0, 0.0))

    (waited_lag, waited_cpu), (busy_lag, busy_cpu) = worst(waiting_from, busy_from), worst(busy_from, 1e12)
    assert waited_lag >= 200 and busy_lag >= 200, samples
    assert waited_cpu < 100  # sleeping costs no CPU
    assert busy_cpu >= 250  # spinning costs its 300 ms


def test_probe_runs_only_when_asked(qapp: QApplication, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PIECEPLAYER_LOOP_LAG_LOG", raising=False)
    assert probe_from_environment(qapp) is None
    monkeypatch.setenv("PIECEPLAYER_LOOP_LAG_LOG", str(tmp_path / "lag.txt"))
    probe = probe_from_environment(qapp)
    assert probe is not None
    deadline = time.monotonic() + 10.0  # 20 ticks of 50 ms; a loaded machine makes each tick late (CI: 1.2 s was short)
    while not (tmp_path / "lag.txt").exists() and time.monotonic() < deadline:
        _run_events(0.2)
    assert read_lag(tmp_path / "lag.txt")  # flushed while running, not only at exit
    probe.deleteLater()
