"""The Celery app the peers benchmark runs: Redis as broker and result backend.

Imported by ``celery -A bench.peers.celery_app worker`` and by the enqueuing side; the
Redis URL comes from ``BENCH_REDIS_URL`` (a private redis-server the benchmark starts).
Each task returns when it started and ended, so the drain is timed from inside the worker.
Celery is imported by name: it is in the ``bench`` dependency group, which is not
installed where the type checker runs.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import time

QUEUE = "jobhost-bench"


def noop() -> tuple[float, float]:
    now = time.time()
    return now, now


def process() -> tuple[float, float]:
    start = time.time()
    subprocess.run(
        ["/bin/sh", "-c", "true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=True,
    )
    return start, time.time()


_url = os.environ["BENCH_REDIS_URL"]
app = importlib.import_module("celery").Celery("bench", broker=_url, backend=_url)
app.conf.update(
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=3600,
)
TASKS = {
    "noop": app.task(name="bench.noop")(noop),
    "process": app.task(name="bench.process")(process),
}
