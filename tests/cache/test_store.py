"""The SQLite piece records, unit by unit: what is put is what is read back, across a reopen, and a database that
cannot be written is a problem in words and an empty answer — never an exception into the request path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from proxy.store import PieceRecord, PieceStore


def test_a_record_reads_back_as_put_with_its_access_time_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "pieces.sqlite3"
    store = PieceStore(path)
    put = store.put(
        PieceRecord("k1", "bafk-1", size=1234, content_type="video/mp4", source="FilBeam", etags={"FilBeam": '"e1"'})
    )
    assert put.last_access > 0
    assert store.get("k1") == put
    assert store.get("unknown") is None
    store.close()
    reopened = PieceStore(path)
    assert reopened.get("k1") == put
    reopened.close()


def test_recent_lists_the_last_used_first_and_forget_all_empties_it(tmp_path: Path) -> None:
    store = PieceStore(":memory:")
    for key in ("a", "b", "c"):
        store.put(PieceRecord(key, f"cid-{key}"))
    store.put(PieceRecord("a", "cid-a", verified=True))  # used again: now the most recent
    assert [r.key for r in store.recent()] == ["a", "c", "b"]
    assert store.get("a").verified is True and store.get("b").verified is None
    store.forget_all()
    assert store.recent() == []


def test_chunk_roots_are_kept_per_height_and_forgotten_by_chunk_or_all_of_a_piece() -> None:
    store = PieceStore(":memory:")
    for chunk in range(3):
        store.put_chunk_root("k", 10, chunk, bytes([chunk]) * 32)
    store.put_chunk_root("k", 11, 0, b"\xff" * 32)
    assert store.chunk_roots("k", 10) == {i: bytes([i]) * 32 for i in range(3)}
    store.forget_chunk_roots("k", 10, chunks=[1])
    assert sorted(store.chunk_roots("k", 10)) == [0, 2]
    assert store.chunk_roots("k", 11) == {0: b"\xff" * 32}
    store.forget_chunk_roots("k")
    assert store.chunk_roots("k", 10) == {} and store.chunk_roots("k", 11) == {}


def test_a_database_that_cannot_be_written_says_so_in_words_and_answers_empty(tmp_path: Path) -> None:
    path = tmp_path / "pieces.sqlite3"
    store = PieceStore(path)
    store.put(PieceRecord("k", "cid"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holds the database: every statement of ours fails
    try:
        store.put(PieceRecord("k2", "cid2"))  # no exception: the proxy plays on
        assert store.problem is not None and "cannot be used" in store.problem
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.get("k2") is None  # it was not written
    assert store.get("k") is not None and store.problem is None  # usable again, and the problem cleared
    store.close()


def test_opening_a_store_that_exists_starts_its_write_ahead_log_before_the_first_put(tmp_path: Path) -> None:
    """A process's first write starts SQLite's write-ahead log (5–19 ms on the bench machine, the others 0.2 ms):
    made when the store opens — the proxy's start — it is not paid inline on the loop at a warm re-open's first
    request. Measured here as what it leaves behind: the log holds a frame before anything is put."""
    path = tmp_path / "pieces.sqlite3"
    first = PieceStore(path)
    first.put(PieceRecord("k1", "bafk-1", size=1))
    first.close()  # the last connection checkpoints and removes the log
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    reopened = PieceStore(path)
    try:
        assert wal.exists() and wal.stat().st_size > 0
        assert reopened.get("k1") is not None and reopened.problem is None
    finally:
        reopened.close()
