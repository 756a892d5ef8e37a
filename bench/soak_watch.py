"""What the soak records about the app while it runs, and the summary it judges against the goals.

From outside, once a second: the app's resident memory (its own and with its child processes: the hashing
worker), open file descriptors and threads, all from ``/proc``. From inside: the GUI thread's event-loop lag
samples that ``player/loop_lag.py`` writes. And from its output: words that mean it crashed.
"""

from __future__ import annotations

import bisect
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.procs import memory_kib, process_tree

#: Goals (issue 16): no crash, RSS growth after the warm-up ≤ 50 MiB, event-loop lag p99 ≤ 50 ms (beyond the p99
#: of an idle event loop run beside the app, which is the machine's share: bench/lag_peer.py).
RSS_GROWTH_GOAL_MIB = 50.0
LAG_P99_GOAL_MS = 50.0
#: Memory is compared from the end of the first minute (a third of a shorter run): caches fill before that.
WARMUP_S = 60.0
#: Output that means the process died or is about to: CPython's fatal errors, C++ and the C library's aborts
#: (a death by signal also shows in the exit status).
FATAL = re.compile(r"Fatal Python error|Segmentation fault|terminate called after|double free or corruption|malloc\(\)")
TRACEBACK = "Traceback (most recent call last)"
_MIB = 1024.0
_TICKS = os.sysconf("SC_CLK_TCK")
_WORST = 5


@dataclass
class Sample:
    t: float
    rss_kib: int
    tree_rss_kib: int
    fds: int
    threads: int
    cpu_s: float


def sample(pid: int, t: float) -> Sample | None:
    """One reading of ``pid`` from /proc, or None once it has gone."""
    try:
        fds = sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
        threads = sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    rss = memory_kib(pid, "VmRSS")
    tree = sum(memory_kib(p, "VmRSS") for p in process_tree(pid))
    return Sample(t, rss, tree, fds, threads, cpu_s)


def load_average() -> float:
    """The machine's 1-minute load: how many cores' worth of work competed with the app (2 cores here)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


class Recorder:
    """Samples a process once a second on a thread, so a busy driver does not leave gaps."""

    def __init__(self, pid: int, started: float, interval: float = 1.0) -> None:
        self.pid = pid
        self.started = started
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            reading = sample(self.pid, time.monotonic() - self.started)
            if reading is not None:
                self.samples.append(reading)
            self._stop.wait(self.interval)


def read_lag(path: Path) -> list[tuple[float, float, float]]:
    """(monotonic s, lag ms, GUI-thread CPU ms since the last tick) from the probe's file; a half-written last
    line is skipped."""
    values = []
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                values.append((float(parts[0]), float(parts[1]), float(parts[2])))
            except ValueError:
                continue
    return values


def worst_lags(lag: list[tuple[float, float, float]], timeline: list[tuple[float, str]], started: float) -> list[dict]:
    """The longest waits, each with the GUI thread's CPU in that interval (much less than the wait: it was kept
    from running, not busy) and the soak's last action before it (both clocks are CLOCK_MONOTONIC)."""
    times = [t for t, _ in timeline]
    worst = []
    for t, ms, cpu_ms in sorted(lag, key=lambda sample: -sample[1])[:_WORST]:
        entry = {"lag_ms": ms, "gui_cpu_ms": cpu_ms, "at_s": round(t - started, 1)}
        index = bisect.bisect_right(times, t) - 1
        if index >= 0:
            entry["after"] = f"{timeline[index][1]} {t - times[index]:.1f} s before"
        worst.append(entry)
    return worst


def crash_text(output: str) -> str:
    """The app's fatal error and what follows it (its stack), or "" if its output has none."""
    match = FATAL.search(output)
    return output[match.start() :][:4000].strip() if match else ""


def first_traceback(output: str) -> str:
    start = output.find(TRACEBACK)
    return output[start:][:4000].strip() if start >= 0 else ""


@dataclass
class Verdict:
    """The soak's outcome: the numbers, and each goal met or not."""

    seconds: float
    ran_s: float
    app: str
    crashed: bool
    crash: str = ""
    exit_status: int | None = None
    tracebacks: int = 0
    first_traceback: str = ""
    rss_mib: dict = field(default_factory=dict)
    tree_rss_mib: dict = field(default_factory=dict)
    fds: dict = field(default_factory=dict)
    threads: dict = field(default_factory=dict)
    loop_lag_ms: dict = field(default_factory=dict)
    worst_lags: list = field(default_factory=list)
    app_cpu_s: float | None = None
    load_average: dict = field(default_factory=dict)
    actions: dict = field(default_factory=dict)
    goals: list = field(default_factory=list)
    ok: bool = False
    notes: list = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def warmup_for(seconds: float) -> float:
    return min(WARMUP_S, seconds / 3)


def summarize(
    *,
    seconds: float,
    ran_s: float,
    app: str,
    samples: list[Sample],
    lag: list[tuple[float, float, float]],
    peer_lag: list[tuple[float, float, float]],
    timeline: list[tuple[float, str]],
    started: float,
    load: dict,
    output: str,
    exited_early: bool,
    exit_status: int | None,
    actions: dict,
    notes: list[str],
    lag_limit_ms: float = LAG_P99_GOAL_MS,
) -> Verdict:
    fatal = crash_text(output)
    crashed = exited_early or bool(fatal) or (exit_status not in (0, None))
    crash = fatal
    if crashed and not crash:
        crash = f"the app exited with status {exit_status}" + (" before the soak ended" if exited_early else "")
    verdict = Verdict(
        seconds=seconds,
        ran_s=round(ran_s, 1),
        app=app,
        crashed=crashed,
        crash=crash,
        exit_status=exit_status,
        tracebacks=output.count(TRACEBACK),
        first_traceback=first_traceback(output),
        actions=actions,
        notes=notes,
    )
    warmup = warmup_for(ran_s)
    verdict.rss_mib = _memory(samples, warmup, lambda s: s.rss_kib)
    verdict.tree_rss_mib = _memory(samples, warmup, lambda s: s.tree_rss_kib)
    verdict.fds = _counts(samples, warmup, lambda s: s.fds)
    verdict.threads = _counts(samples, warmup, lambda s: s.threads)
    verdict.load_average = load
    if samples:
        verdict.app_cpu_s = round(samples[-1].cpu_s, 1)
    if lag:
        ms = np.array([value for _, value, _ in lag])
        cpu = np.array([value for _, _, value in lag])
        verdict.loop_lag_ms = {
            "samples": int(ms.size),
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
            "max": round(float(ms.max()), 1),
            "over_100ms": int((ms > 100).sum()),
            "gui_cpu_per_tick_p99": round(float(np.percentile(cpu, 99)), 1),
        }
        verdict.worst_lags = worst_lags(lag, timeline, started)
    if lag and peer_lag:  # the machine's own lag, from an idle loop beside the app (bench/lag_peer.py)
        peer = np.array([value for _, value, _ in peer_lag])
        peer_p99 = round(float(np.percentile(peer, 99)), 1)
        verdict.loop_lag_ms["peer_p50"] = round(float(np.percentile(peer, 50)), 1)
        verdict.loop_lag_ms["peer_p99"] = peer_p99
        verdict.loop_lag_ms["p99_over_peer"] = round(max(0.0, verdict.loop_lag_ms["p99"] - peer_p99), 1)
    growth = verdict.rss_mib.get("growth_after_warmup")
    p99 = verdict.loop_lag_ms.get("p99_over_peer", verdict.loop_lag_ms.get("p99"))
    verdict.goals = [
        _goal("no crash", "crashed", verdict.crashed, "false", not verdict.crashed),
        _goal("no uncaught exception", "tracebacks", verdict.tracebacks, "0", verdict.tracebacks == 0),
        _goal(
            "every piece opened is seen playing",
            "actions.seen_not_playing",
            actions.get("seen_not_playing", 0),
            "0",
            actions.get("seen_not_playing", 0) == 0,
        ),
        _goal(
            "RSS growth after warm-up",
            "rss_mib.growth_after_warmup",
            growth,
            f"≤ {RSS_GROWTH_GOAL_MIB:g} MiB",
            growth is not None and growth <= RSS_GROWTH_GOAL_MIB,
        ),
        _goal(
            "event-loop lag p99 over an idle loop's on the same machine",
            "loop_lag_ms.p99_over_peer",
            p99,
            f"≤ {lag_limit_ms:g} ms",
            p99 is not None and p99 <= lag_limit_ms,
        ),
    ]
    verdict.ok = all(goal["met"] for goal in verdict.goals)
    return verdict


def _goal(name: str, measure: str, value: object, limit: str, met: bool) -> dict:
    return {"goal": name, "measure": measure, "value": value, "limit": limit, "met": bool(met)}


def _memory(samples: list[Sample], warmup: float, value) -> dict:
    if not samples:
        return {}
    at_warmup = next((s for s in samples if s.t >= warmup), samples[-1])
    mib = [value(s) / _MIB for s in samples]
    end = value(samples[-1]) / _MIB
    base = value(at_warmup) / _MIB
    minutes = [
        next((value(s) / _MIB for s in samples if s.t >= m * 60), None) for m in range(1, 1 + int(samples[-1].t // 60))
    ]
    return {
        "by_minute": [round(m, 1) for m in minutes if m is not None],
        "start": round(mib[0], 1),
        "warmup_s": round(at_warmup.t, 1),
        "at_warmup": round(base, 1),
        "end": round(end, 1),
        "max": round(max(mib), 1),
        "growth_after_warmup": round(end - base, 1),
    }


def _counts(samples: list[Sample], warmup: float, value) -> dict:
    """Descriptors or threads: at the first sample, after warm-up (start-up opens audio, GL and sockets while the
    window builds, which is no leak; how early the first sample lands moves with start-up work), at the end."""
    if not samples:
        return {}
    counts = [value(s) for s in samples]
    at_warmup = next((s for s in samples if s.t >= warmup), samples[-1])
    return {"start": counts[0], "at_warmup": value(at_warmup), "end": counts[-1], "max": max(counts)}
