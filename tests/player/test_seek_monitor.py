"""Audio-only landing rules of the seek monitor: the positions Qt reports stand in for frames.

Qt reports a seek's target the moment it is asked (and 0 on open) before any sound is decoded, and positions from
before a seek can still arrive after it; neither may count as a landing. The real playback of audio files is in
``tests/player/test_corpus_matrix.py``; these pin the rules with the positions Qt sends, in the order it sends them.
"""

from __future__ import annotations

from player.seek_monitor import SeekMonitor


def test_an_open_lands_when_the_position_first_moves(qapp) -> None:
    monitor = SeekMonitor()
    record = monitor.start("open", 0.0)
    monitor.on_position(40.0)  # the old media's last position, before the new one loaded
    assert record.outcome == "pending"
    monitor.arm()
    monitor.on_position(0.0)
    assert record.outcome == "pending"
    monitor.on_position(50.0)
    assert (record.outcome, record.frame_ms) == ("shown", 50.0)
    assert record.latency_ms is not None and record.latency_ms >= 0


def test_a_seek_lands_when_the_position_moves_on_from_its_target(qapp) -> None:
    monitor = SeekMonitor()
    monitor.on_position(1000.0)
    record = monitor.start("seek", 5000.0)
    monitor.on_position(5000.0)  # Qt echoes the target at once
    assert record.outcome == "pending"
    monitor.on_position(5051.0)
    assert (record.outcome, record.frame_ms) == ("shown", 5051.0)


def test_a_position_from_before_the_seek_is_not_its_landing(qapp) -> None:
    monitor = SeekMonitor()
    monitor.on_position(2700.0)
    record = monitor.start("seek", 2400.0)  # back by 0.3 s
    monitor.on_position(2750.0)  # playback went on for a moment before the seek took hold
    assert record.outcome == "pending"
    monitor.on_position(2401.0)
    assert (record.outcome, record.frame_ms) == ("shown", 2401.0)


def test_a_position_past_the_tolerance_is_not_a_landing(qapp) -> None:
    monitor = SeekMonitor()
    monitor.on_position(1000.0)
    record = monitor.start("seek", 5000.0)
    monitor.on_position(5600.0)
    assert record.outcome == "pending"


def test_a_paused_seek_lands_when_the_position_reaches_its_target(qapp) -> None:
    """Paused audio plays nothing after a seek: Qt's echo of the target is the landing there, and only there."""
    monitor = SeekMonitor()
    monitor.on_paused_position(6000.0)
    record = monitor.start("seek", 2000.0)
    monitor.on_paused_position(6000.0)  # the old position, reported again before the seek took hold
    assert record.outcome == "pending"
    monitor.on_paused_position(2000.0)
    assert (record.outcome, record.frame_ms) == ("shown", 2000.0)


def test_a_paused_position_does_not_land_an_open(qapp) -> None:
    monitor = SeekMonitor()
    record = monitor.start("open", 0.0)
    monitor.arm()
    monitor.on_paused_position(0.0)
    assert record.outcome == "pending"
