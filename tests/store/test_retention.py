"""Purging finished jobs past the retention period, on both dialects."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select

from jobhost.models import Category, JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore, retention
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from jobhost.store.retention import purge_finished
from jobhost.store.rows import job_values
from jobhost.store.schema import job_dependencies, job_output, jobs
from tests.store.conftest import FakeClock

SPEC = JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB)


def finished_job(store: SqlStore, clock: FakeClock, user: str, output: bytes = b"") -> str:
    """A job of ``user`` that ran and failed now, with ``output``."""
    job_id = store.jobs.submit(user, SPEC).job_id
    assert [job.job_id for job in store.jobs.claim(1, "node")] == [job_id]
    store.jobs.record(
        [OutputChunk(job_id, 0, output)] if output else [],
        [OutputProgress(job_id, len(output), 0)],
        [Finish(job_id, Outcome(Status.FAILED, 1))],
    )
    return job_id


def finished_count(store: SqlStore, user: str) -> int:
    counts = store.jobs.listing(JobQuery(user, frozenset())).counts
    return counts[Category.COMPLETED]


def output_rows(store: SqlStore) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(job_output)).scalar_one())


def test_purge_deletes_finished_jobs_past_the_cutoff_in_batches_with_their_output(
    store: SqlStore, clock: FakeClock
) -> None:
    old = []
    for user in ("ann", "ann", "ben"):
        old.append(finished_job(store, clock, user, b"out\n"))
        clock.advance(1)
    cancelled = store.jobs.submit("ben", SPEC).job_id
    assert store.jobs.cancel(cancelled)
    running = store.jobs.submit("ann", SPEC).job_id  # old, but not finished: kept
    store.jobs.claim(1, "node")
    clock.advance(100)
    young = finished_job(store, clock, "ann", b"young\n")
    pending = store.jobs.submit("ann", SPEC).job_id
    cutoff = clock.now() - 50
    assert (finished_count(store, "ann"), finished_count(store, "ben")) == (3, 2)

    batches = [store.jobs.purge_finished(cutoff, 2) for _ in range(3)]
    assert [len(batch) for batch in batches] == [2, 2, 0]
    assert set(batches[0] + batches[1]) == {*old, cancelled}

    assert store.jobs.get_many([*old, cancelled]) == {}
    left = store.jobs.get_many([running, pending, young])
    assert {job_id: job.status for job_id, job in left.items()} == {
        running: Status.RUNNING,
        pending: Status.PENDING,
        young: Status.FAILED,
    }
    assert (finished_count(store, "ann"), finished_count(store, "ben")) == (1, 0)
    assert output_rows(store) == 1
    assert store.jobs.read_output(young, 0, 100) == b"young\n"


def test_a_batch_holding_much_output_stops_early_but_never_empty(
    store: SqlStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = finished_job(store, clock, "ann", b"x" * 10)
    clock.advance(1)
    second = finished_job(store, clock, "ann", b"x" * 10)
    monkeypatch.setattr(retention, "MAX_BATCH_OUTPUT_BYTES", 5)
    assert [p.job_id for p in purge_finished(store.db, clock.now() + 1, 10)] == [first]
    assert [p.job_id for p in purge_finished(store.db, clock.now() + 1, 10)] == [second]


def test_a_purged_jobs_dependency_rows_go_with_it(store: SqlStore, clock: FakeClock) -> None:
    done = finished_job(store, clock, "ann")
    later = finished_job(store, clock, "ann")
    with store.db.write() as conn:
        conn.execute(delete(job_dependencies))
        conn.execute(insert(job_dependencies), [{"depends_on": done, "job_id": later}])
    assert store.jobs.purge_finished(clock.now() + 1, 1) == [done]
    with store.db.read() as conn:
        assert conn.execute(select(job_dependencies)).all() == []


def test_the_purge_takes_the_oldest_finished_jobs_first_whatever_their_status(
    store: SqlStore, clock: FakeClock
) -> None:
    cancelled_last = store.jobs.submit("ann", SPEC).job_id  # the lowest seq, ends last
    ended = []
    for outcome in (Outcome(Status.TIMED_OUT), Outcome(Status.FAILED, 1)):
        job_id = store.jobs.submit("ann", dataclasses.replace(SPEC, priority=1)).job_id
        assert [job.job_id for job in store.jobs.claim(1, "node")] == [job_id]
        store.jobs.record(finishes=[Finish(job_id, outcome)])
        ended.append(job_id)
        clock.advance(1)
    assert store.jobs.cancel(cancelled_last)

    batches = [store.jobs.purge_finished(clock.now() + 1, 1) for _ in range(3)]
    assert batches == [*([job_id] for job_id in ended), [cancelled_last]]


def purge_select(store: SqlStore, clock: FakeClock) -> tuple[str, Any]:
    """The SELECT a purge runs to pick its batch, with its parameters, as sent to the driver."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    event.listen(store.db.engine, "before_cursor_execute", capture)
    try:
        store.jobs.purge_finished(clock.now() + 1, 5)
    finally:
        event.remove(store.db.engine, "before_cursor_execute", capture)
    return seen[0]


def test_the_purge_walks_the_finished_index_in_order_without_sorting(
    store: SqlStore, clock: FakeClock
) -> None:
    finished = store.jobs.submit("ann", SPEC)
    rows = [
        job_values(SPEC)
        | {"job_id": str(uuid.uuid4()), "user_id": "ann", "submitted_at": clock.now()}
        | {"status": status.value, "completed_at": clock.now() - n}
        for n in range(2000)
        for status in [(Status.FAILED, Status.COMPLETED, Status.PENDING)[n % 3]]
    ]
    with store.db.write() as conn:
        conn.execute(insert(jobs), rows)
        conn.exec_driver_sql("ANALYZE")
    assert store.jobs.cancel(finished.job_id)
    sql, params = purge_select(store, clock)

    explain = "EXPLAIN QUERY PLAN " if store.db.is_sqlite else "EXPLAIN "
    with store.db.read() as conn:
        found = " | ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql, params))
    assert "ix_jobs_finished" in found, found
    assert "TEMP B-TREE" not in found and "Sort" not in found, found
