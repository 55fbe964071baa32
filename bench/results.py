"""Figures as the report shows them: median and spread over repetitions, baseline and ratio;
the table printed and the JSON report written at the end of a run."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict


class ResultJson(TypedDict):
    id: str
    value: float | None
    unit: str
    baseline: float | None
    baseline_unit: str | None
    ratio: float | None
    goal: str
    met: bool | None
    repetitions: int
    spread: dict[str, float | None]
    size: dict[str, object]
    notes: str
    extra: dict[str, object]


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Spread:
    """A figure over repetitions: its median and range."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_json(self) -> dict[str, float | None]:
        return {"min": _finite(self.low), "max": _finite(self.high)}


@dataclass(slots=True)
class Result:
    """One row of the report; ``met`` is None when the figure could not be measured."""

    id: str
    what: str
    value: Spread
    unit: str
    goal: str
    met: bool | None
    baseline: Spread | None = None
    baseline_unit: str | None = None
    size: dict[str, object] = field(default_factory=dict)
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.median:
            return None
        return _finite(self.value.median / self.baseline.median)

    def as_json(self) -> ResultJson:
        runs, base = self.extra.get("runs"), self.extra.get("baseline_runs")
        if isinstance(runs, list) and isinstance(base, list) and len(runs) == len(base):
            # The same repetition's ratio: steadier than the ratio of medians on a busy machine.
            self.extra["ratio_runs"] = [
                _round(v / b) if v is not None and b else None
                for v, b in zip(runs, base, strict=True)
            ]
        return {
            "id": self.id,
            "value": _finite(self.value.median),
            "unit": self.unit,
            "baseline": _finite(self.baseline.median) if self.baseline else None,
            "baseline_unit": self.baseline_unit,
            "ratio": _round(self.ratio),
            "goal": self.goal,
            "met": self.met,
            "repetitions": self.value.count,
            "spread": self.value.as_json(),
            "size": self.size,
            "notes": self.notes,
            "extra": self.extra,
        }


def failed(id_: str, what: str, goal: str, error: str) -> Result:
    """A row for a figure whose measurement raised: reported, never silently dropped."""
    return Result(id_, what, Spread.of([]), "", goal, None, notes=f"not measured: {error}")


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return _round(value)


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return float(f"{value:.4g}")


def rounded(values: Sequence[float]) -> list[float | None]:
    return [_round(v) for v in values]


def machine() -> dict[str, object]:
    """What the figures were measured on, for the report."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def table(results: list[Result]) -> str:
    head = f"{'id':<18} {'value':>10} {'spread':>19}  {'unit':<18} {'baseline':>10} {'ratio':>7}"
    lines = [head + "  met  goal", "-" * 120]
    for r in results:
        spread = f"{_num(r.value.low)}-{_num(r.value.high)}"
        base = _num(r.baseline.median) if r.baseline else "--"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "--"
        met = {True: "yes", False: "NO", None: "n/a"}[r.met]
        lines.append(
            f"{r.id:<18} {_num(r.value.median):>10} {spread:>19}  {r.unit[:18]:<18} "
            f"{base:>10} {ratio:>7}  {met:<4} {r.goal}"
        )
    rows = next((r.extra.get("rows") for r in results if r.id == "peers"), None)
    if isinstance(rows, list):
        lines.append("")
        lines.append("peers (jobs/s, median of repetitions):")
        lines.extend(f"  {row['workload']:<26} {row['system']:<8} {row['rate']}" for row in rows)
    return "\n".join(lines)


def _num(value: float) -> str:
    if math.isnan(value):
        return "--"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def json_safe(value: object) -> object:
    """JSON without NaN or infinity (they are not JSON): None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_report(path: Path, results: Sequence[Result], fields: Mapping[str, object]) -> None:
    """The JSON report: the machine, the run's ``fields`` (command, seconds...), the rows."""
    report = {"machine": machine(), **fields, "results": [r.as_json() for r in results]}
    path.write_text(json.dumps(json_safe(report), indent=2) + "\n")
