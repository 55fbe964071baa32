"""concurrency: many BackgroundJobs ``sleep`` at once; what does the server pay for them?

Each repetition starts the jobs on a fresh server (the limit raised above their number),
waits until all are Running, then measures, while they run: the server's RSS; ``GET jobs``
latency (sequential requests on one keep-alive connection); the dispatcher's cycle time;
and the dispatch latency of small probe jobs. The first repetition then kills every job's
process group at once and times how long the server takes to record all the ends; the
others just stop the server and kill the jobs.

There is no metric for the dispatcher's cycle, so it is measured from outside: py-spy
samples the server with ``--idle`` and every run of consecutive samples of the dispatcher
thread inside ``Dispatcher.cycle`` is one cycle (resolution: the sampling interval). The
probe jobs are submitted during that recording, so cycles that claim and start a job are seen.
"""

from __future__ import annotations

import asyncio
import time

from bench.context import Context
from bench.http import API, hammer, submit_body
from bench.profile import Recording, cycle_times
from bench.results import Result, Spread, percentile
from bench.server import BenchServer, kill_jobs_under, wait_idle

CYCLE_SAMPLE_RATE = 500
PROBES = 20


async def _start_all(server: BenchServer, count: int, name: str) -> float:
    """Submit ``count`` sleepers and wait until all run; returns the seconds that took."""
    start = time.perf_counter()
    async with server.connect() as conn:
        body = submit_body(name, "sleep 600", "BackgroundJob")
        request = conn.encode("POST", f"{API}/jobs/submit", body)
    await hammer(server.port, server.token, [request] * count, 16)
    async with server.connect() as conn:
        while True:
            counts = (await conn.call("GET", f"{API}/jobs?includeCompleted=false"))["counts"]
            if counts["running"] >= count:
                return time.perf_counter() - start
            if time.perf_counter() - start > 300:
                raise TimeoutError(f"only {counts['running']} of {count} jobs running")
            await asyncio.sleep(0.1)


async def _get_latencies(server: BenchServer, count: int) -> list[float]:
    latencies = []
    async with server.connect() as conn:
        request = conn.encode("GET", f"{API}/jobs")
        for _ in range(count):
            start = time.perf_counter()
            response = await conn.send(request)
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET jobs: {response.status}")
    return latencies


async def probe(server: BenchServer, name: str, delay: float = 0.0) -> list[float]:
    await asyncio.sleep(delay)  # e.g. until py-spy has attached
    async with server.connect() as conn:
        request = conn.encode("POST", f"{API}/jobs/submit", submit_body(name, "pass", "Runspace"))
        for _ in range(PROBES):
            await conn.send(request)
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    rows = server.rows(
        "SELECT (started_at - submitted_at) * 1000 FROM jobs WHERE name = ? AND started_at"
        " IS NOT NULL",
        (name,),
    )
    return [float(ms) for (ms,) in rows]


def dispatcher_cycles(ctx: Context, server: BenchServer, label: str) -> list[float]:
    """The dispatcher's cycle times (ms) over ``ctx.sizes.cycle_seconds``, seen by py-spy."""
    path = ctx.workdir / f"cycles-{label}.speedscope.json"
    with Recording(server.pid, path, "speedscope", idle=True, rate=CYCLE_SAMPLE_RATE) as rec:
        time.sleep(ctx.sizes.cycle_seconds)
    if rec.error:
        ctx.log(f"{label}: dispatcher cycles not measured: {rec.error}")
        return []
    return [t * 1000 for t in cycle_times(path)]


async def _rep(ctx: Context, server: BenchServer, count: int, rep: int) -> dict[str, float]:
    started_in = await _start_all(server, count, f"cc-{rep}")
    memory = server.memory_kib()
    gets = await _get_latencies(server, ctx.sizes.get_requests)
    # The probes run while py-spy records, so that the cycles seen include ones that claim
    # and start a job with every other job running, not only the idle tick's.
    cycles, probes = await asyncio.gather(
        asyncio.to_thread(dispatcher_cycles, ctx, server, f"concurrency-{rep}"),
        probe(server, f"cc-probe-{rep}", 0.3),
    )
    return {
        "rss_mib": memory["VmRSS"] / 1024,
        "hwm_mib": memory["VmHWM"] / 1024,
        "get_p50_ms": percentile(gets, 50),
        "get_p99_ms": percentile(gets, 99),
        "cycle_median_ms": percentile(cycles, 50) if cycles else float("nan"),
        "cycle_max_ms": max(cycles) if cycles else float("nan"),
        "cycles_seen": len(cycles),
        "probe_p50_ms": percentile(probes, 50),
        "seconds_to_start_all": started_in,
    }


async def _record_ends(server: BenchServer) -> float:
    """Kill every job at once; seconds until the server has recorded them all."""
    start = time.perf_counter()
    kill_jobs_under(server.data_dir)
    async with server.connect() as conn:
        await wait_idle(conn, timeout=600, poll=0.25)
    return time.perf_counter() - start


async def concurrency(ctx: Context) -> Result:
    n = ctx.sizes.concurrent_jobs
    env = {"JOBHOST_MAX_CONCURRENT_JOBS": str(n + PROBES + 10)}
    reps: list[dict[str, float]] = []
    ends = float("nan")
    for rep in range(ctx.reps):
        # A fresh server each time; only the first waits for all its jobs' ends to be
        # recorded (timed), as that is slow and the same every time.
        with ctx.server(f"concurrency-{rep}", env) as server:
            reps.append(await _rep(ctx, server, n, rep))
            if rep == 0:
                ends = await _record_ends(server)
        ctx.log(f"concurrency rep {rep}: {reps[-1]}")

    def spread(key: str) -> Spread:
        return Spread.of([r[key] for r in reps])

    rss, get99, cycle = spread("rss_mib"), spread("get_p99_ms"), spread("cycle_median_ms")
    met = rss.median <= 300 and get99.median <= 100 and cycle.median <= 10
    summary = {key: spread(key).median for key in reps[0]}
    return Result(
        "concurrency",
        f"{n} BackgroundJobs `sleep` running at once",
        rss,
        "MiB server RSS",
        "RSS <= 300 MB; GET jobs p99 <= 100 ms; dispatcher cycle <= 10 ms",
        met,
        size={"jobs": n, "get_requests": ctx.sizes.get_requests, "limit": n + PROBES + 10},
        notes=(
            f"GET jobs p99 {get99.median:.1f} ms; dispatcher cycle median "
            f"{cycle.median:.1f} ms (py-spy, ticks and probe dispatches); probe dispatch p50 "
            f"{summary['probe_p50_ms']:.1f} ms; recording {n} jobs killed at once took "
            f"{ends:.1f} s"
        ),
        extra={"medians": summary, "runs": reps, "seconds_to_record_ends": ends},
    )
