"""submit-rate: submits per second from 16 keep-alive clients, against ``/healthz``.

The dispatcher is held by a Gate for the whole figure, so the submitted Runspace jobs only
queue: the figure measures accepting a job (auth, validation, one INSERT, the engine's
wake-up), not running it. Each repetition runs the baseline (the same clients and request
count against ``/healthz``, which reads the jobs table once) right before the submits.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from bench.context import Context
from bench.http import API, hammer, submit_body
from bench.results import Result, Spread, percentile, rounded
from bench.server import BenchServer, Gate

CLIENTS = 16


async def _healthz(server: BenchServer, count: int) -> tuple[float, list[float]]:
    async with server.connect() as conn:
        request = conn.encode("GET", "/healthz")
    elapsed, latencies = await hammer(server.port, None, [request] * count, CLIENTS)
    return count / elapsed, latencies


async def _submits(server: BenchServer, count: int, rep: int) -> tuple[float, list[float]]:
    async with server.connect() as conn:
        body = submit_body(f"submit-{rep}", "pass", "Runspace")
        request = conn.encode("POST", f"{API}/jobs/submit", body)
    elapsed, latencies = await hammer(server.port, server.token, [request] * count, CLIENTS)
    return count / elapsed, latencies


async def submit_rate(ctx: Context) -> Result:
    n = ctx.sizes.submits
    rates: list[float] = []
    base: list[float] = []
    p99s: list[float] = []
    notes: list[str] = []
    with ctx.server("submit-rate") as server:
        gate = Gate(server, "submit")
        async with server.connect() as conn:
            await gate.close(conn)
        for rep in range(ctx.reps):
            base.append((await _healthz(server, n))[0])
            rate, latencies = await _submits(server, n, rep)
            rates.append(rate)
            p99s.append(percentile(latencies, 99) * 1000)
            ctx.log(f"submit-rate rep {rep}: {rate:.0f}/s, healthz {base[-1]:.0f}/s")

        async def extra(recording: AbstractContextManager[object]) -> None:
            with recording:
                await _submits(server, n, ctx.reps)

        await ctx.profile_once("submit-rate", server, notes, extra)
        gate.release()
    value = Spread.of(rates)
    return Result(
        "submit-rate",
        f"{n} submits from {CLIENTS} concurrent keep-alive clients",
        value,
        "submits/s",
        ">= 2,000 submits/s",
        value.median >= 2000,
        Spread.of(base),
        "requests/s (GET /healthz, same clients)",
        size={"submits": n, "clients": CLIENTS},
        notes="; ".join(
            ["Runspace `pass` jobs queued behind a held dispatcher (submission alone)", *notes]
        ),
        extra={
            "runs": rounded(rates),
            "baseline_runs": rounded(base),
            "submit_p99_ms": rounded(p99s),
        },
    )
