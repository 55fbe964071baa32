"""Dependencies between jobs (``dependsOn``), decided in the transactions that submit and end
jobs: where a new job starts, and what a job's end does to the jobs waiting on it.

An edge (job_dependencies) exists only from a Waiting job to a dependency not yet finished,
so a job's end finds exactly its dependents by the key's prefix and no cycle of the
dispatcher looks at Waiting jobs. A Completed end removes its edges and makes Pending the
dependents left with none (claimable by the same commit); any other end cancels them with
a note naming it, and their own dependents in turn, one level per statement round.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete, insert, select, update

from jobhost import policy
from jobhost.errors import UnknownDependency
from jobhost.models import Job, JobSpec, Status
from jobhost.store.database import in_batches
from jobhost.store.dialects import Statements, add_to_counters
from jobhost.store.rows import job_from_row
from jobhost.store.schema import job_dependencies, job_output, job_totals, jobs

Visible = Callable[[Job], bool]
"""Whether the submitter may see (and so depend on) a job."""


def _ids() -> BindParameter[list[str]]:
    return bindparam("b_ids", expanding=True)


_WAITING = Status.WAITING.value
# Spelt so that SQLite cannot look it up in ix_jobs_status: unguided, its planner walks every
# Waiting job by that index instead of looking up these few ids (as for the finish).
_STILL_WAITING = jobs.c.status.concat("") == _WAITING
# Locked, so that a dependency cannot end between this look and the edge to it: its end
# would not see the edge (PostgreSQL; SQLite has one writer at a time anyway).
_DEPENDENCIES = (
    select(jobs).where(jobs.c.job_id.in_(_ids())).order_by(jobs.c.job_id).with_for_update()
)
# The one statement a job's end adds where no job waits on it: a probe of the key's prefix.
_WAITERS = select(jobs.c.job_id, jobs.c.user_id, jobs.c.depends_on, jobs.c.status).where(
    jobs.c.job_id.in_(_ids())
)
_DROP_EDGES_FROM = (
    delete(job_dependencies)
    .where(job_dependencies.c.depends_on.in_(_ids()))
    .returning(job_dependencies.c.job_id)
)
_DROP_EDGE = delete(job_dependencies).where(
    job_dependencies.c.depends_on == bindparam("b_depends_on"),
    job_dependencies.c.job_id == bindparam("b_job_id"),
)
_EDGES_LEFT = select(job_dependencies.c.depends_on).where(
    job_dependencies.c.job_id == bindparam("b_job_id"), job_dependencies.c.depends_on.in_(_ids())
)
_RELEASE = (
    update(jobs)
    .where(jobs.c.job_id.in_(_ids()), _STILL_WAITING)
    .values(status=Status.PENDING.value, pending_reason=None)
    .returning(jobs.c.job_id, jobs.c.user_id, jobs.c.run_at)
)
# A released job whose runAt is still ahead waits for it, Scheduled, as at submit.
_HOLD_UNTIL_RUN_AT = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"))
    .values(status=Status.SCHEDULED.value, pending_reason=bindparam("b_reason"))
)
_NEXT_REASON = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"))
    .values(pending_reason=bindparam("b_reason"))
)
# Every note of one status has the same length (a job id is 36 characters): one update
# per status sets the size of the note stored with it.
_CANCEL = (
    update(jobs)
    .where(jobs.c.job_id.in_(_ids()), _STILL_WAITING)
    .values(
        status=Status.CANCELLED.value,
        completed_at=bindparam("b_now"),
        output_size=bindparam("b_size"),
        pending_reason=None,
    )
    .returning(jobs.c.job_id, jobs.c.user_id)
)
_INSERT_OUTPUT = insert(job_output)
_INSERT_EDGE = insert(job_dependencies)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new job starts: Pending, Waiting on ``waits_on`` (unfinished, in the order
    given), Scheduled until ``scheduled_for``, or Cancelled at once with ``note``."""

    status: Status
    waits_on: tuple[str, ...] = ()
    note: str | None = None
    scheduled_for: float | None = None

    @property
    def reason(self) -> str | None:
        if self.waits_on:
            return policy.waiting_reason(self.waits_on[0])
        if self.scheduled_for is not None:
            return policy.scheduled_reason(self.scheduled_for)
        return None


def placed_by_time(placement: Placement, run_at: float, now: float) -> Placement:
    """A Pending placement held Scheduled while its ``run_at`` is ahead."""
    if placement.status is Status.PENDING and run_at > now:
        return Placement(Status.SCHEDULED, scheduled_for=run_at)
    return placement


@dataclass(frozen=True, slots=True)
class _Dependent:
    job_id: str
    user_id: str
    depends_on: tuple[str, ...]


def place(run: Statements, spec: JobSpec, visible: Visible | None) -> Placement:
    """Where a job of ``spec`` starts, given its dependencies as they are now; raises
    UnknownDependency for one missing or not ``visible``."""
    if not spec.depends_on:
        return Placement(Status.PENDING)
    found = {
        job.job_id: job
        for job in map(job_from_row, run.rows(_DEPENDENCIES, {"b_ids": list(spec.depends_on)}))
    }
    for job_id in spec.depends_on:
        job = found.get(job_id)
        if job is None or (visible is not None and not visible(job)):
            raise UnknownDependency(job_id)
    for job_id in spec.depends_on:
        status = found[job_id].status
        if status.is_finished and status is not Status.COMPLETED:
            return Placement(Status.CANCELLED, note=policy.dependency_ended_note(job_id, status))
    waits = tuple(job_id for job_id in spec.depends_on if not found[job_id].status.is_finished)
    return Placement(Status.WAITING, waits) if waits else Placement(Status.PENDING)


def placed_values(placement: Placement, now: float) -> dict[str, Any]:
    """The new job's columns its placement sets; none for a plain Pending job."""
    if placement.note is not None:
        return {"completed_at": now, "output_size": len(note_bytes(placement.note))}
    if placement.reason is not None:
        return {"pending_reason": placement.reason}
    return {}


def placed(run: Statements, job_id: str, user_id: str, placement: Placement) -> None:
    """Store what the placement of the new job ``job_id`` (inserted already) implies."""
    run.run_many(_INSERT_EDGE, [{"depends_on": d, "job_id": job_id} for d in placement.waits_on])
    if placement.note is not None:
        run.insert(job_output, {"job_id": job_id, "start": 0, "data": note_bytes(placement.note)})
        add_to_counters(run, job_totals, "user_id", "finished", {user_id: 1})


def note_bytes(note: str) -> bytes:
    """The note as the output line stored for a job that never ran."""
    return f"{note}\n".encode()


@dataclass(frozen=True, slots=True)
class Released:
    """The jobs a release changed, as (job_id, user_id), and how many of them it made
    Scheduled (released, but their runAt is still ahead)."""

    changed: list[tuple[str, str]]
    scheduled: int = 0


def release(run: Statements, ended: Mapping[str, Status], now: float) -> Released:
    """Act on the dependents of the jobs that just ended (job id to the status it ended
    with; statuses not finished are ignored)."""
    done = [job_id for job_id, status in ended.items() if status is Status.COMPLETED]
    other = {job_id: s for job_id, s in ended.items() if s.is_finished and job_id not in done}
    released = _release_after(run, done, now) if done else Released([])
    if other:
        return Released(released.changed + cancel_dependents(run, other, now), released.scheduled)
    return released


def forget_waits(run: Statements, job_id: str, depends_on: Sequence[str]) -> None:
    """Remove the edges of a job that no longer waits (it was cancelled)."""
    run.run_many(_DROP_EDGE, [{"b_depends_on": d, "b_job_id": job_id} for d in depends_on])


def cancel_dependents(
    run: Statements, ended: Mapping[str, Status], now: float
) -> list[tuple[str, str]]:
    """Cancel the jobs waiting on those that ``ended`` otherwise than Completed, and theirs,
    level by level (submits only name existing jobs, so there is no cycle: each level is new
    jobs and the loop ends). Returns (job_id, user_id) of each job cancelled."""
    cancelled: list[tuple[str, str]] = []
    level = dict(ended)
    while level:
        dependents = _take_dependents(run, list(level))
        for dependent in dependents.values():
            forget_waits(run, dependent.job_id, [d for d in dependent.depends_on if d not in level])
        causes = {job_id: _cause(d, level) for job_id, d in dependents.items()}
        now_cancelled = _cancel(run, causes, level, now)
        cancelled += now_cancelled
        level = dict.fromkeys((job_id for job_id, _ in now_cancelled), Status.CANCELLED)
    return cancelled


def _release_after(run: Statements, done: list[str], now: float) -> Released:
    """Remove the edges of the jobs ``done`` (Completed); make Pending each dependent with
    no edge left (Scheduled while its runAt is ahead), and say the next dependency the
    others wait for."""
    dependents = _take_dependents(run, done)
    finished = set(done)
    free: list[str] = []
    reasons: list[dict[str, Any]] = []
    moved_on: list[tuple[str, str]] = []  # still Waiting, on the next dependency
    for dependent in dependents.values():
        waits = _still_waiting_on(run, dependent, finished)
        if waits:
            reason = policy.waiting_reason(waits[0])
            reasons.append({"b_job_id": dependent.job_id, "b_reason": reason})
            moved_on.append((dependent.job_id, dependent.user_id))
        else:
            free.append(dependent.job_id)
    run.run_many(_NEXT_REASON, reasons)
    released: list[tuple[str, str]] = []
    held: list[dict[str, Any]] = []
    for batch in in_batches(free):
        for job_id, user_id, run_at in run.rows(_RELEASE, {"b_ids": list(batch)}):
            released.append((job_id, user_id))
            if run_at is not None and run_at > now:
                held.append({"b_job_id": job_id, "b_reason": policy.scheduled_reason(run_at)})
    run.run_many(_HOLD_UNTIL_RUN_AT, held)
    return Released(released + moved_on, len(held))


def _still_waiting_on(run: Statements, dependent: _Dependent, done: set[str]) -> list[str]:
    """The dependencies ``dependent`` still has an edge to, besides ``done``, in its order."""
    others = [d for d in dependent.depends_on if d not in done]
    if not others:
        return []
    left = {d for (d,) in run.rows(_EDGES_LEFT, {"b_job_id": dependent.job_id, "b_ids": others})}
    return [d for d in others if d in left]


def _take_dependents(run: Statements, job_ids: list[str]) -> dict[str, _Dependent]:
    """Remove the edges to ``job_ids`` and return the Waiting jobs they led from, by id: one
    statement per batch when nothing waits, as for most ends."""
    waiting: set[str] = set()
    for batch in in_batches(job_ids):
        rows = run.rows(_DROP_EDGES_FROM, {"b_ids": list(batch)})
        waiting.update(job_id for (job_id,) in rows)
    found: dict[str, _Dependent] = {}
    for batch in in_batches(sorted(waiting)):
        for job_id, user_id, depends_on, status in run.rows(_WAITERS, {"b_ids": list(batch)}):
            if status == _WAITING:
                found[job_id] = _Dependent(job_id, user_id, decoded(depends_on))
    return found


def decoded(depends_on: str | None) -> tuple[str, ...]:
    """The ``depends_on`` column's job ids."""
    return tuple(json.loads(depends_on)) if depends_on else ()


def _cause(dependent: _Dependent, level: Mapping[str, Status]) -> str:
    """The dependency a note names: the first, in the order given, of those that ended
    (an edge is only ever made to one of ``depends_on``)."""
    return next(d for d in dependent.depends_on if d in level)


def _cancel(
    run: Statements, causes: Mapping[str, str], level: Mapping[str, Status], now: float
) -> list[tuple[str, str]]:
    """Cancel each job in ``causes`` (still Waiting) with the note naming its cause; returns
    (job_id, user_id) of those cancelled, their ends counted."""
    by_status: dict[Status, list[str]] = collections.defaultdict(list)
    for job_id, cause in causes.items():
        by_status[level[cause]].append(job_id)
    cancelled: list[tuple[str, str]] = []
    for status, job_ids in by_status.items():
        size = len(note_bytes(policy.dependency_ended_note(causes[job_ids[0]], status)))
        for batch in in_batches(job_ids):
            params = {"b_ids": list(batch), "b_now": now, "b_size": size}
            cancelled += [(j, u) for j, u in run.rows(_CANCEL, params)]
    notes = [
        {
            "job_id": job_id,
            "start": 0,
            "data": note_bytes(policy.dependency_ended_note(causes[job_id], level[causes[job_id]])),
        }
        for job_id, _ in cancelled
    ]
    run.run_many(_INSERT_OUTPUT, notes)
    owners = collections.Counter(user_id for _, user_id in cancelled)
    add_to_counters(run, job_totals, "user_id", "finished", dict(owners))
    return cancelled
