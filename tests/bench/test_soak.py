"""The soak: its short form against a real server (as CI runs it), and its verdicts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from bench.soak_checks import Run, Series, flat, slope, verdicts
from bench.soak_load import SCENARIOS, Tally
from bench.soak_watch import Sample

from tests.bench.test_bench import run_module

KINDS = {"submit", "submit-runspace", "get", "list", "results", "output", "stream", "events"}
KINDS |= {"stop", "delete"}


@pytest.mark.timeout(400)
def test_the_short_soak_runs_clean_with_memory_and_fds_flat(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = run_module(tmp_path, ["bench.soak", "--short", "--json", str(out)], timeout=380)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["id"] == "soak" and result["met"] is True, result["notes"]
    assert result["size"]["seconds"] == 120 and result["size"]["clients"] == 20
    extra = result["extra"]
    assert all(check["passed"] for check in extra["checks"]), extra["checks"]
    assert {c["name"] for c in extra["checks"]} >= {
        "errors",
        "5xx",
        "rss-slope",
        "held-fds-range",
        "store-fds-bound",
    }
    assert set(extra["latency"]) == KINDS
    for kind, figures in extra["latency"].items():
        assert figures["count"] > 0 and figures["p99_ms"] >= figures["p50_ms"] > 0, kind
    assert set(extra["scenarios"]) >= set(SCENARIOS)
    assert len(extra["samples"]) >= 100  # one a second
    assert "p99" in done.stdout.split("soak", 1)[1]


def _series(name: str, values: list[float]) -> Series:
    return Series(name, "MiB", [(float(t), v) for t, v in enumerate(values)])


def test_a_flat_noisy_series_passes_and_a_steady_leak_fails() -> None:
    noisy = [100.0 + 7 * t % 5 for t in range(120)]
    assert all(c.passed for c in flat(_series("rss", noisy), 120, 8.0, None))
    # 0.3 MiB a second: 28 MiB over the window after warm-up, the medians 10 MiB apart.
    leak = [100 + 0.3 * t for t in range(120)]
    failed = {c.name for c in flat(_series("rss", leak), 120, 8.0, None) if not c.passed}
    assert failed == {"rss-growth", "rss-slope"}
    # A slower leak that the medians would let pass still shows in the fitted line.
    slow = [100 + 0.1 * t for t in range(120)]
    failed = {c.name for c in flat(_series("rss", slow), 120, 8.0, None) if not c.passed}
    assert failed == {"rss-slope"}
    assert slope([(0.0, 1.0), (2.0, 5.0)]) == 2.0


def _sample(at: float, **changes: int) -> Sample:
    base = Sample(
        at=at,
        rss_kib=100_000,
        fds=80,
        sockets=30,
        job_files=6,
        store_files=30,
        threads=20,
        parent_rss_kib=12_000,
        parent_fds=9,
        processes=1,
        zombies=0,
    )
    return dataclasses.replace(base, **changes)


EMPTY = {"pending": 0, "running": 0, "completed": 0, "total": 0}


def _failed(samples: list[Sample], tally: Tally | None = None, **after: object) -> set[str]:
    final = samples[-1]
    left = after.get("left", EMPTY)
    log = after.get("log", [])
    assert isinstance(left, dict) and isinstance(log, list)
    run = Run(len(samples), 20, tally or Tally(), samples, final, left, log)
    return {c.name for c in verdicts(run) if not c.passed}


def test_a_clean_run_passes_and_the_warm_up_does_not_count() -> None:
    # fds climbing during the warm-up (the first 20 s of 100) and flat after: no failure.
    samples = [_sample(t, fds=60 + min(t, 20), store_files=10 + min(t, 20)) for t in range(100)]
    assert _failed(samples) == set()
    # The server's RSS growing 600 KiB a second, or the job parent's.
    leaking = [_sample(t, rss_kib=100_000 + 600 * t) for t in range(100)]
    assert _failed(leaking) == {"rss-growth", "rss-slope"}
    leaking = [_sample(t, parent_rss_kib=12_000 + 600 * t) for t in range(100)]
    assert _failed(leaking) == {"parent-rss-growth", "parent-rss-slope"}


def test_held_fds_that_climb_fail_and_the_loads_own_may_swing_within_their_bound() -> None:
    climbing = [_sample(t, fds=80 + t // 5) for t in range(100)]
    assert _failed(climbing) == {"held-fds-growth", "held-fds-slope", "held-fds-range"}
    # Sockets come and go with the clients' WebSockets: up to 3 per client is fine.
    swinging = [_sample(t, fds=80 + 10 * (t % 3), sockets=30 + 10 * (t % 3)) for t in range(100)]
    assert _failed(swinging) == set()
    spike = [40 if t % 10 == 0 else 0 for t in range(100)]
    too_many = [_sample(t, fds=80 + spike[t], sockets=30 + spike[t]) for t in range(100)]
    assert _failed(too_many) == {"load-fds-bound"}
    store = [_sample(t, fds=100, store_files=50) for t in range(100)]
    assert _failed(store) == {"store-fds-bound"}  # 20 threads: at most 44
    short = {c.name for c in flat(_series("fds", [1.0, 2.0]), 100, 4, 4)}
    assert short == {"fds-samples"}


def test_errors_5xx_log_lines_and_leftovers_each_fail_the_soak() -> None:
    samples = [_sample(t) for t in range(60)]
    tally = Tally(server_errors=1)
    tally.fail("list: GET /jobs -> 500")
    samples.append(_sample(61, processes=3, zombies=1))
    left = {**EMPTY, "completed": 1, "total": 1}
    failed = _failed(samples, tally, left=left, log=["ERROR boom"])
    assert failed == {"errors", "5xx", "server-log", "jobs-left", "processes-left"}
