"""The self-test's wait for one open or seek to be final, ending early when waiting longer cannot help.

Three things end the wait before the seek monitor's timeout: media that reaches its end before its first frame or
sound (Qt does that when it has no decoder for the codec), a first frame (or sound playing on) later than the
tolerance (given a grace for a frame near the target, then recorded as late), and a seek past where a cut-short
piece ends while every byte of it is cached (nothing can still be on its way). A player error ends the test with
the proxy's explanation.
"""

from __future__ import annotations

import asyncio

from PySide6.QtMultimedia import QMediaPlayer

from player.panel.byte_map import ByteMapModel
from player.playback import Playback
from player.probe import explain_failure
from player.seek_monitor import SeekRecord
from player.self_test_verdict import SelfTestFailed, Undecodable, undecodable

#: After a seek showed its first frame too far past the target, how long a frame near the target may still come.
LATE_GRACE_S = 1.0
#: After a seek, how long the player may sit at its target showing nothing, with every byte of the piece already
#: cached, before the self-test concludes that there is no media there (a piece cut short, or damaged).
NOTHING_THERE_S = 3.0
_WATCH_S = 0.25


async def wait_for_record(
    playback: Playback, record: SeekRecord, byte_map: ByteMapModel | None, nothing_there: set[int]
) -> SeekRecord:
    """Until the record is final; a player error ends the test with the proxy's explanation.

    Two things end the wait early instead of at the monitor's timeout: media that reaches its end before its
    first frame or sound (Qt does that when it has no decoder for the codec), and a seek whose first frame came
    later than the tolerance (given ``LATE_GRACE_S`` for a frame near the target, then recorded as late)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[SeekRecord] = loop.create_future()
    grace: list[asyncio.TimerHandle] = []

    def finished(finished_record: SeekRecord) -> None:
        if finished_record is record and not done.done():
            done.set_result(record)

    def failed(text: str) -> None:
        if not done.done():
            done.set_exception(SelfTestFailed(text))

    def status(state: QMediaPlayer.MediaStatus) -> None:
        ended = state == QMediaPlayer.MediaStatus.EndOfMedia
        if ended and record.kind == "open" and record.armed and not done.done():
            done.set_exception(Undecodable(undecodable(playback.player)))

    def refused(_text: str) -> None:
        """The proxy's map came while Qt waited for bytes past where a damaged piece ends: ``Playback`` refused
        the seek then (and seeks back, superseding this record): the wait is over, as for a seek refused at once."""
        if record.kind == "seek" and record.outcome == "pending" and not done.done():
            done.set_result(record)

    def give_up_late() -> None:
        if record.outcome == "pending" and not done.done():
            playback.seeks.cancel()
            done.set_result(record)

    def frame(_start_ms: float) -> None:
        """A frame (or, for audio-only media, a position playing on) after the record was found late."""
        if record.late_ms is not None and not grace:
            grace.append(loop.call_later(LATE_GRACE_S, give_up_late))

    playback.seeks.finished.connect(finished)
    playback.seeks.frame.connect(frame)
    playback.player.positionChanged.connect(frame)
    playback.failed.connect(failed)
    playback.refused.connect(refused)
    playback.player.mediaStatusChanged.connect(status)
    watch = (
        loop.create_task(_watch_nothing_there(playback, record, done, byte_map, nothing_there))
        if record.kind == "seek"
        else None
    )
    try:
        if record.outcome != "pending":
            return record
        return await done
    except Undecodable as exc:
        raise SelfTestFailed(str(exc)) from None
    except SelfTestFailed as exc:
        url = playback.url or ""
        raise SelfTestFailed(str(await explain_failure(url, str(exc)))) from None
    finally:
        if watch is not None:
            watch.cancel()
        for handle in grace:
            handle.cancel()
        playback.seeks.finished.disconnect(finished)
        playback.seeks.frame.disconnect(frame)
        playback.player.positionChanged.disconnect(frame)
        playback.failed.disconnect(failed)
        playback.refused.disconnect(refused)
        playback.player.mediaStatusChanged.disconnect(status)


async def _watch_nothing_there(
    playback: Playback,
    record: SeekRecord,
    done: asyncio.Future[SeekRecord],
    byte_map: ByteMapModel | None,
    nothing_there: set[int],
) -> None:
    """A seek past where a cut-short piece ends: Qt sits at the target, shows nothing and asks for no more bytes.

    With every byte of the piece already in the proxy's cache no frame can still be on its way, so the seek is
    given up after ``NOTHING_THERE_S`` instead of the monitor's timeout, and the verdict says what is missing.
    Played direct, the self-test cannot know that nothing more is coming, and waits the timeout out."""
    frames, still = playback.seeks.frames, 0.0
    while not done.done() and byte_map is not None:
        await asyncio.sleep(_WATCH_S)
        whole = bool(byte_map.size) and byte_map.cached_bytes() >= byte_map.size
        idle = playback.seeks.frames == frames and abs(playback.player.position() - record.target_ms) < 1.0
        still = still + _WATCH_S if whole and idle else 0.0
        if still >= NOTHING_THERE_S and record.outcome == "pending" and not done.done():
            nothing_there.add(record.id)
            playback.seeks.cancel()
            done.set_result(record)
