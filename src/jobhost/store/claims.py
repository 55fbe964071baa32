"""Claiming the next pending jobs for a node, in dispatch order, on either dialect."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, text, update

from jobhost.models import Mode, Status
from jobhost.store import sqlite_driver
from jobhost.store.rows import JOB_COLUMNS
from jobhost.store.schema import PENDING_CONDITION, jobs


@dataclass(frozen=True, slots=True)
class ClaimOrder:
    """Jobs to mark Running on ``node``: up to ``free`` of them, plus one for each job that
    the same ``JobStore.record`` finishes (its slot is free again). The claim ends with the
    first job in the ``barrier`` mode (MainLoop jobs block the dispatcher, so the jobs
    queued behind one must not be marked as started yet)."""

    free: int
    node: str
    barrier: Mode | None = None


# The dispatcher's statements on PostgreSQL (SQLite runs store/sqlite_driver.py's): built
# once, so that SQLAlchemy only looks up their compiled form instead of building anew.
_CLAIM_QUEUE = text(
    "SELECT seq, mode FROM jobs WHERE "
    + PENDING_CONDITION
    + " ORDER BY priority DESC, seq LIMIT :b_limit FOR UPDATE SKIP LOCKED"
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.seq.in_(bindparam("b_seqs", expanding=True)))
    .values(
        status=Status.RUNNING.value,
        started_at=bindparam("b_now"),
        attempt=jobs.c.attempt + 1,
        node=bindparam("b_node"),
    )
    .returning(*jobs.c)
)

_PRIORITY = JOB_COLUMNS.index("priority")
_SEQ = JOB_COLUMNS.index("seq")


def dispatch_order(row: Sequence[Any]) -> tuple[int, int]:
    return (-row[_PRIORITY], row[_SEQ])


def claim_on_postgresql(
    conn: Connection, limit: int, claim: ClaimOrder, now: float
) -> Sequence[Sequence[Any]]:
    queue = conn.execute(_CLAIM_QUEUE, {"b_limit": limit}).all()
    seqs = _up_to_barrier(queue, claim.barrier)
    if not seqs:
        return []
    return conn.execute(_CLAIM, {"b_seqs": seqs, "b_now": now, "b_node": claim.node}).all()


def claim_on_sqlite(
    driver: sqlite3.Connection, limit: int, claim: ClaimOrder, now: float
) -> Sequence[Sequence[Any]]:
    seqs = _up_to_barrier(sqlite_driver.queue(driver, limit), claim.barrier)
    return sqlite_driver.mark_running(driver, seqs, now, claim.node) if seqs else []


def _up_to_barrier(rows: Sequence[tuple[int, str]], barrier: Mode | None) -> list[int]:
    seqs = []
    for seq, mode in rows:
        seqs.append(seq)
        if barrier is not None and mode == barrier.value:
            break
    return seqs
