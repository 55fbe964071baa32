"""Writing jobs straight into a server's SQLite store with SQLAlchemy Core.

Used where going through HTTP would only measure submission again: a drain's queue (the
dispatcher is held by a Gate meanwhile, and the submit path has a figure of its own) and the
history figure's finished jobs. Columns follow ``jobhost.store.schema.jobs``; where the
schema keeps per-user totals of finished jobs (``job_totals``), they are recomputed after
the load as the migration that introduced them does, so the store stays consistent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, create_engine, delete, func, insert, literal, select

from bench.server import USER, BenchServer
from jobhost.store import schema
from jobhost.store.schema import jobs

BATCH = 50_000
FINISHED = ["Completed", "Failed", "Stopped", "TimedOut", "Interrupted", "Cancelled"]
Row = Callable[[int], dict[str, Any]]


def pending_row(name: str, mode: str, command: str) -> Row:
    """Rows of a queued job (as ``POST jobs/submit`` would store it), by index."""
    now = time.time()

    def row(i: int) -> dict[str, Any]:
        return _base(str(uuid.uuid4()), name, mode, command, "Pending", now + i * 1e-6)

    return row


def finished_row(base: float) -> Row:
    """Rows of finished jobs, one every half second from ``base``; 80% Completed."""
    statuses = ["Completed"] * 8 + ["Failed", "Stopped"]

    def row(i: int) -> dict[str, Any]:
        status = statuses[i % len(statuses)]
        submitted = base + i * 0.5
        values = _base(
            f"00000000-0000-4000-8000-{i:012x}",
            f"history-{i}",
            "BackgroundJob",
            "true",
            status,
            submitted,
        )
        values.update(
            started_at=submitted + 0.01,
            completed_at=submitted + 0.4,
            exit_code=0 if status == "Completed" else 1,
            attempt=1,
            node="bench",
        )
        return values

    return row


def waiting_row(name: str, depends_on: str) -> Row:
    """Rows of Runspace jobs Waiting on the unfinished job ``depends_on`` (as a submit with
    ``dependsOn`` stores them; their edges go in with ``insert_edges``), by index."""
    now = time.time()

    def row(i: int) -> dict[str, Any]:
        values = _base(str(uuid.uuid4()), name, "Runspace", "pass", "Waiting", now + i * 1e-6)
        values.update(
            depends_on=json.dumps([depends_on]), pending_reason=f"waiting for {depends_on}"
        )
        return values

    return row


def insert_waiting(server: BenchServer, count: int, name: str, depends_on: str) -> float:
    """Insert ``count`` jobs Waiting on ``depends_on`` and their edges; returns the seconds."""
    started = time.perf_counter()
    insert_jobs(server, count, waiting_row(name, depends_on))
    engine = create_engine(f"sqlite:///{server.db_path}", connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            waiting = select(literal(depends_on), jobs.c.job_id).where(jobs.c.name == name)
            edges = schema.job_dependencies
            conn.execute(insert(edges).from_select(["depends_on", "job_id"], waiting))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def remove_jobs(server: BenchServer, name: str) -> None:
    """Delete the jobs called ``name``, their edges and output (jobs nothing counts:
    ``job_totals`` only counts finished ones, and these never finished)."""
    engine = create_engine(f"sqlite:///{server.db_path}", connect_args={"timeout": 30})
    try:
        with engine.begin() as conn:
            named = select(jobs.c.job_id).where(jobs.c.name == name)
            edges = schema.job_dependencies
            conn.execute(delete(edges).where(edges.c.job_id.in_(named)))
            conn.execute(delete(schema.job_output).where(schema.job_output.c.job_id.in_(named)))
            conn.execute(delete(jobs).where(jobs.c.name == name))
    finally:
        engine.dispose()


def _base(
    job_id: str, name: str, mode: str, command: str, status: str, submitted: float
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "user_id": USER,
        "name": name,
        "description": None,
        "command": command,
        "mode": mode,
        "status": status,
        "priority": 0,
        "submitted_at": submitted,
        "started_at": None,
        "completed_at": None,
        "exit_code": None,
        "attempt": 0,
        "output_size": 0,
        "output_dropped": 0,
        "node": None,
    }


def insert_jobs(server: BenchServer, count: int, row: Row) -> float:
    """Insert ``count`` jobs made by ``row``, in batches; returns the seconds it took."""
    engine = create_engine(f"sqlite:///{server.db_path}", connect_args={"timeout": 30})
    start = time.perf_counter()
    try:
        for batch in _batches(count):
            with engine.begin() as conn:
                conn.execute(insert(jobs), [row(i) for i in batch])
        with engine.begin() as conn:
            _refresh_totals(conn)
    finally:
        engine.dispose()
    return time.perf_counter() - start


def _refresh_totals(conn: Connection) -> None:
    totals = getattr(schema, "job_totals", None)
    if totals is None:
        return
    finished = (
        select(jobs.c.user_id, func.count())
        .where(jobs.c.status.in_(FINISHED))
        .group_by(jobs.c.user_id)
    )
    conn.execute(delete(totals))
    conn.execute(insert(totals).from_select(["user_id", "finished"], finished))


def _batches(count: int) -> Iterator[range]:
    for first in range(0, count, BATCH):
        yield range(first, min(count, first + BATCH))
