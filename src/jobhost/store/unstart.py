"""Undoing the claim of jobs that never started, for an engine starting after a crash.

Not on the hot path (only a starting engine calls it), so written once with SQLAlchemy for
both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text, update

from jobhost.models import Status
from jobhost.store.database import Database, in_batches
from jobhost.store.schema import ACTIVE_CONDITION, jobs

_IDS = jobs.c.job_id.in_(bindparam("b_ids", expanding=True))
# Back to Pending with its own seq and priority, so it is next in line where it was.
_PUT_BACK = (
    update(jobs)
    .where(_IDS, jobs.c.status == Status.RUNNING.value, jobs.c.requeues == 0)
    .values(
        status=Status.PENDING.value,
        started_at=None,
        node=None,
        attempt=jobs.c.attempt - 1,
        requeues=jobs.c.requeues + 1,
    )
    .returning(jobs.c.job_id, jobs.c.user_id)
)
# The claim was no attempt to run: the jobs left for the caller to end lose it too. Once
# only (started_at is cleared), should the caller be stopped before it ends them.
_UNCLAIM = (
    update(jobs)
    .where(_IDS, text(ACTIVE_CONDITION), jobs.c.started_at.is_not(None))
    .values(started_at=None, attempt=jobs.c.attempt - 1)
)


def unstart(db: Database, job_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(job_id, user_id) of the jobs put back in the queue; see ``JobStore.unstart``."""
    put_back: list[tuple[str, str]] = []
    with db.write() as conn:
        for batch in in_batches(job_ids):
            params = {"b_ids": list(batch)}
            put_back += [(job_id, user_id) for job_id, user_id in conn.execute(_PUT_BACK, params)]
            conn.execute(_UNCLAIM, params)
    return put_back
