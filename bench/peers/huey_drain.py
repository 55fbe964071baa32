"""Huey draining a queued workload with thread workers and its SQLite storage.

Run as ``python -m bench.peers.huey_drain KIND JOBS WORKERS DB`` in a fresh interpreter;
KIND is ``noop`` (a task that returns at once) or ``process`` (a task that runs
``/bin/sh -c true`` with its output on a pipe). All tasks are enqueued first, then the
consumer starts; the rate is jobs / (last task completed - first task started), taken from
Huey's own signals. Prints ``{"rate": jobs/s, ...}``.

For a like-for-like comparison with jobhost's store, Huey's SQLite runs in WAL mode with
``synchronous=NORMAL`` (its default is FULL, which would fsync every dequeue), and each
task returns a value so that Huey stores a result per task as jobhost stores an outcome.

Huey is imported by name: it is in the ``bench`` dependency group, which is not installed
where the type checker runs.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any


def noop() -> int:
    return 0


def process() -> int:
    done = subprocess.run(
        ["/bin/sh", "-c", "true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    return done.returncode


def normal_sync_storage() -> Any:
    """Huey's SqliteStorage with ``synchronous=NORMAL``, as jobhost runs SQLite."""
    base = importlib.import_module("huey.storage").SqliteStorage

    def create_connection(self: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = base._create_connection(self)
        conn.execute("pragma synchronous=NORMAL")
        return conn

    return type("NormalSyncStorage", (base,), {"_create_connection": create_connection})


class Timing:
    """When the first task started and each task ended, from Huey's signals."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.started: list[float] = []
        self.completed: list[float] = []
        self.errors = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def executing(self, _signal: str, _task: Any, *_args: Any) -> None:
        with self._lock:
            if not self.started:
                self.started.append(time.time())

    def finished(self, signal: str, _task: Any, *_args: Any) -> None:
        with self._lock:
            self.completed.append(time.time())
            self.errors += signal != "complete"
            if len(self.completed) == self.jobs:
                self.done.set()


def drain(kind: str, jobs: int, workers: int, path: str) -> dict[str, float]:
    huey_module = importlib.import_module("huey")
    signals = importlib.import_module("huey.signals")
    huey = huey_module.Huey("bench", storage_class=normal_sync_storage(), filename=path)
    timing = Timing(jobs)
    huey.signal(signals.SIGNAL_EXECUTING)(timing.executing)
    huey.signal(signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR)(timing.finished)
    task = huey.task()(noop if kind == "noop" else process)
    for _ in range(jobs):
        task()
    consumer = huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, initial_delay=0.001
    )
    consumer.start()
    finished_in_time = timing.done.wait(120 + jobs / 20)
    consumer.stop(graceful=True)
    if not finished_in_time or timing.errors:
        raise RuntimeError(f"{len(timing.completed)} of {jobs} done, {timing.errors} failed")
    return {"rate": jobs / (max(timing.completed) - min(timing.started)), "jobs": jobs}


def main(argv: list[str]) -> None:
    print(json.dumps(drain(argv[0], int(argv[1]), int(argv[2]), argv[3])))


if __name__ == "__main__":
    main(sys.argv[1:])
