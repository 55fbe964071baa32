"""Scheduled jobs: the earliest one's time (the dispatcher's alarm), promoting those due to
Pending, and turning a retried job's end into its next Scheduled attempt.

Each statement spells SCHEDULED_CONDITION literally, so that SQLite uses ix_jobs_run_at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update

from jobhost import policy
from jobhost.models import Outcome, Status
from jobhost.store.dialects import Statements
from jobhost.store.schema import ACTIVE_CONDITION, SCHEDULED_CONDITION, jobs

# Named: left to choose, SQLite's planner takes ix_jobs_status and reads every Scheduled job.
_EARLIEST = (
    select(jobs.c.run_at)
    .where(text(SCHEDULED_CONDITION))
    .order_by(jobs.c.run_at)
    .limit(1)
    .with_hint(jobs, "INDEXED BY ix_jobs_run_at", "sqlite")
)
_PROMOTE = (
    update(jobs)
    .where(text(SCHEDULED_CONDITION), jobs.c.run_at <= bindparam("b_now"))
    .values(status=Status.PENDING.value, pending_reason=None)
    .returning(jobs.c.job_id, jobs.c.user_id)
    .with_hint("INDEXED BY ix_jobs_run_at", jobs, "sqlite")
)
# The attempt that ended leaves no trace on the record but its output: the next one starts
# afresh, and until then the job is pending, neither started nor finished.
_RETRY = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"), text(ACTIVE_CONDITION))
    .values(
        status=Status.SCHEDULED.value,
        run_at=bindparam("b_run_at"),
        pending_reason=bindparam("b_reason"),
        started_at=None,
        stop_requested_at=None,
        exit_code=None,
        node=None,
    )
)

RETRY_COLUMNS = (jobs.c.attempt, jobs.c.max_retries, jobs.c.retry_delay_seconds)
"""What deciding on a retry needs of an ending job's row, selected with its owner."""


@dataclass(frozen=True, slots=True)
class Retry:
    job_id: str
    run_at: float
    reason: str


def earliest_run_at(run: Statements) -> float | None:
    rows = run.rows(_EARLIEST, {})
    return float(rows[0][0]) if rows else None


def promote_due(run: Statements, now: float) -> list[tuple[str, str]]:
    """(job_id, user_id) of the Scheduled jobs due by ``now``, made Pending."""
    return [(job_id, user_id) for job_id, user_id in run.rows(_PROMOTE, {"b_now": now})]


def retry_of(
    job_id: str, outcome: Outcome, row: Sequence[Any], now: float, jitter: Callable[[], float]
) -> Retry | None:
    """The next attempt of a job ending with ``outcome``, or None if this end is final.
    ``row`` holds RETRY_COLUMNS; ``attempt`` counts the attempts made, this one included."""
    attempt, max_retries, first_delay = row
    if not (outcome.may_retry and policy.is_retried(outcome.status)):
        return None
    if not 1 <= attempt <= max_retries:
        return None
    if first_delay is None:
        first_delay = policy.DEFAULT_RETRY_DELAY_SECONDS
    run_at = now + policy.retry_delay(first_delay, attempt, jitter())
    return Retry(job_id, run_at, policy.retry_reason(attempt, max_retries, run_at))


def schedule_retries(run: Statements, retries: Sequence[Retry]) -> None:
    run.run_many(
        _RETRY,
        [{"b_job_id": r.job_id, "b_run_at": r.run_at, "b_reason": r.reason} for r in retries],
    )
