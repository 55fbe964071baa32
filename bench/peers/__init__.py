"""Peers: the drain workloads run by Huey (SQLite, thread workers) and Celery (Redis).

Each peer run happens in a fresh interpreter (``python -m bench.peers.huey_drain`` or
``celery_drain``), so nothing of one run warms the next. Celery gets a private
``redis-server`` on a free loopback port, without persistence, started here and stopped
afterwards (no other user's Redis data is touched); without ``redis-server`` on PATH it
uses ``BENCH_REDIS_URL`` if set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.context import Context
from bench.results import Result, Spread, rounded
from bench.server import free_port

HUEY_NOTE = (
    "baseline: Huey, SQLite storage (WAL, synchronous=NORMAL as jobhost), thread workers, "
    "all tasks enqueued before the consumer starts, a result stored per task"
)
# Celery's fastest pool on this machine for each workload (measured: threads beat prefork
# and solo for no-op tasks; prefork beats threads for tasks that spawn a process).
CELERY_POOL = {"noop": "threads", "process": "prefork"}


def huey_rate(ctx: Context, kind: str, jobs: int, workers: int) -> float:
    path = ctx.workdir / "huey.db"
    for stale in path.parent.glob("huey.db*"):
        stale.unlink()
    argv = ["-m", "bench.peers.huey_drain", kind, str(jobs), str(workers), str(path)]
    return _run_rate(argv, os.environ)


def celery_rates(redis_url: str, kind: str, jobs: int, workers: int, reps: int) -> list[float]:
    """``reps`` drains by one Celery worker (see celery_drain.py)."""
    argv = ["-m", "bench.peers.celery_drain", kind, str(jobs), str(workers), CELERY_POOL[kind]]
    found = _run_json([*argv, str(reps)], os.environ | {"BENCH_REDIS_URL": redis_url})
    return [float(rate) for rate in found["rates"]]


def _run_rate(argv: list[str], env: Mapping[str, str]) -> float:
    return float(_run_json(argv, env)["rate"])


def _run_json(argv: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=dict(env),
        cwd=Path(__file__).resolve().parents[2],
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1]} failed: {done.stderr.strip()[-400:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        url = os.environ.get("BENCH_REDIS_URL")
        if not url:
            raise RuntimeError("no redis-server on PATH and BENCH_REDIS_URL unset")
        yield url
        return
    port = free_port()
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with open(workdir / "redis.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on port {port}")


def _row(system: str, workload: str, rates: list[float]) -> dict[str, object]:
    spread = Spread.of(rates)
    return {
        "workload": workload,
        "system": system,
        "rate": rounded([spread.median])[0],
        "spread": spread.as_json(),
        "runs": rounded(rates),
    }


def _shared(ctx: Context, key: str) -> list[float]:
    found = ctx.shared.get(key)
    return [float(v) for v in found] if isinstance(found, list) else []


def peers(ctx: Context) -> Result:
    from bench.drain import PROCESS_CONCURRENCY, RUNSPACE_CONCURRENCY

    sizes = {"process": ctx.sizes.drain_process, "noop": ctx.sizes.drain_runspace}
    workers = {"process": PROCESS_CONCURRENCY, "noop": RUNSPACE_CONCURRENCY}
    measured: dict[tuple[str, str], list[float]] = {
        ("jobhost", "process"): _shared(ctx, "drain-process"),
        ("jobhost", "noop"): _shared(ctx, "drain-runspace"),
        ("Huey", "noop"): _shared(ctx, "huey-noop"),
        ("Huey", "process"): [],
        ("Celery", "process"): [],
        ("Celery", "noop"): [],
    }
    with private_redis(ctx.workdir) as url:
        for kind in ("process", "noop"):
            rates = celery_rates(url, kind, sizes[kind], workers[kind], ctx.reps)
            measured["Celery", kind] = rates
            while len(measured["Huey", kind]) < ctx.reps:
                measured["Huey", kind].append(huey_rate(ctx, kind, sizes[kind], workers[kind]))
            ctx.log(f"peers {kind}: " + _last(measured))
    return _peers_result(ctx, measured, sizes, workers)


def _last(measured: dict[tuple[str, str], list[float]]) -> str:
    return ", ".join(f"{s} {k} {v[-1]:.0f}/s" for (s, k), v in measured.items() if v)


def _peers_result(
    ctx: Context,
    measured: dict[tuple[str, str], list[float]],
    sizes: dict[str, int],
    workers: dict[str, int],
) -> Result:
    labels = {"process": "drain-process (`true`)", "noop": "drain-runspace (no-op)"}
    rows = [_row(system, labels[kind], rates) for (system, kind), rates in measured.items()]
    ratios: list[float] = []
    behind: list[str] = []
    for kind in ("process", "noop"):
        ours = Spread.of(measured["jobhost", kind]).median
        for system in ("Huey", "Celery"):
            theirs = Spread.of(measured[system, kind]).median
            ratios.append(ours / theirs)
            if ours <= theirs:
                behind.append(f"{labels[kind]}: {system} {theirs:.0f}/s vs jobhost {ours:.0f}/s")
    worst = min(ratios)
    notes = [
        "value: jobhost's rate over the faster peer's, on the worse of the two workloads",
        f"Celery pools: {CELERY_POOL}, -c and Huey thread workers as jobhost's limit",
        "peers are timed from their first task's start to their last task's end",
    ]
    if behind:
        notes.append("behind on: " + "; ".join(behind))
    return Result(
        "peers",
        "the drain workloads run by Celery (Redis) and Huey (SQLite)",
        Spread(worst, worst, worst, ctx.reps),
        "x",
        "jobhost ahead on every row (> 1 x)",
        worst > 1.0,
        size={"process_jobs": sizes["process"], "noop_jobs": sizes["noop"], "workers": workers},
        notes="; ".join(notes),
        extra={"rows": rows},
    )
