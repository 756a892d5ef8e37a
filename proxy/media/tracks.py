"""One track of a piece's byte ↔ time map as arrays: the unit every container index reduces to.

Kept apart from :mod:`proxy.media.index` so that the pure functions over units (:mod:`proxy.media.playable`) and
the map that answers the proxy's questions (:class:`proxy.media.index.MediaIndex`) can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: ~100 ms of start-up the first frame does not need
    import numpy as np


@dataclass(frozen=True, eq=False)
class TrackUnits:
    """One track's units in decode order; all arrays have the same length.

    ``start``/``duration`` are presentation time in seconds, ``offset``/``size`` bytes in the piece, ``key`` marks
    units a decoder can start at (sync samples, cue points, subsegments starting with a SAP).
    """

    kind: str
    start: np.ndarray
    duration: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return len(self.offset)

    @property
    def end_time(self) -> float:
        import numpy as np

        return float(np.max(self.start + self.duration)) if len(self) else 0.0
