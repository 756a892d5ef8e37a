"""The goals of issue 8, each checked on PiecePlayer's median against the same run's baseline median."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.scenarios.corpus import WORST
from bench.scenarios.moov_sweep import SWEEP_MIB, cold_key, warm_key
from proxy.cache import DEFAULT_MEMORY_CAP, DEFAULT_READAHEAD
from proxy.units import MiB

CONTENDER = "pieceplayer"


@dataclass(frozen=True)
class Goal:
    scenario: str
    measure: str
    text: str
    #: (PiecePlayer's median, the baseline's median or None) → met?
    met: Callable[[float, float | None], bool]
    baseline: str | None = "direct"


RSS_ALLOWANCE_MIB = (DEFAULT_MEMORY_CAP + 64 * MiB) / MiB
LEAVE_ALLOWANCE_MIB = (MiB + DEFAULT_READAHEAD) / MiB

GOALS = (
    Goal("cold_start", "ttfb_ms", "≤ 1.15 × direct", lambda v, b: v <= 1.15 * b),
    Goal("player", "first_frame_ms", "≤ 200 ms", lambda v, b: v <= 200, baseline=None),
    Goal("seek_uncached", "ttfb_ms", "≤ direct + 30 ms", lambda v, b: v <= b + 30),
    Goal("player", "seek_uncached_ms", "≤ direct + 30 ms", lambda v, b: v <= b + 30),
    Goal("seek_cached", "ttfb_ms", "≤ 0.5 × direct", lambda v, b: v <= 0.5 * b),
    Goal("player", "seek_cached_ms", "≤ 0.5 × direct", lambda v, b: v <= 0.5 * b),
    Goal("sequential", "cached_mbps", "≥ 0.5 × nginx", lambda v, b: v >= 0.5 * b, baseline="nginx"),
    Goal(
        "concurrency",
        "rss_growth_mib",
        f"≤ memory cap + 64 MiB ({RSS_ALLOWANCE_MIB:.0f} MiB)",
        lambda v, b: v <= RSS_ALLOWANCE_MIB,
        baseline=None,
    ),
    Goal("concurrency", "p95_ttfb_ms", "≤ 1.5 × direct", lambda v, b: v <= 1.5 * b),
    Goal(
        "leave_after_1mib",
        "upstream_mib",
        f"≤ 1 MiB + read-ahead ({LEAVE_ALLOWANCE_MIB:.0f} MiB)",
        lambda v, b: v <= LEAVE_ALLOWANCE_MIB,
        baseline=None,
    ),
    Goal("watch_session", "upstream_per_served", "≤ 1.1", lambda v, b: v <= 1.1, baseline=None),
    Goal("watch_session", "unserved_percent", "≤ 5 % of bytes served", lambda v, b: v <= 5, baseline=None),
    Goal("media", "moov_end_first_frame_ms", "≤ 0.75 × direct", lambda v, b: v <= 0.75 * b),
    Goal("media", "warm_first_frame_ms", "≤ 30 ms", lambda v, b: v <= 30, baseline=None),
    *(Goal("moov_sweep", cold_key(mib), "≤ 0.75 × direct", lambda v, b: v <= 0.75 * b) for mib in SWEEP_MIB),
    *(Goal("moov_sweep", warm_key(mib), "≤ nginx", lambda v, b: v <= b, baseline="nginx") for mib in SWEEP_MIB),
    Goal("window", "first_frame_ms", "≤ 1.15 × headless", lambda v, b: v <= 1.15 * b, baseline="headless"),
    Goal("window", "launch_ms", "≤ 1.5 × mpv", lambda v, b: v <= 1.5 * b, baseline="mpv"),
    Goal("corpus", WORST, "≤ 1.15 × direct", lambda v, b: v <= 1.15 * b),
)


def evaluate(scenarios: dict) -> list[dict]:
    """Each goal with its verdict: PASS, MISS (also when PiecePlayer failed a request), or n/a when a figure is
    missing (with why)."""
    verdicts = []
    for goal in GOALS:
        verdict = {"scenario": goal.scenario, "measure": goal.measure, "goal": goal.text}
        contenders = scenarios.get(goal.scenario, {}).get("measures", {}).get(goal.measure, {}).get("contenders", {})
        ours = contenders.get(CONTENDER, {})
        base = contenders.get(goal.baseline, {}) if goal.baseline else {}
        if ours.get("errors"):
            verdict.update(result="MISS", why=f"requests failed: {ours['errors'][0]}")
        elif "median" not in ours:
            verdict.update(result="n/a", why=ours.get("skipped", "not measured"))
        elif goal.baseline and "median" not in base:
            verdict.update(result="n/a", why=f"no {goal.baseline} baseline: {base.get('skipped', 'not measured')}")
        else:
            met = goal.met(ours["median"], base.get("median"))
            verdict.update(result="PASS" if met else "MISS", value=ours["median"], baseline=base.get("median"))
        verdicts.append(verdict)
    return verdicts
