"""What the proxy knows about each piece, kept across runs in SQLite.

Why: a piece played before must start without asking upstream anything — its size, content type and the
source that served it are here, so the first response headers go out straight from the disk cache. Also
recorded: the upstream ``ETag`` per source (a change means the upstream is serving something else: never mix
it), and whether the cached bytes were verified against the CommP root.

Also the CommP subtree roots of chunks already hashed (``proxy.verify``), so verification survives a restart.

One connection, used only on the proxy's loop thread (``check_same_thread`` stays on to catch misuse).
Calls are single-row and take microseconds once the first write is made (at open), so they run inline on the
loop. The store is a memory, not a gatekeeper: when SQLite fails (a full disk, a vanished folder) the error is
logged once and the proxy plays on with what it knows in memory.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
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
CREATE TABLE IF NOT EXISTS chunk_roots (
    key    TEXT NOT NULL,
    height INTEGER NOT NULL,
    chunk  INTEGER NOT NULL,
    root   BLOB NOT NULL,
    PRIMARY KEY (key, height, chunk)
);
"""
log = logging.getLogger(__name__)


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
    """Per-piece metadata in ``{cache_dir}/pieces.sqlite3`` (or ``":memory:"``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = path if path == ":memory:" else Path(path)
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        #: The last SQLite failure in words, or None while all is well.
        self.problem: str | None = None
        # The first write of a process costs 5–19 ms here (SQLite starts the write-ahead log), the others 0.2 ms.
        # Paid now, at the proxy's start, instead of inline on the loop at the first open, where it held the
        # player's second request of a warm moov-at-end open (and a cold open's first upstream request) that long.
        for (version,) in self._run("PRAGMA user_version"):
            self._run(f"PRAGMA user_version={int(version)}")

    def _run(self, sql: str, params: tuple | Iterable[tuple] = (), many: bool = False) -> list[tuple]:
        try:
            cursor = self._db.executemany(sql, params) if many else self._db.execute(sql, params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            message = f"the piece database cannot be used ({exc}); playing on without remembering"
            if message != self.problem:
                log.warning("%s", message)
            self.problem = message
            return []
        self.problem = None
        return rows

    def get(self, key: str) -> PieceRecord | None:
        rows = self._run(
            "SELECT key, cid, size, content_type, source, etags, verified, last_access FROM pieces WHERE key=?",
            (key,),
        )
        if not rows:
            return None
        row = rows[0]
        verified = None if row[6] is None else bool(row[6])
        return PieceRecord(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), verified, row[7])

    def put(self, record: PieceRecord) -> PieceRecord:
        record = replace(record, last_access=time.time())
        self._run(
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
        keys = self._run("SELECT key FROM pieces ORDER BY last_access DESC LIMIT ?", (limit,))
        return [r for (k,) in keys if (r := self.get(k)) is not None]

    def forget_all(self) -> None:
        self._run("DELETE FROM pieces")
        self._run("DELETE FROM chunk_roots")

    # --- CommP subtree roots of hashed chunks ----------------------------------------------------------------

    def chunk_roots(self, key: str, height: int) -> dict[int, bytes]:
        rows = self._run("SELECT chunk, root FROM chunk_roots WHERE key=? AND height=?", (key, height))
        return {chunk: root for chunk, root in rows}

    def put_chunk_root(self, key: str, height: int, chunk: int, root: bytes) -> None:
        self._run("INSERT OR REPLACE INTO chunk_roots VALUES (?, ?, ?, ?)", (key, height, chunk, root))

    def forget_chunk_roots(self, key: str, height: int | None = None, chunks: Iterable[int] = ()) -> None:
        """Forget some chunks' roots, or all of a piece's when no chunk is named."""
        chunks = list(chunks)
        if chunks:
            self._run(
                "DELETE FROM chunk_roots WHERE key=? AND height=? AND chunk=?",
                [(key, height, c) for c in chunks],
                many=True,
            )
        else:
            self._run("DELETE FROM chunk_roots WHERE key=?", (key,))

    def close(self) -> None:
        self._db.close()
