"""A checked slice file's bytes, handed to whoever sends them to a socket.

Why its own type: a warm open's player reads megabytes ahead of its first frame; read into Python and written out
again, each block cost two copies and a dozen calls on the proxy's loop, on the cores the decoder needs (issue 19:
the proxy's thread took 16–22 ms of CPU inside a 20 MiB piece's 40 ms warm open). An open file lets the kernel
send the bytes from the page cache (``os.sendfile``). Only ``DiskSliceStore.open_file`` makes one, after the file
passed its check; the holder closes it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass


@dataclass
class SliceFile:
    """Bytes of a checked slice file, for the kernel to send to a socket without a copy through Python."""

    file: io.FileIO
    offset: int
    count: int

    def __len__(self) -> int:
        return self.count

    def read(self, limit: int) -> bytes:
        """The first ``limit`` bytes (at most ``count``): what the caller must look at itself (a sniff)."""
        return self.read_at(self.offset, min(limit, self.count))

    def read_at(self, offset: int, count: int) -> bytes:
        """``count`` bytes of the file from ``offset`` (a copy, for when the kernel cannot send them now)."""
        return os.pread(self.file.fileno(), count, offset)

    def close(self) -> None:
        self.file.close()
