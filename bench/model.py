"""What a scenario produces: per contender, the samples of each measure, summarised, and ratios to a baseline.

Timings on a shared 2-core machine are noisy, so no figure stands alone: every measure keeps its samples with
min/median/max, and the ratio of its median to the baseline's median, both measured in the same run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0–1) with linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Cell:
    """One contender's figures for one measure, or why there are none."""

    samples: list[float] = field(default_factory=list)
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def as_json(self, baseline: Cell | None) -> dict:
        if not self.samples:
            return {"skipped": self.skipped or "no successful sample", "errors": self.errors[:5]}
        data = {
            "samples": [round(s, 4) for s in self.samples],
            "min": round(min(self.samples), 4),
            "median": round(statistics.median(self.samples), 4),
            "max": round(max(self.samples), 4),
        }
        if baseline is not None and baseline.median:
            data["ratio"] = round(self.median / baseline.median, 4)
        if self.errors:
            data["errors"] = self.errors[:5]
            data["error_count"] = len(self.errors)
        return data


@dataclass
class Measure:
    key: str
    label: str
    unit: str
    #: Which contender the ratio is taken against (``direct`` unless the goal names another).
    baseline: str = "direct"
    cells: dict[str, Cell] = field(default_factory=dict)

    def cell(self, contender: str) -> Cell:
        return self.cells.setdefault(contender, Cell())

    def as_json(self) -> dict:
        base = self.cells.get(self.baseline)
        return {
            "label": self.label,
            "unit": self.unit,
            "baseline": self.baseline,
            "contenders": {name: cell.as_json(base) for name, cell in self.cells.items()},
        }


@dataclass
class ScenarioResult:
    key: str
    title: str
    method: str
    measures: dict[str, Measure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The machine's CPU while the scenario ran (``bench.cpu_share.share``): busy and stolen shares, or None.
    cpu: dict | None = None

    def measure(self, key: str, label: str, unit: str, baseline: str = "direct") -> Measure:
        return self.measures.setdefault(key, Measure(key, label, unit, baseline))

    def skip_all(self, contenders: list[str], reason: str) -> None:
        for measure in self.measures.values():
            for name in contenders:
                cell = measure.cell(name)
                if not cell.samples:
                    cell.skipped = reason

    def as_json(self) -> dict:
        return {
            "title": self.title,
            "method": self.method,
            "seconds": round(self.seconds, 1),
            "cpu": self.cpu,
            "notes": self.notes,
            "measures": {key: m.as_json() for key, m in self.measures.items()},
        }
