"""The numbers behind the Stats tab: throughput to the player and from upstream, open streams, stalls.

``StatsModel`` turns the proxy's counters (polled about twice a second) into rates; stalls come from the
player's ``StallMonitor``. It lives apart from ``stats.StatsWidget`` so that the controller, which feeds it from the
first request on, does not import the charting library (pyqtgraph, ~0.2 s) that only the panel's charts need.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

WINDOW_S = 60.0


@dataclass(frozen=True)
class Sample:
    at: float
    served_rate: float
    upstream_rate: float
    open_streams: int


class StatsModel(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.samples: deque[Sample] = deque()
        self.latest: dict = {}
        self.stalls = 0
        self.stalled_s = 0.0
        self._previous: tuple[float, int, int] | None = None
        self.origin = time.monotonic()

    def reset(self) -> None:
        self.samples.clear()
        self._previous = None
        self.stalls, self.stalled_s = 0, 0.0
        self.origin = time.monotonic()
        self.changed.emit()

    def add_snapshot(self, snapshot: dict, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        served, upstream = int(snapshot.get("bytes_served", 0)), int(snapshot.get("bytes_upstream", 0))
        if self._previous is not None:
            then, served_then, upstream_then = self._previous
            span = max(now - then, 1e-3)
            self.samples.append(
                Sample(
                    now - self.origin,
                    max(0, served - served_then) / span,
                    max(0, upstream - upstream_then) / span,
                    int(snapshot.get("open_streams", 0)),
                )
            )
        self._previous = (now, served, upstream)
        self.latest = snapshot
        while self.samples and self.samples[0].at < now - self.origin - WINDOW_S:
            self.samples.popleft()
        self.changed.emit()

    def set_stalls(self, count: int, seconds: float) -> None:
        if (count, round(seconds, 1)) != (self.stalls, round(self.stalled_s, 1)):
            self.stalls, self.stalled_s = count, seconds
            self.changed.emit()
