"""history: listing jobs when the store holds a long history of finished ones.

The server starts on an empty store, and ``GET jobs?maxResults=100`` is measured there
first (the baseline). Then finished jobs are bulk-loaded straight into its SQLite jobs
table with SQLAlchemy Core (the server is idle meanwhile), all owned by the benchmark
user, so that the default listing (the caller's own jobs) covers all of them, and the
same requests are measured again. Requests are sequential on one keep-alive connection.
The variants below show what each part of the listing costs; ``deep_page`` is a filtered
page far down the history (DEEP_PAGE, reached by following nextCursor), which must cost
what the first page does (keyset paging, no OFFSET).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from bench.context import Context
from bench.http import API
from bench.results import Result, Spread, percentile, rounded
from bench.server import BenchServer
from bench.store import finished_row, insert_jobs

MIN_SAMPLES = 5
DEEP_PAGE = 500
# 80% of the loaded rows are Completed: at 100 a page, page 500 needs 62,500 rows.
DEEP_FILTER = "/jobs?includePending=false&includeRunning=false&status=Completed&mode=process"
VARIANTS = {
    "list": "/jobs?maxResults=100",
    "list_all_users": "/jobs?maxResults=100&allUsers=true",
    "completed_only_1000": "/jobs?includePending=false&includeRunning=false&maxResults=1000",
    "results_100": "/jobs/results?maxResults=100",
}


async def _measure(
    server: BenchServer, requests: int, seconds: float, variants: dict[str, str]
) -> dict[str, float]:
    """p50 (ms) of each variant over ``requests`` sequential requests, or as many as fit in
    ``seconds`` (at least MIN_SAMPLES), so that a slow listing cannot stretch the run."""
    found: dict[str, float] = {}
    async with server.connect() as conn:
        for variant, path in variants.items():
            request = conn.encode("GET", API + path)
            await conn.send(request)  # warm the cache: the first request after a load is cold
            latencies: list[float] = []
            began = time.perf_counter()
            for _ in range(requests):
                if len(latencies) >= MIN_SAMPLES and time.perf_counter() - began > seconds:
                    break
                start = time.perf_counter()
                response = await conn.send(request)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status}")
            found[variant] = percentile(latencies, 50)
    return found


async def _check_counts(server: BenchServer, count: int) -> None:
    """The server must see the whole loaded history, or the figure measures nothing."""
    async with server.connect() as conn:
        counts = (await conn.call("GET", f"{API}/jobs?maxResults=1"))["counts"]
    if counts["completed"] < count:
        raise RuntimeError(f"the server counts {counts['completed']} of {count} loaded jobs")


async def _deep_page(server: BenchServer, count: int) -> tuple[str, int]:
    """The path of the filtered page DEEP_PAGE (or the last one a small store has) and its
    number, found by following nextCursor from the first page."""
    size = max(1, min(100, int(count * 0.8) // DEEP_PAGE))
    path = f"{DEEP_FILTER}&maxResults={size}"
    page = 1
    async with server.connect() as conn:
        while page < DEEP_PAGE:
            cursor = (await conn.call("GET", API + path))["nextCursor"]
            if cursor is None:
                break
            path = f"{DEEP_FILTER}&maxResults={size}&cursor={cursor}"
            page += 1
    return path, page


async def history(ctx: Context) -> Result:
    count, requests = ctx.sizes.history_rows, ctx.sizes.history_requests
    seconds = ctx.sizes.history_seconds
    empty: list[dict[str, float]] = []
    full: list[dict[str, float]] = []
    notes: list[str] = []
    with ctx.server("history") as server:
        for _ in range(ctx.reps):
            empty.append(await _measure(server, requests, seconds, {"list": VARIANTS["list"]}))
        loaded_in = insert_jobs(server, count, finished_row(time.time() - count * 0.5 - 86400))
        ctx.log(f"history: loaded {count} rows in {loaded_in:.1f} s")
        await _check_counts(server, count)
        deep_path, deep_page = await _deep_page(server, count)
        variants_at_full = VARIANTS | {"deep_page": deep_path}
        for rep in range(ctx.reps):
            full.append(await _measure(server, requests, seconds, variants_at_full))
            ctx.log(f"history rep {rep}: {full[-1]}")

        async def extra(recording: AbstractContextManager[object]) -> None:
            with recording:
                await _measure(server, requests, seconds, VARIANTS)

        await ctx.profile_once("history", server, notes, extra)
    value = Spread.of([r["list"] for r in full])
    variants = {v: Spread.of([r[v] for r in full]).median for v in [*VARIANTS, "deep_page"]}
    return Result(
        "history",
        f"{count:,} finished jobs in the store; GET jobs?maxResults=100",
        value,
        "ms (p50)",
        f"GET jobs?maxResults=100 p50 <= 20 ms; filtered page {DEEP_PAGE} p50 <= 20 ms",
        value.median <= 20 and variants["deep_page"] <= 20,
        Spread.of([r["list"] for r in empty]),
        "ms (p50, same request on the empty store)",
        size={"rows": count, "requests_per_variant": requests},
        notes="; ".join(
            [
                f"deep_page: status=Completed&mode=process, page {deep_page} by cursor",
                "p50 per variant at full size (ms): "
                + ", ".join(f"{k} {v:.1f}" for k, v in variants.items()),
                *notes,
            ]
        ),
        extra={
            "variants_p50_ms": variants,
            "runs": rounded([r["list"] for r in full]),
            "load_seconds": loaded_in,
            "deep_page": deep_page,
        },
    )
