"""The seam between the proxy's thread and the GUI's: events cross in batches, not one GUI wake-up each."""

from __future__ import annotations

import threading
import time

from player.bridge import EventBridge
from proxy.events import EventBus, RequestStarted

EVENTS = 5


def test_events_published_close_together_reach_the_gui_in_a_batch(qapp) -> None:
    """Every batch runs Python on the GUI thread, which takes the GIL from the proxy's thread: a burst of events (a
    warm open publishes a dozen in its first 20 ms, while the player waits for the proxy's next answer) must cost
    the proxy a hand-over or two, not one per event (issue 19). ``flush()`` still delivers at once when asked."""
    bus = EventBus()
    bridge = EventBridge(bus)
    batches: list[list] = []
    bridge.events.connect(batches.append)

    def publish() -> None:  # the proxy's thread: one event a millisecond
        for n in range(EVENTS):
            bus.publish(RequestStarted(request_id=n, method="GET", path="/", piece="p", range_header=None, client=""))
            time.sleep(0.001)

    proxy_thread = threading.Thread(target=publish)
    proxy_thread.start()
    deadline = time.monotonic() + 5
    while sum(map(len, batches)) < EVENTS and time.monotonic() < deadline:
        qapp.processEvents()  # the GUI thread, idle and ready to run whatever is posted to it
        time.sleep(0.0002)
    proxy_thread.join()
    assert sum(map(len, batches)) == EVENTS
    assert len(batches) <= 2, f"one GUI wake-up per event: {[len(b) for b in batches]}"
    bus.publish(RequestStarted(request_id=EVENTS, method="GET", path="/", piece="p", range_header=None, client=""))
    bridge.flush()
    assert len(batches[-1]) == 1 and batches[-1][0].request_id == EVENTS
    bridge.close()
