"""``scripts/bench [--quick] [--json FILE] [--only ID,...] [--profile DIR]``.

Runs each figure in turn (each on its own server), prints the table, and writes the JSON
report. A figure that fails is reported as not measured, and the others still run; the
exit status is non-zero if any figure failed to run (not when a goal is missed).
``scripts/bench soak [...]`` is bench/soak.py's own command (its checks set the exit status).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import concurrency, dependencies, drain, history, latency, soak, submit, throughput
from bench.context import FULL, QUICK, TINY, Context, add_run_options, server_settings
from bench.peers import peers
from bench.results import Result, failed, table, write_report

Figure = Callable[[Context], Awaitable[Result]]


async def _peers(ctx: Context) -> Result:
    return peers(ctx)


FIGURES: dict[str, tuple[Figure, str]] = {
    "drain-process": (drain.drain_process, ">= 0.8 x baseline"),
    "drain-runspace": (drain.drain_runspace, ">= 5,000 jobs/s and >= 1.5 x Huey"),
    "submit-rate": (submit.submit_rate, ">= 2,000 submits/s"),
    "dispatch-latency": (latency.dispatch_latency, "p50 <= 5 ms, p99 <= 20 ms"),
    "output-latency": (latency.output_latency, "p50 <= 25 ms"),
    "output-throughput": (
        throughput.output_throughput,
        "capture >= 200 MB/s; server RSS grows <= 64 MB",
    ),
    "concurrency": (
        concurrency.concurrency,
        "RSS <= 300 MB; GET jobs p99 <= 100 ms; dispatcher cycle <= 10 ms",
    ),
    "history": (history.history, "GET jobs?maxResults=100 p50 <= 20 ms"),
    "dependency-fanin": (dependencies.dependency_fanin, "<= 1 s"),
    "waiting-scale": (dependencies.waiting_scale, "cycle <= 10 ms"),
    "peers": (_peers, "jobhost ahead on every row"),
    "soak": (soak.soak, soak.GOAL),
}
# Run only when named in --only: the soak takes 30 minutes (2 with --quick).
ON_REQUEST = {"soak"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes; under 3 minutes")
    parser.add_argument("--tiny", action="store_true", help="trivial sizes (smoke test)")
    parser.add_argument("--only", help="comma-separated figure ids (default: all but soak)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (>= 1)")
    parser.add_argument("--profile", type=Path, help="py-spy one extra repetition; files here")
    add_run_options(parser)
    return parser.parse_args(argv)


async def run_figures(ctx: Context, ids: list[str]) -> list[Result]:
    results = []
    for figure_id in ids:
        run, goal = FIGURES[figure_id]
        ctx.log(f"{figure_id}: start")
        started = time.perf_counter()
        try:
            result = await run(ctx)
        except Exception as exc:
            traceback.print_exc()
            result = failed(figure_id, figure_id, goal, f"{type(exc).__name__}: {exc}")
        result.extra["seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:
        return soak.main(argv[1:])
    args = parse_args(argv)
    ids = args.only.split(",") if args.only else [i for i in FIGURES if i not in ON_REQUEST]
    if "peers" in ids:  # the peers table reuses jobhost's drains from the same run
        ids = [i for i in FIGURES if i in ids or i in ("drain-process", "drain-runspace")]
    unknown = [i for i in ids if i not in FIGURES]
    if unknown or args.reps < 1:
        print(f"unknown figure {unknown}; known: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="jobhost-bench-"))
    ctx = Context(args.quick or args.tiny, args.reps, sizes, workdir, args.profile)
    ctx.server_env = server_settings(args)
    started = time.perf_counter()
    try:
        results = asyncio.run(run_figures(ctx, ids))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    fields = {
        "quick": args.quick,
        "tiny": args.tiny,
        "command": "scripts/bench " + " ".join(argv),
        "seconds": round(time.perf_counter() - started, 1),
        "repetitions": args.reps,
        "server_settings": ctx.server_env,
    }
    print(table(results))
    if args.json:
        write_report(args.json, results, fields)
    return 1 if any(r.met is None for r in results) else 0
