"""Slices on disk: atomic writes, a checksum in every file name, a byte cap with least-recently-used eviction.

Layout: ``{root}/{slice_size}/{piece key}/{index:08d}.{crc32:08x}``. Why each part:

* the slice size is in the path, so changing it in the settings never mixes slices of two sizes;
* a slice is written to a temporary file and renamed into place, so a crash mid-write leaves only a ``.tmp``
  file (swept at start-up), never a short slice under a real name;
* the CRC-32 of the bytes is in the name, and a slice file is checked (length and CRC) before any byte of it is
  served: a torn, truncated or bit-flipped slice is deleted and fetched again, never sent to a player.

Readers take a slice in blocks of :data:`BLOCK` (``read_range``), so a player holds at most one block in the
proxy's memory, never a whole slice: with many viewers, whole-slice reads were the largest cost in RSS after the
memory tier itself. The check then runs once per file and boot (``slice_checks``): a file's identity and times
(``stat``) are remembered once its CRC matched — or as this run wrote it, from the bytes whose CRC names it — and
any later change to the file (a rewrite, a truncation) makes it checked again before the next block is served.

Reads are small (from the page cache) and run inline on the proxy's loop. Writes do not: measured
here, a burst of 1 MiB writes took ~3 ms each once the page cache pushed back, which stalled every stream on the
loop, so each write goes to one writer thread (in order) while the slice stays readable from memory. A failing
disk (full, read-only, vanished) turns into a :class:`CacheProblem` event and the store stops writing for a
while — the proxy keeps serving from memory and upstream, it never fails a request because the cache cannot keep
a copy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from proxy.events import CacheProblem, EventBus, SliceEvicted, SliceRejected, SliceStored
from proxy.slice_checks import SliceChecks, boot_id, stamp_of
from proxy.slice_file import SliceFile

log = logging.getLogger(__name__)
_TMP_SUFFIX = ".tmp"
#: A reader's unit of disk reads: what one player connection holds of a cached slice at a time.
BLOCK = 128 * 1024
#: After a write error, wait this long before trying the disk again (it may have been freed).
_WRITE_RETRY_SECONDS = 30.0


class DiskSliceStore:
    """Slices of one slice size under ``root``, at most ``cap`` bytes in all."""

    def __init__(
        self,
        root: Path | str,
        slice_size: int,
        cap: int,
        bus: EventBus,
        max_backlog: int,
        on_lost: Callable[[str, int], None] | None = None,
    ) -> None:
        self.root = Path(root) / str(slice_size)
        self.slice_size = slice_size
        self.cap = cap
        self.bus = bus
        #: Called with (piece key, index) when a slice leaves the disk, evicted or rejected (before the event).
        self._on_lost = on_lost or (lambda key, index: None)
        self.used = 0
        #: (piece key, index) → (crc, length), least recently used first.
        self._lru: OrderedDict[tuple[str, int], tuple[int, int]] = OrderedDict()
        self._by_piece: dict[str, set[int]] = {}
        self._writes_blocked_until = 0.0
        self.problem: str | None = None
        #: Slices handed to the writer thread and not yet on disk: readable from here meanwhile.
        self._pending: dict[tuple[str, int], bytes | bytearray] = {}
        #: Bytes in ``_pending``: memory the proxy holds until the disk takes it (see :meth:`drained`).
        self.backlog = 0
        #: Above this backlog a slice is not queued for the disk (it stays in the memory tier only).
        self.max_backlog = max_backlog
        self._landed = asyncio.Event()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pieceplayer-disk")
        self._writes: set[asyncio.Future] = set()
        #: Bumped when a piece is purged, so a write that was already under way is discarded when it lands.
        self._generation: dict[str, int] = {}
        #: Which files passed their check, in this run or an earlier one of this boot (``slice_checks``).
        self.checks = SliceChecks(self.root, boot_id())
        self._scan()

    # --- index ---------------------------------------------------------------------------------------------

    def _scan(self) -> None:
        """Index what a previous run left, oldest first; sweep temporary files of interrupted writes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            found: list[tuple[float, str, int, int, int]] = []
            for piece_dir in self.root.iterdir():
                if not piece_dir.is_dir():
                    continue
                for entry in os.scandir(piece_dir):
                    if entry.name.endswith(_TMP_SUFFIX):
                        _unlink(Path(entry.path))
                        continue
                    parsed = _parse_name(entry.name)
                    if parsed is None:
                        continue
                    stat = entry.stat()
                    found.append((stat.st_mtime, piece_dir.name, parsed[0], parsed[1], stat.st_size))
        except OSError as exc:
            self._report(f"the cache folder {self.root} cannot be read: {exc.strerror or exc}")
            return
        for _, key, index, crc, length in sorted(found):
            self._remember(key, index, crc, length)
        self._evict_to(self.cap)

    def _remember(self, key: str, index: int, crc: int, length: int) -> None:
        old = self._lru.pop((key, index), None)
        if old is not None:
            self.used -= old[1]
        self._lru[(key, index)] = (crc, length)
        self._by_piece.setdefault(key, set()).add(index)
        self.used += length

    def _forget(self, key: str, index: int) -> tuple[int, int] | None:
        entry = self._lru.pop((key, index), None)
        if entry is None:
            return None
        self.used -= entry[1]
        self.checks.forget((key, index))
        indexes = self._by_piece.get(key)
        if indexes is not None:
            indexes.discard(index)
            if not indexes:
                del self._by_piece[key]
        return entry

    def has(self, key: str, index: int) -> bool:
        return (key, index) in self._lru or (key, index) in self._pending

    def indexes(self, key: str) -> set[int]:
        pending = {i for (k, i) in self._pending if k == key}
        return set(self._by_piece.get(key, ())) | pending

    def _path(self, key: str, index: int, crc: int) -> Path:
        return self.root / key / f"{index:08d}.{crc:08x}"

    # --- read / write --------------------------------------------------------------------------------------

    def read(self, key: str, index: int, expected_length: int) -> bytes | None:
        """The whole slice if present and intact; a damaged slice is deleted and reported, and None returned."""
        return self.read_range(key, index, expected_length, 0, expected_length)

    def read_range(self, key: str, index: int, expected_length: int, start: int, stop: int) -> bytes | None:
        """Bytes ``start … stop-1`` of a slice of ``expected_length`` bytes, checked, or None if it is not here.

        The result is a copy: it never keeps a slice alive in memory after the caller is done with it.
        """
        pending = self._pending.get((key, index))
        if pending is not None:
            return bytes(memoryview(pending)[start:stop])
        opened = self._open_checked(key, index, expected_length)
        if opened is None:
            return None
        fd, path = opened
        try:
            data = os.pread(fd, stop - start, start)
        except OSError as exc:
            self._reject(key, index, path, f"unreadable: {exc.strerror or exc}")
            return None
        finally:
            os.close(fd)
        if len(data) != stop - start:
            self._reject(key, index, path, f"{start + len(data)} bytes on disk, {expected_length} expected")
            return None
        return data

    def open_file(self, key: str, index: int, expected_length: int, start: int, stop: int) -> SliceFile | None:
        """Bytes ``start … stop-1`` of a slice file that passed its check, open for the kernel to send (``sendfile``),
        or None: not on disk (a slice still waiting for the writer is in memory: :meth:`read_range` has it), or
        damaged (deleted and reported, as :meth:`read_range` does). The caller closes it (why files: ``slice_file``).
        """
        if (key, index) in self._pending:
            return None
        opened = self._open_checked(key, index, expected_length)
        if opened is None:
            return None
        return SliceFile(open(opened[0], "rb", buffering=0), start, stop - start)

    def _open_checked(self, key: str, index: int, expected_length: int) -> tuple[int, Path] | None:
        """An open descriptor of a slice file whose length and CRC were checked (in this run, since it last
        changed) and the file's path; None if it is not on disk or failed its check (then it is gone)."""
        entry = self._lru.get((key, index))
        if entry is None:
            return None
        path = self._path(key, index, entry[0])
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            self._reject(key, index, path, f"unreadable: {exc.strerror or exc}")
            return None
        try:
            problem = self.checks.problem(fd, (key, index), expected_length, entry[0])
        except OSError as exc:
            problem = f"unreadable: {exc.strerror or exc}"
        if problem is not None:
            os.close(fd)
            self._reject(key, index, path, problem)
            return None
        self._lru.move_to_end((key, index))
        return fd, path

    def _reject(self, key: str, index: int, path: Path, reason: str) -> None:
        log.warning("dropping cached slice %s/%d: %s", key[:16], index, reason)
        self._forget(key, index)
        _unlink(path)
        self._on_lost(key, index)
        self.bus.publish(SliceRejected(piece=key, index=index, reason=reason))

    def write(self, key: str, index: int, data: bytes | bytearray) -> bool:
        """Store one complete slice atomically, in the background; False if the disk is refusing writes now.

        ``data`` must not change afterwards (complete slices never do).
        """
        if time.monotonic() < self._writes_blocked_until or len(data) > self.cap:
            return False
        if self.backlog + len(data) > self.max_backlog:
            log.info("the disk is %d MiB behind: slice %s/%d stays in memory only", self.backlog >> 20, key[:16], index)
            return False
        victims = self._evict_to(self.cap - len(data))
        old = self._forget(key, index)
        if old is not None:
            victims.append(self._path(key, index, old[0]))
        replaced = self._pending.get((key, index))
        if replaced is not None:
            self.used -= len(replaced)
            self.backlog -= len(replaced)
        self._pending[(key, index)] = data
        self.used += len(data)
        self.backlog += len(data)
        generation = self._generation.get(key, 0)
        future = asyncio.wrap_future(self._writer.submit(self._write_file, key, index, data, victims))
        self._writes.add(future)
        future.add_done_callback(lambda f: self._written(key, index, data, generation, f))
        return True

    def _write_file(
        self, key: str, index: int, data: bytes | bytearray, victims: list[Path]
    ) -> tuple[int, tuple[int, ...]]:
        """On the writer thread: delete what was evicted, then write temp file + rename. Returns the CRC and the
        file's stamp as written (see ``_written``)."""
        for path in victims:
            _unlink(path)
        crc = zlib.crc32(data)
        final = self._path(key, index, crc)
        tmp = final.with_name(f".{final.name}.{os.getpid()}{_TMP_SUFFIX}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, final)
            stat = os.stat(final)
        except OSError:
            _unlink(tmp)
            raise
        return crc, stamp_of(stat)

    def _written(self, key: str, index: int, data: bytes | bytearray, generation: int, future: Future) -> None:
        """Back on the loop: index the slice, or report the disk's refusal."""
        self._writes.discard(future)
        if self._pending.get((key, index)) is data:
            del self._pending[(key, index)]
            self.used -= len(data)
            self.backlog -= len(data)
        landed, self._landed = self._landed, asyncio.Event()
        landed.set()
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._writes_blocked_until = time.monotonic() + _WRITE_RETRY_SECONDS
            reason = getattr(error, "strerror", None) or error
            self._report(f"cannot write to the cache folder ({reason}); playing on without a disk cache")
            return
        crc, stamp = future.result()
        if self._generation.get(key, 0) != generation:
            self._writer.submit(_unlink, self._path(key, index, crc))  # the piece was purged meanwhile
            return
        self._remember(key, index, crc, len(data))
        # The bytes this run wrote, with the CRC it computed from them: as good as a check read back, until the
        # file changes (its stamp). Saves reading every slice again before its first sendfile or block.
        self.checks.passed((key, index), stamp)
        if time.monotonic() >= self._writes_blocked_until:  # a write queued before a failure proves nothing
            self.problem = None
        self.bus.publish(SliceStored(piece=key, index=index, tier="disk"))

    async def drained(self, limit: int) -> None:
        """Wait until at most ``limit`` bytes wait for the writer thread (see ``SliceCache._pause_for_disk``)."""
        while self.backlog > limit and self._writes:
            await self._landed.wait()

    async def flush(self) -> None:
        """Wait until every write handed to the writer thread has landed (or failed)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        self._writer.shutdown(wait=True)
        self.checks.save()

    def retry_writes(self) -> None:
        self._writes_blocked_until = 0.0

    def _report(self, message: str) -> None:
        if message != self.problem:
            log.warning("%s", message)
            self.bus.publish(CacheProblem(message=message))
        self.problem = message

    # --- eviction ------------------------------------------------------------------------------------------

    def _evict_to(self, budget: int) -> list[Path]:
        """Forget least recently used slices until ``used`` fits the budget; returns their files to delete."""
        victims = []
        while self.used > max(budget, 0) and self._lru:
            (key, index), (crc, _) = next(iter(self._lru.items()))
            self._forget(key, index)
            victims.append(self._path(key, index, crc))
            self._on_lost(key, index)
            self.bus.publish(SliceEvicted(piece=key, index=index, tier="disk"))
        return victims

    def set_cap(self, cap: int) -> None:
        self.cap = cap
        for path in self._evict_to(cap):
            _unlink(path)

    def purge_piece(self, key: str) -> None:
        self._generation[key] = self._generation.get(key, 0) + 1
        for index in sorted(self._by_piece.get(key, ())):
            entry = self._forget(key, index)
            if entry is not None:
                _unlink(self._path(key, index, entry[0]))
        for pending in [k for k in self._pending if k[0] == key]:
            length = len(self._pending.pop(pending))
            self.used -= length
            self.backlog -= length
        shutil.rmtree(self.root / key, ignore_errors=True)

    def clear(self) -> None:
        for key in {*self._by_piece, *(k for k, _ in self._pending)}:
            self.purge_piece(key)


def _parse_name(name: str) -> tuple[int, int] | None:
    index, dot, crc = name.partition(".")
    if not dot or not index.isdigit() or len(crc) != 8:
        return None
    try:
        return int(index), int(crc, 16)
    except ValueError:
        return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not delete %s: %s", path, exc)
