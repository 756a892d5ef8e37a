"""Audio-only landing rules of the seek monitor: the positions Qt reports stand in for frames.

Qt reports a seek's target the moment it is asked (and 0 on open) before any sound is decoded, and positions from
before a seek can still arrive after it; neither may count as a landing. The real playback of audio files is in
``tests/player/test_corpus_matrix.py``; these pin the rules with the positions Qt sends, in the order it sends them.
"""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(
    ("playing_at", "target", "not_a_landing", "landing"),
    [
        pytest.param(1000.0, 5000.0, 5000.0, 5051.0, id="not-the-echo-of-its-target"),  # Qt echoes it at once
        # Back by 0.3 s: playback went on for a moment before the seek took hold.
        pytest.param(2700.0, 2400.0, 2750.0, 2401.0, id="not-a-position-from-before-the-seek"),
    ],
)
def test_a_seek_lands_when_the_position_moves_on_from_its_target(
    qapp, playing_at: float, target: float, not_a_landing: float, landing: float
) -> None:
    monitor = SeekMonitor()
    monitor.on_position(playing_at)
    record = monitor.start("seek", target)
    monitor.on_position(not_a_landing)
    assert record.outcome == "pending"
    monitor.on_position(landing)
    assert (record.outcome, record.frame_ms) == ("shown", landing)


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
