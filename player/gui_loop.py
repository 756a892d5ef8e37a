"""The GUI thread's asyncio loop: qasync over Qt's event loop, and closing it so none of its timers outlive it.

qasync runs every ``call_later`` on a Qt timer of one QObject the loop owns, and such a timer stays registered with
the GUI thread's event dispatcher until it fires — also when its handle was cancelled (every ``asyncio.wait_for``
leaves one behind for its timeout). ``QEventLoop.close()`` only tells that object to ignore them. The loop sits in
reference cycles, so CPython frees it, and that object with it, when its cycle collector next runs — on whichever
thread triggers the collection, often the proxy's. A QObject destroyed off its own thread cannot unregister its
timers ("QObject::~QObject: Timers cannot be stopped from another thread"): the dispatcher keeps them, and when one
expires Qt delivers it to freed memory and crashes in ``QCoreApplication::notifyInternal2``. So the timer object is
deleted here, on the GUI thread, as soon as the loop is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication


@contextmanager
def gui_loop(app: QCoreApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop set as the current event loop; on exit it is closed and its Qt timers are gone."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.close()
        shiboken6.delete(loop._timer)  # here, on the GUI thread, which unregisters every timer it still has
        asyncio.set_event_loop(None)
