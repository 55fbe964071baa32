"""dispatch-latency and output-latency on an otherwise idle server.

dispatch-latency: BackgroundJobs ``true`` submitted one at a time, 25 ms apart (each has
finished before the next arrives); the latency is StartedAt - SubmittedAt, read with full
precision from the store (the API rounds to milliseconds).

output-latency: a BackgroundJob prints its clock (``time.time()``) every 10 ms; a reader
follows the live output and, for each line, takes its own clock minus the printed one (job
and reader share the machine's clock). The figure is the WebSocket reader
(``jobs/stream``); each repetition also runs a job followed by offset polling of
``jobs/output`` every 5 ms, reported beside it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

from websockets.asyncio.client import connect

from bench.context import Context
from bench.http import API, submit_body
from bench.results import Result, Spread, percentile, rounded
from bench.server import BenchServer, wait_idle

SUBMIT_INTERVAL = 0.025
LINE_INTERVAL = 0.01
POLL_INTERVAL = 0.005
Reader = Callable[[BenchServer, str], Awaitable[list[float]]]


async def _dispatch_rep(server: BenchServer, samples: int, name: str) -> list[float]:
    async with server.connect() as conn:
        request = conn.encode(
            "POST", f"{API}/jobs/submit", submit_body(name, "true", "BackgroundJob")
        )
        for _ in range(samples):
            response = await conn.send(request)
            if response.status != 200:
                raise RuntimeError(f"submit failed: {response.status}")
            await asyncio.sleep(SUBMIT_INTERVAL)
        await wait_idle(conn, timeout=60)
    rows = server.rows(
        "SELECT (started_at - submitted_at) * 1000 FROM jobs WHERE name = ?", (name,)
    )
    return [float(ms) for (ms,) in rows]


async def dispatch_latency(ctx: Context) -> Result:
    samples = ctx.sizes.latency_samples
    p50s: list[float] = []
    p99s: list[float] = []
    notes: list[str] = []
    with ctx.server("dispatch-latency") as server:
        for rep in range(ctx.reps):
            found = await _dispatch_rep(server, samples, f"dl-{rep}")
            p50s.append(percentile(found, 50))
            p99s.append(percentile(found, 99))
            ctx.log(f"dispatch-latency rep {rep}: p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms")

        async def extra(recording: AbstractContextManager[object]) -> None:
            with recording:
                await _dispatch_rep(server, samples, "dl-profile")

        await ctx.profile_once("dispatch-latency", server, notes, extra)
    value, p99 = Spread.of(p50s), Spread.of(p99s)
    return Result(
        "dispatch-latency",
        f"submit -> StartedAt, idle server, {samples} samples",
        value,
        "ms (p50)",
        "p50 <= 5 ms, p99 <= 20 ms",
        value.median <= 5 and p99.median <= 20,
        size={"samples": samples, "mode": "BackgroundJob"},
        notes="; ".join([f"p99 median {p99.median:.2f} ms", *notes]),
        extra={"p50_runs": rounded(p50s), "p99_ms": p99.median, "p99_runs": rounded(p99s)},
    )


def _printer(lines: int) -> str:
    script = (
        "import time\n"
        f"for i in range({lines}):\n"
        "    print(f'{time.time():.6f}', flush=True)\n"
        f"    time.sleep({LINE_INTERVAL})\n"
    )
    return f"{shlex.quote(sys.executable)} -u -c {shlex.quote(script)}"


class _Lines:
    """Splits streamed text into lines and times each against the clock it carries."""

    def __init__(self) -> None:
        self.partial = ""
        self.latencies: list[float] = []

    def add(self, text: str) -> None:
        now = time.time()
        *complete, self.partial = (self.partial + text).split("\n")
        self.latencies.extend((now - float(line)) * 1000 for line in complete if line)


async def _poll(server: BenchServer, job_id: str) -> list[float]:
    """Latencies (ms) of every line of the job's output, read live by offset polling."""
    lines, offset = _Lines(), 0
    async with server.connect() as conn:
        while True:
            page = await conn.call("GET", f"{API}/jobs/output?jobId={job_id}&offset={offset}")
            lines.add(page["output"])
            offset = page["nextOffset"]
            if page["state"] not in ("Pending", "Running", "Stopping") and not page["output"]:
                return lines.latencies
            await asyncio.sleep(POLL_INTERVAL)


async def _stream(server: BenchServer, job_id: str) -> list[float]:
    """Latencies (ms) of every line of the job's output, read from the WebSocket."""
    lines = _Lines()
    uri = f"ws://127.0.0.1:{server.port}{API}/jobs/stream?jobId={job_id}&offset=0"
    headers = {"Authorization": f"Bearer {server.token}"}
    async with connect(uri, additional_headers=headers, max_size=None) as socket:
        async for raw in socket:
            message = json.loads(raw)
            if message["type"] == "output":
                lines.add(message["data"])
            elif message["type"] in ("end", "error", "deleted"):
                return lines.latencies
    return lines.latencies


async def _output_rep(server: BenchServer, lines: int, name: str, reader: Reader) -> list[float]:
    async with server.connect() as conn:
        body = submit_body(name, _printer(lines), "BackgroundJob")
        job_id = (await conn.call("POST", f"{API}/jobs/submit", body))["jobId"]
    found = await reader(server, job_id)
    if len(found) != lines:
        raise RuntimeError(f"read {len(found)} of {lines} lines")
    return found


async def output_latency(ctx: Context) -> Result:
    lines = ctx.sizes.output_lines
    p50s: list[float] = []
    p99s: list[float] = []
    polled: list[float] = []
    notes: list[str] = []
    with ctx.server("output-latency") as server:
        for rep in range(ctx.reps):
            found = await _output_rep(server, lines, f"ol-{rep}", _stream)
            p50s.append(percentile(found, 50))
            p99s.append(percentile(found, 99))
            polled.append(percentile(await _output_rep(server, lines, f"op-{rep}", _poll), 50))
            ctx.log(
                f"output-latency rep {rep}: p50 {p50s[-1]:.1f} ms, p99 {p99s[-1]:.1f} ms "
                f"(polling: p50 {polled[-1]:.1f} ms)"
            )

        async def extra(recording: AbstractContextManager[object]) -> None:
            with recording:
                await _output_rep(server, lines, "ol-profile", _stream)

        await ctx.profile_once("output-latency", server, notes, extra)
    value = Spread.of(p50s)
    return Result(
        "output-latency",
        "a job prints timestamped lines; a reader follows the live output",
        value,
        "ms (p50)",
        "p50 <= 25 ms",
        value.median <= 25,
        size={"lines": lines, "line_interval_ms": LINE_INTERVAL * 1000},
        notes="; ".join(
            [
                f"WebSocket jobs/stream; p99 median {Spread.of(p99s).median:.1f} ms; offset "
                f"polling every {POLL_INTERVAL * 1000:g} ms: p50 {Spread.of(polled).median:.1f} ms",
                *notes,
            ]
        ),
        extra={
            "p50_runs": rounded(p50s),
            "p99_runs": rounded(p99s),
            "polling_p50_runs": rounded(polled),
        },
    )
