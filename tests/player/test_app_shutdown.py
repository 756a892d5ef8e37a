"""Closing the window ends the app cleanly even while the GUI waits on the proxy (found by the windowed soak).

The soak's Ctrl+Q once ended the app with a traceback and exit status 1: shutting down cancels the controller's
tasks, and a counter poll in flight took its last step on a loop already closed (a deleted Qt timer). Here the
proxy thread is kept busy so a poll is certainly in flight when the window closes, and the app's own run-and-shut-
down sequence must end without an error, with every task finished and the proxy stopped.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from player import app as app_module
from player.host import ProxyHost
from player.main_window import MainWindow
from player.resources import demo_pieces
from player.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_closing_while_a_counter_poll_waits_on_the_proxy_ends_cleanly(
    qapp: QApplication, media_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(tmp_path / "settings.ini")
    settings.cache_dir = tmp_path / "cache"
    host = ProxyHost(settings.host_config(media_dir, demo_first=True, sources=[]))
    host.start()
    window = MainWindow(settings, host, demo=demo_pieces(media_dir), demo_dir=media_dir)
    window.show()
    in_flight: list[asyncio.Task] = []

    async def session() -> None:
        window.open_demo()
        await asyncio.sleep(0.5)
        assert host.runner is not None
        host.runner.call_soon(lambda: time.sleep(1.5))  # the proxy thread is busy: the next counter poll waits
        await asyncio.sleep(1.0)  # polls come every 500 ms
        in_flight.extend(t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done())
        assert in_flight, "no task of the window was waiting on the proxy"
        window.close()

    app_module._run_then_shut_down(qapp, session(), window.shutdown)  # raised RuntimeError before the fix
    assert all(task.done() for task in in_flight)
    assert host.runner is None  # the proxy was stopped
    shiboken6.delete(window)  # here, on the GUI thread (see test_gui_window.close_window)


def _python_message_handler() -> object:
    """The Python function Qt's messages go to now, or None when they go to Qt's own (C++) handler."""
    previous = qInstallMessageHandler(None)
    qInstallMessageHandler(previous)
    return previous


def test_no_python_handler_takes_qt_messages_once_qt_has_started(qapp: QApplication) -> None:
    """A Python message handler makes every Qt warning wait for the GIL, also one FFmpeg logs on its own thread
    while the GUI thread, holding the GIL in ``QMediaPlayer.stop()``, waits for that thread: a hang for good (seen
    in this suite's teardowns while pytest-qt captured Qt's log). The app's handler covers Qt's start only, and
    the suite runs with ``--no-qt-log``."""
    assert _python_message_handler() is None, "the suite runs with a Python Qt message handler (pyproject addopts)"
    assert app_module._qt_app(headless=True) is qapp
    assert _python_message_handler() is None, "the app left its start-up message handler installed"
