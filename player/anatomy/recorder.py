"""Seek anatomy for a playing piece: keeps the proxy events a seek's timeline needs and explains each finished seek.

Pure Python, no Qt: the controller feeds it the bridge's event batches and each seek the monitor finished; the
panel, the report and the self-test read the timelines back. It keeps a bounded window of recent events (a seek
only needs those published while it lasted), and the piece's keyframes from the proxy's ``MediaIndexed`` event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from player.anatomy.keyframes import MediaFacts, gop_hint
from player.anatomy.timeline import TIMELINE_EVENTS, SeekInput, SeekTimeline, build_timeline
from player.anatomy.verdict import verdict
from proxy.events import Event, MediaIndexed

#: Enough for the longest seek's events at the proxy's rate of about one event per slice per reader.
_EVENT_WINDOW = 20_000
#: How far before a seek its timeline looks for the fetches still running when it began (a whole stream lasts).
_LOOK_BACK_S = 120.0


@dataclass(frozen=True)
class ExplainedSeek:
    """A finished seek's record id, its timeline and its verdict."""

    record_id: int
    timeline: SeekTimeline
    verdict: str


class SeekAnatomy:
    def __init__(self, source_label: Callable[[str], str] = lambda name: name) -> None:
        #: How the window names a source ("emulator", "FilBeam"), so the verdict names it the same way.
        self.source_label = source_label
        self._events: deque[Event] = deque(maxlen=_EVENT_WINDOW)
        self._media: dict[str, MediaFacts] = {}
        self.piece: str | None = None
        self.frame_rate: float | None = None
        self.seeks: list[ExplainedSeek] = []
        self._by_record: dict[int, ExplainedSeek] = {}

    def reset(self, piece: str | None) -> None:
        """A new piece is opened: forget the old one's seeks (its keyframes stay known, the piece may return)."""
        self.piece = piece
        self.frame_rate = None
        self.seeks.clear()
        self._by_record.clear()

    def observe(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, MediaIndexed):
                self._media[event.piece] = MediaFacts(event.keyframes, event.duration_s, event.byte_rate)
            elif isinstance(event, TIMELINE_EVENTS):  # the others (slice stored, evicted…) are not kept
                self._events.append(event)

    @property
    def events(self) -> list[Event]:
        """The recent events kept (the report draws the byte map over time from them)."""
        return list(self._events)

    @property
    def media(self) -> MediaFacts:
        """The playing piece's keyframes (once the proxy indexed it) and frame rate (once Qt knows it)."""
        known = self._media.get(self.piece or "", MediaFacts())
        return MediaFacts(known.keyframes, known.duration_s, known.byte_rate, self.frame_rate)

    def explain(
        self,
        record_id: int,
        kind: str,
        target_s: float,
        started_at: float,
        latency_ms: float,
        frame_s: float | None = None,
    ) -> ExplainedSeek:
        """Build the timeline of a seek that showed its frame; call it when the monitor reports it finished."""
        end = started_at + latency_ms / 1000.0
        events = tuple(e for e in self._events if started_at - _LOOK_BACK_S <= e.at <= end)
        seek = SeekInput(kind, target_s, started_at, latency_ms, frame_s, self.piece, events)
        timeline = build_timeline(seek, self.media)
        explained = ExplainedSeek(record_id, timeline, verdict(timeline, self.source_label))
        self.seeks.append(explained)
        self._by_record[record_id] = explained
        return explained

    def get(self, record_id: int) -> ExplainedSeek | None:
        return self._by_record.get(record_id)

    def hint(self) -> str | None:
        """The keyframe hint for the playing piece, when its GOPs are long."""
        return gop_hint(self.media)
