"""How busy the machine was while a scenario ran, and how much of its CPU time the host took (steal).

Why: on the shared 2-core VM the same launch measured 0.8 s in one run and 1.6 s in the next, and a ratio to
mpv moved from ×1.43 to ×1.84 between runs with nothing changed. A process that needs more CPU (ours: Python, Qt
and a proxy) stretches more than a lighter peer when the host takes cores away, so a ratio read without the
machine's state can mislead. Each scenario now records the share of CPU time the machine spent busy and the share
the hypervisor stole (``steal`` in ``/proc/stat``, what ``top`` shows as ``st``) over its own minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC_STAT = Path("/proc/stat")
#: Field order of the ``cpu`` line (proc(5)): user nice system idle iowait irq softirq steal guest guest_nice.
_IDLE, _IOWAIT, _STEAL = 3, 4, 7


@dataclass(frozen=True)
class CpuTimes:
    """The whole machine's CPU time counters (clock ticks), from the ``cpu`` line of ``/proc/stat``."""

    total: int
    idle: int
    steal: int


def parse(stat_text: str) -> CpuTimes | None:
    """The aggregate counters; None if there is no ``cpu`` line (guest and guest_nice are already in user)."""
    for line in stat_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(v) for v in fields[1:9]]
            values += [0] * (8 - len(values))
            return CpuTimes(sum(values), values[_IDLE] + values[_IOWAIT], values[_STEAL])
    return None


def read() -> CpuTimes | None:
    """Now's counters, or None where ``/proc/stat`` is missing (not Linux)."""
    try:
        return parse(PROC_STAT.read_text())
    except OSError:
        return None


def share(before: CpuTimes | None, after: CpuTimes | None) -> dict | None:
    """``{"busy_pct", "steal_pct"}`` between two reads: shares of all CPU time, 0–100; None without both reads."""
    if before is None or after is None or after.total <= before.total:
        return None
    elapsed = after.total - before.total
    idle = after.idle - before.idle
    return {
        "busy_pct": round(100 * (elapsed - idle) / elapsed, 1),
        "steal_pct": round(100 * (after.steal - before.steal) / elapsed, 1),
    }


def words(shares: dict | None) -> str:
    """``shares`` in words for a reader ("machine busy 47.3 %, CPU stolen by the host 0.2 %"); "" without them."""
    if not shares:
        return ""
    return f"machine busy {shares['busy_pct']:g} %, CPU stolen by the host {shares['steal_pct']:g} %"
