"""The GUI's byte ↔ time answers, from the plain numbers an event carries, equal the proxy's own map's.

``MediaIndexed`` carries keyframes and track units as tuples (no live object crosses to the GUI); the GUI turns
them back into arrays and calls ``proxy.media.playable``. Here, for real corpus files, every answer from the
event's data is checked against :class:`proxy.media.MediaIndex` asking the same question.
"""

from __future__ import annotations

import math
import random

import pytest

from proxy.events import MediaTrack
from proxy.media import MediaIndex, build_index, sniff_layout
from proxy.media.playable import keyframe_byte, media_track, playable_times, track_units
from tests.conftest import CORPUS

FILES = ["mp4-faststart-h264-aac.mp4", "mp4-two-audio.mp4", "mkv-two-audio.mkv", "audio-aac.m4a", "fmp4-sidx.mp4"]


def index_and_size(name: str) -> tuple[MediaIndex, int]:
    data = (CORPUS / name).read_bytes()
    head = data[: 256 * 1024]
    layout = sniff_layout(head, len(data))
    span = layout.index
    if span is None:
        return build_index(head, len(data)), len(data)
    return build_index(head, len(data), data[span.start : span.stop], span.start), len(data)


def published(index: MediaIndex) -> tuple[MediaTrack, ...]:
    """What the prefetcher puts in ``MediaIndexed.tracks``: the main track first, as tuples."""
    return tuple(media_track(track) for track in (index.primary, *index.secondary))


@pytest.mark.parametrize("name", FILES)
def test_playable_times_from_the_events_numbers_equal_the_maps(name: str) -> None:
    index, size = index_and_size(name)
    tracks = published(index)
    assert all(isinstance(value, tuple) for track in tracks for value in (track.start, track.offset, track.key))
    units = tuple(track_units(track) for track in tracks)
    chooser = random.Random(name)
    cases = [[], [(0, size)], [(0, size // 2)], [(size // 3, size)]]
    for _ in range(40):
        cuts = sorted(chooser.randrange(size + 1) for _ in range(2 * chooser.randint(1, 6)))
        cases.append(list(zip(cuts[::2], cuts[1::2], strict=True)))
    for ranges in cases:
        assert playable_times(units, index.duration_s, ranges) == index.time_ranges(ranges), ranges


@pytest.mark.parametrize("name", FILES)
def test_keyframe_byte_from_the_events_keyframes_equals_the_maps_byte_at(name: str) -> None:
    index, _size = index_and_size(name)
    keyframes = tuple(index.keyframes())
    moments = [-1.0, 0.0, *(t for t, _ in keyframes), index.duration_s, index.duration_s + 5]
    moments += [index.duration_s * i / 37 for i in range(38)]
    for moment in moments:
        assert keyframe_byte(keyframes, moment) == index.byte_at(moment), moment


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_keyframe_byte_refuses_a_time_that_is_not_a_number(bad: float) -> None:
    index, _size = index_and_size(FILES[0])
    with pytest.raises(ValueError, match="finite"):
        keyframe_byte(tuple(index.keyframes()), bad)
