"""When this process started, on ``time.perf_counter``'s clock: the zero of ``launch_ms``.

``launch_ms`` (``pieceplayer --self-test --window``) is process start → first frame on screen, to compare with
the whole-process time of another player started the same way (``mpv --frames=1``). So the zero is the process's
own start as the kernel recorded it — ``starttime`` in ``/proc/self/stat``, in clock ticks since boot (10 ms
resolution), read against ``CLOCK_BOOTTIME`` — which includes the interpreter's own start and every import.
Where ``/proc`` is missing (macOS, Windows), the zero is the import of the ``player`` package (``player.STARTED``),
which leaves out the interpreter's start; ``launch_from`` in the JSON says which was used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import player

#: Field 22 of /proc/<pid>/stat, counted from the field after the command name (which may hold spaces).
_STARTTIME_INDEX = 19


def process_start() -> tuple[float, str]:
    """``(perf_counter value at process start, what that start is)``."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[_STARTTIME_INDEX])
        age_s = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
        return time.perf_counter() - age_s, "process start (/proc/self/stat)"
    except (OSError, ValueError, IndexError, AttributeError):
        return player.STARTED, "import of the player package"
