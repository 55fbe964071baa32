"""The engine's hot statements use the indexes meant for them on SQLite.

Left to itself, SQLite's planner (no ANALYZE statistics) chose ix_jobs_status for the claim
and sorted every pending job on each claim, and looked up finishing jobs by walking the
partial index of every running job: both grew with the queue instead of the batch.
These tests capture the statements the store really runs and ask SQLite for their plans.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from jobhost.models import Category, JobSpec, Mode, Outcome, Status
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import HistoryFilter, JobQuery
from jobhost.store.jobs import Finish
from tests.store.conftest import FakeClock


@pytest.fixture
def busy_store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    """SQLite with 100 jobs pending and 200 running on one node."""
    store = SqlStore.open(f"sqlite:///{settings.data_dir / 'plans.db'}", clock)
    try:
        for _ in range(300):
            store.jobs.submit("alice", JobSpec(name="j", command="pass", mode=Mode.RUNSPACE))
        store.jobs.claim(200, "node-a")  # many running jobs beside the pending ones
        yield store
    finally:
        store.close()


def statements_of(store: SqlStore, action: Callable[[], object], verb: str) -> list[str]:
    """The ``verb`` statements (SELECT, UPDATE) ``action`` runs, parameters filled in, in
    order. Traced by SQLite itself, on the pool's connections and on the one the engine's
    writes use (``driver_write``), which bypass SQLAlchemy's events."""
    seen: list[str] = []
    with store.db.driver_write() as own:
        pass
    traced = [own]
    own.set_trace_callback(seen.append)

    def trace(driver: sqlite3.Connection, _record: Any, _proxy: Any) -> None:
        driver.set_trace_callback(seen.append)
        traced.append(driver)

    event.listen(store.db.engine, "checkout", trace)
    try:
        action()
    finally:
        event.remove(store.db.engine, "checkout", trace)
        for driver in traced:
            driver.set_trace_callback(None)
    return [sql for sql in seen if sql.lstrip().upper().startswith(verb)]


def plan(store: SqlStore, sql: str) -> str:
    with store.db.read() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
    return " | ".join(str(row[-1]) for row in rows)


def test_claim_walks_the_queue_index_without_sorting(busy_store: SqlStore) -> None:
    selects = statements_of(busy_store, lambda: busy_store.jobs.claim(10, "node-a"), "SELECT")
    found = plan(busy_store, selects[0])  # the queue: which jobs are next
    assert "ix_jobs_queue" in found
    assert "TEMP B-TREE" not in found


def test_the_claim_under_a_per_user_limit_walks_the_queue_index_too(busy_store: SqlStore) -> None:
    order = ClaimOrder(10, "node-a", per_user=5, running={"bob": 5})
    claim = functools.partial(busy_store.jobs.record_and_claim, order)
    selects = statements_of(busy_store, claim, "SELECT")
    assert "NOT IN" in selects[0]
    found = plan(busy_store, selects[0])
    assert "ix_jobs_queue" in found
    assert "TEMP B-TREE" not in found


def test_claimed_rows_are_updated_by_primary_key(busy_store: SqlStore) -> None:
    updates = statements_of(busy_store, lambda: busy_store.jobs.claim(10, "node-a"), "UPDATE")
    assert len(updates) == 1, updates
    assert "PRIMARY KEY" in plan(busy_store, updates[0])


@pytest.mark.parametrize("verb", ["SELECT", "UPDATE"])
def test_finishing_looks_jobs_up_by_id_not_by_walking_the_running_ones(
    busy_store: SqlStore, verb: str
) -> None:
    running = busy_store.jobs.unfinished_on("node-a")[:10]
    finishes = [Finish(job.job_id, Outcome(Status.COMPLETED, 0)) for job in running]
    statements = statements_of(busy_store, lambda: busy_store.jobs.record(finishes=finishes), verb)
    touching_jobs = [sql for sql in statements if " jobs " in sql]
    # One lookup of the owners; one update per job (SQLite traces each row of a batch).
    assert len(touching_jobs) == {"SELECT": 1, "UPDATE": len(finishes)}[verb], statements
    for sql in touching_jobs:
        found = plan(busy_store, sql)
        assert "(job_id=?)" in found, (sql, found)
        assert "ix_jobs_active" not in found
        assert "ix_jobs_status" not in found


@pytest.mark.parametrize("verb", ["SELECT", "UPDATE"])
def test_the_alarm_and_promotion_seek_the_scheduled_index(busy_store: SqlStore, verb: str) -> None:
    now = busy_store.jobs.clock.now()
    for ahead in range(50):
        spec = JobSpec(name="later", command="pass", mode=Mode.RUNSPACE, run_at=now + ahead + 1)
        busy_store.jobs.submit("alice", spec)

    def alarm_and_promotion() -> None:
        busy_store.jobs.next_run_at()
        busy_store.jobs.promote_due(now + 10)

    [sql] = [s for s in statements_of(busy_store, alarm_and_promotion, verb) if " jobs" in s]
    found = plan(busy_store, sql)
    assert "ix_jobs_run_at" in found, (sql, found)
    assert "TEMP B-TREE" not in found


@pytest.fixture
def waiting_store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    """SQLite with 300 jobs Waiting on one running job, and one running job beside it that
    a single job waits on."""
    store = SqlStore.open(f"sqlite:///{settings.data_dir / 'waiting.db'}", clock)
    try:
        spec = JobSpec(name="j", command="pass", mode=Mode.RUNSPACE)
        crowd, single = store.jobs.submit("alice", spec), store.jobs.submit("alice", spec)
        for _ in range(300):
            store.jobs.submit("alice", dataclasses.replace(spec, depends_on=(crowd.job_id,)))
        store.jobs.submit("alice", dataclasses.replace(spec, depends_on=(single.job_id,)))
        store.jobs.claim(2, "node-a")
        yield store
    finally:
        store.close()


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED])
def test_an_end_finds_its_dependents_by_key_without_walking_the_waiting_jobs(
    waiting_store: SqlStore, status: Status
) -> None:
    single = waiting_store.jobs.unfinished_on("node-a")[1]
    finishes = [Finish(single.job_id, Outcome(status, 0))]

    def end() -> None:
        waiting_store.jobs.record(finishes=finishes)

    statements = statements_of(waiting_store, end, "")
    marks = ("job_dependencies", "'Waiting'", "jobs.depends_on")
    touching = [sql for sql in statements if any(mark in sql for mark in marks)]
    assert touching, statements
    for sql in touching:
        if sql.lstrip().upper().startswith("INSERT"):
            continue
        found = plan(waiting_store, sql)
        assert "ix_jobs_status" not in found, (sql, found)
        assert "SCAN" not in found, (sql, found)


def test_a_filtered_cursor_page_seeks_the_users_index(busy_store: SqlStore) -> None:
    """History filters and the cursor narrow the seek of (user_id, status, seq): a deep page
    starts at the cursor's seq rather than counting its way there."""
    history = HistoryFilter(
        statuses=frozenset({Status.FAILED}), mode=Mode.RUNSPACE, text="j", before_seq=250
    )
    query = JobQuery("alice", frozenset({Category.COMPLETED}), 100, history=history)
    selects = statements_of(busy_store, lambda: busy_store.jobs.listing(query), "SELECT")
    found = plan(busy_store, next(sql for sql in selects if "ORDER BY" in sql))
    assert "ix_jobs_user_status_seq (user_id=? AND status=? AND seq<?)" in found
    assert "TEMP B-TREE" not in found
