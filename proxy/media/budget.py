"""How much one index may cost: tracks, units, table entries and bytes, checked before anything is expanded.

Pieces come from anyone, and a container's tables are counts: a 437-byte ``moov`` can claim 2^24 constant-size
samples, and expanding them took 1.3 GB per track. So every parser asks an :class:`IndexBudget` before it builds
an array or a list, and a piece whose index would exceed it is refused with a :class:`ContainerError` in words:
the proxy then proxies it plainly (no byte ↔ time map, playback unaffected).

The limits hold real files: a 3-hour film at 24 fps with 48 kHz AAC is 765 k units (259 k video samples, 506 k
audio frames), about 60 MiB with its tables under this estimate; FFmpeg writes a cue point per Cluster (one every
few seconds); a SeekHead lists about ten elements. Longer pieces still play; they only get no byte ↔ time map.
"""

from __future__ import annotations

from proxy.media.errors import ContainerError
from proxy.units import MiB

#: ``trak`` boxes in one ``moov``.
MAX_TRACKS = 64
#: Units (samples, chunks, subsegments, cue points) in one index, all tracks together.
MAX_UNITS = 4_000_000
#: Seek entries read from a Matroska SeekHead (real ones list about ten).
MAX_SEEK_ENTRIES = 16_384
#: Bytes the arrays and lists of one index build may hold, as estimated by the parsers before they build them.
MAX_INDEX_BYTES = 64 * MiB
#: Estimated bytes per unit while its track is built and kept: five numpy columns (33 bytes) and the
#: temporaries of the expansion that live next to them.
UNIT_BYTES = 64
#: Estimated bytes per table entry value once read (numpy int64).
ENTRY_BYTES = 8
#: Estimated bytes per cue point held as a Python tuple of ints while the Cues are read.
CUE_POINT_BYTES = 160


class IndexBudget:
    """What one :func:`~proxy.media.build_index` call may still spend; each ``spend`` raises when it would not fit."""

    def __init__(self, max_units: int = MAX_UNITS, max_bytes: int = MAX_INDEX_BYTES) -> None:
        self.max_units = max_units
        self.max_bytes = max_bytes
        self.units = 0
        self.bytes = 0

    def spend_units(self, count: int, what: str, unit_bytes: int = UNIT_BYTES) -> None:
        """Account for ``count`` units about to be built for ``what`` (a track, the Cues, a ``sidx``)."""
        if count < 0 or self.units + count > self.max_units:
            raise ContainerError(
                f"{what}: {count:,} units would take the index past {self.max_units:,} units: too large to map"
            )
        self.units += count
        self.spend_bytes(count * unit_bytes, what)

    def spend_entries(self, count: int, columns: int, what: str) -> None:
        """Account for a table of ``count`` entries of ``columns`` values about to be read for ``what``."""
        self.spend_bytes(count * columns * ENTRY_BYTES, what)

    def spend_bytes(self, amount: int, what: str) -> None:
        if self.bytes + amount > self.max_bytes:
            raise ContainerError(
                f"{what}: the index would need more than {self.max_bytes // MiB} MiB of memory "
                f"({(self.bytes + amount) // MiB:,} MiB): too large to map"
            )
        self.bytes += amount
