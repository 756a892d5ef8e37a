"""A piece opened at launch: its head is fetched while the window is shown (``Controller.prepare``).

What a user relies on: the piece still plays from its first frame, and the panel shows every byte and request,
the head's fetch made before the open included — the open must not wipe the views that fetch filled.
"""

from __future__ import annotations

import pytest

from player.main_window import MainWindow
from player.panel.request_log import PLAYER, UPSTREAM
from proxy.cache.windows import LAUNCH_HEAD
from tests.player.test_gui_window import finished, loop, run, until, window  # noqa: F401 — fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_head_fetched_before_the_open_plays_and_stays_on_the_panel(window: MainWindow, loop) -> None:  # noqa: F811
    controller = window.controller

    async def scenario() -> None:
        target, _ = controller.demo_target(0)
        controller.prepare(target)
        requests = controller.requests
        await until(lambda: any(e.kind == UPSTREAM and e.done for e in requests.entries), "the head's fetch")
        await until(lambda: controller.byte_map.cached_bytes() > 0, "the head on the byte map")
        cached_before_open = controller.byte_map.cached_bytes()
        assert window.open_demo() is not None
        first = await finished(window, 1, "the first frame")
        assert first.kind == "open" and first.outcome == "shown"
        entries = requests.entries
        launch = [e for e in entries if e.kind == UPSTREAM and e.reason == LAUNCH_HEAD]
        player = [e for e in entries if e.kind == PLAYER]
        assert launch and player, "the log holds the launch's fetch and the player's requests"
        assert entries.index(launch[0]) < entries.index(player[0]), "in the order they happened"
        assert controller.byte_map.cached_bytes() >= cached_before_open, "the open kept what the head's fetch showed"
        assert not [e for e in entries if e.kind == UPSTREAM and e is not launch[0] and e.reason == LAUNCH_HEAD]

    run(loop, scenario())
