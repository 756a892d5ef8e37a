"""Which slice files passed their check: in this run, and — until the machine restarts — in earlier runs.

No byte of a slice file is served before its length and CRC were checked (``disk``): a torn, truncated or
bit-flipped file is dropped and fetched again, never sent. A good check is remembered by the file's *stamp*
(inode, size, modification and change times): any write, truncation, rename over it or change of its times
moves the stamp, and a file whose stamp moved is checked again before its next byte goes out.

Why the checks outlive a run: a check reads the whole file, about 1 ms per 1 MiB slice here, and a warm re-open in
a new process met seven of them before its first frame (its head, its tail, then each slice the player's read
reached): the bench's warm re-open of a 20 MiB moov-at-end MP4 was 37.5 ms against nginx's 26.9, and 30.8 ms
with the checks taken out (issue 19). Made on a thread instead, ahead of the reader, they were slower still
(47.8 vs 42.0 ms): the decoder needs the same two cores, so the cost is the reading, not where it runs.

So the stamps of good files are saved per piece when the store closes, with the machine's boot id, and taken as
checked by a later run of the same boot. Within one boot a file's bytes change only with its stamp, exactly the
trust a run already puts in a file it checked an hour ago. A restart — a crash, a power cut that may leave a file
renamed into place with its data never written — gives a new boot id, and every file is checked again. Where
there is no boot id to read (not Linux), nothing is saved and each run checks as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zlib
from pathlib import Path

log = logging.getLogger(__name__)
#: The check of a whole slice file reads it in steps of this size (the CRC is computed as it goes).
CHECK_STEP = 256 * 1024
#: A piece's saved checks, in its folder (a name the slice scan ignores: no index before the dot).
SAVED_NAME = ".checked"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

SliceId = tuple[str, int]
Stamp = tuple[int, ...]


def stamp_of(stat: os.stat_result) -> Stamp:
    """What changes when a file is rewritten, truncated or replaced: its identity, size and times."""
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def boot_id() -> str | None:
    """This boot of the machine, or None where the system does not say (then checks are kept for one run)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def check_file(fd: int, expected_length: int, crc: int) -> tuple[Stamp, str | None]:
    """The open file's stamp, and why it must not be served (None: its length and CRC are right)."""
    stat = os.fstat(fd)
    stamp = stamp_of(stat)
    if stat.st_size != expected_length:
        return stamp, f"{stat.st_size} bytes on disk, {expected_length} expected"
    running, offset = 0, 0
    while offset < expected_length:
        block = os.pread(fd, min(CHECK_STEP, expected_length - offset), offset)
        if not block:
            return stamp, f"{offset} bytes on disk, {expected_length} expected"
        running = zlib.crc32(block, running)
        offset += len(block)
    if running != crc:
        return stamp, "checksum mismatch (the file was damaged)"
    return stamp, None


class SliceChecks:
    """The stamps of slice files that passed their check, per piece; saved under ``root`` for the same boot."""

    def __init__(self, root: Path, boot: str | None) -> None:
        self.root = root
        self.boot = boot
        #: piece key → {index → the file's stamp when its CRC last matched}; a piece enters on its first use in
        #: this run, with what an earlier run of this boot saved for it.
        self._good: dict[str, dict[int, Stamp]] = {}
        #: Pieces whose checks changed since they were read: saved when the store closes.
        self._changed: set[str] = set()

    def problem(self, fd: int, slice_id: SliceId, expected_length: int, crc: int) -> str | None:
        """Why the open slice file must not be served, or None. Reads the file only if it changed since its last
        good check (in this run, or in an earlier run of this boot), or was never checked."""
        if self._piece(slice_id[0]).get(slice_id[1]) == stamp_of(os.fstat(fd)):
            return None
        stamp, problem = check_file(fd, expected_length, crc)
        if problem is None:
            self.passed(slice_id, stamp)
        return problem

    def passed(self, slice_id: SliceId, stamp: Stamp) -> None:
        """The file has the right bytes as of ``stamp`` (checked, or written by this run with the CRC that names it)."""
        key, index = slice_id
        self._piece(key)[index] = stamp
        self._changed.add(key)

    def forget(self, slice_id: SliceId) -> None:
        key, index = slice_id
        if self._piece(key).pop(index, None) is not None:
            self._changed.add(key)

    def is_good(self, slice_id: SliceId) -> bool:
        """Taken as checked (if its stamp still matches when it is read: :meth:`problem` looks)."""
        return slice_id[1] in self._piece(slice_id[0])

    def save(self) -> None:
        """Write each changed piece's checks to its folder (atomically), for a later run of this boot."""
        if self.boot is None:
            return
        for key in sorted(self._changed):
            good, path = self._good.get(key, {}), self.root / key / SAVED_NAME
            if not good or not path.parent.is_dir():
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            lines = [self.boot] + [" ".join(map(str, (index, *stamp))) for index, stamp in sorted(good.items())]
            tmp = path.with_name(f"{SAVED_NAME}.{os.getpid()}.tmp")
            try:
                tmp.write_text("\n".join(lines) + "\n")
                os.replace(tmp, path)
            except OSError as exc:
                log.info("the checks of %s were not saved (%s): the next run checks its slices again", key[:16], exc)
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self._changed.clear()

    def _piece(self, key: str) -> dict[int, Stamp]:
        """The piece's good stamps, with what an earlier run of this boot saved, read on the piece's first use."""
        good = self._good.get(key)
        if good is None:
            good = self._good[key] = self._saved(key)
        return good

    def _saved(self, key: str) -> dict[int, Stamp]:
        if self.boot is None:
            return {}
        try:
            lines = (self.root / key / SAVED_NAME).read_text().splitlines()
        except OSError:
            return {}
        if not lines or lines[0] != self.boot:
            return {}  # another boot: every file is checked again
        saved: dict[int, Stamp] = {}
        for line in lines[1:]:
            fields = line.split()
            if len(fields) == 5 and all(field.isdigit() for field in fields):
                index, *stamp = map(int, fields)
                saved[index] = tuple(stamp)
        return saved
