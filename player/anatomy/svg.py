"""The report's charts as inline SVG text: a seek's waterfall, the seek chart, and the byte map over time.

SVG written by hand rather than rendered images: the report stays one small self-contained file that any browser
opens, and its text (phase names, values) stays selectable and searchable.
"""

from __future__ import annotations

from html import escape

from player.anatomy.recorder import ExplainedSeek
from player.anatomy.timeline import PHASE_COLOURS, PHASES

TEXT, MUTED, GRID = "#d7dbe3", "#8a93a6", "#2f3541"
TIER_COLOURS = {"memory": "#5cd0ff", "disk": "#2f7fd8", "upstream": "#f5a524", "inflight": "#f5a524"}
FONT = "font-family='DejaVu Sans, Arial, sans-serif' font-size='11'"


def _svg(width: int, height: int, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"{FONT}>" + "".join(body) + "</svg>"
    )


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' fill='{MUTED}' text-anchor='{anchor}'>{escape(text)}</text>"


def waterfall(seek: ExplainedSeek, width: int = 640) -> str:
    """One bar per span, each starting where the previous ended: the phases, named and sized."""
    spans = seek.timeline.spans
    total = max(seek.timeline.seek.latency_ms, 1.0)
    label_w, row_h = 150, 18
    scale = (width - label_w - 70) / total
    body = []
    for row, span in enumerate(spans):
        y = 4 + row * row_h
        x = label_w + span.start_ms * scale
        w = max(1.5, span.duration_ms * scale)
        body.append(f"<text x='0' y='{y + 12}' fill='{TEXT}'>{escape(span.phase)}</text>")
        body.append(
            f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{row_h - 4}' rx='2' fill='{PHASE_COLOURS[span.phase]}'>"
            f"<title>{escape(span.note)}</title></rect>"
        )
        body.append(f"<text x='{x + w + 4:.1f}' y='{y + 12}' fill='{MUTED}'>{span.duration_ms:.0f} ms</text>")
    height = 8 + max(1, len(spans)) * row_h
    return _svg(width, height, body)


def seek_chart(seeks: list[ExplainedSeek], width: int = 640, height: int = 200) -> str:
    """Latency per seek, each point coloured by its dominant phase, with the legend."""
    left, bottom, top = 46, 24, 10
    highest = max((s.timeline.seek.latency_ms for s in seeks), default=50.0) * 1.15 or 50.0
    step = (width - left - 10) / max(len(seeks), 5)
    body = [f"<line x1='{left}' y1='{height - bottom}' x2='{width}' y2='{height - bottom}' stroke='{GRID}'/>"]
    for fraction in (0.0, 0.5, 1.0):
        y = height - bottom - fraction * (height - bottom - top)
        body.append(
            f"<text x='{left - 4}' y='{y + 4:.1f}' fill='{MUTED}' text-anchor='end'>{highest * fraction:.0f}</text>"
        )
    for number, seek in enumerate(seeks):
        x = left + step * (number + 0.5)
        y = height - bottom - seek.timeline.seek.latency_ms / highest * (height - bottom - top)
        colour = PHASE_COLOURS[seek.timeline.dominant]
        shape = "rect" if seek.timeline.seek.kind == "open" else "circle"
        if shape == "rect":
            body.append(f"<rect x='{x - 5:.1f}' y='{y - 5:.1f}' width='10' height='10' fill='{colour}'>")
        else:
            body.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='5.5' fill='{colour}'>")
        body.append(f"<title>#{number}: {escape(seek.verdict)}</title></{shape}>")
        body.append(f"<text x='{x:.1f}' y='{height - 8}' fill='{MUTED}' text-anchor='middle'>{number}</text>")
    body.append(f"<text x='{left - 4}' y='{height - bottom + 14}' fill='{MUTED}' text-anchor='end'>ms</text>")
    x = left + 30
    for phase in PHASES:
        body.append(f"<circle cx='{x}' cy='8' r='4' fill='{PHASE_COLOURS[phase]}'/>")
        body.append(f"<text x='{x + 7}' y='12' fill='{TEXT}'>{escape(phase)}</text>")
        x += 24 + 7 * len(phase)
    return _svg(width, height, body)


def byte_map_over_time(
    reads: list[tuple[float, int, str]], size: int | None, seek_times: list[float], width: int = 640, height: int = 220
) -> str:
    """Where the player read (byte offset, up) over time (right), coloured by where the bytes came from.

    ``reads`` are (seconds since the open, byte offset, tier); ``seek_times`` are drawn as dashed lines.
    """
    left, bottom, top = 50, 22, 8
    last = max((t for t, _, _ in reads), default=1.0) or 1.0
    highest = size or max((b for _, b, _ in reads), default=1) or 1
    plot_w, plot_h = width - left - 10, height - bottom - top
    body = [f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' stroke='{GRID}'/>"]
    for at in seek_times:
        x = left + at / last * plot_w
        dashed = f"stroke='{MUTED}' stroke-dasharray='3,3'"
        body.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{height - bottom}' {dashed}/>")
    for at, byte, tier in reads:
        x, y = left + at / last * plot_w, height - bottom - byte / highest * plot_h
        body.append(
            f"<rect x='{x - 1.5:.1f}' y='{y - 1.5:.1f}' width='3' height='3' fill='{TIER_COLOURS.get(tier, TEXT)}'/>"
        )
    body.append(
        f"<text x='{left - 4}' y='{top + 10}' fill='{MUTED}' text-anchor='end'>{highest / 2**20:.1f} MiB</text>"
    )
    body.append(f"<text x='{left - 4}' y='{height - bottom}' fill='{MUTED}' text-anchor='end'>0</text>")
    body.append(f"<text x='{width - 10}' y='{height - 6}' fill='{MUTED}' text-anchor='end'>{last:.1f} s</text>")
    x = left + 60
    for tier in ("memory", "disk", "upstream"):
        body.append(f"<rect x='{x}' y='{height - 14}' width='8' height='8' fill='{TIER_COLOURS[tier]}'/>")
        body.append(f"<text x='{x + 11}' y='{height - 6}' fill='{TEXT}'>{tier}</text>")
        x += 80
    return _svg(width, height, body)
