"""dependency-fanin and waiting-scale: what ``dependsOn`` costs the dispatcher.

dependency-fanin: Runspace ``pass`` jobs all depend on one MainLoop Gate (it holds the
dispatcher, so every dependent is submitted and Waiting before it ends). The figure is the
time from the gate's CompletedAt to the last dependent's StartedAt, read from the store.
The baseline, in the same repetition: as many plain jobs queued Pending behind a Gate, the
same time measured; the difference is what releasing the dependents costs.

waiting-scale: the dispatcher's cycle time (py-spy, as in the concurrency figure, with probe
jobs dispatched meanwhile) with that many jobs Waiting in the store, bulk-loaded straight
into its SQLite tables with their edges, all waiting on one running ``sleep``; the baseline
is the same measurement with none, in the same repetition. The loaded jobs are deleted
after each repetition.
"""

from __future__ import annotations

import asyncio

from bench.concurrency import dispatcher_cycles, probe
from bench.context import Context
from bench.http import API, hammer, submit_body
from bench.results import Result, Spread, percentile, rounded
from bench.server import BenchServer, Gate, kill_jobs_under, wait_idle
from bench.store import insert_waiting, remove_jobs

SUBMIT_CONNECTIONS = 8
WAITING_NAME = "waiting-scale"


async def _fanin_rep(server: BenchServer, count: int, name: str, depend: bool) -> float:
    """Seconds from the gate's end to the last of ``count`` jobs behind it started."""
    gate = Gate(server, name)
    async with server.connect() as conn:
        await gate.close(conn)
        body: dict[str, object] = dict(submit_body(name, "pass", "Runspace"))
        if depend:
            body["dependsOn"] = [gate.job_id]
        request = conn.encode("POST", f"{API}/jobs/submit", body)
    await hammer(server.port, server.token, [request] * count, SUBMIT_CONNECTIONS)
    gate.release()
    async with server.connect() as conn:
        await wait_idle(conn, timeout=300)
    ((ended,),) = server.rows("SELECT completed_at FROM jobs WHERE job_id = ?", (gate.job_id,))
    ((started, last, done),) = server.rows(
        "SELECT count(started_at), max(started_at), sum(status = 'Completed') FROM jobs"
        " WHERE name = ?",
        (name,),
    )
    if started != count or done != count:
        raise RuntimeError(f"{name}: {started} of {count} started, {done} completed")
    return float(last) - float(ended)


async def dependency_fanin(ctx: Context) -> Result:
    count = ctx.sizes.fanin_dependents
    released: list[float] = []
    queued: list[float] = []
    with ctx.server("dependency-fanin") as server:
        for rep in range(ctx.reps):
            released.append(await _fanin_rep(server, count, f"fanin-{rep}", True) * 1000)
            queued.append(await _fanin_rep(server, count, f"queued-{rep}", False) * 1000)
            ctx.log(f"dependency-fanin rep {rep}: {released[-1]:.0f} ms (queued: {queued[-1]:.0f})")
    value, baseline = Spread.of(released), Spread.of(queued)
    return Result(
        "dependency-fanin",
        f"{count} Runspace jobs depend on one; its end -> the last dependent started",
        value,
        "ms",
        "<= 1 s",
        value.median <= 1000,
        baseline,
        "ms (as many plain jobs queued behind a gate)",
        size={"dependents": count, "limit": "default"},
        notes=f"release cost over a plain queue: {value.median - baseline.median:.0f} ms (median)",
        extra={"runs": rounded(released), "baseline_runs": rounded(queued)},
    )


async def _start_root(server: BenchServer) -> str:
    """A BackgroundJob that runs until killed: what the loaded jobs wait on."""
    async with server.connect() as conn:
        body = submit_body("waiting-root", "sleep 600", "BackgroundJob")
        job_id: str = (await conn.call("POST", f"{API}/jobs/submit", body))["jobId"]
        while (await conn.call("GET", f"{API}/jobs?jobId={job_id}"))["job"]["Status"] != "Running":
            await asyncio.sleep(0.02)
    return job_id


async def _cycle_median(ctx: Context, server: BenchServer, label: str) -> list[float]:
    cycles, _probes = await asyncio.gather(
        asyncio.to_thread(dispatcher_cycles, ctx, server, label), probe(server, label, 0.3)
    )
    if not cycles:
        raise RuntimeError(f"{label}: no dispatcher cycle seen (is py-spy installed?)")
    return cycles


async def waiting_scale(ctx: Context) -> Result:
    count = ctx.sizes.waiting_jobs
    loaded: list[float] = []
    empty: list[float] = []
    maxima: list[float] = []
    with ctx.server("waiting-scale") as server:
        try:
            root = await _start_root(server)
            for rep in range(ctx.reps):
                empty.append(percentile(await _cycle_median(ctx, server, f"empty-{rep}"), 50))
                seconds = insert_waiting(server, count, WAITING_NAME, root)
                cycles = await _cycle_median(ctx, server, f"waiting-{rep}")
                loaded.append(percentile(cycles, 50))
                maxima.append(max(cycles))
                remove_jobs(server, WAITING_NAME)
                ctx.log(
                    f"waiting-scale rep {rep}: cycle {loaded[-1]:.2f} ms with {count} Waiting"
                    f" (loaded in {seconds:.1f} s), {empty[-1]:.2f} ms without"
                )
        finally:
            kill_jobs_under(server.data_dir)
    value, baseline = Spread.of(loaded), Spread.of(empty)
    return Result(
        "waiting-scale",
        f"dispatcher cycle with {count:,} jobs Waiting in the store",
        value,
        "ms (cycle p50)",
        "cycle <= 10 ms",
        value.median <= 10,
        baseline,
        "ms (cycle p50, no job Waiting)",
        size={"waiting": count},
        notes=f"longest cycle seen with them: {Spread.of(maxima).median:.1f} ms (median of reps)",
        extra={"runs": rounded(loaded), "baseline_runs": rounded(empty), "max_ms": maxima},
    )
