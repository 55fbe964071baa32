"""drain-process and drain-runspace: a queued workload drained by a real server.

Each repetition queues the whole workload behind a Gate (a MainLoop job holding the
dispatcher), then opens the gate and waits until nothing is pending or running. The jobs
are queued by inserting them into the store directly (bench/store.py), not over HTTP:
submitting 10,000 jobs over HTTP takes longer than draining them, is not part of the
measured interval anyway, and has a figure of its own (submit-rate). The rate is
jobs / (last CompletedAt - first StartedAt), with both times read exactly from the server's
store; every job must end Completed.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from bench import peers
from bench.context import Context
from bench.results import Result, Spread, rounded
from bench.server import BenchServer, Gate, wait_idle
from bench.store import insert_jobs, pending_row

# Both drains run at jobhost's default concurrency limit, and the baseline and the peers
# get the same number of workers.
PROCESS_CONCURRENCY = 10
RUNSPACE_CONCURRENCY = 10


async def drain_once(
    server: BenchServer,
    name: str,
    mode: str,
    command: str,
    count: int,
    recording: AbstractContextManager[object] | None = None,
) -> dict[str, float]:
    """Queue ``count`` jobs behind a gate, open it, and time the drain (profiled with
    ``recording`` if given)."""
    gate = Gate(server, name)
    async with server.connect() as conn:
        await gate.close(conn)
    insert_jobs(server, count, pending_row(name, mode, command))
    async with server.connect() as conn:
        with recording or contextlib.nullcontext():
            released = time.time()
            gate.release()
            # Polled slowly: the drain's times come from the store, and each poll is a
            # listing the server must answer while it drains.
            await wait_idle(conn, timeout=120 + count / 20, poll=0.25)
    ((total, completed, first, last),) = server.rows(
        "SELECT count(*), sum(status = 'Completed'), min(started_at), max(completed_at)"
        " FROM jobs WHERE name = ?",
        (name,),
    )
    if total != count or completed != count:
        raise RuntimeError(f"{name}: {completed} of {count} jobs completed ({total} stored)")
    return {"rate": count / (last - first), "gate_to_first_start": first - released}


@dataclass(frozen=True)
class Workload:
    figure: str
    prefix: str
    mode: str
    command: str
    count: int
    concurrency: int


async def _repeat_drain(
    ctx: Context, work: Workload, baseline: Callable[[int], float], baseline_name: str
) -> tuple[list[float], list[float], list[str]]:
    """Each repetition's baseline and drain rate, then one profiled drain; and the notes."""
    env = {"JOBHOST_MAX_CONCURRENT_JOBS": str(work.concurrency)}
    rates: list[float] = []
    base: list[float] = []
    notes: list[str] = []
    with ctx.server(work.figure, env) as server:
        for rep in range(ctx.reps):
            base.append(baseline(rep))
            found = await drain_once(
                server, f"{work.prefix}-{rep}", work.mode, work.command, work.count
            )
            rates.append(found["rate"])
            ctx.log(
                f"{work.figure} rep {rep}: {rates[-1]:.0f} jobs/s, {baseline_name} {base[-1]:.0f}"
            )

        async def extra(recording: AbstractContextManager[object]) -> None:
            name = f"{work.prefix}-profile"
            await drain_once(server, name, work.mode, work.command, work.count, recording)

        await ctx.profile_once(work.figure, server, notes, extra)
    return rates, base, notes


async def drain_process(ctx: Context) -> Result:
    n = ctx.sizes.drain_process
    rates, base, notes = await _repeat_drain(
        ctx,
        Workload("drain-process", "dp", "BackgroundJob", "true", n, PROCESS_CONCURRENCY),
        lambda rep: baseline_rate(ctx, n, rep),
        "baseline",
    )
    ctx.shared["drain-process"] = rates
    value, baseline = Spread.of(rates), Spread.of(base)
    ratio = value.median / baseline.median
    return Result(
        "drain-process",
        f"{n} BackgroundJobs `true`, queued up front, drained",
        value,
        "jobs/s",
        ">= 0.8 x baseline",
        ratio >= 0.8,
        baseline,
        "jobs/s",
        size={"jobs": n, "concurrency": PROCESS_CONCURRENCY},
        notes="; ".join(
            [
                "baseline: asyncio loop spawning /bin/sh -c true with pipes, one SQLite "
                "commit per run, same concurrency",
                *notes,
            ]
        ),
        extra={"runs": rounded(rates), "baseline_runs": rounded(base)},
    )


def baseline_rate(ctx: Context, jobs: int, rep: int) -> float:
    path = ctx.workdir / f"baseline-{rep}.db"
    done = subprocess.run(
        [sys.executable, "-m", "bench.baseline", str(jobs), str(PROCESS_CONCURRENCY), str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    path.unlink()
    return jobs / float(json.loads(done.stdout)["elapsed"])


async def drain_runspace(ctx: Context) -> Result:
    n = ctx.sizes.drain_runspace
    rates, huey, notes = await _repeat_drain(
        ctx,
        Workload("drain-runspace", "dr", "Runspace", "pass", n, RUNSPACE_CONCURRENCY),
        lambda _rep: peers.huey_rate(ctx, "noop", n, RUNSPACE_CONCURRENCY),
        "Huey",
    )
    ctx.shared["drain-runspace"] = rates
    ctx.shared["huey-noop"] = huey
    value, baseline = Spread.of(rates), Spread.of(huey)
    ratio = value.median / baseline.median
    return Result(
        "drain-runspace",
        f"{n} Runspace jobs `pass`, queued up front, drained",
        value,
        "jobs/s",
        ">= 5,000 jobs/s and >= 1.5 x Huey",
        value.median >= 5000 and ratio >= 1.5,
        baseline,
        "jobs/s (Huey, SQLite, thread workers)",
        size={"jobs": n, "concurrency": RUNSPACE_CONCURRENCY},
        notes="; ".join([peers.HUEY_NOTE, *notes]),
        extra={"runs": rounded(rates), "baseline_runs": rounded(huey)},
    )
