"""The soak's verdicts: no errors, nothing left behind, and memory and fds flat after warm-up.

Only the samples after the warm-up (the first 20% of the load) count: the window. A series
is flat when:
- growth: the median of the run's last quarter exceeds the window's median by at most the
  series' allowance (RSS: 10% of the window's median or 8 MiB, whichever is larger);
- slope: the least-squares line through the window rises by at most the allowance over the
  window's length (a steady leak shows here before it moves the medians much);
- range (where the count should not move at all): max - min over the window is small.
The server's fds are judged by kind: the ones it holds for good (logs, locks, pipes, epoll)
must not move; the load's (sockets, running jobs' output files) must not grow and stay
within what 20 clients can hold at once; the store's (a pair per SQLite connection; idle
readers are kept for reuse) stay within a pair per thread at the server's peak, plus two.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.soak_load import Tally
from bench.soak_watch import Sample

WARMUP_FRACTION = 0.2
LAST_FRACTION = 0.25
RSS_GROWTH_FRACTION = 0.10
RSS_GROWTH_MIB = 8.0
FD_GROWTH = 4
HELD_FD_RANGE = 4
PARENT_FD_RANGE = 8
# Per client at most: its HTTP connection, one WebSocket, its one job's output file.
LOAD_FDS_PER_CLIENT = 3
LOAD_FDS_SPARE = 8


@dataclass(frozen=True, slots=True)
class Run:
    """What one soak saw: the tally of its clients, the samples of the server, and the
    state after the load (jobs still listed, a last sample, the log's error lines)."""

    seconds: float
    clients: int
    tally: Tally
    samples: list[Sample]
    final: Sample
    left: dict[str, int]
    log_errors: list[str]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Series:
    """One figure over the run: (seconds since the load started, value) pairs."""

    name: str
    unit: str
    points: Sequence[tuple[float, float]]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope (value per second); 0 for fewer than two distinct times."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


def window(points: Sequence[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    """The samples after warm-up."""
    return [(t, v) for t, v in points if t >= duration * WARMUP_FRACTION]


def flat(series: Series, duration: float, allowance: float, max_range: float | None) -> list[Check]:
    """The growth, slope and (if ``max_range``) range checks of one series."""
    after = window(series.points, duration)
    last = [v for t, v in series.points if t >= duration * (1 - LAST_FRACTION)]
    if len(after) < 3 or not last:
        return [Check(f"{series.name}-samples", False, f"only {len(after)} samples after warm-up")]
    base, end = statistics.median(v for _, v in after), statistics.median(last)
    unit = series.unit
    span = after[-1][0] - after[0][0]
    rise = slope(after) * span
    checks = [
        Check(
            f"{series.name}-growth",
            end - base <= allowance,
            f"last-quarter median {end:.1f} {unit} vs post-warm-up median {base:.1f} {unit}"
            f" (allowed +{allowance:.1f})",
        ),
        Check(
            f"{series.name}-slope",
            rise <= allowance,
            f"linear fit rises {rise:+.1f} {unit} over {span:.0f} s (allowed +{allowance:.1f})",
        ),
    ]
    if max_range is not None:
        values = [v for _, v in after]
        low, high = min(values), max(values)
        checks.append(
            Check(
                f"{series.name}-range",
                high - low <= max_range,
                f"{low:.0f}-{high:.0f} {unit} after warm-up (allowed range {max_range:.0f})",
            )
        )
    return checks


def at_most(series: Series, duration: float, limit: float, why: str) -> Check:
    """The series' highest value after warm-up is at most ``limit``."""
    high = max((v for _, v in window(series.points, duration)), default=0.0)
    detail = f"at most {high:.0f} {series.unit} after warm-up (allowed {limit:.0f}: {why})"
    return Check(f"{series.name}-bound", high <= limit, detail)


def rss_allowance(series: Series, duration: float) -> float:
    after = window(series.points, duration)
    base = statistics.median(v for _, v in after) if after else 0.0
    return max(RSS_GROWTH_FRACTION * base, RSS_GROWTH_MIB)


def _series(run: Run, name: str, unit: str, value: Callable[[Sample], float]) -> Series:
    return Series(name, unit, [(s.at, value(s)) for s in run.samples])


def memory_and_fds(run: Run) -> list[Check]:
    """The flatness checks of the server's and the job parent's RSS and fds."""
    d = run.seconds
    rss = _series(run, "rss", "MiB", lambda s: s.rss_kib / 1024)
    held = _series(
        run, "held-fds", "fds", lambda s: s.fds - s.sockets - s.job_files - s.store_files
    )
    load = _series(run, "load-fds", "fds", lambda s: s.sockets + s.job_files)
    store = _series(run, "store-fds", "fds", lambda s: s.store_files)
    peak_threads = max((s.threads for s in run.samples), default=0)
    parent_rss = _series(run, "parent-rss", "MiB", lambda s: s.parent_rss_kib / 1024)
    parent_fds = _series(run, "parent-fds", "fds", lambda s: s.parent_fds)
    return [
        *flat(rss, d, rss_allowance(rss, d), None),
        *flat(held, d, FD_GROWTH, HELD_FD_RANGE),
        *flat(load, d, FD_GROWTH, None),
        at_most(
            load,
            d,
            LOAD_FDS_PER_CLIENT * run.clients + LOAD_FDS_SPARE,
            f"{LOAD_FDS_PER_CLIENT} per client + {LOAD_FDS_SPARE}",
        ),
        at_most(store, d, 2 * (peak_threads + 2), f"2 per thread ({peak_threads} at most) + 4"),
        *flat(parent_rss, d, rss_allowance(parent_rss, d), None),
        *flat(parent_fds, d, FD_GROWTH, PARENT_FD_RANGE),
    ]


def verdicts(run: Run) -> list[Check]:
    """Every check of the soak, in the order the report lists them."""
    tally, final = run.tally, run.final
    return [
        Check("errors", tally.errors == 0, f"{tally.errors} errors" + _first(tally.examples)),
        Check("5xx", tally.server_errors == 0, f"{tally.server_errors} responses 5xx"),
        Check(
            "server-log",
            not run.log_errors,
            f"{len(run.log_errors)} error lines" + _first(run.log_errors),
        ),
        Check("jobs-left", run.left["total"] == 0, f"jobs left after the load: {run.left}"),
        Check(
            "processes-left",
            final.processes <= 1 and final.zombies == 0,
            f"{final.processes} processes under the server at the end (the job parent"
            f" only: 1), {final.zombies} zombies",
        ),
        *memory_and_fds(run),
    ]


def _first(examples: list[str]) -> str:
    return f", e.g. {examples[0][:300]}" if examples else ""
