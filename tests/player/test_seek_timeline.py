"""The pure timeline model, replayed on seeks recorded from real runs (``tests/player/anatomy_events/``, written by
``tests/player/test_seek_anatomy.py`` with ``ANATOMY_RECORD_DIR`` set): the same events give the same phases and words,
the phases add up to the measured latency, and each run's cause is the one named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from player.anatomy.keyframes import MediaFacts, gop_hint
from player.anatomy.timeline import DECODE, DEMUX, NETWORK, PHASES, build_timeline
from player.anatomy.verdict import verdict
from proxy.events import RequestStarted
from tests.player.anatomy_recording import load

RECORDED = Path(__file__).parent / "anatomy_events"
SUM_TOLERANCE_MS = 3.0


def replay(name: str):
    seek, media, said = load(RECORDED / f"{name}.json")
    timeline = build_timeline(seek, media)
    return seek, media, timeline, said


@pytest.mark.parametrize("path", sorted(RECORDED.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_seeks_add_up_and_say_what_they_said(path: Path) -> None:
    seek, media, said = load(path)
    timeline = build_timeline(seek, media)
    assert abs(sum(s.duration_ms for s in timeline.spans) - seek.latency_ms) <= SUM_TOLERANCE_MS
    assert sum(timeline.totals[p] for p in PHASES) == pytest.approx(seek.latency_ms, abs=SUM_TOLERANCE_MS)
    assert verdict(timeline, lambda _name: "emulator") == said


def test_the_cached_seek_spent_nothing_on_the_network() -> None:
    _, _, timeline, said = replay("test_a_cached_seek_spends_no_time_on_the_network")
    assert timeline.total(NETWORK) == 0.0 and timeline.cached
    assert "from the keyframe at 20.0 s" in said


def test_the_upstream_seek_waited_on_the_network_most() -> None:
    _, _, timeline, said = replay("test_an_upstream_seek_waits_on_the_network")
    assert timeline.dominant == NETWORK and said.startswith("waited ")


def test_the_filbeam_miss_shows_the_whole_stream_answer() -> None:
    _, _, timeline, said = replay("test_filbeam_answering_200_from_byte_zero_is_named")
    assert any(f.whole_stream for f in timeline.fetches) and "200 from byte 0" in said


def test_the_long_gop_seek_is_mostly_decoding() -> None:
    _, media, timeline, said = replay("test_a_long_gop_seek_decodes_from_the_keyframe_seconds_before")
    assert timeline.dominant == DECODE and timeline.keyframe_s == 0.0
    assert "frames from the keyframe at 0.0 s" in said
    assert gop_hint(media) == "keyframes every 8.3 s: seeks between them decode up to 249 frames"


def test_a_request_from_byte_zero_far_into_the_media_is_a_reopened_stream() -> None:
    """Qt opening the stream again shows as a request from byte 0 after a seek well into the media; the recorded
    cached seek, with its request's range changed to start at 0, is read that way."""
    seek, media, _, _ = replay("test_a_cached_seek_spends_no_time_on_the_network")
    events = tuple(replace(e, range_header="bytes=0-") if isinstance(e, RequestStarted) else e for e in seek.events)
    if not any(isinstance(e, RequestStarted) for e in events):
        events = (RequestStarted(at=seek.started_at + 0.001, request_id=999, method="GET", path="/p",
                                 piece="cid", range_header="bytes=0-", client="127.0.0.1"), *events)  # fmt: skip
    timeline = build_timeline(replace(seek, events=events), media)
    assert timeline.reopened and verdict(timeline).startswith("Qt re-opened the stream")
    assert timeline.total(DEMUX) > 0.0


def test_short_gops_give_no_hint_and_long_ones_say_how_many_frames() -> None:
    every_second = MediaFacts(tuple((float(t), t * 1000) for t in range(10)), 10.0, 1000.0, 30.0)
    assert gop_hint(every_second) is None
    every_ten = MediaFacts(((0.0, 0), (10.0, 10_000), (20.0, 20_000)), 30.0, 1000.0, 25.0)
    assert gop_hint(every_ten) == "keyframes every 10.0 s: seeks between them decode up to 249 frames"


def test_the_seek_ahead_of_a_whole_stream_knows_the_stream_it_found() -> None:
    _, _, timeline, said = replay("test_a_seek_ahead_of_the_cdn_whole_stream_names_it")
    assert [(f.status, f.body_start) for f in timeline.joined if f.status == 200] == [(200, 0)]
    assert "200 from byte 0" in said
