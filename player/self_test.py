"""``pieceplayer --self-test``: play headless, seek, and prove frames arrive near every target.

CI and the packaged build run this to show that playback works end to end: the bundled demo piece (or a given
CID/URL) is served by the emulated CDN with 50 ms of latency through a fresh proxy cache, played by a real
QMediaPlayer into a video sink, and seeked. The last stdout line is one JSON object with the figures; the exit
status is 0 only if frames were decoded and every seek showed a frame near its target.

Audio-only pieces (MP3, FLAC, M4A, Opus…) have no frames: for them the position Qt reports stands in — the open
lands when the position first moves, a seek when it moves on from its target — and ``audio_only`` is true.
A failure says why in words a user can act on: the codec the player could not decode, a seek that landed seconds
away from its target, playback that reached no frame where the piece was cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtMultimedia import QVideoSink

from player import launch_readahead
from player.bridge import EventBridge
from player.controller import Controller, Opened
from player.host import HostConfig, ProxyHost
from player.launch_clock import process_start
from player.piece_end import refused_seek_result
from player.playback import Playback
from player.resources import DemoError, demo_pieces
from player.seek_monitor import SeekRecord
from player.self_test_verdict import SelfTestFailed, verdict, video_codec
from player.self_test_wait import wait_for_record
from player.settings import DEFAULT_DEMO_LATENCY_MS, Settings
from player.target import Target
from proxy.api import Source, template_source
from proxy.events import PieceVerified

if TYPE_CHECKING:  # the report's module (and its SVG) loads only when a report is written, as in the app
    from player.anatomy.report import ReportFacts

log = logging.getLogger(__name__)

DEFAULT_SEEKS_S = (10.0, 45.0, 5.0, 30.0, 10.0)
TIME_LIMIT_S = 60.0
#: Playing time between seeks, so each seek starts from steady playback as a viewer's would.
PLAY_BETWEEN_S = 0.6
#: Seeks are kept this far before the end, where a frame is still certain to follow.
END_MARGIN_S = 1.0
#: The longest the test waits, after its last seek, for the CommP verdict of a piece it cached whole: hashing starts
#: a second after the last request, and the frozen app's hashing process starts the whole executable first.
VERDICT_WAIT_S = 20.0


@dataclass
class SelfTestPlan:
    target: Target | None = None
    #: The demo CDN before the other upstreams (no CID given, or --demo).
    demo_first: bool = True
    upstreams: list[str] = field(default_factory=list)
    direct: bool = False
    seeks_s: list[float] | None = None
    demo_dir: Path | None = None
    time_limit_s: float = TIME_LIMIT_S
    latency_ms: float = DEFAULT_DEMO_LATENCY_MS
    #: A cache to keep (a warm re-open measures the second run on it); None: a fresh one, deleted afterwards.
    cache_dir: Path | None = None
    #: Play in the real main window, side panel shown (``--window``), instead of into a bare video sink.
    window: bool = False
    #: Write the seek-anatomy report (HTML) here after the seeks (``--report FILE``).
    report: Path | None = None


def clamp_seeks(seeks_s: list[float], duration_s: float) -> list[float]:
    """Keep each target inside the media, ``END_MARGIN_S`` before its end."""
    ceiling = max(0.0, duration_s - END_MARGIN_S)
    return [round(min(max(0.0, s), ceiling), 3) for s in seeks_s]


def _record_launch(plan: SelfTestPlan, files: list[str]) -> None:
    """Note the files this launch used by its first frame, for the next launch to read ahead
    (``launch_readahead``): after the seeks' measures, so the note's disk and CPU work lands in none of them."""
    launch_readahead.record_quietly(launch_readahead.WINDOW if plan.window else launch_readahead.HEADLESS, files)


def _say(text: str) -> None:
    print(f"self-test: {text}", file=sys.stderr, flush=True)


async def run_self_test(plan: SelfTestPlan) -> tuple[int, dict]:
    """Run the plan; returns the exit status and the summary (which says what failed, if anything)."""
    summary: dict = {
        "ok": False,
        "error": None,
        "ttff_ms": None,
        "seeks": [],
        "frames": 0,
        "stalls": 0,
        "upstream_bytes": None,
        "served_bytes": None,
        "verified": None,
    }
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        cache_dir = plan.cache_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="pieceplayer-self-test-"))
        )
        session = _session_type(plan)(plan, cache_dir, summary)
        try:
            await asyncio.wait_for(session.run(), plan.time_limit_s)
        except SelfTestFailed as exc:
            summary["error"] = str(exc)
        except TimeoutError:
            summary["error"] = f"the self-test did not finish within {plan.time_limit_s:g} s"
        finally:
            await session.collect()
            if plan.report is not None and session.controller is not None:
                from player.report_export import self_test_facts, write_report

                facts = session.report_facts or self_test_facts(session.controller, summary)
                summary["report"] = str(write_report(plan.report, facts).resolve())
            await session.close()
    if summary["error"] is None:
        summary["error"] = verdict(summary)
    summary["ok"] = summary["error"] is None
    summary["elapsed_s"] = round(time.monotonic() - started, 2)
    return (0 if summary["ok"] else 1), summary


def _session_type(plan: SelfTestPlan) -> type[PlaySession]:
    if plan.window:
        from player.window_self_test import WindowSession  # imports the window's widgets only when asked for

        return WindowSession
    return PlaySession


class PlaySession:
    def __init__(self, plan: SelfTestPlan, cache_dir: Path, summary: dict) -> None:
        self.plan = plan
        self.summary = summary
        self.cache_dir = cache_dir
        self.host: ProxyHost | None = None
        self.controller: Controller | None = None
        self._verdict = asyncio.Event()
        self._playback: Playback | None = None
        #: ``--report``: the report's facts, taken after the seeks (None: taken at the end, as after a failure).
        self.report_facts: ReportFacts | None = None
        #: Seeks given up because the whole piece was cached and still nothing played at the target.
        self._nothing_there: set[int] = set()

    def _sources(self) -> list[Source]:
        sources = [template_source(t) for t in self.plan.upstreams]
        if not sources and self.plan.target is not None:
            sources = Settings().sources()
        return sources

    async def run(self) -> None:
        plan, summary = self.plan, self.summary
        demo = []
        if plan.demo_dir is not None:
            try:
                demo = demo_pieces(plan.demo_dir)
            except DemoError as exc:
                if plan.target is None:
                    raise SelfTestFailed(f"no demo piece to play: {exc}") from None
        config = HostConfig(
            cache_dir=self.cache_dir,
            sources=self._sources(),
            demo_dir=plan.demo_dir if demo else None,
            demo_first=plan.demo_first,
            demo_latency_ms=plan.latency_ms,
        )
        self.host = ProxyHost(config)
        self.host.start()
        controller = self.controller = self._build(config, demo)
        playback = self._playback = controller.playback
        playback.player.positionChanged.connect(self._on_position)
        target, title = (plan.target, None) if plan.target is not None else controller.demo_target(0)
        if not plan.direct:
            controller.prepare(target)  # as the app's launch does: the head is fetched while the window is shown
        await self._before_open()
        opened = self._open(target, title)
        if opened is None:
            raise SelfTestFailed(controller.error or "the piece could not be opened")
        summary.update(
            piece=target.cid_text or target.text,
            title=opened.title,
            via=opened.via,
            direct=opened.via == "direct",
        )
        _say(f"playing {opened.title} via {opened.via}: {opened.url}")
        record = playback.seeks.pending
        assert record is not None
        first = await self._wait(playback, record)
        audio_only = summary["audio_only"] = self._audio_only()
        if first.latency_ms is None:
            codec = video_codec(playback.player)
            raise SelfTestFailed(
                "no audio played within the time limit of the first sound"
                if audio_only
                else "no frame was decoded within the time limit of the first frame"
                + (f" (the video is {codec})" if codec else "")
            )
        summary["ttff_ms"] = round(first.latency_ms, 1)
        started, summary["launch_from"] = process_start()
        summary["launch_ms"] = round((first.started + first.latency_ms / 1000.0 - started) * 1000.0, 1)
        _say(f"first {'sound' if audio_only else 'frame'} after {first.latency_ms:.0f} ms")
        launch_files = launch_readahead.launch_files()
        duration_s = await self._duration(playback)
        summary["duration_s"] = round(duration_s, 3)
        targets = clamp_seeks(list(plan.seeks_s or DEFAULT_SEEKS_S), duration_s)
        results = summary["seeks"] = []
        for target_s in targets:
            await asyncio.sleep(PLAY_BETWEEN_S)
            seek = playback.seek(target_s * 1000.0)
            if seek is None and playback.data_end_ms is None:
                raise SelfTestFailed(f"the player refused to seek to {target_s:g} s")
            done = None if seek is None else await self._wait(playback, seek)
            if done is None or _refused_past_end(done, playback.data_end_ms):
                assert playback.data_end_ms is not None
                results.append(refused_seek_result(target_s, playback.data_end_ms / 1000.0))
                _say(f"seek to {target_s:g} s: refused, the piece ends early at {playback.data_end_ms / 1000:g} s")
                continue
            cached = done.cached and opened.via == "proxy"
            latency = round(done.latency_ms, 1) if done.latency_ms is not None else None
            results.append({"target_s": target_s, "latency_ms": latency, "cached": cached})
            if done.frame_ms is not None:
                results[-1]["position_s" if audio_only else "frame_s"] = round(done.frame_ms / 1000.0, 3)
            elif done.late_ms is not None:
                results[-1]["late_s"] = round(done.late_ms / 1000.0, 3)
            elif done.id in self._nothing_there:
                results[-1]["nothing_there"] = True
            _say(f"seek to {target_s:g} s: " + (f"{latency:.0f} ms" if latency is not None else "did not land"))
        await asyncio.sleep(PLAY_BETWEEN_S)
        _record_launch(plan, launch_files)
        if plan.report is not None:  # the seeks' piece, before a window self-test opens its second one
            from player.report_export import self_test_facts

            self.report_facts = self_test_facts(controller, summary)
        await self._await_verdict(controller)
        await self._then(controller)

    def _build(self, config: HostConfig, demo: list) -> Controller:
        """The player around the started proxy: here a video sink and no window, no audio (a subclass: the window)."""
        assert self.host is not None
        bridge = EventBridge(self.host.bus)
        bridge.events.connect(self._note_verification)
        playback = Playback(QVideoSink(), bridge.flush, audio=False)
        return Controller(self.host, playback, bridge, sources=config.sources, demo=demo)

    async def _before_open(self) -> None:
        """Nothing to show without a window (the window is shown and waits for its first paint, as the app's)."""

    def _open(self, target: Target, title: str | None) -> Opened | None:
        assert self.controller is not None
        return self.controller.open(target, title=title, direct=self.plan.direct)

    async def _then(self, controller: Controller) -> None:
        """What a subclass does after the seeks (the window opens a second piece from its CID bar)."""

    def _audio_only(self) -> bool:
        player = self._playback.player if self._playback is not None else None
        return player is not None and player.hasAudio() and not player.hasVideo()

    def _on_position(self, position_ms: int) -> None:
        """Audio-only media: the position is what shows sound playing (see ``SeekMonitor.on_position``)."""
        if self._playback is not None and self._audio_only():
            self._playback.seeks.on_position(float(position_ms))

    def _note_verification(self, events: list) -> None:
        """``verified``: the CommP check of a fully cached piece (it runs in the hashing process), else null."""
        for event in events:
            if isinstance(event, PieceVerified):
                self.summary["verified"] = event.ok
                self._verdict.set()

    async def _await_verdict(self, controller: Controller) -> None:
        """A piece now cached whole is checked against its CID once playback has been quiet for a moment
        (``proxy.verify`` holds hashing back while a player opens or seeks): wait for that verdict, so that the
        summary reports it. A piece not cached whole (a large one, played in part) has none to wait for."""
        byte_map = controller.byte_map
        if not byte_map.size or byte_map.cached_bytes() < byte_map.size:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._verdict.wait(), VERDICT_WAIT_S)

    async def _wait(self, playback: Playback, record: SeekRecord) -> SeekRecord:
        """Until the record is final (``player.self_test_wait``), knowing what the proxy has cached."""
        byte_map = self.controller.byte_map if self.controller is not None else None
        return await wait_for_record(playback, record, byte_map, self._nothing_there)

    async def _duration(self, playback: Playback) -> float:
        for _ in range(100):
            duration = playback.player.duration()
            if duration > 0:
                return duration / 1000.0
            await asyncio.sleep(0.05)
        raise SelfTestFailed("the player never learnt the media's duration")

    async def collect(self) -> None:
        """Fill in the figures, also after a failure (they help to see what went wrong)."""
        summary, controller = self.summary, self.controller
        if controller is None or self.host is None or not self.host.running:
            return
        playback = controller.playback
        via = controller.current.via if controller.current is not None else "proxy"
        summary["frames"] = playback.seeks.frames
        summary["stalls"] = playback.stalls.count
        summary["stalled_s"] = round(playback.stalls.total_now(), 3)
        latencies = [r["latency_ms"] for r in summary.get("seeks", []) if r["latency_ms"] is not None]
        if latencies:
            ordered = sorted(latencies)
            summary["seek_median_ms"] = ordered[len(ordered) // 2]
            summary["seek_max_ms"] = ordered[-1]
        summary["source"] = controller.source or None
        if via == "proxy":
            snapshot = await self.host.snapshot()
            summary["upstream_bytes"] = snapshot["bytes_upstream"]
            summary["served_bytes"] = snapshot["bytes_served"]
            summary["upstream_requests"] = snapshot["upstream_requests"]
            summary["player_requests"] = snapshot["requests"]
        else:  # without the proxy, only our own demo CDN can say how many bytes it sent
            emulator = self.host.emulator
            url = controller.current.url if controller.current is not None else ""
            ours = emulator is not None and bool(emulator.base_url) and url.startswith(emulator.base_url)
            sent = emulator.counters.bytes_sent if ours and emulator is not None else None
            summary["upstream_bytes"] = sent
            summary["served_bytes"] = sent

    async def close(self) -> None:
        if self.controller is not None:
            self.controller.close()
        elif self.host is not None:
            self.host.stop()


def print_summary(summary: dict) -> None:
    """The contract: one JSON object as the last line on stdout."""
    print(json.dumps(summary, separators=(",", ":")), flush=True)


def _refused_past_end(done: SeekRecord, data_end_ms: float | None) -> bool:
    """A seek ``Playback`` refused when the proxy's map came after it was asked (a loaded machine): the map said
    the piece ends before its target. (Asked after the map came, it is refused at once and has no record.)"""
    return data_end_ms is not None and done.outcome != "shown" and done.target_ms > data_end_ms
