"""The benchmark suite's machinery, run at trivial sizes so that a broken bench shows in CI.

Figures that need the ``bench`` dependency group (Huey, Celery, py-spy) are left out; the
test group does not install it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.profile import cycle_times, summarize
from bench.results import Result, Spread, percentile

ROOT = Path(__file__).resolve().parents[2]
SMOKE_FIGURES = ["drain-process", "output-latency", "history", "dependency-fanin"]
KEYS = {"id", "value", "unit", "baseline", "baseline_unit", "ratio", "goal", "met"}
KEYS |= {"repetitions", "spread", "size", "notes"}


def run_module(cwd: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m`` a module of bench/ as ``scripts/bench`` would, without JOBHOST_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBHOST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )


def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    argv = ["bench", "--tiny", "--reps", "1", "--json", str(out)]
    done = run_module(tmp_path, [*argv, "--only", ",".join(SMOKE_FIGURES)], timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1
    results = {r["id"]: r for r in report["results"]}
    assert list(results) == SMOKE_FIGURES
    for result in results.values():
        assert KEYS <= set(result), result
        assert result["value"] is not None and result["value"] > 0, result
        assert result["size"], result
    assert results["drain-process"]["ratio"] is not None
    assert "drain-process" in done.stdout


def test_percentiles_and_spread() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 90) == 9.0
    spread = Spread.of([5.0, 1.0, 3.0])
    assert (spread.median, spread.low, spread.high, spread.count) == (3.0, 1.0, 5.0, 3)
    result = Result("x", "x", spread, "jobs/s", "goal", True, Spread.of([6.0]), "jobs/s")
    assert result.as_json()["ratio"] == 0.5


def test_profile_summaries(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(
        "thread (1): jobhost-dispatcher;cycle (/x/jobhost/engine/dispatcher.py:1);"
        "claim (/x/jobhost/store/jobs.py:2) 3\n"
        "thread (2): MainThread;run (/usr/lib/asyncio/runners.py:9) 1\n"
    )
    lines = summarize(raw)
    assert lines[0].startswith("4 samples; threads: jobhost-dispatcher 75%")
    assert "claim (jobs.py) 75%" in lines[1]
    speedscope = tmp_path / "s.json"
    frames = [{"name": "Dispatcher.cycle"}, {"name": "Event.wait"}]
    profile = {
        "name": 'Thread 7 "jobhost-dispatcher"',
        "unit": "seconds",
        "samples": [[0], [0], [1], [0], [1]],
        "weights": [0.002, 0.002, 0.002, 0.002, 0.002],
    }
    speedscope.write_text(json.dumps({"shared": {"frames": frames}, "profiles": [profile]}))
    assert cycle_times(speedscope) == [0.004, 0.002]


def test_the_engine_drain_tool_drains_both_modes(tmp_path: Path) -> None:
    for mode, count in (("Runspace", 200), ("BackgroundJob", 20)):
        done = run_module(tmp_path, ["bench.engine_drain", mode, str(count), "5"], timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.startswith(f"{mode} x {count} at limit 5: "), done.stdout
        assert float(done.stdout.split(": ")[1].split()[0]) > 0
