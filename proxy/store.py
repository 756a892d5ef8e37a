"""What the proxy knows about each piece, kept across runs in SQLite.

Why: a piece played before must start without asking upstream anything — its size, content type and the
source that served it are here, so the first response headers go out straight from the disk cache. Also
recorded: the upstream ``ETag`` per source (a change means the upstream is serving something else: never mix
it), and whether the cached bytes were verified against the CommP root.

One connection, used only on the proxy's loop thread (``check_same_thread`` stays on to catch misuse).
Calls are single-row and take microseconds, so they run inline on the loop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pieces (
    key           TEXT PRIMARY KEY,   -- CommP root, hex: v1 and v2 spellings of one piece share a row
    cid           TEXT NOT NULL,      -- the best spelling known (v2 when the size is known)
    size          INTEGER,
    content_type  TEXT,
    source        TEXT,               -- name of the upstream that last served it
    etags         TEXT NOT NULL DEFAULT '{}',  -- JSON: source name -> ETag that source sent
    verified      INTEGER,            -- NULL: not checked; 1: CommP matched; 0: mismatch seen
    last_access   REAL NOT NULL
);
"""


@dataclass(frozen=True)
class PieceRecord:
    key: str
    cid: str
    size: int | None = None
    content_type: str | None = None
    source: str | None = None
    etags: dict[str, str] = field(default_factory=dict)
    verified: bool | None = None
    last_access: float = 0.0


class PieceStore:
    """Per-piece metadata in ``{cache_dir}/pieces.sqlite3``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def get(self, key: str) -> PieceRecord | None:
        row = self._db.execute(
            "SELECT key, cid, size, content_type, source, etags, verified, last_access FROM pieces WHERE key=?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        verified = None if row[6] is None else bool(row[6])
        return PieceRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), verified, row[7])

    def put(self, record: PieceRecord) -> PieceRecord:
        record = replace(record, last_access=time.time())
        self._db.execute(
            "INSERT OR REPLACE INTO pieces VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key,
                record.cid,
                record.size,
                record.content_type,
                record.source,
                json.dumps(record.etags, sort_keys=True),
                None if record.verified is None else int(record.verified),
                record.last_access,
            ),
        )
        return record

    def recent(self, limit: int = 50) -> list[PieceRecord]:
        keys = self._db.execute("SELECT key FROM pieces ORDER BY last_access DESC LIMIT ?", (limit,)).fetchall()
        return [r for (k,) in keys if (r := self.get(k)) is not None]

    def forget_all(self) -> None:
        self._db.execute("DELETE FROM pieces")

    def close(self) -> None:
        self._db.close()
