"""``scripts/bench [--quick] [--json FILE] [--only ID,...] [--profile DIR]``.

Runs each figure in turn (each on its own server), prints the table, and writes the JSON
report. A figure that fails is reported as not measured, and the others still run; the
exit status is non-zero if any figure failed to run (not when a goal is missed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import concurrency, dependencies, drain, history, latency, submit, throughput
from bench.context import FULL, QUICK, TINY, Context
from bench.peers import peers
from bench.results import Result, failed

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
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes; under 3 minutes")
    parser.add_argument("--tiny", action="store_true", help="trivial sizes (smoke test)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--only", help="comma-separated figure ids (default: all)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (>= 1)")
    parser.add_argument("--profile", type=Path, help="py-spy one extra repetition; files here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="JOBHOST_X=VALUE",
        help="a setting for every server (repeatable), for what-if runs",
    )
    return parser.parse_args(argv)


def machine() -> dict[str, object]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


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


def table(results: list[Result]) -> str:
    head = f"{'id':<18} {'value':>10} {'spread':>19}  {'unit':<18} {'baseline':>10} {'ratio':>7}"
    lines = [head + "  met  goal", "-" * 120]
    for r in results:
        spread = f"{_num(r.value.low)}-{_num(r.value.high)}"
        base = _num(r.baseline.median) if r.baseline else "--"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "--"
        met = {True: "yes", False: "NO", None: "n/a"}[r.met]
        lines.append(
            f"{r.id:<18} {_num(r.value.median):>10} {spread:>19}  {r.unit[:18]:<18} "
            f"{base:>10} {ratio:>7}  {met:<4} {r.goal}"
        )
    rows = next((r.extra.get("rows") for r in results if r.id == "peers"), None)
    if isinstance(rows, list):
        lines.append("")
        lines.append("peers (jobs/s, median of repetitions):")
        lines.extend(f"  {row['workload']:<26} {row['system']:<8} {row['rate']}" for row in rows)
    return "\n".join(lines)


def _num(value: float) -> str:
    if math.isnan(value):
        return "--"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def _clean(value: object) -> object:
    """JSON without NaN or infinity (they are not JSON): None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ids = args.only.split(",") if args.only else list(FIGURES)
    if "peers" in ids:  # the peers table reuses jobhost's drains from the same run
        ids = [i for i in FIGURES if i in ids or i in ("drain-process", "drain-runspace")]
    unknown = [i for i in ids if i not in FIGURES]
    if unknown or args.reps < 1:
        print(f"unknown figure {unknown}; known: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="jobhost-bench-"))
    ctx = Context(args.quick or args.tiny, args.reps, sizes, workdir, args.profile)
    ctx.server_env = dict(item.partition("=")[::2] for item in args.set)
    started = time.perf_counter()
    try:
        results = asyncio.run(run_figures(ctx, ids))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "machine": machine(),
        "quick": args.quick,
        "tiny": args.tiny,
        "command": "scripts/bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "seconds": round(time.perf_counter() - started, 1),
        "repetitions": args.reps,
        "server_settings": ctx.server_env,
        "results": [r.as_json() for r in results],
    }
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(_clean(report), indent=2) + "\n")
    return 1 if any(r.met is None for r in results) else 0
