"""PiecePlayer's desktop GUI: a thin Qt shell over the range proxy in ``proxy/``."""

import time as _time

__version__ = "0.1.0"

#: ``time.perf_counter()`` at the first import of the player: the launch clock's zero where /proc is missing.
STARTED = _time.perf_counter()
