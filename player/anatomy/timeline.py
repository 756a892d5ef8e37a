"""A seek's timeline: where the time between "seek" and "first frame" went, from the events the proxy published.

Pure Python (no Qt), so a recorded event sequence can be replayed in a test or a report. The measured latency is
cut into consecutive spans that add up to it exactly:

    seek ─ demux ─┬─ proxy / network ─┬─ proxy / network ─┬─ decode from keyframe ─ first frame
                  player's request    first byte sent     bytes for the target     (Qt decodes keyframe → target)
                  reaches the proxy   to the player       have been sent

* *demux*: Qt flushes its decoder, looks the target up in the container's index and opens a request;
* *network*: the part of the wait for bytes in which an upstream fetch the seek caused had not answered yet, or
  in which the bytes the player read were streaming in from upstream;
* *proxy*: the rest of that wait (cache lookups, disk reads, loopback);
* *decode from keyframe*: from the moment the proxy has sent the bytes up to the target until the frame is shown.

Byte delivery is known at slice granularity (the proxy publishes progress once per slice), so the boundary between
the byte phases and decoding is exact for cached seeks and, for upstream ones, at most one slice's transfer late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from player.anatomy.keyframes import MediaFacts
from proxy.events import (
    Event,
    RequestHeaders,
    RequestProgress,
    RequestStarted,
    SliceRead,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamStarted,
)

DEMUX, PROXY, NETWORK, DECODE = "demux", "proxy", "network", "decode from keyframe"
PHASES = (DEMUX, PROXY, NETWORK, DECODE)
#: One colour per phase, shared by the panel's waterfall, the seek chart and the report.
PHASE_COLOURS = {DEMUX: "#a78bfa", PROXY: "#5cd0ff", NETWORK: "#f5a524", DECODE: "#34d399"}
NETWORK_TIERS = frozenset({"upstream", "inflight", "fragment"})
#: The events a timeline is built from (the recorder keeps these and no others).
TIMELINE_EVENTS = (
    RequestStarted,
    RequestHeaders,
    RequestProgress,
    SliceRead,
    UpstreamStarted,
    UpstreamResponse,
    UpstreamFinished,
)
#: A request from byte 0 after a seek further than this into the media means Qt opened the stream again.
REOPEN_AFTER_S = 2.0


@dataclass(frozen=True)
class SeekInput:
    """One finished seek as the player measured it, and the proxy events published while it lasted."""

    kind: str  # "seek" or "open"
    target_s: float
    #: Wall-clock time (s since the epoch) of the seek request: the events' clock.
    started_at: float
    latency_ms: float
    frame_s: float | None = None
    piece: str | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Span:
    phase: str
    start_ms: float
    duration_ms: float
    #: What happened in it, for the waterfall's tooltip and the report ("FilBeam answered 200 from byte 0").
    note: str = ""


@dataclass(frozen=True)
class Fetch:
    fetch_id: int
    source: str
    start: int
    end: int
    started_ms: float
    status: int | None = None
    first_byte_ms: float | None = None
    body_start: int | None = None

    @property
    def whole_stream(self) -> bool:
        """Answered 200 from byte 0 to a ranged request (FilBeam's cache miss)."""
        return self.status == 200 and self.body_start == 0 and self.start > 0


@dataclass(frozen=True)
class SeekTimeline:
    seek: SeekInput
    spans: tuple[Span, ...]
    tiers: frozenset[str] = frozenset()
    fetches: tuple[Fetch, ...] = ()
    #: Fetches started before the seek and still running when it began: the ones a reader in flight joined.
    joined: tuple[Fetch, ...] = ()
    request_ranges: tuple[str, ...] = ()
    keyframe_s: float | None = None
    frames_decoded: int | None = None
    reopened: bool = False

    def total(self, phase: str) -> float:
        return sum(s.duration_ms for s in self.spans if s.phase == phase)

    @property
    def totals(self) -> dict[str, float]:
        return {phase: self.total(phase) for phase in PHASES}

    @property
    def dominant(self) -> str:
        totals = self.totals
        return max(PHASES, key=lambda p: totals[p])

    @property
    def cached(self) -> bool:
        return not (self.tiers & NETWORK_TIERS) and not self.fetches


def _first(events: Iterable[Event], kind: type, where=lambda _e: True):
    return next((e for e in events if isinstance(e, kind) and where(e)), None)


def build_timeline(seek: SeekInput, media: MediaFacts | None = None) -> SeekTimeline:
    """Cut the seek's latency into phases; see the module docstring for where each boundary comes from."""
    media = media or MediaFacts()
    t0 = seek.started_at
    total = seek.latency_ms
    end_at = t0 + total / 1000.0
    mine = [e for e in seek.events if t0 <= e.at <= end_at and _about(e, seek.piece)]

    def ms(at: float) -> float:
        return min(total, max(0.0, (at - t0) * 1000.0))

    requests = [e for e in mine if isinstance(e, RequestStarted)]
    request_ids = {r.request_id for r in requests}
    ours = [e for e in mine if getattr(e, "request_id", None) in request_ids]
    tiers = frozenset(e.tier for e in ours if isinstance(e, SliceRead))
    fetches = _fetches(mine, ms)
    before = [e for e in seek.events if e.at < t0 and _about(e, seek.piece)]
    ended = {e.fetch_id for e in before if isinstance(e, UpstreamFinished)}
    joined = [f for f in _fetches(before, ms) if f.fetch_id not in ended]
    shown_s = seek.frame_s if seek.frame_s is not None else seek.target_s
    keyframe = media.keyframe_before(shown_s)
    keyframe_s = keyframe[0] if keyframe is not None else None
    frames = media.frames_between(keyframe_s, shown_s) if keyframe_s is not None else None
    reopened = seek.kind == "seek" and seek.target_s > REOPEN_AFTER_S and any(_from_zero(r) for r in requests)

    if not requests:  # Qt had the bytes already: no request, the whole wait is Qt's own
        spans = (Span(DECODE, 0.0, total, "no request: Qt still held the bytes"),)
    else:
        asked_ms = ms(requests[0].at)
        headers = _first(ours, RequestHeaders)
        first_ms = ms(headers.at) if headers is not None else total
        ready_ms = max(first_ms, _ready_ms(ours, media.byte_at(shown_s), ms, first_ms))
        streamed_from_upstream = bool(tiers & NETWORK_TIERS)
        spans = (
            Span(DEMUX, 0.0, asked_ms, "Qt flushes, finds the target in the index, asks for bytes"),
            *_wait_spans(asked_ms, first_ms, fetches, streamed_from_upstream),
            Span(
                NETWORK if streamed_from_upstream else PROXY,
                first_ms,
                ready_ms - first_ms,
                "bytes up to the target" + (" streaming from upstream" if streamed_from_upstream else " from cache"),
            ),
            Span(DECODE, ready_ms, total - ready_ms, _decode_note(keyframe_s, frames)),
        )
    spans = tuple(s for s in spans if s.duration_ms > 0.0)
    return SeekTimeline(
        seek=seek,
        spans=spans,
        tiers=tiers,
        fetches=tuple(fetches),
        joined=tuple(joined),
        request_ranges=tuple(r.range_header or "whole" for r in requests),
        keyframe_s=keyframe_s,
        frames_decoded=frames,
        reopened=reopened,
    )


def _about(event: Event, piece: str | None) -> bool:
    """The event concerns the seek's piece (a player request names it by its CID text, not the cache's key)."""
    return piece is None or isinstance(event, RequestStarted) or getattr(event, "piece", piece) == piece


def _from_zero(request: RequestStarted) -> bool:
    header = (request.range_header or "").replace(" ", "")
    return header in ("", "bytes=0-") or header.startswith("bytes=0-")


def _fetches(events: list[Event], ms) -> list[Fetch]:
    """Upstream fetches the seek caused (started after it), with when each answered."""
    fetches: dict[int, Fetch] = {}
    for event in events:
        if isinstance(event, UpstreamStarted) and event.fetch_id not in fetches:
            fetches[event.fetch_id] = Fetch(event.fetch_id, event.source, event.start, event.end, ms(event.at))
        elif isinstance(event, UpstreamResponse) and event.fetch_id in fetches:
            old = fetches[event.fetch_id]
            if old.first_byte_ms is None:
                answered = {"status": event.status, "first_byte_ms": ms(event.at), "body_start": event.body_start}
                fetches[event.fetch_id] = replace(old, source=event.source, **answered)
        elif isinstance(event, UpstreamFinished) and event.fetch_id in fetches:
            old = fetches[event.fetch_id]
            if old.first_byte_ms is None:  # failed or cancelled before answering: waiting ended here
                fetches[event.fetch_id] = replace(old, status=event.status, first_byte_ms=ms(event.at))
    return list(fetches.values())


def _ready_ms(ours: list[Event], target_byte: int | None, ms, first_ms: float) -> float:
    """When the proxy began sending the slice holding the target's bytes (the first byte, if unknown)."""
    if target_byte is None:
        return first_ms
    reached = [e for e in ours if isinstance(e, RequestProgress) and e.position <= target_byte]
    return ms(reached[-1].at) if reached else first_ms


def _wait_spans(start_ms: float, end_ms: float, fetches: list[Fetch], streaming: bool) -> list[Span]:
    """The wait for the player's first byte, [start, end): network while a fetch the seek caused had not answered
    yet and, when the player's bytes come from upstream, while they stream in after it answered; proxy the rest."""
    waiting = sorted(
        (max(start_ms, f.started_ms), min(end_ms, f.first_byte_ms if f.first_byte_ms is not None else end_ms), f)
        for f in fetches
    )
    spans: list[Span] = []
    at = start_ms
    for begin, finish, fetch in waiting:
        if finish <= at:
            continue
        if begin > at:
            spans.append(Span(PROXY, at, begin - at, "proxy: cache lookup, then an upstream fetch"))
            at = begin
        note = f"{fetch.source}: asked bytes {fetch.start}–{fetch.end}"
        if fetch.status is not None:
            note += f", answered {fetch.status}" + (" from byte 0" if fetch.whole_stream else "")
        spans.append(Span(NETWORK, at, finish - at, note))
        at = finish
    if end_ms > at:
        if streaming:
            spans.append(Span(NETWORK, at, end_ms - at, "upstream bytes streaming in up to the player's offset"))
        else:
            spans.append(Span(PROXY, at, end_ms - at, "proxy: cache lookup and the first byte to the player"))
    return spans


def _decode_note(keyframe_s: float | None, frames: int | None) -> str:
    if keyframe_s is None:
        return "Qt decodes up to the target (keyframes not indexed)"
    counted = f"{frames} frames" if frames is not None else "the frames"
    return f"Qt decodes {counted} from the keyframe at {keyframe_s:.1f} s"
