"""Celery (Redis broker and result backend) draining a queued workload.

Run as ``python -m bench.peers.celery_drain KIND JOBS WORKERS POOL REPS`` with
``BENCH_REDIS_URL`` set. One worker (``-P POOL -c WORKERS``) starts, consuming nothing yet.
Each repetition enqueues all its tasks on a queue of its own, then tells the worker to
consume that queue (``add_consumer``) and polls the result keys until every task has one.
The rate is jobs / (last task end - first task start), from the times the tasks themselves
return, so neither the worker's boot nor the polling is counted. Prints
``{"rates": [jobs/s, ...]}``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.peers.celery_app import QUEUE, TASKS, app

_POLL_SECONDS = 0.05
_WORKER = "bench@localhost"


def enqueue(kind: str, jobs: int, queue: str) -> list[str]:
    task = TASKS[kind]
    with app.producer_or_acquire() as producer:
        return [task.apply_async(producer=producer, queue=queue).id for _ in range(jobs)]


def collect(client: Any, ids: list[str], timeout: float) -> list[tuple[float, float]]:
    """Wait for every task's result; returns their (start, end) times."""
    times: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + timeout
    while len(times) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(times)} of {len(ids)} tasks finished")
        missing = [i for i in ids if i not in times]
        for start in range(0, len(missing), 1000):
            batch = missing[start : start + 1000]
            values = client.mget([f"celery-task-meta-{i}" for i in batch])
            for task_id, raw in zip(batch, values, strict=True):
                if raw is not None:
                    meta = json.loads(raw)
                    if meta["status"] != "SUCCESS":
                        raise RuntimeError(f"task {task_id} ended {meta['status']}")
                    times[task_id] = (meta["result"][0], meta["result"][1])
        time.sleep(_POLL_SECONDS)
    return list(times.values())


def control(command: str, queue: str) -> None:
    """Ask the worker to start or stop consuming ``queue``, and wait for its answer."""
    for _ in range(100):
        if getattr(app.control, command)(queue, destination=[_WORKER], reply=True, timeout=1):
            return
    raise TimeoutError(f"the worker did not answer {command}")


def wait_ready() -> None:
    for _ in range(120):
        if app.control.ping(destination=[_WORKER], timeout=0.5):
            return
    raise TimeoutError("the Celery worker did not start")


def one_rep(client: Any, kind: str, jobs: int, rep: int) -> float:
    queue = f"{QUEUE}-{rep}"
    ids = enqueue(kind, jobs, queue)
    control("add_consumer", queue)
    times = collect(client, ids, timeout=120 + jobs / 20)
    control("cancel_consumer", queue)
    client.delete(*[f"celery-task-meta-{i}" for i in ids])
    first = min(start for start, _ in times)
    last = max(end for _, end in times)
    return jobs / (last - first)


def drain(kind: str, jobs: int, workers: int, pool: str, reps: int) -> dict[str, list[float]]:
    client = importlib.import_module("redis").Redis.from_url(os.environ["BENCH_REDIS_URL"])
    argv = [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker"]
    argv += ["-P", pool, "-c", str(workers), "-Q", f"{QUEUE}-idle", "-n", _WORKER]
    argv += ["-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        wait_ready()
        return {"rates": [one_rep(client, kind, jobs, rep) for rep in range(reps)]}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def main(argv: list[str]) -> None:
    print(json.dumps(drain(argv[0], int(argv[1]), int(argv[2]), argv[3], int(argv[4]))))


if __name__ == "__main__":
    main(sys.argv[1:])
