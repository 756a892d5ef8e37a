"""Proxy events → Qt: the one seam between the proxy's thread and the GUI thread.

The proxy publishes plain dataclasses on its own thread (``proxy.events``). Touching Qt objects from there is
not allowed, and one queued signal per event would flood the GUI when a fast upstream streams, so events are
queued here and handed to the GUI thread in batches: the first event of a batch starts a short timer on the GUI
thread (a queued call of the C++ ``QTimer::start``: it needs no GIL, and Qt drops it with the timer if the bridge
is gone by then), and everything that arrives until it fires rides along. Why a timer and not a flush at once:
each flush runs Python on the GUI thread, which takes the GIL from the proxy's thread; one per event meant a dozen
hand-overs inside a warm open's first 20 ms, while the player waited for the proxy's next answer (issue 19: the
proxy's three answers of a warm 2 MiB open took 16 ms, 8 ms once its bookkeeping waited too).

``flush()`` may also be called directly on the GUI thread to deliver what is already queued — the seek monitor
does that when a frame arrives, because the reads that produced the frame's bytes were published before the
bytes left the proxy.
"""

from __future__ import annotations

import threading
from collections import deque

from PySide6.QtCore import QCoreApplication, QMetaObject, QObject, Qt, QTimer, Signal

from proxy.events import Event, EventBus

#: How long the first event of a batch waits for others before the GUI thread takes them (less than a frame).
BATCH_MS = 10


class EventBridge(QObject):
    #: A list of :class:`proxy.events.Event`, oldest first, on the GUI thread.
    events = Signal(list)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: deque[Event] = deque()
        self._lock = threading.Lock()
        self._posted = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(BATCH_MS)
        self._timer.timeout.connect(self.flush)
        self._unsubscribe = bus.subscribe(self._publish)

    def _publish(self, event: Event) -> None:
        """Runs on the proxy thread: queue, and start the batch's timer unless it is already on its way."""
        with self._lock:
            self._pending.append(event)
            if self._posted:
                return
            self._posted = True
        QMetaObject.invokeMethod(self._timer, "start", Qt.ConnectionType.QueuedConnection)

    def flush(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._posted = False
        if batch:
            self.events.emit(batch)

    def close(self) -> None:
        """No more events; a timer start still on its way is taken back, so nothing runs on a bridge being deleted
        (measured: a start posted just before the bridge was dropped crashed the next event loop turn)."""
        self._unsubscribe()
        QCoreApplication.removePostedEvents(self._timer)
        self._timer.stop()
