"""Claiming the next pending jobs for a node, in dispatch order, on either dialect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update

from jobhost.models import Mode, Status
from jobhost.store.database import in_batches
from jobhost.store.dialects import Statements
from jobhost.store.rows import JOB_COLUMNS
from jobhost.store.schema import PENDING_CONDITION, jobs


@dataclass(frozen=True, slots=True)
class ClaimOrder:
    """Jobs to mark Running on ``node``: up to ``free`` of them, plus one for each job that
    the same ``record_and_claim`` finishes (its slot is free again). The claim ends with the
    first job in the ``barrier`` mode (MainLoop jobs block the dispatcher, so the jobs
    queued behind one must not be marked as started yet)."""

    free: int
    node: str
    barrier: Mode | None = None


# Left to choose, SQLite's planner takes ix_jobs_status and sorts every pending job on each
# claim (quadratic draining); named, it walks the queue index and stops after LIMIT rows.
# PostgreSQL locks the rows it takes, skipping those another node is claiming.
_QUEUE = (
    select(jobs.c.seq, jobs.c.mode)
    .where(text(PENDING_CONDITION))
    .order_by(jobs.c.priority.desc(), jobs.c.seq)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True)
    .with_hint(jobs, "INDEXED BY ix_jobs_queue", "sqlite")
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


def claim_next(run: Statements, limit: int, order: ClaimOrder, now: float) -> list[Sequence[Any]]:
    """Mark the next ``limit`` pending jobs (up to ``order``'s barrier) Running on its node;
    their rows, every column in table order, in no particular order."""
    seqs = _up_to_barrier(run.rows(_QUEUE, {"b_limit": limit}), order.barrier)
    rows: list[Sequence[Any]] = []
    for batch in in_batches(seqs):
        params = {"b_seqs": list(batch), "b_now": now, "b_node": order.node}
        rows += run.rows(_CLAIM, params)
    return rows


def _up_to_barrier(rows: Sequence[Sequence[Any]], barrier: Mode | None) -> list[int]:
    seqs = []
    for seq, mode in rows:
        seqs.append(seq)
        if barrier is not None and mode == barrier.value:
            break
    return seqs
