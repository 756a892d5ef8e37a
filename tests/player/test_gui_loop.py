"""The GUI's asyncio loop can be freed on any thread once it is closed (``player/gui_loop.py`` says why it matters).

Before ``gui_loop`` deleted qasync's timer object, freeing the closed loop from another thread's garbage collection
left the GUI thread's dispatcher with a timer for a freed QObject, and the next event processing crashed.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from player.gui_loop import gui_loop


@contextmanager
def qt_messages() -> Iterator[list[str]]:
    """What Qt logs while the block runs. A Python handler, so only where no media thread logs (see pyproject.toml's
    ``--no-qt-log``)."""
    said: list[str] = []
    previous = qInstallMessageHandler(lambda _kind, _context, message: said.append(message))
    try:
        yield said
    finally:
        qInstallMessageHandler(previous)


def test_a_closed_gui_loop_freed_by_another_threads_collector_leaves_no_timer_behind(qapp: QApplication):
    with gui_loop(qapp) as loop:
        # the cancelled timeout's Qt timer stays registered: it is due in 50 ms and only fires when Qt processes events
        loop.run_until_complete(asyncio.wait_for(asyncio.sleep(0), 0.05))
    freed = weakref.ref(loop)
    del loop
    with qt_messages() as said:
        was_enabled = gc.isenabled()
        gc.disable()  # the loop is in reference cycles: only the collector on the thread below may free it
        try:
            collector = threading.Thread(target=gc.collect, name="not-the-gui-thread")
            collector.start()
            collector.join()
        finally:
            if was_enabled:
                gc.enable()
        assert freed() is None, "the loop should have been freed by the other thread's collection"
        deadline = time.monotonic() + 0.3  # past the timer's due time: a timer left for freed memory crashes here
        while time.monotonic() < deadline:
            qapp.processEvents()
            time.sleep(0.01)
    assert not [message for message in said if "another thread" in message]


def test_a_task_still_pending_when_the_loop_closes_ends_on_that_loop(qapp: QApplication):
    """A window shut down after its loop closed cancelled a counter poll there and raised; its shutdown stopped."""
    last_steps: list[str] = []

    async def waits_on_the_proxy() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            last_steps.append("cancelled")
            raise

    with gui_loop(qapp) as loop:
        task = loop.create_task(waits_on_the_proxy())
        loop.run_until_complete(asyncio.sleep(0))
    assert task.cancelled() and last_steps == ["cancelled"]
    assert not task.cancel()  # already ended: nothing reaches the closed loop's deleted timer
