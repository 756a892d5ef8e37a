"""The request log: every player→proxy request and proxy→upstream fetch, as a table model.

Rows are built from proxy events only. Player requests show what the player asked for (its ``Range``), what the
proxy answered, and whether the bytes came from the cache; upstream rows show each fetch attempt, its source, why
it ran (read, read-ahead, resume) and how it ended. The waterfall column places each row on the session's time
line (drawn by ``request_view.WaterfallDelegate``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from player.panel import palette
from player.units import format_bytes, format_duration, format_offset
from proxy.events import (
    Event,
    RequestFinished,
    RequestHeaders,
    RequestProgress,
    RequestStarted,
    SliceRead,
    UpstreamFinished,
    UpstreamResponse,
    UpstreamRetry,
    UpstreamStarted,
)

PLAYER = "player"
UPSTREAM = "upstream"
#: Custom data roles.
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
#: Older rows are dropped beyond this many, so a long session stays light.
MAX_ROWS = 5000
_HIT_TIERS = ("memory", "disk")
_Index = QModelIndex | QPersistentModelIndex


@dataclass(eq=False)
class LogEntry:
    kind: str  # PLAYER or UPSTREAM
    ident: int  # request id, or fetch id
    started: float  # wall clock, seconds
    method: str = "GET"
    url: str = ""
    range_asked: str | None = None
    status: int | None = None
    answered: tuple[tuple[int, int], ...] = ()
    size: int | None = None
    content_type: str | None = None
    bytes: int = 0
    ttfb: float | None = None
    duration: float | None = None
    source: str = ""
    reason: str = ""
    outcome: str = ""
    error: str | None = None
    attempt: int = 1
    tiers: set[str] = field(default_factory=set)
    from_cache: int = 0
    from_upstream: int = 0
    done: bool = False

    def elapsed(self, now: float | None = None) -> float:
        """Duration when done, else time so far."""
        if self.duration is not None:
            return self.duration
        return max(0.0, (now or time.time()) - self.started)

    def cache_text(self) -> str:
        if self.kind == UPSTREAM:
            return " · ".join(p for p in (self.reason, self.outcome) if p)
        if (self.status or 0) >= 400:
            return ""  # an error answer carries no piece bytes
        if self.done and (self.from_cache or self.from_upstream):
            if not self.from_upstream:
                return "hit"
            if not self.from_cache:
                return "miss"
            return f"{self.from_cache / (self.from_cache + self.from_upstream):.0%} hit"
        if not self.tiers:
            return ""
        if self.tiers <= set(_HIT_TIERS):
            return "hit"
        return "miss" if not self.tiers & set(_HIT_TIERS) else "partial"

    def range_text(self) -> str:
        if self.kind == UPSTREAM:
            return self.range_asked or ""
        return (self.range_asked or "(none)").removeprefix("bytes=")


COLUMNS = ("#", "At", "Who", "Range", "Status", "Bytes", "TTFB", "Time", "Cache", "Waterfall")
WATERFALL_COLUMN = COLUMNS.index("Waterfall")
_TOOLTIPS = {
    "#": "Request id (player) or fetch id (upstream)",
    "At": "Seconds after the piece was opened",
    "Who": "player: QMediaPlayer → proxy (GET unless shown).  Otherwise: proxy → that upstream",
    "Range": "Player: the Range header it sent.  Upstream: the bytes asked for",
    "Status": "HTTP status of the answer (… while waiting)",
    "Bytes": "Body bytes sent (player) or received (upstream)",
    "TTFB": "Time to first byte",
    "Time": "Total time (still running when it grows)",
    "Cache": "Player: were the bytes in the slice cache?  Upstream: why it was fetched, and how it ended",
    "Waterfall": "When each request ran on the session's time line; the darker part is waiting for the first byte",
}


class RequestLogModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries: list[LogEntry] = []
        self.origin = time.time()
        self.base_url = ""
        self.token = ""
        self.source_label: Callable[[str], str] = lambda name: name
        self.highlighted: set[tuple[str, int]] = set()
        self._player_rows: dict[int, LogEntry] = {}
        self._fetch_rows: dict[int, LogEntry] = {}
        self._row_of: dict[int, int] = {}

    # --- model API -----------------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if COLUMNS[section] == "Waterfall" else COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _TOOLTIPS[COLUMNS[section]]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.entries):
            return None
        entry = self.entries[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == ENTRY_ROLE:
            return entry
        if role == SORT_ROLE:
            return self._sort_key(entry, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if (entry.error and entry.error != "client disconnected") or (entry.status or 0) >= 400:
                return QBrush(palette.ERROR)
            if entry.kind == UPSTREAM:
                return QBrush(palette.FETCHING)
            return None
        if role == Qt.ItemDataRole.BackgroundRole and (entry.kind, entry.ident) in self.highlighted:
            return QBrush(palette.HIGHLIGHT)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("#", "At", "Status", "Bytes", "TTFB", "Time"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(entry)
        return None

    def _display(self, entry: LogEntry, column: str) -> str:
        if column == "#":
            return str(entry.ident)
        if column == "At":
            return format_offset(entry.started - self.origin)
        if column == "Who":
            who = PLAYER if entry.kind == PLAYER else self.source_label(entry.source)
            return who if entry.method == "GET" else f"{who} {entry.method}"
        if column == "Range":
            return entry.range_text()
        if column == "Status":
            return str(entry.status) if entry.status else ("…" if not entry.done else "—")
        if column == "Bytes":
            if not entry.done:  # the proxy reports bytes as slices are crossed and in full at the end
                return f"{format_bytes(entry.bytes)}+" if entry.bytes else "…"
            return format_bytes(entry.bytes)
        if column == "TTFB":
            return format_duration(entry.ttfb)
        if column == "Time":
            return format_duration(entry.elapsed()) + ("" if entry.done else "…")
        if column == "Cache":
            return entry.cache_text()
        return ""

    def _sort_key(self, entry: LogEntry, column: str) -> object:
        numeric = {
            "#": entry.ident,
            "At": entry.started,
            "Status": entry.status or 0,
            "Bytes": entry.bytes,
            "TTFB": entry.ttfb if entry.ttfb is not None else -1.0,
            "Time": entry.elapsed(),
            "Waterfall": entry.started,
        }
        return numeric.get(column, self._display(entry, column))

    def _tooltip(self, entry: LogEntry) -> str:
        lines = [
            f"{entry.method} {entry.url}",
            f"started {entry.started - self.origin:.3f} s after the piece was opened",
        ]
        if entry.kind == UPSTREAM:
            lines.append(f"source: {entry.source} · attempt {entry.attempt}")
        if entry.content_type:
            lines.append(f"type: {entry.content_type}")
        if entry.error:
            lines.append(f"error: {entry.error}")
        return "\n".join(lines)

    # --- session -------------------------------------------------------------------------------------------

    def reset(self, base_url: str = "", token: str = "") -> None:
        """Start a new session (a piece was opened): forget rows, restart the time line."""
        self.beginResetModel()
        self.entries.clear()
        self._player_rows.clear()
        self._fetch_rows.clear()
        self._row_of.clear()
        self.highlighted.clear()
        self.origin = time.time()
        self.base_url, self.token = base_url, token
        self.endResetModel()

    def highlight(self, keys: set[tuple[str, int]]) -> list[int]:
        """Mark rows (``(kind, ident)``) and return their row numbers."""
        self.highlighted = set(keys)
        if self.entries:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.entries) - 1, len(COLUMNS) - 1))
        return [row for row, e in enumerate(self.entries) if (e.kind, e.ident) in keys]

    def span(self) -> tuple[float, float]:
        """The time line the waterfall draws: from the session start to the latest end (or now)."""
        now = time.time()
        end = max((e.started + e.elapsed(now) for e in self.entries), default=now)
        return self.origin, max(end, self.origin + 0.001)

    def tick(self) -> None:
        """Redraw rows still running (their time and waterfall bar grow)."""
        running = [self._row_of[id(e)] for e in self.entries if not e.done]
        if running:  # the time line grows with them, so every bar rescales
            self.dataChanged.emit(self.index(0, WATERFALL_COLUMN), self.index(len(self.entries) - 1, WATERFALL_COLUMN))
            self.dataChanged.emit(self.index(min(running), 0), self.index(max(running), len(COLUMNS) - 1))

    # --- events --------------------------------------------------------------------------------------------

    def apply(self, events: list[Event]) -> None:
        new: list[LogEntry] = []
        changed: set[int] = set()
        for event in events:
            entry = self._apply(event, new)
            if entry is not None and id(entry) in self._row_of:
                changed.add(self._row_of[id(entry)])
        if new:
            first = len(self.entries)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for entry in new:
                self._row_of[id(entry)] = len(self.entries)
                self.entries.append(entry)
            self.endInsertRows()
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))
        if len(self.entries) > MAX_ROWS:
            self._trim()

    def _apply(self, event: Event, new: list[LogEntry]) -> LogEntry | None:
        if isinstance(event, RequestStarted):
            entry = LogEntry(
                PLAYER,
                event.request_id,
                event.at,
                method=event.method,
                url=self._player_url(event.path),
                range_asked=event.range_header,
                source=event.client,
            )
            self._player_rows[event.request_id] = entry
            new.append(entry)
            return entry
        if isinstance(event, UpstreamStarted):
            entry = LogEntry(
                UPSTREAM,
                event.fetch_id,
                event.at,
                url=event.url,
                range_asked=f"{event.start}-{event.end}",
                source=event.source,
                reason=event.reason,
                attempt=event.attempt,
            )
            self._fetch_rows[event.fetch_id] = entry
            new.append(entry)
            return entry
        if isinstance(event, RequestHeaders | RequestProgress | RequestFinished | SliceRead):
            player = self._player_rows.get(event.request_id or 0)
            if player is not None:
                _update_player(player, event)
            return player
        if isinstance(event, UpstreamResponse | UpstreamFinished | UpstreamRetry):
            fetch = self._fetch_rows.get(event.fetch_id)
            if fetch is not None:
                _update_fetch(fetch, event)
            return fetch
        return None

    def _player_url(self, path: str) -> str:
        """The request's URL with this run's access token replaced, so an export can be shared."""
        if self.token:
            path = path.replace(f"/{self.token}/", "/_token_/", 1)
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}{path}" if parts.netloc else path

    def _trim(self) -> None:
        self.beginResetModel()
        drop = len(self.entries) - MAX_ROWS + MAX_ROWS // 5
        for entry in self.entries[:drop]:
            rows = self._player_rows if entry.kind == PLAYER else self._fetch_rows
            if rows.get(entry.ident) is entry:
                del rows[entry.ident]
        del self.entries[:drop]
        self._row_of = {id(e): row for row, e in enumerate(self.entries)}
        self.endResetModel()


def _update_player(entry: LogEntry, event: Event) -> None:
    if isinstance(event, RequestHeaders):
        entry.status = event.status
        entry.answered = event.ranges
        entry.size = event.size
        entry.content_type = event.content_type
        if entry.ttfb is None:
            entry.ttfb = max(0.0, event.at - entry.started)
    elif isinstance(event, RequestProgress) and entry.answered:
        entry.bytes = max(entry.bytes, event.position - entry.answered[0][0])
    elif isinstance(event, SliceRead):
        entry.tiers.add(event.tier)
    elif isinstance(event, RequestFinished):
        entry.status = event.status or entry.status
        entry.bytes = event.bytes_sent
        entry.ttfb = event.ttfb if event.ttfb is not None else entry.ttfb
        entry.duration = event.duration
        entry.from_cache, entry.from_upstream = event.bytes_from_cache, event.bytes_from_upstream
        entry.error = event.error
        entry.done = True


def _update_fetch(entry: LogEntry, event: Event) -> None:
    if isinstance(event, UpstreamResponse):
        entry.status = event.status
        entry.ttfb = event.ttfb
        entry.answered = ((event.body_start, event.body_end),)
    elif isinstance(event, UpstreamRetry):
        entry.error = event.error
        if not entry.done:  # a broken body: this attempt ends here, the resumed one gets its own row
            entry.done = True
            entry.outcome = "resumed"
            entry.duration = max(0.0, event.at - entry.started)
    elif isinstance(event, UpstreamFinished):
        entry.bytes = event.bytes_received
        entry.duration = event.duration
        entry.outcome = event.outcome
        entry.status = event.status or entry.status
        entry.error = event.error or entry.error
        entry.done = True
