"""output-throughput: a BackgroundJob ``cat``s a large file to stdout; how fast is it stored?

The rate is the payload's size over StartedAt -> CompletedAt (read from the store; the
job's outcome is written in the same transaction as the last of its output). CompletedAt is
stamped inside that transaction, before its commit, so the rate as a client sees it (submit
until the finished record is visible) is reported beside it. The server's memory growth is
its peak RSS during the job (VmHWM, reset just before the job through /proc/PID/clear_refs)
minus its RSS before. The baseline, in the same repetition, is ``cat`` of the same file into
a file. The server's output cap is raised above the payload so that nothing is dropped.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

from bench.context import Context
from bench.http import API, submit_body
from bench.results import Result, Spread, rounded
from bench.server import BenchServer

MB = 1_000_000
MiB = 1024 * 1024


def make_payload(folder: Path, megabytes: int) -> Path:
    """``megabytes`` MB of numbered 100-byte text lines."""
    path = folder / f"payload-{megabytes}mb.txt"
    block = b"".join(b"%09d %s\n" % (i, b"x" * 89) for i in range(10_000))  # 1 MB
    with open(path, "wb") as out:
        for _ in range(megabytes):
            out.write(block)
    return path


def cat_rate(payload: Path, folder: Path) -> float:
    target = folder / "cat-copy"
    start = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", f"cat {shlex.quote(str(payload))} > {target}"], check=True)
    elapsed = time.perf_counter() - start
    target.unlink()
    return payload.stat().st_size / MB / elapsed


async def capture_once(server: BenchServer, payload: Path, name: str) -> tuple[float, float, float]:
    """One job ``cat``ing the payload: MB/s stored (store times), MB/s as a client sees it
    (submit until the finished record is visible, polled every 20 ms), and the server's
    memory growth in MiB."""
    before = server.memory_kib()["VmRSS"]
    peak_reset = server.reset_peak()
    sampled = before
    body = submit_body(name, f"cat {shlex.quote(str(payload))}", "BackgroundJob")
    async with server.connect() as conn:
        submitted = time.perf_counter()
        job_id = (await conn.call("POST", f"{API}/jobs/submit", body))["jobId"]
        while True:
            sampled = max(sampled, server.memory_kib()["VmRSS"])
            job = (await conn.call("GET", f"{API}/jobs?jobId={job_id}"))["job"]
            if job["CompletedAt"] is not None:
                seen = time.perf_counter() - submitted
                break
            await asyncio.sleep(0.02)
        peak = server.memory_kib()["VmHWM"] if peak_reset else sampled
        ((status, started, completed, size),) = server.rows(
            "SELECT status, started_at, completed_at, output_size FROM jobs WHERE job_id = ?",
            (job_id,),
        )
        await conn.call("DELETE", f"{API}/jobs?jobId={job_id}")
    expected = payload.stat().st_size
    if status != "Completed" or size != expected:
        raise RuntimeError(f"job ended {status} with {size} of {expected} bytes stored")
    return expected / MB / (completed - started), expected / MB / seen, (peak - before) / 1024


async def output_throughput(ctx: Context) -> Result:
    payload = make_payload(ctx.workdir, ctx.sizes.output_mb)
    cap = str(max(64 * MiB, 2 * payload.stat().st_size))
    rates: list[float] = []
    observed: list[float] = []
    growth: list[float] = []
    base: list[float] = []
    notes: list[str] = []
    with ctx.server("output-throughput", {"JOBHOST_OUTPUT_CAP_BYTES": cap}) as server:
        for rep in range(ctx.reps):
            base.append(cat_rate(payload, ctx.workdir))
            rate, seen, grew = await capture_once(server, payload, f"ot-{rep}")
            rates.append(rate)
            observed.append(seen)
            growth.append(grew)
            ctx.log(f"output-throughput rep {rep}: {rate:.0f} MB/s (+{grew:.0f} MiB RSS)")

        async def extra(recording: AbstractContextManager[object]) -> None:
            with recording:
                await capture_once(server, payload, "ot-profile")

        await ctx.profile_once("output-throughput", server, notes, extra)
    payload.unlink()
    value, rss = Spread.of(rates), Spread.of(growth)
    return Result(
        "output-throughput",
        f"a job writes {ctx.sizes.output_mb} MB to stdout",
        value,
        "MB/s",
        "capture >= 200 MB/s; server RSS grows <= 64 MB",
        value.median >= 200 and rss.median <= 64,
        Spread.of(base),
        "MB/s (cat of the same bytes into a file)",
        size={"megabytes": ctx.sizes.output_mb, "output_cap_bytes": int(cap)},
        notes="; ".join(
            [
                f"server RSS growth median {rss.median:.0f} MiB; as a client sees it (submit to "
                f"finished record visible) {Spread.of(observed).median:.0f} MB/s",
                *notes,
            ]
        ),
        extra={
            "runs": rounded(rates),
            "baseline_runs": rounded(base),
            "client_seen_runs": rounded(observed),
            "rss_growth_mib": rss.median,
            "rss_growth_runs": rounded(growth),
        },
    )
