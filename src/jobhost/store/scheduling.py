"""Scheduled jobs: the earliest one's time (the dispatcher's alarm), promoting those due to
Pending, turning a retried job's end into its next Scheduled attempt, and cancelling a
pending job (one whose retry is cancelled ends as its last attempt did).

Each statement spells SCHEDULED_CONDITION literally, so that SQLite uses ix_jobs_run_at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from jobhost import policy
from jobhost.models import Category, Outcome, Status, statuses_in
from jobhost.store.dialects import Statements
from jobhost.store.schema import ACTIVE_CONDITION, SCHEDULED_CONDITION, job_output, jobs

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
# afresh, and until then the job is pending, neither started nor finished. Its end is kept
# aside (last_*), for a cancel of the retry to end the job with.
_RETRY = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"), text(ACTIVE_CONDITION))
    .values(
        status=Status.SCHEDULED.value,
        run_at=bindparam("b_run_at"),
        pending_reason=bindparam("b_reason"),
        last_status=bindparam("b_status"),
        last_started_at=jobs.c.started_at,
        last_exit_code=bindparam("b_exit_code"),
        last_completed_at=bindparam("b_ended_at"),
        started_at=None,
        stop_requested_at=None,
        exit_code=None,
        node=None,
    )
)

RETRY_COLUMNS = (jobs.c.attempt, jobs.c.max_retries, jobs.c.retry_delay_seconds)
"""What deciding on a retry needs of an ending job's row, selected with its owner."""


# A job that never ran has no last attempt: it ends Cancelled, never started.
_CANCEL = (
    update(jobs)
    .where(
        jobs.c.job_id == bindparam("b_job_id"),
        jobs.c.status.in_([s.value for s in statuses_in(Category.PENDING)]),
    )
    .values(
        status=func.coalesce(jobs.c.last_status, Status.CANCELLED.value),
        started_at=jobs.c.last_started_at,
        exit_code=jobs.c.last_exit_code,
        completed_at=func.coalesce(jobs.c.last_completed_at, bindparam("b_now")),
        pending_reason=None,
    )
    .returning(
        jobs.c.user_id,
        jobs.c.depends_on,
        jobs.c.status,
        jobs.c.attempt,
        jobs.c.max_retries,
        jobs.c.output_size,
    )
)
_LAST_CHUNK = (
    select(job_output.c.data)
    .where(job_output.c.job_id == bindparam("b_job_id"))
    .order_by(job_output.c.start.desc())
    .limit(1)
)
_GROW_OUTPUT = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"))
    .values(output_size=bindparam("b_size"))
)


@dataclass(frozen=True, slots=True)
class Retry:
    job_id: str
    run_at: float
    reason: str
    status: Status
    """How the attempt that ended did, and when, kept for a cancel of the retry."""
    exit_code: int | None
    ended_at: float


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A pending job that ``cancel`` ended: its owner, dependencies and final status."""

    user_id: str
    depends_on: str | None
    status: Status


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
    reason = policy.retry_reason(attempt, max_retries, run_at)
    return Retry(job_id, run_at, reason, outcome.status, outcome.exit_code, now)


def schedule_retries(run: Statements, retries: Sequence[Retry]) -> None:
    run.run_many(
        _RETRY,
        [
            {
                "b_job_id": r.job_id,
                "b_run_at": r.run_at,
                "b_reason": r.reason,
                "b_status": r.status.value,
                "b_exit_code": r.exit_code,
                "b_ended_at": r.ended_at,
            }
            for r in retries
        ],
    )


def cancel(run: Statements, job_id: str, now: float) -> Cancelled | None:
    """End a pending job: Cancelled now if it never ran; if it did (its retry was pending),
    as and when its last attempt ended, with a line saying the retry was cancelled. None if
    the job is not pending (or gone)."""
    rows = run.rows(_CANCEL, {"b_job_id": job_id, "b_now": now})
    if not rows:
        return None
    user_id, depends_on, status, attempt, max_retries, output_size = rows[0]
    if status != Status.CANCELLED.value:
        note = policy.retry_cancelled_note(attempt + 1, max_retries) + "\n"
        chunks = run.rows(_LAST_CHUNK, {"b_job_id": job_id})
        if chunks and not bytes(chunks[0][0]).endswith(b"\n"):
            note = "\n" + note
        data = note.encode()
        run.insert(job_output, {"job_id": job_id, "start": output_size, "data": data})
        run.run_many(_GROW_OUTPUT, [{"b_job_id": job_id, "b_size": output_size + len(data)}])
    return Cancelled(user_id, depends_on, Status(status))
