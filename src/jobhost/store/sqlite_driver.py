"""The hot writes on SQLite (submitting, claiming, storing output and outcomes), run on the
sqlite3 driver itself, in a ``Database.driver_write()`` transaction; and ``first_row`` for
hot lookups built with SQLAlchemy but run on the driver (``Database.driver_read()``).

The dispatcher claims and finishes jobs hundreds of times a second while a queue drains.
Through SQLAlchemy, checking out a connection, building each execution context, expanding
``IN`` lists and wrapping results held the GIL several times longer than SQLite took to
run the statements (py-spy, ``bench/engine_drain.py``: ``Connection.execute`` 47% of the
dispatcher's cycle, the driver's own ``execute`` under 2%). The statements mean the same as
the ones ``store/jobs.py`` builds with SQLAlchemy for PostgreSQL; the store tests run both.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects import sqlite

from jobhost.store.database import in_batches
from jobhost.store.rows import JOB_COLUMNS
from jobhost.store.schema import ACTIVE_CONDITION, PENDING_CONDITION

# Left to choose, SQLite's planner takes ix_jobs_status and sorts every pending job on each
# claim (quadratic draining); named, it walks the queue index and stops after LIMIT rows.
_QUEUE = (
    "SELECT seq, mode FROM jobs INDEXED BY ix_jobs_queue WHERE "
    + PENDING_CONDITION
    + " ORDER BY priority DESC, seq LIMIT ?"
)
_INSERT_OUTPUT = "INSERT INTO job_output (job_id, start, data) VALUES (?, ?, ?)"
_PROGRESS = "UPDATE jobs SET output_size = ?, output_dropped = ? WHERE job_id = ?"
_FINISH = (
    "UPDATE jobs SET status = ?, exit_code = ?, completed_at = ? WHERE job_id = ? AND "
    + ACTIVE_CONDITION
)
_COUNT_FINISHED = (
    "INSERT INTO job_totals (user_id, finished) VALUES (?, ?) "
    "ON CONFLICT (user_id) DO UPDATE SET finished = finished + excluded.finished"
)


def insert_job(driver: sqlite3.Connection, values: dict[str, Any]) -> None:
    """Add a job row; columns left out take their defaults."""
    driver.execute(_insert_job_sql(tuple(values)), tuple(values.values()))


def queue(driver: sqlite3.Connection, limit: int) -> list[tuple[int, str]]:
    """(seq, mode) of the next ``limit`` pending jobs, in dispatch order."""
    return driver.execute(_QUEUE, (limit,)).fetchall()


def mark_running(
    driver: sqlite3.Connection, seqs: Sequence[int], now: float, node: str
) -> list[tuple[Any, ...]]:
    """Mark these jobs Running on ``node``; their rows, every column in table order."""
    rows: list[tuple[Any, ...]] = []
    for batch in in_batches(seqs):
        rows += driver.execute(_mark_running_sql(len(batch)), (now, node, *batch)).fetchall()
    return rows


def insert_output(driver: sqlite3.Connection, pieces: Iterable[tuple[str, int, bytes]]) -> None:
    """Store output pieces, each ``(job_id, start, data)``."""
    driver.executemany(_INSERT_OUTPUT, pieces)


def set_progress(driver: sqlite3.Connection, sizes: Iterable[tuple[int, int, str]]) -> None:
    """Set how much output jobs have stored and dropped, each ``(size, dropped, job_id)``."""
    driver.executemany(_PROGRESS, sizes)


def owners_and_statuses(
    driver: sqlite3.Connection, job_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(user_id, status) of these jobs, looked up by id (never by walking the running ones)."""
    found: list[tuple[str, str]] = []
    for batch in in_batches(job_ids):
        found += driver.execute(_by_ids_sql(len(batch)), batch).fetchall()
    return found


def finish(driver: sqlite3.Connection, ends: Iterable[tuple[str, int | None, float, str]]) -> None:
    """Record outcomes, each ``(status, exit_code, completed_at, job_id)``, of jobs that are
    still running (the others are left as they are)."""
    driver.executemany(_FINISH, ends)


def count_finished(driver: sqlite3.Connection, deltas: dict[str, int]) -> None:
    driver.executemany(_COUNT_FINISHED, [(user, n) for user, n in deltas.items() if n])


def first_row(
    driver: sqlite3.Connection, query: Select[Any], params: Mapping[str, object]
) -> dict[str, Any] | None:
    """The first row of ``query`` as {column: value}, or None. The query is compiled for
    SQLite once and its statement cached by sqlite3, so a lookup costs about a quarter of
    running it through SQLAlchemy (25 against 110 us for the API-key lookup). For queries
    whose columns need no result processing (no Enum, DateTime or JSON types)."""
    sql, order, names = _compiled(query)
    found = driver.execute(sql, [params[name] for name in order]).fetchone()
    return dict(zip(names, found, strict=True)) if found is not None else None


@functools.lru_cache(maxsize=16)
def _compiled(query: Select[Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    compiled = query.compile(dialect=sqlite.dialect())
    return str(compiled), tuple(compiled.positiontup or ()), tuple(query.selected_columns.keys())


@functools.lru_cache(maxsize=16)
def _insert_job_sql(columns: tuple[str, ...]) -> str:
    unknown = set(columns) - set(JOB_COLUMNS)
    if unknown:  # names are spliced into the SQL: only the table's own may be
        raise ValueError(f"not columns of jobs: {sorted(unknown)}")
    return f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({_marks(len(columns))})"


@functools.lru_cache(maxsize=128)
def _mark_running_sql(count: int) -> str:
    # One text per batch size, built once, so that sqlite3 also reuses its prepared form.
    return (
        "UPDATE jobs SET status = 'Running', started_at = ?, attempt = attempt + 1, node = ? "
        f"WHERE seq IN ({_marks(count)}) RETURNING {', '.join(JOB_COLUMNS)}"
    )


@functools.lru_cache(maxsize=128)
def _by_ids_sql(count: int) -> str:
    return f"SELECT user_id, status FROM jobs WHERE job_id IN ({_marks(count)})"


def _marks(count: int) -> str:
    return ", ".join("?" * count)
