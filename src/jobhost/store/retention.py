"""Deleting finished jobs that are past the retention period, one small batch per call.

Not on the hot path (a background pass, at most once a minute), so written once with
SQLAlchemy for both dialects. Each batch is one short write transaction: callers pause
between them so that the dispatcher's and the API's writes get the lock in between.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BindParameter, bindparam, delete, select, text

from jobhost.models import Category, statuses_in
from jobhost.store.database import Database
from jobhost.store.dialects import ConnectionStatements, add_to_counters
from jobhost.store.schema import (
    FINISHED_CONDITION,
    job_dependencies,
    job_output,
    job_totals,
    jobs,
)

MAX_BATCH_OUTPUT_BYTES = 256 * 1024 * 1024
"""A batch stops early once its jobs hold this much output (at least one job per batch):
deleting a few huge outputs must not hold the write lock as long as thousands of rows."""

_FINISHED = [s.value for s in statuses_in(Category.COMPLETED)]
_IDS: BindParameter[list[str]] = bindparam("b_ids", expanding=True)
_SEQS: BindParameter[list[int]] = bindparam("b_seqs", expanding=True)
# The oldest first, across statuses: a walk of ix_jobs_finished from its start, no sort
# (its condition spelt literally, and named for SQLite, whose planner would rather take
# ix_jobs_status for the status test and sort every old job on each batch).
_OLDEST = (
    select(jobs.c.seq, jobs.c.output_size)
    .where(text(FINISHED_CONDITION), jobs.c.completed_at < bindparam("b_before"))
    .order_by(jobs.c.completed_at)
    .limit(bindparam("b_limit"))
    .with_hint(jobs, "INDEXED BY ix_jobs_finished", "sqlite")
)
# Deletes only what is still finished and there (a concurrent DELETE may have taken one),
# so the per-owner counters go down by exactly the rows removed. By seq: on SQLite, the
# same delete by job_id took twenty times as long.
_DELETE_JOBS = (
    delete(jobs)
    .where(jobs.c.seq.in_(_SEQS), jobs.c.status.in_(_FINISHED))
    .returning(jobs.c.job_id, jobs.c.user_id)
)
_DELETE_OUTPUT = delete(job_output).where(job_output.c.job_id.in_(_IDS))
# A finished job's dependents were released or cancelled when it ended: its rows are spent.
_DELETE_DEPENDENCIES = delete(job_dependencies).where(job_dependencies.c.depends_on.in_(_IDS))


@dataclass(frozen=True, slots=True)
class Purged:
    job_id: str
    user_id: str


def purge_finished(db: Database, before: float, limit: int) -> list[Purged]:
    """Delete up to ``limit`` jobs that finished before ``before`` (oldest first) with their
    output, in one transaction; the jobs deleted (none: nothing is that old)."""
    with db.write() as conn:
        candidates = conn.execute(_OLDEST, {"b_before": before, "b_limit": limit}).all()
        seqs = _within_output_budget([(seq, size) for seq, size in candidates])
        if not seqs:
            return []
        deleted = [
            Purged(job_id, user_id)
            for job_id, user_id in conn.execute(_DELETE_JOBS, {"b_seqs": seqs})
        ]
        gone = {"b_ids": [p.job_id for p in deleted]}
        if deleted:
            conn.execute(_DELETE_OUTPUT, gone)
            conn.execute(_DELETE_DEPENDENCIES, gone)
            per_owner = collections.Counter(p.user_id for p in deleted)
            deltas = {owner: -count for owner, count in per_owner.items()}
            add_to_counters(ConnectionStatements(conn), job_totals, "user_id", "finished", deltas)
    return deleted


def _within_output_budget(candidates: Sequence[tuple[int, int]]) -> list[int]:
    """The leading candidates' seqs whose output fits MAX_BATCH_OUTPUT_BYTES, at least one."""
    sizes = itertools.accumulate(size for _, size in candidates)
    kept = [
        seq
        for (seq, _), total in zip(candidates, sizes, strict=True)
        if total <= MAX_BATCH_OUTPUT_BYTES
    ]
    return kept or [seq for seq, _ in candidates[:1]]
