"""A seek's verdict in words: the one sentence that says where its time went.

"cached; 22 of 28 ms decoding 60 frames from the keyframe at 47.0 s"
"waited 310 ms for the CDN (cache miss, 200 from byte 0 → switched to provider)"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from player.anatomy.timeline import DECODE, DEMUX, NETWORK, SeekTimeline


def _source_name(name: str) -> str:
    return "the CDN" if "filbeam" in name.lower() else name


def _labelled(timeline: SeekTimeline, label: Callable[[str], str]) -> SeekTimeline:
    fetches = tuple(replace(f, source=label(f.source)) for f in timeline.fetches)
    joined = tuple(replace(f, source=label(f.source)) for f in timeline.joined)
    return replace(timeline, fetches=fetches, joined=joined)


def _decoding(timeline: SeekTimeline) -> str:

    spent = timeline.total(DECODE)
    of = f"{spent:.0f} of {timeline.seek.latency_ms:.0f} ms decoding"
    if timeline.keyframe_s is None:
        return f"{of} up to the target"
    if timeline.frames_decoded == 0:
        return f"{of} the keyframe at {timeline.keyframe_s:.1f} s (the target itself)"
    frames = f" {timeline.frames_decoded} frames" if timeline.frames_decoded is not None else ""
    return f"{of}{frames} from the keyframe at {timeline.keyframe_s:.1f} s"


def _network(timeline: SeekTimeline) -> str:

    fetches = timeline.fetches
    waited = timeline.total(NETWORK)
    if not fetches:
        stream = next((f for f in timeline.joined if f.status == 200 and f.body_start == 0), None)
        if stream is not None:
            whose = _source_name(stream.source)
            return f"waited {waited:.0f} ms for {whose}'s whole stream (200 from byte 0) to reach the target"
        return f"waited {waited:.0f} ms for bytes already being fetched (joined a fetch in flight)"
    first = fetches[0]
    why = ["cache miss"]
    if any(f.whole_stream for f in fetches):
        why.append("200 from byte 0")
    elif any(f.status == 200 and f.body_start == 0 for f in timeline.joined):
        why.append("the 200 from byte 0 under way was still behind the target → asked for the range")
    others = [f.source for f in fetches if f.source != first.source]
    if others:
        why[-1] += f" → switched to {_source_name(others[0])}"
    failed = [f for f in fetches if f.status is not None and f.status >= 400]
    if failed:
        why.append(f"{failed[0].source} answered {failed[0].status}")
    return f"waited {waited:.0f} ms for {_source_name(first.source)} ({', '.join(why)})"


def verdict(timeline: SeekTimeline, source_label: Callable[[str], str] = lambda name: name) -> str:
    """Words for one seek, from its timeline; sources named by ``source_label`` (as the status bar names them)."""
    timeline = _labelled(timeline, source_label)

    parts = []
    if timeline.reopened:
        parts.append("Qt re-opened the stream")
    if not timeline.request_ranges:
        parts.append(f"no request (Qt still held the bytes); {_decoding(timeline)}")
    elif timeline.cached:
        parts.append(f"cached; {_decoding(timeline)}")
    else:
        parts.append(_network(timeline))
        if timeline.dominant == DECODE:
            parts.append(_decoding(timeline))
    if timeline.dominant == DEMUX and timeline.total(DEMUX) > max(timeline.total(NETWORK), 1.0):
        parts.append(f"{timeline.total(DEMUX):.0f} ms before Qt asked for bytes")
    return "; ".join(parts)
