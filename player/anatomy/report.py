"""The shareable seek report: one self-contained HTML file, and the short text summary for the clipboard.

Why one HTML file: a bug report carries one attachment that any browser opens offline — charts inline as SVG,
the request log as a table, and the HAR (the format browser dev tools import) embedded as JSON in the page.
Pure Python: the window's "Save report…" and ``--self-test --report FILE`` both hand it the same facts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from html import escape

from player.anatomy import svg
from player.anatomy.recorder import ExplainedSeek
from player.anatomy.timeline import PHASES

_STYLE = """
body{background:#14161b;color:#d7dbe3;font:14px/1.45 'DejaVu Sans',Arial,sans-serif;margin:24px;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;color:#fff}
.muted{color:#8a93a6}.hint{background:#3a2f14;border-left:3px solid #f5a524;padding:6px 10px;margin:10px 0}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 8px;border-bottom:1px solid #2f3541;text-align:left}
th{color:#8a93a6;font-weight:normal}.seek{background:#1b1e25;border-radius:6px;padding:10px 12px;margin:10px 0}
.verdict{margin:4px 0 8px}code{color:#5cd0ff}
"""


@dataclass
class ReportFacts:
    """Everything the report shows, gathered by the player (``player/report_export.py``)."""

    title: str
    piece: str
    versions: dict[str, str]
    settings: dict[str, object]
    seeks: list[ExplainedSeek]
    hint: str | None = None
    #: Where the player read over time: (seconds since the open, byte offset, tier).
    reads: list[tuple[float, int, str]] = field(default_factory=list)
    size: int | None = None
    #: Wall-clock time of the open, the zero of every "at" in the report.
    origin: float = 0.0
    #: The request log as rows (dicts with the log's columns).
    requests: list[dict] = field(default_factory=list)
    har: dict | None = None
    created: float = field(default_factory=time.time)


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _seek_section(number: int, seek: ExplainedSeek, origin: float) -> str:
    timeline = seek.timeline
    what = "open (time to first frame)" if timeline.seek.kind == "open" else f"seek to {timeline.seek.target_s:.1f} s"
    totals = " · ".join(f"{phase} {timeline.total(phase):.0f} ms" for phase in PHASES)
    at = timeline.seek.started_at - origin
    return (
        f"<div class='seek'><b>#{number} {escape(what)}</b> <span class='muted'>at {at:.1f} s · "
        f"{timeline.seek.latency_ms:.0f} ms · requests {escape(', '.join(timeline.request_ranges) or 'none')}</span>"
        f"<div class='verdict'>{escape(seek.verdict)}</div>{svg.waterfall(seek)}"
        f"<div class='muted'>{escape(totals)}</div></div>"
    )


def render_html(facts: ReportFacts) -> str:
    """The whole report as one HTML document."""
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(facts.created))
    seek_starts = [s.timeline.seek.started_at - facts.origin for s in facts.seeks]
    har = json.dumps(facts.har or {}, separators=(",", ":")).replace("</", "<\\/")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>PiecePlayer seek report — {escape(facts.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Seek report — {escape(facts.title)}</h1>",
        f"<div class='muted'>piece <code>{escape(facts.piece)}</code> · made {created}</div>",
        f"<p>{escape(summary_text(facts, short=True))}</p>",
        f"<div class='hint'>{escape(facts.hint)}</div>" if facts.hint else "",
        "<h2>Seeks</h2>",
        svg.seek_chart(facts.seeks),
        *(_seek_section(n, s, facts.origin) for n, s in enumerate(facts.seeks)),
        "<h2>Byte map over time</h2><div class='muted'>where the player read in the piece; dashed: a seek</div>",
        svg.byte_map_over_time(facts.reads, facts.size, seek_starts),
        "<h2>Versions</h2>",
        _table([{"component": k, "version": v} for k, v in facts.versions.items()]),
        "<h2>Settings</h2>",
        _table([{"setting": k, "value": v} for k, v in facts.settings.items()]),
        f"<h2>Request log</h2><div class='muted'>{len(facts.requests)} requests; the HAR is embedded in this page "
        "(<code>&lt;script id='har'&gt;</code>) for browser dev tools</div>",
        _table(facts.requests),
        f"<script type='application/json' id='har'>{har}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def summary_text(facts: ReportFacts, short: bool = False) -> str:
    """The "stats for nerds" text: one line for the piece, one per seek with its verdict."""
    seeks = [s for s in facts.seeks if s.timeline.seek.kind == "seek"]
    opened = next((s for s in facts.seeks if s.timeline.seek.kind == "open"), None)
    latencies = sorted(s.timeline.seek.latency_ms for s in seeks)
    median = f"{latencies[len(latencies) // 2]:.0f} ms" if latencies else "—"
    cached = sum(1 for s in seeks if s.timeline.cached)
    head = (
        f"{facts.title}: first frame {opened.timeline.seek.latency_ms:.0f} ms, " if opened else f"{facts.title}: "
    ) + f"{len(seeks)} seeks, median {median}, {cached} of {len(seeks)} from cache"
    if short:
        return head
    lines = [
        f"PiecePlayer {facts.versions.get('PiecePlayer', '')} · Qt {facts.versions.get('Qt', '')}",
        f"piece {facts.piece}",
        head,
    ]
    if facts.hint:
        lines.append(facts.hint)
    for number, seek in enumerate(facts.seeks):
        what = "open" if seek.timeline.seek.kind == "open" else f"seek {seek.timeline.seek.target_s:.1f} s"
        lines.append(f"#{number} {what}: {seek.timeline.seek.latency_ms:.0f} ms — {seek.verdict}")
    return "\n".join(lines)
