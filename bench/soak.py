"""soak: 20 clients' mixed load on one server for a long while; nothing fails, nothing grows.

``python -m bench.soak [--short] [--seconds N] [--clients N] [--json FILE]`` (also
``scripts/bench soak ...``, or ``scripts/bench --only soak`` at the figure sizes: 30 minutes,
2 with ``--quick``). The clients (bench/soak_load.py) submit BackgroundJobs and Runspace
jobs, list jobs and results, follow output by offsets and over ``jobs/stream``, watch
``/events``, stop running jobs and delete finished ones, checking every answer. Meanwhile
the server and its job parent are sampled every second (bench/soak_watch.py), and after the
warm-up their RSS and open fds must stay flat (bench/soak_checks.py). The report gives each
operation's p50/p95/p99; the exit status is 1 when a check fails, naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.context import FULL, QUICK, Context, add_run_options, server_settings
from bench.http import API
from bench.results import Result, Spread, percentile, table, write_report
from bench.server import BenchServer, wait_idle
from bench.soak_checks import WARMUP_FRACTION, Run, verdicts
from bench.soak_load import Client, Tally, run_client
from bench.soak_watch import Sample, sample, watch

CLIENTS = 20
GOAL = "0 errors; RSS and fds flat after warm-up"
# Past the deadline each client finishes the scenario it is in (a minute at most, each).
FINISH_SECONDS = 90.0


async def soak(ctx: Context) -> Result:
    """The figure, at the context's size (``scripts/bench --only soak``)."""
    return await run_soak(ctx, ctx.sizes.soak_seconds, CLIENTS)


async def run_soak(ctx: Context, seconds: float, clients: int) -> Result:
    with ctx.server("soak") as server:
        tally, samples = Tally(), list[Sample]()
        started = time.monotonic()
        watcher = asyncio.create_task(watch(server.pid, server.data_dir, started, samples))
        try:
            async with asyncio.timeout(seconds + FINISH_SECONDS):
                await asyncio.gather(
                    *(
                        run_client(Client(server, tally, i), started + seconds)
                        for i in range(clients)
                    )
                )
        finally:
            watcher.cancel()
        ctx.log(f"soak: load ended after {time.monotonic() - started:.0f} s")
        async with server.connect() as conn:
            await wait_idle(conn, timeout=60)
            left = (await conn.call("GET", f"{API}/jobs"))["counts"]
        final = sample(server.pid, server.data_dir, time.monotonic() - started)
        run = Run(seconds, clients, tally, samples, final, left, _log_errors(server))
    return _result(run)


def _log_errors(server: BenchServer) -> list[str]:
    """The server log's ERROR and CRITICAL lines and tracebacks."""
    text = (server.data_dir / "server.log").read_text(errors="replace")
    marks = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")
    return [line for line in text.splitlines() if any(mark in line for mark in marks)]


def latencies(tally: Tally) -> dict[str, dict[str, float]]:
    """Per kind of operation: how many, and p50/p95/p99/max in ms."""
    return {
        kind: {
            "count": len(values),
            "p50_ms": round(percentile(values, 50), 2),
            "p95_ms": round(percentile(values, 95), 2),
            "p99_ms": round(percentile(values, 99), 2),
            "max_ms": round(max(values), 2),
        }
        for kind, values in sorted(tally.latencies.items())
    }


def _summary(run: Run) -> dict[str, float]:
    """Figures for the report, over the samples after warm-up."""
    after = [s for s in run.samples if s.at >= run.seconds * WARMUP_FRACTION] or run.samples

    def mib(kib: float) -> float:
        return round(kib / 1024, 1)

    def low_high(name: str, values: list[int]) -> dict[str, float]:
        return {f"{name}_min": min(values), f"{name}_max": max(values)}

    return {
        "rss_mib_after_warmup": mib(after[0].rss_kib),
        "rss_mib_median": mib(statistics.median(s.rss_kib for s in after)),
        "rss_mib_max": mib(max(s.rss_kib for s in after)),
        "rss_mib_end": mib(after[-1].rss_kib),
        **low_high("fds", [s.fds for s in after]),
        **low_high("held_fds", [s.fds - s.sockets - s.job_files - s.store_files for s in after]),
        **low_high("store_fds", [s.store_files for s in after]),
        **low_high("load_fds", [s.sockets + s.job_files for s in after]),
        "threads_max": max(s.threads for s in after),
        "parent_rss_mib_median": mib(statistics.median(s.parent_rss_kib for s in after)),
        **low_high("parent_fds", [s.parent_fds for s in after]),
        "processes_max": max(s.processes for s in after),
    }


def _result(run: Run) -> Result:
    found = verdicts(run)
    per_kind = latencies(run.tally)
    total = sum(int(k["count"]) for k in per_kind.values())
    summary = _summary(run)
    failed = [c.name for c in found if not c.passed]
    p99s = ", ".join(f"{kind} {k['p99_ms']:.0f}" for kind, k in per_kind.items())
    notes = (
        f"{total / run.seconds:.0f} operations/s; p99 ms: {p99s}; server RSS median "
        f"{summary['rss_mib_median']} MiB after warm-up, fds {summary['fds_min']}-"
        f"{summary['fds_max']}; {run.tally.errors} errors"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return Result(
        "soak",
        f"{run.clients} clients' mixed load for {run.seconds:g} s",
        Spread.of([float(total)]),
        "operations",
        GOAL,
        not failed,
        size={
            "clients": run.clients,
            "seconds": run.seconds,
            "warmup_seconds": run.seconds * WARMUP_FRACTION,
        },
        notes=notes,
        extra={
            "latency": per_kind,
            "checks": [c.as_json() for c in found],
            "summary": summary,
            "scenarios": run.tally.scenarios,
            "events_seen": run.tally.events_seen,
            "errors": run.tally.examples,
            "log_errors": run.log_errors[:20],
            "final": run.final.as_json(),
            "samples": [s.as_json() for s in run.samples],
        },
    )


def latency_table(result: Result) -> str:
    per_kind = result.extra.get("latency", {})
    assert isinstance(per_kind, dict)
    lines = [
        f"{'operation':<16} {'count':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    ]
    for kind, k in per_kind.items():
        lines.append(
            f"{kind:<16} {k['count']:>8} {k['p50_ms']:>8.1f} {k['p95_ms']:>8.1f} "
            f"{k['p99_ms']:>8.1f} {k['max_ms']:>8.1f}"
        )
    return "\n".join(lines)


def failed_checks(result: Result) -> list[str]:
    found = result.extra.get("checks", [])
    return [str(c["name"]) for c in found if not c["passed"]] if isinstance(found, list) else []


def checks_table(result: Result) -> str:
    found = result.extra.get("checks", [])
    assert isinstance(found, list)
    return "\n".join(
        f"{'ok ' if c['passed'] else 'FAIL'} {c['name']:<18} {c['detail']}" for c in found
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--short", action="store_true", help="2 minutes (CI) instead of 30")
    parser.add_argument("--seconds", type=float, help="how long the load runs (overrides)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="simulated users")
    add_run_options(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = QUICK if args.short else FULL
    seconds = args.seconds if args.seconds is not None else sizes.soak_seconds
    if seconds < 10 or args.clients < 1:
        print("--seconds must be >= 10 and --clients >= 1", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="jobhost-soak-"))
    ctx = Context(args.short, 1, sizes, workdir)
    ctx.server_env = server_settings(args)
    started = time.perf_counter()
    try:
        result = asyncio.run(run_soak(ctx, seconds, args.clients))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n\n".join([table([result]), latency_table(result), checks_table(result)]))
    if args.json:
        fields = {
            "short": args.short,
            "command": "python -m bench.soak " + " ".join(sys.argv[1:] if argv is None else argv),
            "seconds": round(time.perf_counter() - started, 1),
            "server_settings": ctx.server_env,
        }
        write_report(args.json, [result], fields)
    if not result.met:
        failed = ", ".join(failed_checks(result)) or "not measured"
        print(f"soak failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
