"""The GUI thread's asyncio loop: qasync over Qt's event loop, and closing it so none of its timers outlive it.

qasync runs every ``call_later`` on a Qt timer of one QObject the loop owns, and such a timer stays registered with
the GUI thread's event dispatcher until it fires — also when its handle was cancelled (every ``asyncio.wait_for``
leaves one behind for its timeout). ``QEventLoop.close()`` only tells that object to ignore them. The loop sits in
reference cycles, so CPython frees it, and that object with it, when its cycle collector next runs — on whichever
thread triggers the collection, often the proxy's. A QObject destroyed off its own thread cannot unregister its
timers ("QObject::~QObject: Timers cannot be stopped from another thread"): the dispatcher keeps them, and when one
expires Qt delivers it to freed memory and crashes in ``QCoreApplication::notifyInternal2``. So the timer object is
deleted here, on the GUI thread, as soon as the loop is closed.

Tasks end on their loop, before it closes: a task cancelled after the close takes its last step through that
deleted timer (``RuntimeError: Internal C++ object (_SimpleTimer) already deleted``), and whatever its canceller
meant to do next never ran — a window's shutdown then left its player and its proxy running (seen in the tests,
whose windows outlived their loop). So what is still pending when the loop closes is cancelled and finished first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication

#: How long pending tasks get to end once cancelled (they end at once; this only bounds a misbehaving one).
FINISH_WAIT_S = 2.0


@contextmanager
def gui_loop(app: QCoreApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop set as the current event loop; on exit it is closed and its Qt timers are gone."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        if not loop.is_running():
            finish_tasks(loop)
        loop.close()
        shiboken6.delete(loop._timer)  # here, on the GUI thread, which unregisters every timer it still has
        asyncio.set_event_loop(None)


def finish_tasks(loop: asyncio.AbstractEventLoop, wait_s: float = FINISH_WAIT_S) -> None:
    """Cancel the tasks still pending on ``loop`` and run it until each has ended (at most ``wait_s``)."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=wait_s))
