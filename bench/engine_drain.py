"""The drains without HTTP: the engine alone, draining a queue written into a SQLite store.

``python -m bench.engine_drain MODE COUNT [LIMIT]`` queues COUNT jobs (Runspace ``pass`` or
BackgroundJob ``true``) in a fresh store, starts an Engine (dispatcher and recorder threads,
as ``jobhost serve`` runs them) and prints the rate from the store's times, like the
drain figures. It isolates the engine from the web server, for A/B runs of engine changes and
for profiling (``py-spy record -- python -m bench.engine_drain Runspace 10000``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

from jobhost.clock import SystemClock
from jobhost.engine.engine import Engine
from jobhost.settings import load_settings
from jobhost.store import SqlStore
from jobhost.store.schema import jobs

COMMANDS = {"Runspace": "pass", "BackgroundJob": "true"}


def queue(store: SqlStore, mode: str, count: int) -> None:
    now = time.time()
    rows = [
        {
            "job_id": str(uuid.uuid4()),
            "user_id": "bench",
            "name": "drain",
            "command": COMMANDS[mode],
            "mode": mode,
            "status": "Pending",
            "priority": 0,
            "submitted_at": now + i * 1e-6,
        }
        for i in range(count)
    ]
    with store.db.write() as conn:
        conn.execute(insert(jobs), rows)


def drain(mode: str, count: int, limit: int) -> float:
    """Jobs per second from the first start to the last end, every job Completed."""
    data_dir = Path(tempfile.mkdtemp(prefix="jobhost-drain-"))
    settings = load_settings(
        {"JOBHOST_DATA_DIR": str(data_dir), "JOBHOST_MAX_CONCURRENT_JOBS": str(limit)}
    )
    store = SqlStore.open(settings.store_url, SystemClock())
    queue(store, mode, count)
    engine = Engine(settings, store, SystemClock())
    engine.start()
    try:
        unfinished = text("SELECT count(*) FROM jobs WHERE completed_at IS NULL")
        while True:
            time.sleep(0.05)
            with store.db.read() as conn:
                if not conn.execute(unfinished).scalar():
                    break
        summary = text(
            "SELECT sum(status = 'Completed'), min(started_at), max(completed_at) FROM jobs"
        )
        with store.db.read() as conn:
            completed, first, last = conn.execute(summary).one()
    finally:
        engine.stop()
        store.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    if completed != count:
        raise RuntimeError(f"{completed} of {count} jobs completed")
    return float(count / (last - first))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    mode, count = argv[0], int(argv[1])
    limit = int(argv[2]) if len(argv) == 3 else 10
    print(f"{mode} x {count} at limit {limit}: {drain(mode, count, limit):.0f} jobs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
