"""Gather the seek report's facts from the running player and write the file (panel button and self-test alike).

The report itself (``player/anatomy/report.py``) is pure; this is where the player's parts are read: the
controller's seek anatomy, request log and byte map, the versions of the app, Qt and Qt's FFmpeg, and settings.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion

import player
from player.anatomy.report import ReportFacts, render_html
from player.anatomy.timeline import NETWORK_TIERS
from player.controller import Controller
from player.panel.har import to_har
from player.settings import Settings
from proxy.events import RequestProgress, SliceRead


def ffmpeg_version() -> str:
    """The FFmpeg libraries Qt plays with (the ones bundled next to Qt), by their library versions."""
    libs = Path(PySide6.__file__).parent / "Qt" / "lib"
    found = {}
    for path in libs.glob("libav*.so.*"):
        match = re.fullmatch(r"lib(avcodec|avformat)\.so\.(\d+\.\d+\.\d+)", path.name)
        if match:
            found[match.group(1)] = match.group(2)
    return (
        ", ".join(f"lib{name} {version}" for name, version in sorted(found.items())) or "Qt's FFmpeg (version unknown)"
    )


def versions() -> dict[str, str]:
    return {
        "PiecePlayer": player.__version__,
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "FFmpeg (Qt's)": ffmpeg_version(),
        "Python": platform.python_version(),
        "System": platform.platform(),
    }


def settings_facts(settings: Settings) -> dict[str, object]:
    """The settings that change what a seek costs (no history, no window geometry)."""
    return {
        "network": settings.network,
        "FilBeam payer": settings.payer or "(none)",
        "upstream templates": len(settings.templates or []),
        "slice size": settings.slice_size,
        "disk cache cap": settings.cache_size,
        "demo CDN latency ms": settings.demo_latency_ms,
        "hover prefetch": settings.hover_prefetch,
    }


def collect(controller: Controller, settings: dict[str, object] | None = None) -> ReportFacts:
    """What the report shows about the piece playing now."""
    anatomy, log = controller.anatomy, controller.requests
    current = controller.current
    origin = log.origin
    tiers = {(e.request_id, e.index): e.tier for e in anatomy.events if isinstance(e, SliceRead)}
    slice_size = controller.byte_map.slice_size or 1
    reads = []
    for event in anatomy.events:
        if isinstance(event, RequestProgress) and event.piece == anatomy.piece and event.at >= origin:
            tier = tiers.get((event.request_id, event.position // slice_size), "")
            reads.append((event.at - origin, event.position, "upstream" if tier in NETWORK_TIERS else tier))
    rows = [
        {
            "at s": f"{entry.started - origin:.2f}",
            "who": "player" if entry.kind == "player" else log.source_label(entry.source),
            "id": entry.ident,
            "range": entry.range_text(),
            "status": entry.status or "",
            "bytes": entry.bytes,
            "ttfb ms": f"{entry.ttfb * 1000:.0f}" if entry.ttfb is not None else "",
            "cache": entry.cache_text(),
        }
        for entry in log.entries
    ]
    return ReportFacts(
        title=current.title if current is not None else "nothing open",
        piece=(current.target.cid_text or current.target.text) if current is not None else "",
        versions=versions(),
        settings={**(settings or {}), "via": current.via if current is not None else "", "source": controller.source},
        seeks=list(anatomy.seeks),
        hint=anatomy.hint(),
        reads=reads,
        size=controller.byte_map.size,
        origin=origin,
        requests=rows,
        har=to_har(log.entries, player.__version__, log.source_label),
    )


def write_report(path: Path, facts: ReportFacts) -> Path:
    path = Path(path)
    path.write_text(render_html(facts), encoding="utf-8")
    return path


def self_test_facts(controller: Controller, summary: dict) -> ReportFacts:
    """``--self-test --report FILE``: the same report as the window's, with the run's figures as its settings."""
    settings = {key: summary.get(key) for key in ("ttff_ms", "duration_s", "audio_only", "error")}
    return collect(controller, {"run": "--self-test", **settings})
