"""Job verbs on the store: submit, claim, record output and outcomes, stop, cancel, delete."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update

from jobhost import policy
from jobhost.clock import Clock
from jobhost.models import Category, Job, JobSpec, Mode, QueueState, Status, statuses_in
from jobhost.store import claims, dependencies, ends, retention, scheduling, unstart
from jobhost.store.changes import ChangeKind, Hub, JobChange
from jobhost.store.claims import ClaimOrder
from jobhost.store.database import Database, in_batches
from jobhost.store.dialects import ConnectionStatements, Statements
from jobhost.store.ends import Finish as Finish  # where the recorder and tests find it
from jobhost.store.job_listing import JobListing, JobQuery, count_by_category, list_category_page
from jobhost.store.rows import job_from_row, job_values
from jobhost.store.schema import (
    ACTIVE_CONDITION,
    PENDING_CONDITION,
    job_output,
    jobs,
)

CHUNK_BYTES = 64 * 1024
"""No stored output chunk is longer; readers rely on it to find the chunk holding an offset."""

_FINISHED = [s.value for s in statuses_in(Category.COMPLETED)]


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """Bytes of a job's output that start at byte ``start`` of the whole output."""

    job_id: str
    start: int
    data: bytes


@dataclass(frozen=True, slots=True)
class OutputProgress:
    """How much of a job's output is stored (``size``) and how much was dropped past the cap."""

    job_id: str
    size: int
    dropped: int


_BY_IDS = select(jobs).where(jobs.c.job_id.in_(bindparam("b_ids", expanding=True)))
# The recorder's statements, run once per flush.
_INSERT_OUTPUT = insert(job_output)
_PROGRESS = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("b_job_id"))
    .values(output_size=bindparam("b_size"), output_dropped=bindparam("b_dropped"))
)


class SqlJobStore:
    """Every read and write of jobs and their output goes through these verbs (the
    ``JobStore`` protocol)."""

    def __init__(self, db: Database, clock: Clock, hub: Hub | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hub = hub or Hub()
        self.stop_requests = 0
        """Counts stops asked through this store, so the engine looks for them only then."""
        self.queue_state: QueueState | None = None
        """The dispatcher's last decision (publish_queue_state); None without one here."""
        self.schedule_changes = 0
        """Counts writes through this store that made a job Scheduled (a submit with a
        runAt ahead, a retry), so the engine re-reads its alarm only then."""
        self.retry_jitter: Callable[[], float] = ends.jitter
        """The fraction a retry's delay is stretched by (replaced by tests)."""

    def submit(
        self, user_id: str, spec: JobSpec, visible: dependencies.Visible | None = None
    ) -> Job:
        """Store a new job: Pending, Scheduled if its ``run_at`` is still ahead, or by its
        dependencies (``visible``: those the submitter may name; None: any) Waiting or
        Cancelled at once (UnknownDependency for one missing or not visible: then nothing
        is stored). A job waiting on dependencies ignores its ``run_at``."""
        job_id = str(uuid.uuid4())
        now = self.clock.now()
        with self.db.dialect.write() as run:
            placement = dependencies.place(run, spec, visible)
            if spec.run_at is not None:
                placement = dependencies.placed_by_time(placement, spec.run_at, now)
            values = job_values(spec) | {
                "job_id": job_id,
                "user_id": user_id,
                "status": placement.status.value,
                "submitted_at": now,
            }
            extra = dependencies.placed_values(placement, now)
            run.insert(jobs, values | extra)
            dependencies.placed(run, job_id, user_id, placement)
        self.schedule_changes += placement.status is Status.SCHEDULED
        self.hub.publish([JobChange(job_id, ChangeKind.STATE, user_id)])
        return Job(
            job_id=job_id,
            user_id=user_id,
            spec=spec,
            status=placement.status,
            submitted_at=now,
            completed_at=extra.get("completed_at"),
            output_size=extra.get("output_size", 0),
            pending_reason=placement.reason,
        )

    def get(self, job_id: str) -> Job | None:
        with self.db.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        return self._explained(job_from_row(row)) if row else None

    def get_many(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs among ``job_ids`` that exist, by id."""
        found: dict[str, Job] = {}
        with self.db.read() as conn:
            # In batches: a restarted engine may look up thousands of leftover run folders,
            # more than one statement may bind.
            for batch in in_batches(job_ids):
                rows = conn.execute(_BY_IDS, {"b_ids": list(batch)})
                explained = (self._explained(job_from_row(row)) for row in rows)
                found.update((job.job_id, job) for job in explained)
        return found

    def listing(self, query: JobQuery) -> JobListing:
        """Each category's jobs (pending oldest first, the others newest first) and totals."""
        by_category: dict[Category, list[Job]] = {}
        next_before_seq: int | None = None
        with self.db.read() as conn:
            counts = count_by_category(conn, query.user_id)
            for category in Category:
                if category in query.categories:
                    by_category[category], next_seq = list_category_page(conn, query, category)
                    if category is Category.COMPLETED:
                        next_before_seq = next_seq
        pending = by_category.get(Category.PENDING)
        if pending and self.queue_state is not None:
            by_category[Category.PENDING] = [self._explained(job) for job in pending]
        return JobListing(by_category, counts, next_before_seq)

    def publish_queue_state(self, state: QueueState) -> None:
        """Keep the dispatcher's latest decision, from which every job read while Pending
        takes its PendingReason: held here as it changes rather than written to each
        waiting row (a busy queue's reasons would be rewritten on every claim)."""
        self.queue_state = state

    def _explained(self, job: Job) -> Job:
        """The job with its PendingReason by the queue state, if it is Pending."""
        state = self.queue_state
        if state is None or job.status is not Status.PENDING:
            return job
        return dataclasses.replace(job, pending_reason=policy.queue_reason(state, job.user_id))

    def claim(self, limit: int, node: str, barrier: Mode | None = None) -> list[Job]:
        """Mark up to ``limit`` pending jobs Running on ``node`` and return them in dispatch
        order (``barrier``: see ClaimOrder)."""
        return self._commit((), (), (), ClaimOrder(limit, node, barrier))

    def record(
        self,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> None:
        """Store output and outcomes in one transaction, so a reader never sees a gap."""
        self._commit(chunks, progress, finishes, None)

    def record_and_claim(
        self,
        order: ClaimOrder,
        chunks: Sequence[OutputChunk] = (),
        progress: Sequence[OutputProgress] = (),
        finishes: Sequence[Finish] = (),
    ) -> list[Job]:
        """Store output and outcomes, then claim the next jobs for ``order``, in one commit;
        returns the jobs claimed, in dispatch order.

        The dispatcher finishes the jobs that ended and claims the next in one go: each
        commit writes the pages it changed to the log, and the two touch the same pages
        (the jobs at the head of the queue), so one commit costs about what either did.
        """
        return self._commit(chunks, progress, finishes, order)

    def _commit(
        self,
        chunks: Sequence[OutputChunk],
        progress: Sequence[OutputProgress],
        finishes: Sequence[Finish],
        order: ClaimOrder | None,
    ) -> list[Job]:
        """The unit of work behind record, claim and record_and_claim: one transaction."""
        limit = order.free + len(finishes) if order is not None else 0
        if not (chunks or progress or finishes or limit > 0):
            return []
        now = self.clock.now()
        rows: Sequence[Sequence[Any]] = []
        with self.db.dialect.write() as run:
            _store_output(run, chunks, progress)
            # Dependents released here are Pending before the claim: it may start them.
            ended = ends.store_ends(run, finishes, now, self.retry_jitter)
            if order is not None and limit > 0:
                rows = claims.claim_next(run, limit, order, now, ended.freed)
        self.schedule_changes += ended.retried + ended.scheduled_dependents
        # RETURNING keeps no order; dispatch order is the queue's.
        claimed = [job_from_row(row) for row in sorted(rows, key=claims.dispatch_order)]
        self.hub.publish(
            [JobChange(c.job_id, ChangeKind.OUTPUT) for c in chunks]
            + [JobChange(f.job_id, ChangeKind.STATE) for f in finishes]
            + _state_changes(ended.dependents)
            + [JobChange(job.job_id, ChangeKind.STATE, job.user_id) for job in claimed]
        )
        return claimed

    def next_run_at(self) -> float | None:
        """When the earliest Scheduled job is due, or None if no job is Scheduled."""
        with self.db.dialect.read() as run:
            return scheduling.earliest_run_at(run)

    def promote_due(self, now: float) -> int:
        """Make the Scheduled jobs due by ``now`` Pending; how many there were."""
        with self.db.dialect.write() as run:
            promoted = scheduling.promote_due(run, now)
        self.hub.publish([JobChange(job_id, ChangeKind.STATE, user) for job_id, user in promoted])
        return len(promoted)

    def unstart(self, job_ids: Sequence[str]) -> list[str]:
        """Undo the claim of running jobs that never started: each goes back to the queue
        in its old place, unless it went back once before; those, and any Stopping, stay
        for the caller to end, no longer marked as started. The ids put back."""
        put_back = unstart.unstart(self.db, job_ids)
        self.hub.publish([JobChange(job_id, ChangeKind.STATE, user) for job_id, user in put_back])
        return [job_id for job_id, _ in put_back]

    def request_stop(self, job_id: str) -> bool:
        """Ask the engine to stop a running job; False if it is not running or cannot stop."""
        with self.db.write() as conn:
            result = conn.execute(
                update(jobs)
                .where(
                    jobs.c.job_id == job_id,
                    jobs.c.status == Status.RUNNING.value,
                    jobs.c.mode != Mode.MAIN_LOOP.value,
                )
                .values(status=Status.STOPPING.value, stop_requested_at=self.clock.now())
            )
        self.stop_requests += 1
        return self._changed(job_id, result.rowcount)

    def cancel(self, job_id: str) -> bool:
        """End a job that has not started yet (one whose retry was pending ends as its last
        attempt did), and the jobs waiting on it (with a note); False if it already left the
        pending states."""
        now = self.clock.now()
        with self.db.write() as conn:
            run = ConnectionStatements(conn)
            ended = scheduling.cancel(run, job_id, now)
            if ended is None:
                return False
            ends.count_finished(run, {ended.user_id: 1})
            dependencies.forget_waits(run, job_id, dependencies.decoded(ended.depends_on))
            dependents = dependencies.cancel_dependents(run, {job_id: ended.status}, now)
        self.hub.publish([JobChange(job_id, ChangeKind.STATE, ended.user_id)])
        self.hub.publish(_state_changes(dependents))
        return True

    def delete(self, job_id: str) -> bool:
        """Remove a finished job and its output; False if it is not finished (or gone)."""
        with self.db.write() as conn:
            owner = conn.execute(
                delete(jobs)
                .where(jobs.c.job_id == job_id, jobs.c.status.in_(_FINISHED))
                .returning(jobs.c.user_id)
            ).scalar()
            if owner is None:
                return False
            conn.execute(delete(job_output).where(job_output.c.job_id == job_id))
            ends.count_finished(ConnectionStatements(conn), {owner: -1})
        self.hub.publish([JobChange(job_id, ChangeKind.DELETED, owner)])
        return True

    def purge_finished(self, before: float, limit: int) -> list[str]:
        """Delete up to ``limit`` jobs that finished before ``before``, oldest first, with
        their output, in one short transaction; the ids deleted (none: no more that old)."""
        purged = retention.purge_finished(self.db, before, limit)
        self.hub.publish([JobChange(p.job_id, ChangeKind.DELETED, p.user_id) for p in purged])
        return [p.job_id for p in purged]

    def _changed(self, job_id: str, rowcount: int) -> bool:
        """Publish a state change if the update hit the job; True if it did."""
        if rowcount != 1:
            return False
        self.hub.publish([JobChange(job_id, ChangeKind.STATE)])
        return True

    def stopping_on(self, node: str) -> list[str]:
        """Ids of jobs on ``node`` whose stop was requested."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(jobs.c.job_id).where(
                    text(ACTIVE_CONDITION), jobs.c.node == node, jobs.c.status == "Stopping"
                )
            )
            return list(rows.scalars())

    def unfinished_on(self, node: str) -> list[Job]:
        """Jobs a previous engine on ``node`` left Running or Stopping."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(jobs).where(text(ACTIVE_CONDITION), jobs.c.node == node).order_by(jobs.c.seq)
            )
            return [job_from_row(row) for row in rows]

    def ping(self) -> None:
        """Raise StoreUnavailable unless the jobs table answers (cheap at any size)."""
        with self.db.read() as conn:
            conn.execute(select(jobs.c.seq).limit(1)).first()

    def has_pending(self) -> bool:
        with self.db.read() as conn:
            query = select(jobs.c.seq).where(text(PENDING_CONDITION)).limit(1)
            return conn.execute(query).first() is not None

    def read_output(self, job_id: str, offset: int, limit: int) -> bytes:
        """Up to ``limit`` bytes of stored output starting at byte ``offset``."""
        query = (
            select(job_output.c.start, job_output.c.data)
            .where(
                job_output.c.job_id == job_id,
                job_output.c.start > offset - CHUNK_BYTES,
                job_output.c.start < offset + limit,
            )
            .order_by(job_output.c.start)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        parts = []
        for start, data in rows:
            skip = max(0, offset - start)
            if skip < len(data):
                parts.append(data[skip:])
        return b"".join(parts)[:limit]


def _store_output(
    run: Statements, chunks: Sequence[OutputChunk], progress: Sequence[OutputProgress]
) -> None:
    pieces = [
        {"job_id": job_id, "start": start, "data": data}
        for job_id, start, data in _stored_pieces(chunks)
    ]
    run.run_many(_INSERT_OUTPUT, pieces)
    run.run_many(
        _PROGRESS,
        [{"b_job_id": p.job_id, "b_size": p.size, "b_dropped": p.dropped} for p in progress],
    )


def _stored_pieces(chunks: Sequence[OutputChunk]) -> list[tuple[str, int, bytes]]:
    """The chunks cut into the stored rows: (job_id, start, data) of at most CHUNK_BYTES."""
    return [
        (chunk.job_id, chunk.start + pos, chunk.data[pos : pos + CHUNK_BYTES])
        for chunk in chunks
        for pos in range(0, len(chunk.data), CHUNK_BYTES)
    ]


def _state_changes(changed: Iterable[tuple[str, str]]) -> list[JobChange]:
    return [JobChange(job_id, ChangeKind.STATE, user_id) for job_id, user_id in changed]
