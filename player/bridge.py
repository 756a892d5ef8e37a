"""Proxy events → Qt: the one seam between the proxy's thread and the GUI thread.

The proxy publishes plain dataclasses on its own thread (``proxy.events``). Touching Qt objects from there is
not allowed, and one queued signal per event would flood the GUI when a fast upstream streams, so events are
queued here and handed to the GUI thread in batches: the first event of a batch posts one queued wake-up, and
everything that arrives until the GUI thread runs it rides along.

``flush()`` may also be called directly on the GUI thread to deliver what is already queued — the seek monitor
does that when a frame arrives, because the reads that produced the frame's bytes were published before the
bytes left the proxy.
"""

from __future__ import annotations

import threading
from collections import deque

from PySide6.QtCore import QObject, Qt, Signal

from proxy.events import Event, EventBus


class EventBridge(QObject):
    #: A list of :class:`proxy.events.Event`, oldest first, on the GUI thread.
    events = Signal(list)
    _wake = Signal()

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: deque[Event] = deque()
        self._lock = threading.Lock()
        self._posted = False
        self._wake.connect(self.flush, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = bus.subscribe(self._publish)

    def _publish(self, event: Event) -> None:
        """Runs on the proxy thread: queue, and post a wake-up unless one is already on its way."""
        with self._lock:
            self._pending.append(event)
            if self._posted:
                return
            self._posted = True
        self._wake.emit()

    def flush(self) -> None:
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._posted = False
        if batch:
            self.events.emit(batch)

    def close(self) -> None:
        self._unsubscribe()
