"""Export the request log as HAR 1.2 (for browser dev tools and HAR viewers) and as CSV (for spreadsheets).

HAR (http://www.softwareishard.com/blog/har-12-spec/) fixes the fields every viewer expects; what it has no field
for — upstream vs player, cache hit, fetch reason — goes into underscore-prefixed custom fields, as the spec
allows. Timings: ``wait`` is the time to first byte and ``receive`` the rest; ``send`` is not measured (0).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from http import HTTPStatus

from player.panel.request_log import PLAYER, LogEntry

HAR_VERSION = "1.2"
CSV_COLUMNS = (
    "kind",
    "id",
    "started",
    "method",
    "url",
    "range",
    "status",
    "bytes",
    "ttfb_ms",
    "duration_ms",
    "cache",
    "source",
    "error",
)


def to_har(entries: list[LogEntry], creator_version: str, source_label=lambda name: name) -> dict:
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "PiecePlayer", "version": creator_version},
            "entries": [_har_entry(entry, source_label) for entry in entries],
        }
    }


def _har_entry(entry: LogEntry, source_label) -> dict:
    total_ms = entry.elapsed() * 1000.0
    wait_ms = entry.ttfb * 1000.0 if entry.ttfb is not None else total_ms
    receive_ms = max(0.0, total_ms - wait_ms)
    request_headers = []
    if entry.kind == PLAYER and entry.range_asked:
        request_headers.append({"name": "Range", "value": entry.range_asked})
    elif entry.kind != PLAYER and entry.range_asked:
        request_headers.append({"name": "Range", "value": f"bytes={entry.range_asked}"})
    response_headers = []
    if entry.content_type:
        response_headers.append({"name": "Content-Type", "value": entry.content_type})
    if entry.status == 206 and len(entry.answered) == 1:
        start, end = entry.answered[0]
        total = entry.size if entry.size is not None else "*"
        response_headers.append({"name": "Content-Range", "value": f"bytes {start}-{end}/{total}"})
    status = entry.status or 0
    return {
        "startedDateTime": datetime.fromtimestamp(entry.started, UTC).isoformat(timespec="milliseconds"),
        "time": round(wait_ms + receive_ms, 3),
        "request": {
            "method": entry.method,
            "url": entry.url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": request_headers,
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": _status_text(status),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": response_headers,
            "content": {"size": entry.bytes, "mimeType": entry.content_type or "application/octet-stream"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": entry.bytes,
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(wait_ms, 3), "receive": round(receive_ms, 3)},
        "_kind": entry.kind,
        "_id": entry.ident,
        "_source": source_label(entry.source) if entry.kind != PLAYER else entry.source,
        "_cache": entry.cache_text(),
        "_complete": entry.done,
        "_error": entry.error,
    }


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def to_csv(entries: list[LogEntry], origin: float, source_label=lambda name: name) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.kind,
                e.ident,
                f"{e.started - origin:.3f}",
                e.method,
                e.url,
                e.range_text(),
                e.status or "",
                e.bytes,
                f"{e.ttfb * 1000:.1f}" if e.ttfb is not None else "",
                f"{e.elapsed() * 1000:.1f}",
                e.cache_text(),
                source_label(e.source) if e.kind != PLAYER else "",
                e.error or "",
            ]
        )
    return out.getvalue()
