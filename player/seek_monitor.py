"""Seek → first frame: how long each seek (and the first open) took, and whether its bytes were cached.

The Qt FFmpeg backend reports no buffered ranges and no seek completion, so the truth is the video sink: a seek
is done when a frame whose start time is near the target is handed to the sink. Its latency is the time from the
seek request to that frame.

Targets and frame times are compared as they are: Qt counts both from the media's own start, also for a stream
whose clock does not start at zero (measured with Qt 6.11: the corpus's MPEG-TS starts at 36001.389 s and its first
frame arrives with a start time of 0.011 s; a MOV whose edit lists skip a pre-roll starts at 0.0 s). The matrix
test's MPEG-TS row would show a start offset as seconds of 36000 and more.

Whether a seek was served from cache comes from the proxy's events: the player→proxy requests that started
after the seek, and the tiers their slices came from (memory/disk = cached; upstream/in flight = waited for the
network). A seek that needed no new request at all (Qt still had the bytes) also counts as cached.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtMultimedia import QVideoFrame, QVideoSink

from proxy.events import Event, RequestStarted, SliceRead, UpstreamStarted

#: A frame within this distance of the target counts as the seek's frame (Qt lands exactly on the target frame
#: when it can; half a second covers a container whose timestamps do not start at zero).
DEFAULT_TOLERANCE_MS = 500.0
DEFAULT_TIMEOUT_S = 15.0
#: Frames decoded before a seek can still reach the sink just after it; a frame that continues the old position
#: this closely is one of those, not the seek's.
_STALE_MS = 250.0
_NETWORK_TIERS = ("upstream", "inflight", "fragment")
_ids = itertools.count(1)


@dataclass(eq=False)
class SeekRecord:
    kind: str  # "open" (time to first frame) or "seek"
    target_ms: float
    started_wall: float
    started: float
    id: int = field(default_factory=lambda: next(_ids))
    #: "pending", "shown" (a frame near the target arrived), "timeout", or "superseded" (another seek came first).
    outcome: str = "pending"
    latency_ms: float | None = None
    frame_ms: float | None = None
    request_ids: set[int] = field(default_factory=set)
    fetch_ids: set[int] = field(default_factory=set)
    tiers: set[str] = field(default_factory=set)
    #: Where playback was when the seek began (the last frame's time), to recognise late frames from there.
    from_ms: float | None = None
    #: An open only counts frames once the new media has loaded (a late frame of the old one may arrive first).
    armed: bool = True
    #: The first frame after a seek that came more than the tolerance after its target: the seek overshot (Qt
    #: seeks some containers, MPEG-TS among them, to the keyframe after the target).
    late_ms: float | None = None

    @property
    def cached(self) -> bool:
        """No byte this seek needed had to wait for an upstream."""
        return not (self.tiers & set(_NETWORK_TIERS))


class SeekMonitor(QObject):
    #: A :class:`SeekRecord` whose outcome is final ("shown" or "timeout").
    finished = Signal(object)
    #: Every frame handed to the sink: its start time in ms.
    frame = Signal(float)

    def __init__(
        self,
        flush_events: Callable[[], None] = lambda: None,
        tolerance_ms: float = DEFAULT_TOLERANCE_MS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tolerance_ms = tolerance_ms
        self.frames = 0
        self.pending: SeekRecord | None = None
        self.last_frame_ms: float | None = None
        #: Audio-only media: the playback position Qt last reported (it stands in for frames there).
        self.last_position_ms: float | None = None
        self.history: list[SeekRecord] = []
        self._flush_events = flush_events
        self._timeout = QTimer(self, singleShot=True, interval=int(timeout_s * 1000))
        self._timeout.timeout.connect(self._timed_out)
        self._sink: QVideoSink | None = None
        self._last_frame: QVideoFrame | None = None

    def attach(self, sink: QVideoSink) -> None:
        if self._sink is not None:
            self._sink.videoFrameChanged.disconnect(self._on_frame)
        self._sink = sink
        sink.videoFrameChanged.connect(self._on_frame)

    def start(self, kind: str, target_ms: float) -> SeekRecord:
        """Call just before asking the player to open or seek."""
        if self.pending is not None:
            self.pending.outcome = "superseded"
        origin = self.last_frame_ms if self.last_frame_ms is not None else self.last_position_ms
        self.pending = SeekRecord(
            kind, target_ms, time.time(), time.perf_counter(), from_ms=origin, armed=kind != "open"
        )
        self._timeout.start()
        return self.pending

    def cancel(self) -> None:
        self.pending = None
        self._timeout.stop()

    def reset(self) -> None:
        self.cancel()
        self.history.clear()
        self.frames = 0
        self.last_frame_ms = None
        self.last_position_ms = None
        self._last_frame = None

    def arm(self) -> None:
        """The new media has loaded: frames from now on belong to it (called by the playback)."""
        if self.pending is not None:
            self.pending.armed = True

    def observe(self, events: list[Event]) -> None:
        """Attribute proxy events to the pending seek (connected to the bridge)."""
        record = self.pending
        if record is None:
            return
        for event in events:
            if event.at < record.started_wall:
                continue
            if isinstance(event, RequestStarted):
                record.request_ids.add(event.request_id)
            elif isinstance(event, SliceRead) and event.request_id in record.request_ids:
                record.tiers.add(event.tier)
            elif isinstance(event, UpstreamStarted):
                record.fetch_ids.add(event.fetch_id)

    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid() or frame == self._last_frame:
            return  # an empty frame, or the same frame handed again to redraw it (FrameKeeper): no new picture
        self._last_frame = frame
        self.frames += 1
        start_ms = frame.startTime() / 1000.0 if frame.startTime() >= 0 else -1.0
        self.frame.emit(start_ms)
        self.last_frame_ms = start_ms
        record = self.pending
        if record is None or not record.armed:
            return
        if not self._lands(record, start_ms):
            if record.late_ms is None and self._overshot(record, start_ms):
                record.late_ms = start_ms
            return
        self._land(record, start_ms)

    def on_position(self, position_ms: float) -> None:
        """Audio-only media: no frame ever reaches a video sink, so sound playing on from the target is the landing.

        Qt reports the target itself the moment it is asked to seek (and 0 on open), before any sound is decoded;
        only a position past it shows that audio is playing there. Feed this only for media without video.

        Positions reach the GUI thread on its event loop, so a busy GUI thread reports the first one after a seek
        late, and by then the sound has played on: 2.583 s reported 0.6 s after a seek to 2 s is sound that resumed
        at 2 s, not a late seek. So the position is taken back by the time since the seek: the sound resumed at
        ``position − waited`` at the latest (never before the target), and the seek's latency is the time at which
        it was there (``waited − played``). A resume is late only when even that bound lies past the tolerance.
        """
        self.last_position_ms = position_ms
        record = self.pending
        if record is None or not record.armed:
            return
        if record.kind == "open":
            if position_ms > 0:
                self._land(record, position_ms)
            return
        if position_ms <= record.target_ms or self._stale(record, position_ms):
            return  # Qt's echo of the target, or playback going on from the old place before the seek took hold
        waited_ms = (time.perf_counter() - record.started) * 1000.0
        resumed_ms = max(record.target_ms, position_ms - waited_ms)
        if self._lands(record, resumed_ms):
            self._land(record, resumed_ms, played_ms=position_ms - resumed_ms)
        elif record.late_ms is None and self._overshot(record, resumed_ms):
            record.late_ms = resumed_ms  # the sound resumed past the tolerance: late, as a video frame can be

    def on_paused_position(self, position_ms: float) -> None:
        """Audio-only media that is paused (or ended) plays nothing after a seek: the player reporting a position
        at the target is all there is to wait for, so that lands it (else the seek would wait out the timeout).
        Feed this only for media without video."""
        self.last_position_ms = position_ms
        record = self.pending
        if record is not None and record.armed and record.kind == "seek" and self._lands(record, position_ms):
            self._land(record, position_ms)

    def shown_position(self, position_ms: float) -> float:
        """The position the seek bar shows for one Qt reports: while a seek waits for its frame or sound, a position
        that continues from where playback was (Qt still reports one just after the seek, measured on the corpus
        MP3 through the proxy: 5 s asked, then 1.359 s, then 5.016 s) shows the seek's target instead."""
        record = self.pending
        if record is not None and record.kind == "seek" and self._stale(record, position_ms):
            return record.target_ms
        return position_ms

    def _land(self, record: SeekRecord, at_ms: float, played_ms: float = 0.0) -> None:
        """``played_ms``: how long the sound had played on from ``at_ms`` when its position was reported."""
        self._flush_events()  # the reads behind this frame's bytes are already queued: count them first
        record.latency_ms = max(0.0, (time.perf_counter() - record.started) * 1000.0 - played_ms)
        record.frame_ms = at_ms
        self._finish(record, "shown")

    def _lands(self, record: SeekRecord, start_ms: float) -> bool:
        if record.kind == "open":
            return True
        return abs(start_ms - record.target_ms) <= self.tolerance_ms and not self._stale(record, start_ms)

    def _stale(self, record: SeekRecord, start_ms: float) -> bool:
        """A frame or position that continues the old place, unless the seek's target is that close to it too."""
        return self._continues_old(record, start_ms) and abs(record.target_ms - (record.from_ms or 0.0)) > _STALE_MS

    def _overshot(self, record: SeekRecord, start_ms: float) -> bool:
        """A frame of the seek's own (not the old position's) past the target by more than the tolerance."""
        return (
            record.kind == "seek"
            and start_ms - record.target_ms > self.tolerance_ms
            and not self._continues_old(record, start_ms)
        )

    @staticmethod
    def _continues_old(record: SeekRecord, start_ms: float) -> bool:
        origin = record.from_ms
        return origin is not None and 0.0 <= start_ms - origin <= _STALE_MS

    def _timed_out(self) -> None:
        if self.pending is not None:
            self._finish(self.pending, "timeout")

    def _finish(self, record: SeekRecord, outcome: str) -> None:
        record.outcome = outcome
        self.pending = None
        self._timeout.stop()
        self.history.append(record)
        self.finished.emit(record)
