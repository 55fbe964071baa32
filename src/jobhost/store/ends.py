"""Recording how running jobs ended, in the transaction the caller opened: finished (and
counted in job_totals), or Scheduled for their next attempt when a retry is left."""

from __future__ import annotations

import collections
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update

from jobhost import policy
from jobhost.models import Category, Outcome, Status, statuses_in
from jobhost.store import dependencies, scheduling
from jobhost.store.database import in_batches
from jobhost.store.dialects import Statements, add_to_counters
from jobhost.store.schema import ACTIVE_CONDITION, job_totals, jobs


@dataclass(frozen=True, slots=True)
class Finish:
    job_id: str
    outcome: Outcome


# Locked, so that the finish counts exactly the jobs it updates; filtered by status in
# Python (_finished_per_owner), as on SQLite, where the condition made the planner walk
# the partial index of every running job instead of looking up these few ids. With what
# deciding on a retry needs, so that a retried end costs no query of its own.
_ENDING = (
    select(jobs.c.job_id, jobs.c.user_id, jobs.c.status, *scheduling.RETRY_COLUMNS)
    .where(jobs.c.job_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(jobs.c.job_id)  # rows locked in one order everywhere: no deadlock with submit
    .with_for_update()
)
_ACTIVE = frozenset(s.value for s in statuses_in(Category.RUNNING))
_STOPPING, _TIMED_OUT = Status.STOPPING.value, Status.TIMED_OUT
_FINISH = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"), text(ACTIVE_CONDITION))
    .values(
        status=bindparam("b_status"),
        exit_code=bindparam("b_exit_code"),
        completed_at=bindparam("b_now"),
        cpu_seconds=bindparam("b_cpu_seconds"),
        max_rss_bytes=bindparam("b_max_rss_bytes"),
    )
)


@dataclass(frozen=True, slots=True)
class Ended:
    """What ``store_ends`` did: how many ends became retries, how many running jobs each
    owner has fewer now (retried or finished: either frees its slot), and the dependents
    the finished ones released or cancelled, as (job_id, user_id)."""

    retried: int
    freed: dict[str, int]
    dependents: list[tuple[str, str]]
    scheduled_dependents: int = 0
    """Released dependents held Scheduled until their runAt."""


def store_ends(
    run: Statements, finishes: Sequence[Finish], now: float, jitter: Callable[[], float]
) -> Ended:
    """Record the outcomes of the jobs still running, and count them per owner; those with
    a retry left become Scheduled instead, not finished."""
    if not finishes:
        return Ended(0, {}, [])
    rows: dict[str, Sequence[Any]] = {}
    for batch in in_batches([f.job_id for f in finishes]):
        rows.update((row[0], row) for row in run.rows(_ENDING, {"b_ids": list(batch)}))
    retries = _retries(rows, finishes, now, jitter)
    retried = {retry.job_id for retry in retries}
    final = [f for f in finishes if f.job_id not in retried]
    run.run_many(
        _FINISH,
        [
            {
                "b_job_id": f.job_id,
                "b_status": f.outcome.status.value,
                "b_exit_code": f.outcome.exit_code,
                "b_now": now,
                "b_cpu_seconds": f.outcome.cpu_seconds,
                "b_max_rss_bytes": f.outcome.max_rss_bytes,
            }
            for f in final
        ],
    )
    scheduling.schedule_retries(run, retries)
    count_finished(run, _finished_per_owner(row for i, row in rows.items() if i not in retried))
    # A retried job has not ended for its dependents: they wait on its last attempt.
    ended = {f.job_id: f.outcome.status for f in final if _was_active(rows.get(f.job_id))}
    released = dependencies.release(run, ended, now)
    freed = _finished_per_owner(rows.values())
    return Ended(len(retries), freed, released.changed, released.scheduled)


def _was_active(row: Sequence[Any] | None) -> bool:
    return row is not None and row[2] in _ACTIVE


def _retries(
    rows: dict[str, Sequence[Any]],
    finishes: Sequence[Finish],
    now: float,
    jitter: Callable[[], float],
) -> list[scheduling.Retry]:
    """The next attempts of the ending jobs (rows of _ENDING by id) that are retried."""
    retries = []
    for f in finishes:
        row = rows.get(f.job_id)
        # Asked to stop (Stopping, unless by its own timeout): whatever the end, never again.
        stopped = row is not None and row[2] == _STOPPING and f.outcome.status is not _TIMED_OUT
        if row is not None and row[2] in _ACTIVE and not stopped:
            retry = scheduling.retry_of(f.job_id, f.outcome, row[3:], now, jitter)
            if retry is not None:
                retries.append(retry)
    return retries


def _finished_per_owner(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """How many of these (job_id, owner, status, ...) rows each owner has still running."""
    return dict(collections.Counter(row[1] for row in rows if row[2] in _ACTIVE))


def jitter() -> float:
    return random.random() * policy.MAX_RETRY_JITTER


def count_finished(run: Statements, deltas: dict[str, int]) -> None:
    """Add ``deltas`` to the users' counts of finished jobs."""
    add_to_counters(run, job_totals, "user_id", "finished", deltas)
