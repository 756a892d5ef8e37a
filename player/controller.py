"""What happens when the user opens something: sources, URL, playback, and the panel's models.

The window and the self-test both drive this class, so the self-test proves the same open/seek path the window
uses. It owns no widgets: models hold the panel's data, and signals tell the window what to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtMultimedia import QMediaMetaData

from player.anatomy.recorder import SeekAnatomy
from player.bridge import EventBridge
from player.host import HostConfig, ProxyHost
from player.panel.byte_map import ByteMapModel
from player.panel.request_log import RequestLogModel
from player.panel.stats_model import StatsModel
from player.piece_end import ends_early_text
from player.playback import Playback
from player.probe import explain_failure
from player.resources import DemoPiece
from player.seek_monitor import SeekRecord
from player.target import Target, parse_target
from proxy.api import Source, template_source
from proxy.events import (
    CacheProblem,
    Event,
    MediaIndexed,
    PaidRestartsStopped,
    SliceRead,
    SourceRefused,
    UpstreamResponse,
    WholeStreamWait,
)

log = logging.getLogger(__name__)

_POLL_MS = 500
_CACHE_TIERS = ("memory", "disk")
NO_UPSTREAM = (
    "No upstream is configured for this piece: set a FilBeam payer address or an upstream URL template in "
    "Settings, or paste the piece's full URL"
)


@dataclass(frozen=True)
class Opened:
    target: Target
    title: str
    url: str
    #: "proxy" or "direct" (played without the proxy).
    via: str


def short_cid(text: str) -> str:
    return text if len(text) <= 20 else f"{text[:10]}…{text[-6:]}"


class Controller(QObject):
    opened = Signal(object)  # Opened
    #: (text, level) with level "info" or "error".
    message = Signal(str, str)
    #: A short name for where bytes come from now: emulator, FilBeam, SP <host>, cache, direct.
    sourceChanged = Signal(str)
    #: The piece's data ends before its header says, at this position (ms); -1.0 on a new open (no end known).
    endsEarly = Signal(float)

    def __init__(
        self,
        host: ProxyHost,
        playback: Playback,
        bridge: EventBridge,
        *,
        sources: list[Source] | None = None,
        demo: list[DemoPiece] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.playback = playback
        self.bridge = bridge
        self.cli_sources = list(sources or [])
        #: Upstreams from the settings; the window replaces them when the settings change.
        self.settings_sources: list[Source] = []
        #: Prefetch the bytes under the pointer when it rests on the seek bar (costs egress; a setting).
        self.hover_prefetch = True
        self.demo = list(demo or [])
        self.byte_map = ByteMapModel(self)
        self.requests = RequestLogModel(self)
        self.stats = StatsModel(self)
        #: Where each seek's time went (its timeline and verdict), for the panel and the report.
        self.anatomy = SeekAnatomy(self.source_label)
        self.requests.source_label = self.source_label
        self.current: Opened | None = None
        self.error: str | None = None
        #: The upstream's own words behind ``error``, when there are any.
        self.error_detail = ""
        self.source = ""
        self._tasks: set[asyncio.Task] = set()
        #: Counts opens, so an explanation that arrives late is shown only for the open it explains.
        self._generation = 0
        #: The piece ``prepare`` started the views of (its text), until it is opened.
        self._prepared: str | None = None
        bridge.events.connect(self._on_events)
        playback.failed.connect(self._on_failed)
        playback.refused.connect(lambda text: self.message.emit(text, "warning"))
        playback.seeks.finished.connect(self._explain_seek)  # before the window's slot: the chart reads the verdict
        playback.player.positionChanged.connect(self._on_position)
        playback.stalls.changed.connect(self._on_stall)
        self._poll = QTimer(self, interval=_POLL_MS)
        self._poll.timeout.connect(self._poll_counters)
        self._poll.start()

    # --- opening -------------------------------------------------------------------------------------------

    def source_label(self, name: str) -> str:
        return self.host.source_label(name)

    def demo_target(self, index: int = 0) -> tuple[Target, str]:
        """The ``index``-th demo piece as something to open, with its title."""
        if not self.demo:
            raise LookupError("no demo pieces are available")
        piece = self.demo[index]
        cid = piece.piece_cid or self._emulator_cid(piece.file)
        return parse_target(cid), piece.title

    def _emulator_cid(self, file_name: str) -> str:
        emulator = self.host.emulator
        if emulator is not None:
            for cid in emulator.piece_cids():
                if emulator.pieces[cid].path.name == file_name:
                    return cid
        raise LookupError(f"the demo CDN does not serve {file_name}")

    def title_for(self, target: Target) -> str:
        for piece in self.demo:
            if target.cid is not None and piece.piece_cid and parse_target(piece.piece_cid).cid == target.cid:
                return piece.title
        return short_cid(target.cid_text or target.text)

    def prepare(self, target: Target) -> None:
        """The piece a launch opens, named while the window is still being shown: its head is fetched now.

        Why: the head's round trip to the CDN then runs while the window is shown and painted, not after
        (``SliceCache.warm_head``). The views of the piece's bytes and requests start here, so they show that
        fetch, and the ``open`` that follows keeps them; the seek anatomy still starts at the open, which finds
        the head fetched or on its way. Nothing for a local file or a URL played as it is.
        """
        if target.cid is None or target.cid_text is None or target.direct_url is not None:
            return
        self._use_sources(target)
        if not self.host.has_sources():
            return
        self.byte_map.reset(target.cid.root.hex(), target.cid.payload_size)
        self.byte_map.set_served_base(self.host.bytes_served())
        self.requests.reset(self.host.base_url, self.host.token)
        self.stats.reset()
        self._prepared = target.text
        self.host.warm(target.cid_text)

    def _use_sources(self, target: Target) -> None:
        """The upstreams for this piece: a pasted URL's own host first, then the configured ones."""
        extra = [template_source(target.template)] if target.template else []
        self.host.set_sources(self.configured_sources(), extra)

    def open(self, target: Target, *, title: str | None = None, direct: bool = False) -> Opened | None:
        """Start playing ``target``; returns what was opened, or None (and a message) if it cannot be.

        Opening the piece that is playing (say, picked again from the history) keeps it where it is; after an
        error, opening it again is a retry and loads it afresh.
        """
        if self._is_playing(target, direct):
            self.message.emit("Already playing this piece", "info")
            return self.current
        self._generation += 1
        prepared, self._prepared = self._prepared == target.text and not direct, None
        self.error = None
        self.error_detail = ""
        title = title or self.title_for(target)
        if target.direct_url is not None:
            url, via = target.direct_url, "direct"
            self.host.set_sources(self.configured_sources())
            self.byte_map.reset(None)
            self.anatomy.reset(None)
        else:
            assert target.cid is not None and target.cid_text is not None
            self._use_sources(target)
            if not self.host.has_sources():
                self._fail(NO_UPSTREAM)
                return None
            if direct:
                direct_url = self.host.direct_url(target.cid)
                if direct_url is None:
                    self._fail("No upstream can serve this CID directly (FilBeam needs the v2 form, bafkzcib…)")
                    return None
                url, via = direct_url, "direct"
            else:
                url, via = self.host.piece_url(target.cid_text), "proxy"
            if not prepared:  # a prepared piece's views started with its head's fetch (``prepare``)
                self.byte_map.reset(target.cid.root.hex(), target.cid.payload_size)
                self.byte_map.set_served_base(self.host.bytes_served())
            self.anatomy.reset(target.cid.root.hex())
            if via == "proxy":
                self.host.republish_media(target.cid.root.hex())  # its map, if this run built one already
        if not prepared:
            self.requests.reset(self.host.base_url, self.host.token)
            self.stats.reset()
        self._set_source("direct" if via == "direct" else "")
        self.current = Opened(target, title, url, via)
        self.playback.open(url)
        self.endsEarly.emit(-1.0)
        self.opened.emit(self.current)
        return self.current

    def _is_playing(self, target: Target, direct: bool) -> bool:
        current = self.current
        return (
            current is not None
            and current.target.text == target.text
            and (current.via == "direct") == (direct or target.direct_url is not None)
            and self.error is None
            and self.playback.error is None
            and self.playback.url == current.url
        )

    def configured_sources(self) -> list[Source]:
        """Upstreams from the command line, then the ones from the settings."""
        return [*self.cli_sources, *self.settings_sources]

    def restart_host(self, config: HostConfig) -> None:
        """A new proxy (cache folder, slice size or cache cap changed); the current piece resumes where it was."""
        position = self.playback.player.position()
        playing = self.playback.player.isPlaying()
        current = self.current
        self.playback.close()
        self.host.stop()
        self.host = ProxyHost(config, self.host.bus)
        self.host.start()
        if current is not None:
            self.open(current.target, title=current.title, direct=current.via == "direct")
            self.playback.player.setPosition(position)
            if not playing:
                self.playback.player.pause()

    # --- events --------------------------------------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        self.playback.seeks.observe(events)
        self.anatomy.observe(events)
        self.byte_map.apply(events)
        self.requests.apply(events)
        key = self.byte_map.key
        for event in events:
            if isinstance(event, UpstreamResponse) and event.piece == key:
                self._set_source(self.source_label(event.source))
            elif isinstance(event, SliceRead) and event.piece == key and not self.source and event.tier in _CACHE_TIERS:
                self._set_source("cache")
            elif isinstance(event, SourceRefused) and event.piece == key:
                minutes = max(1, round(event.seconds / 60))
                label = self.source_label(event.source)
                self.message.emit(f"{label} refused this piece for {minutes} min: {event.reason}", "info")
            elif isinstance(event, CacheProblem):
                self.message.emit(event.message[:1].upper() + event.message[1:], "info")
            elif isinstance(event, WholeStreamWait | PaidRestartsStopped) and event.piece == key:
                self.message.emit(event.message, "info")  # why a seek waits, or why paid restarts stopped
            elif isinstance(event, MediaIndexed) and event.piece == key and event.ends_early_s is not None:
                self._ends_early(event.ends_early_s, event.duration_s)

    def _ends_early(self, end_s: float, duration_s: float) -> None:
        """A damaged piece (``player.piece_end``): say where it ends, mark it, refuse seeks past it."""
        self.endsEarly.emit(end_s * 1000.0)
        self.message.emit(ends_early_text(end_s, duration_s), "warning")
        self.playback.ends_early_at(end_s * 1000.0)  # after the message: a seek it refuses says so last

    def _explain_seek(self, record: SeekRecord) -> None:
        if record.latency_ms is None:
            return  # no frame: nothing to take apart
        rate = self.playback.player.metaData().value(QMediaMetaData.Key.VideoFrameRate)
        self.anatomy.frame_rate = float(rate) if isinstance(rate, int | float) and rate > 0 else None
        frame_s = record.frame_ms / 1000.0 if record.frame_ms is not None else None
        self.anatomy.explain(
            record.id, record.kind, record.target_ms / 1000.0, record.started_wall, record.latency_ms, frame_s
        )

    def _set_source(self, label: str) -> None:
        if label != self.source:
            self.source = label
            self.sourceChanged.emit(label)

    def _on_position(self, position_ms: int) -> None:
        duration = self.playback.player.duration()
        self.byte_map.set_position(position_ms / 1000.0, duration / 1000.0 if duration > 0 else None)

    def cached_timeline(self) -> list[tuple[float, float]]:
        duration = self.playback.player.duration()
        return self.byte_map.cached_timeline(duration / 1000.0 if duration > 0 else None)

    def hover(self, position_ms: float) -> None:
        """The pointer rests on the seek bar: let the proxy prefetch what a seek there would read."""
        if self.current is None or self.current.via != "proxy" or not self.hover_prefetch:
            return
        key = self.byte_map.key
        if key is not None and self.byte_map.exact:
            self.host.hover(key, position_ms / 1000.0)

    def _on_stall(self, _stalled: bool) -> None:
        stalls = self.playback.stalls
        self.stats.set_stalls(stalls.count, stalls.total_now())

    def _fail(self, text: str, detail: str = "") -> None:
        self.error = text
        self.error_detail = detail
        self.message.emit(text, "error")

    def _on_failed(self, qt_error: str) -> None:
        current = self.current
        if current is None:
            self._fail(qt_error)
            return
        self._spawn(self._explain(current.url, qt_error, self._generation))

    async def _explain(self, url: str, qt_error: str, generation: int) -> None:
        explanation = await explain_failure(url, qt_error)
        if generation == self._generation:
            self._fail(self.friendly(explanation.sentence), explanation.detail)

    def friendly(self, text: str) -> str:
        """Name sources in a proxy message the way the status bar does ("emulator", not its address)."""
        for source in self.host.sources():
            text = text.replace(source.name, self.source_label(source.name))
        return text[:1].upper() + text[1:]

    # --- counters ------------------------------------------------------------------------------------------

    def _poll_counters(self) -> None:
        if not self.host.running or not _loop_running():
            return
        self._spawn(self._take_snapshot())

    async def _take_snapshot(self) -> None:
        try:
            snapshot = await self.host.snapshot()
        except (RuntimeError, AttributeError, AssertionError, asyncio.CancelledError):
            return  # the proxy is restarting or stopping
        self.byte_map.set_counters(snapshot)
        self.stats.add_snapshot(snapshot)
        self.stats.set_stalls(self.playback.stalls.count, self.playback.stalls.total_now())

    def _spawn(self, coroutine) -> None:
        if not _loop_running():
            coroutine.close()
            return
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        self._poll.stop()
        for task in list(self._tasks):
            task.cancel()
        self.playback.close()
        self.bridge.close()
        with contextlib.suppress(Exception):
            self.host.stop()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
