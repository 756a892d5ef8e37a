"""The viewer reads, in the window's status line, why a seek waits for a stream from byte 0 and why the proxy
stopped paying for restarts: the proxy's words travel its event bus into the real window (offscreen)."""

from __future__ import annotations

from proxy.events import PaidRestartsStopped, WholeStreamWait
from tests.player.test_gui_window import loop, open_demo, run, until, window  # noqa: F401 (fixtures)


def test_whole_stream_words_reach_the_status_line(window, loop) -> None:  # noqa: F811
    async def scenario() -> None:
        await open_demo(window)
        key = window.controller.byte_map.key
        bus = window.controller.host.bus
        wait = "FilBeam answers this piece only from byte 0 (a CDN cache miss); its stream needs about 8.0 s"
        bus.publish(WholeStreamWait(piece=key, fetch_id=1, source="FilBeam", stream_at=0, target=1, eta_s=8.0,
                                    message=wait))  # fmt: skip
        await until(lambda: window.status.message.text().startswith(wait), "the wait in words")
        stop = "FilBeam sent this piece from byte 0 again 4 times in 10 min; the proxy stopped paying"
        bus.publish(PaidRestartsStopped(piece=key, source="FilBeam", restarts=4, message=stop))
        await until(lambda: window.status.message.text().startswith(stop), "the stop in words")

    run(loop, scenario())
