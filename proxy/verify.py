"""Check cached pieces against their CommP root, chunk by chunk, as the slices arrive.

Per-range verification is impossible today (no inclusion proofs from FilBeam or Curio — synapse-sdk#699), so the
proxy checks what it can: once every byte of a piece is cached, its piece commitment must equal the CID's root,
height and padding. A mismatch purges the piece from the cache (the next read refetches it) and is reported.

Why chunks: hashing a 1 GiB piece costs ~25 s of CPU in CPython. Doing it only at the end would mean reading the
whole piece back from disk and a long burst of work; instead each aligned chunk of ``127 · 2^15`` raw bytes
(≈ 1 MiB) is hashed into its subtree root soon after the slices covering it are cached — usually while they are
still in memory or the page cache — and the roots are kept in the piece store (SQLite), so the final check
combines a few thousand 32-byte roots.
A slice that leaves the disk cache (evicted, or rejected as damaged) drops the roots it contributed to.

Hashing runs in one worker *process* at low priority, one chunk at a time. A thread would not do: CommP is one
small SHA-256 call per tree node, so a hashing thread holds the GIL almost all the time and starves the proxy's
event loop (measured: a cold 1 GiB read fell from ~160 MB/s to the hashing speed, ~44 MB/s). In its own
process it only competes for a CPU core, and ``nice`` makes it give way to playback.

Hashing also waits while a player is opening or seeking (``hold``): those are the moments a person waits for a
frame, and starting the hashing process, reading a chunk back and handing it over cost the player's first frame
its milliseconds (measured on a warm re-open of a 1 GiB piece: first frames of 50–84 ms in 3 of 8 opens; with
hashing switched off, 24–32 ms in all 8).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from proxy.cid import PieceCid
from proxy.commp import DEFAULT_CHUNK_HEIGHT, CommP, chunk_raw_size, chunk_root, piece_cid_from_chunk_roots
from proxy.events import EventBus, PieceVerified
from proxy.store import PieceStore
from proxy.worker_init import init_hashing_worker

log = logging.getLogger(__name__)

#: Seconds without a new player request before hashing goes on (the first frame of an open or a seek comes well
#: within this, and the player's follow-up requests of an open — the tail, the start again — too).
QUIET_S = 1.0
#: The longest one chunk waits for quiet, so that a client that never stops asking still gets its piece checked.
MAX_HOLD_S = 5.0


@dataclass(frozen=True)
class PieceToVerify:
    key: str
    cid: PieceCid
    size: int


#: Bytes ``start … end`` (inclusive) of a piece from the cache, or None when some slice is not cached.
ReadCached = Callable[[str, int, int], bytes | None]
#: Which slices of a piece are cached.
CachedIndexes = Callable[[str], set[int]]


class PieceVerifier:
    """Verifies pieces whose every slice is cached; the cache tells it of slices stored and lost (its hooks)."""

    def __init__(
        self,
        store: PieceStore,
        bus: EventBus,
        slice_size: int,
        read_cached: ReadCached,
        cached_indexes: CachedIndexes,
        on_result: Callable[[str, bool], None],
        chunk_height: int = DEFAULT_CHUNK_HEIGHT,
        quiet_s: float = QUIET_S,
    ) -> None:
        self._store = store
        self.bus = bus
        self.slice_size = slice_size
        self.chunk_height = chunk_height
        self.chunk_size = chunk_raw_size(chunk_height)
        self._read = read_cached
        self._indexes = cached_indexes
        self._on_result = on_result
        #: Seconds hashing waits after a player's request starts (see ``hold``).
        self.quiet_s = quiet_s
        self._resume_at = 0.0
        self._pieces: dict[str, PieceToVerify] = {}
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._queued: set[tuple[str, int]] = set()
        self._worker: asyncio.Task | None = None
        #: CPU seconds spent hashing each piece so far (the throughput the verification reports).
        self._seconds: dict[str, float] = {}

    def track(self, piece: PieceToVerify) -> None:
        """Start following a piece (its size is known); chunks already cached are queued."""
        if piece.key in self._pieces:
            return
        self._pieces[piece.key] = piece
        for chunk in self._chunks_ready(piece, self._indexes(piece.key)):
            self._enqueue(piece.key, chunk)
        self._maybe_finish(piece)

    def hold(self) -> None:
        """A player has just asked for bytes (an open, a seek): no hashing for the next ``quiet_s`` seconds.

        A steady stream of requests cannot starve verification: each chunk waits at most ``MAX_HOLD_S``.
        """
        self._resume_at = asyncio.get_running_loop().time() + self.quiet_s

    async def _quiet(self) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + MAX_HOLD_S
        while True:  # a hold moves the resume time on while this sleeps: look again after each sleep
            wait = min(self._resume_at, give_up) - loop.time()
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    # --- the cache's hooks (wired in ``proxy/server.py``) -------------------------------------------------------

    def slice_stored(self, key: str, index: int) -> None:
        """A slice became complete in memory: hash the chunks it completes."""
        piece = self._pieces.get(key)
        if piece is not None:
            for chunk in self._chunks_of_slice(piece, index):
                if self._chunk_covered(piece, chunk, self._indexes(piece.key)):
                    self._enqueue(piece.key, chunk)

    def slice_lost(self, key: str, index: int) -> None:
        """A slice left the disk: the chunk roots learnt from it are no longer backed by cached bytes."""
        piece = self._pieces.get(key)
        if piece is not None:
            chunks = self._chunks_of_slice(piece, index)
            self._store.forget_chunk_roots(piece.key, self.chunk_height, chunks)

    # --- chunk geometry ----------------------------------------------------------------------------------------

    def _chunk_count(self, piece: PieceToVerify) -> int:
        return max(1, -(-piece.size // self.chunk_size))

    def _chunk_span(self, piece: PieceToVerify, chunk: int) -> tuple[int, int]:
        if piece.size < self.chunk_size:
            return 0, piece.size - 1
        start = chunk * self.chunk_size
        return start, min(piece.size, start + self.chunk_size) - 1

    def _chunks_of_slice(self, piece: PieceToVerify, index: int) -> range:
        if piece.size < self.chunk_size:
            return range(0, 1)
        first_byte = index * self.slice_size
        last_byte = min(piece.size, first_byte + self.slice_size) - 1
        return range(first_byte // self.chunk_size, last_byte // self.chunk_size + 1)

    def _chunk_covered(self, piece: PieceToVerify, chunk: int, cached: set[int]) -> bool:
        start, end = self._chunk_span(piece, chunk)
        return all(i in cached for i in range(start // self.slice_size, end // self.slice_size + 1))

    def _chunks_ready(self, piece: PieceToVerify, cached: set[int]) -> list[int]:
        """Chunks whose slices are all cached and whose roots are not known: only chunks that touch a cached
        slice are looked at (scanning all of a 1 GiB piece's 1000 chunks cost 2 ms on a warm re-open)."""
        known = self._known_roots(piece.key)
        touched = {chunk for index in cached for chunk in self._chunks_of_slice(piece, index)}
        return sorted(c for c in touched if c not in known and self._chunk_covered(piece, c, cached))

    def _known_roots(self, key: str) -> dict[int, bytes]:
        return self._store.chunk_roots(key, self.chunk_height)

    # --- work --------------------------------------------------------------------------------------------------

    def _enqueue(self, key: str, chunk: int) -> None:
        if (key, chunk) in self._queued:
            return
        self._queued.add((key, chunk))
        self._queue.put_nowait((key, chunk))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while not self._queue.empty():
            await self._quiet()
            key, chunk = self._queue.get_nowait()
            self._queued.discard((key, chunk))
            piece = self._pieces.get(key)
            if piece is None:
                continue
            start, end = self._chunk_span(piece, chunk)
            data = self._read(key, start, end)
            if data is None:
                continue  # a slice left the cache meanwhile; it is queued again when it returns
            started = time.perf_counter()
            if piece.size < self.chunk_size:
                root = await _hash(_small_piece_root, data)
            else:
                root = await _hash(chunk_root, data, self.chunk_height)
            self._seconds[key] = self._seconds.get(key, 0.0) + time.perf_counter() - started
            self._store.put_chunk_root(key, self.chunk_height, chunk, root)
            self._maybe_finish(piece)

    def _maybe_finish(self, piece: PieceToVerify) -> None:
        roots = self._known_roots(piece.key)
        if len(roots) < self._chunk_count(piece):
            return
        started = time.perf_counter()
        if piece.size < self.chunk_size:
            expected_root = roots[0]
        else:
            expected_root = piece_cid_from_chunk_roots(
                [roots[c] for c in range(self._chunk_count(piece))], piece.size, self.chunk_height
            ).root
        ok = expected_root == piece.cid.root
        self._store.forget_chunk_roots(piece.key)
        del self._pieces[piece.key]
        if not ok:
            log.warning("piece %s failed CommP verification: its cached bytes are purged", piece.cid)
        self._on_result(piece.key, ok)
        self.bus.publish(
            PieceVerified(
                piece=piece.key,
                ok=ok,
                seconds=self._seconds.pop(piece.key, 0.0) + time.perf_counter() - started,
                bytes_hashed=piece.size,
            )
        )


_pool: ProcessPoolExecutor | None = None


def _hashing_pool() -> ProcessPoolExecutor:
    """One hashing process for the whole program, started on first use ("spawn": safe beside Qt's threads)."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_hashing_worker,
            initargs=(os.getpid(),),
        )
    return _pool


async def _hash(function: Callable[..., bytes], *args: object) -> bytes:
    """Run one hashing job in the worker process; a worker that died (killed, crashed) is replaced once."""
    global _pool
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_hashing_pool(), function, *args)
    except BrokenProcessPool:
        log.warning("the hashing process died; starting a new one")
        _pool = None
        return await loop.run_in_executor(_hashing_pool(), function, *args)


def _small_piece_root(data: bytes) -> bytes:
    hasher = CommP()
    hasher.update(data)
    return hasher.piece_cid().root
