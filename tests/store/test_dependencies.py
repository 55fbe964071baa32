"""dependsOn in the store, on SQLite and PostgreSQL: where a new job starts, and what each
end does to the jobs waiting on it (released, or cancelled transitively with a note)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import func, select

from jobhost.errors import UnknownDependency
from jobhost.models import Category, Job, JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore
from jobhost.store.changes import ChangeKind
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import Finish
from jobhost.store.schema import job_dependencies, jobs
from tests.store.conftest import FakeClock

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def submit(store: SqlStore, name: str, *after: Job, user_id: str = "alice") -> Job:
    spec = JobSpec(
        name=name,
        command=f"echo {name}",
        mode=Mode.BACKGROUND_JOB,
        depends_on=tuple(job.job_id for job in after),
    )
    return store.jobs.submit(user_id, spec)


def run_and_end(store: SqlStore, job: Job, status: Status) -> list[Job]:
    """Claim ``job`` (it must be next), end it with ``status``; the jobs the same commit
    claims next (as many as wait)."""
    claimed = store.jobs.claim(1, "node")
    assert [j.job_id for j in claimed] == [job.job_id]
    end = Finish(job.job_id, Outcome(status, 0 if status is Status.COMPLETED else 1))
    return store.jobs.record_and_claim(ClaimOrder(1000, "node"), finishes=[end])


def state(store: SqlStore, job: Job) -> Job:
    found = store.jobs.get(job.job_id)
    assert found is not None
    return found


def output(store: SqlStore, job: Job) -> str:
    return store.jobs.read_output(job.job_id, 0, 10_000).decode()


def edges(store: SqlStore) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(job_dependencies)).scalar_one())


def finished_count(store: SqlStore, user_id: str) -> int:
    return store.jobs.listing(JobQuery(user_id)).counts[Category.COMPLETED]


def test_a_job_waits_for_its_dependency_and_runs_after_it_completed(store: SqlStore) -> None:
    a = submit(store, "a")
    b = submit(store, "b", a)

    assert (b.status, b.pending_reason) == (Status.WAITING, f"waiting for {a.job_id}")
    assert state(store, b) == b
    assert store.jobs.claim(10, "node") == [state(store, a)], "b is not claimable"

    end = Finish(a.job_id, Outcome(Status.COMPLETED, 0))
    claimed = store.jobs.record_and_claim(ClaimOrder(0, "node"), finishes=[end])

    assert [job.job_id for job in claimed] == [b.job_id], "the same commit starts b"
    assert edges(store) == 0


def test_a_released_job_is_pending_without_a_reason(store: SqlStore) -> None:
    a = submit(store, "a")
    b = submit(store, "b", a)
    store.jobs.claim(1, "node")
    store.jobs.record(finishes=[Finish(a.job_id, Outcome(Status.COMPLETED, 0))])

    released = state(store, b)
    assert (released.status, released.pending_reason) == (Status.PENDING, None)
    assert store.jobs.has_pending()


def test_a_failure_cancels_three_levels_each_naming_its_own_dependency(
    store: SqlStore, clock: FakeClock
) -> None:
    a = submit(store, "a")
    b = submit(store, "b", a)
    c = submit(store, "c", b)
    d = submit(store, "d", c)
    clock.advance(5)

    assert run_and_end(store, a, Status.FAILED) == []

    for job, cause, status in ((b, a, "Failed"), (c, b, "Cancelled"), (d, c, "Cancelled")):
        ended = state(store, job)
        assert (ended.status, ended.completed_at, ended.started_at) == (
            Status.CANCELLED,
            clock.now(),
            None,
        )
        note = f"[Job cancelled: dependency {cause.job_id} ended {status}]\n"
        assert output(store, job) == note
        assert ended.output_size == len(note)
    assert edges(store) == 0
    assert finished_count(store, "alice") == 4


def test_fan_in_runs_only_after_every_dependency_completed(store: SqlStore) -> None:
    firsts = [submit(store, f"dep-{n}") for n in range(50)]
    last = submit(store, "last", *firsts)
    store.jobs.claim(50, "node")

    for n, job in enumerate(firsts[:-1]):
        end = Finish(job.job_id, Outcome(Status.COMPLETED, 0))
        assert store.jobs.record_and_claim(ClaimOrder(10, "node"), finishes=[end]) == []
        waiting = state(store, last)
        assert waiting.status is Status.WAITING
        assert waiting.pending_reason == f"waiting for {firsts[n + 1].job_id}"

    end = Finish(firsts[-1].job_id, Outcome(Status.COMPLETED, 0))
    claimed = store.jobs.record_and_claim(ClaimOrder(10, "node"), finishes=[end])
    assert [job.job_id for job in claimed] == [last.job_id]


def test_fan_out_releases_every_dependent_in_one_commit(store: SqlStore) -> None:
    root = submit(store, "root")
    dependents = [submit(store, f"d{n}", root) for n in range(1200)]  # more than a batch

    claimed = run_and_end(store, root, Status.COMPLETED)

    ids = [job.job_id for job in dependents]
    assert [job.job_id for job in claimed] == ids[:1001], "as many as the claim takes, in order"
    assert {state(store, job).status for job in dependents[1001:]} == {Status.PENDING}


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.FAILED])
def test_ends_recorded_together_act_on_a_dependent_of_both(store: SqlStore, status: Status) -> None:
    a, b = submit(store, "a"), submit(store, "b")
    c = submit(store, "c", a, b)
    store.jobs.claim(2, "node")

    finishes = [
        Finish(a.job_id, Outcome(Status.COMPLETED, 0)),
        Finish(b.job_id, Outcome(status, 0)),
    ]
    store.jobs.record(finishes=finishes)

    expected = Status.PENDING if status is Status.COMPLETED else Status.CANCELLED
    assert state(store, c).status is expected
    assert edges(store) == 0


def test_a_cancelled_dependent_leaves_no_edge_to_its_other_dependencies(
    store: SqlStore,
) -> None:
    a, b = submit(store, "a"), submit(store, "b")
    c = submit(store, "c", a, b)
    store.jobs.claim(2, "node")

    store.jobs.record(finishes=[Finish(a.job_id, Outcome(Status.TIMED_OUT, None))])

    assert output(store, c) == f"[Job cancelled: dependency {a.job_id} ended TimedOut]\n"
    assert edges(store) == 0
    store.jobs.record(finishes=[Finish(b.job_id, Outcome(Status.COMPLETED, 0))])
    assert state(store, c).status is Status.CANCELLED


def test_an_already_completed_dependency_counts_as_done(store: SqlStore) -> None:
    a = submit(store, "a")
    run_and_end(store, a, Status.COMPLETED)

    b = submit(store, "b", a)

    assert (b.status, b.pending_reason) == (Status.PENDING, None)
    assert edges(store) == 0
    assert store.jobs.claim(1, "node")[0].job_id == b.job_id


def test_an_already_failed_dependency_cancels_the_job_at_once(
    store: SqlStore, clock: FakeClock
) -> None:
    done, failed = submit(store, "done"), submit(store, "failed")
    store.jobs.claim(2, "node")
    store.jobs.record(
        finishes=[
            Finish(done.job_id, Outcome(Status.COMPLETED, 0)),
            Finish(failed.job_id, Outcome(Status.FAILED, 3)),
        ]
    )
    clock.advance(1)

    job = submit(store, "late", done, failed)

    assert (job.status, job.completed_at, job.started_at) == (Status.CANCELLED, clock.now(), None)
    assert state(store, job) == job
    note = f"[Job cancelled: dependency {failed.job_id} ended Failed]\n"
    assert output(store, job) == note
    assert job.output_size == len(note)
    assert edges(store) == 0
    assert finished_count(store, "alice") == 3
    assert store.jobs.claim(1, "node") == []


def test_an_unknown_or_invisible_dependency_is_refused_and_nothing_is_stored(
    store: SqlStore,
) -> None:
    theirs = submit(store, "theirs", user_id="bob")
    mine = submit(store, "mine")
    spec = JobSpec(name="x", command="true", mode=Mode.BACKGROUND_JOB)

    def own_only(job: Job) -> bool:
        return job.user_id == "alice"

    for depends_on in ((mine.job_id, UNKNOWN), (theirs.job_id,)):
        with pytest.raises(UnknownDependency) as refused:
            store.jobs.submit("alice", dataclasses.replace(spec, depends_on=depends_on), own_only)
        assert refused.value.message == f"Unknown job in dependsOn: {depends_on[-1]}"

    with store.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 2
    assert edges(store) == 0


def test_cancelling_a_waiting_job_removes_its_edges_and_cancels_its_dependents(
    store: SqlStore,
) -> None:
    a = submit(store, "a")
    b = submit(store, "b", a)
    c = submit(store, "c", b)

    assert store.jobs.cancel(b.job_id)

    assert state(store, b).status is Status.CANCELLED
    assert output(store, b) == ""
    assert output(store, c) == f"[Job cancelled: dependency {b.job_id} ended Cancelled]\n"
    assert edges(store) == 0
    assert finished_count(store, "alice") == 2
    assert [job.job_id for job in run_and_end(store, a, Status.COMPLETED)] == []


def test_cancelling_a_pending_dependency_cancels_its_dependents(store: SqlStore) -> None:
    a = submit(store, "a")
    b = submit(store, "b", a, user_id="bob")

    assert store.jobs.cancel(a.job_id)

    assert state(store, b).status is Status.CANCELLED
    assert (finished_count(store, "alice"), finished_count(store, "bob")) == (1, 1)


def test_a_dependency_cannot_be_deleted_while_a_job_waits_on_it(store: SqlStore) -> None:
    a = submit(store, "a")
    submit(store, "b", a)

    assert not store.jobs.delete(a.job_id), "not finished"
    run_and_end(store, a, Status.COMPLETED)
    assert store.jobs.delete(a.job_id)
    assert edges(store) == 0


def test_released_and_cancelled_dependents_are_published(store: SqlStore) -> None:
    async def watch() -> set[tuple[str, ChangeKind, str | None]]:
        a, b = submit(store, "a"), submit(store, "b")
        ok, gone = submit(store, "ok", a), submit(store, "gone", b, user_id="bob")
        store.jobs.claim(2, "node")
        with store.jobs.hub.subscribe() as subscription:
            store.jobs.record(
                finishes=[
                    Finish(a.job_id, Outcome(Status.COMPLETED, 0)),
                    Finish(b.job_id, Outcome(Status.STOPPED, None)),
                ]
            )
            changes = await subscription.next_batch(1.0)
        expected = {(ok.job_id, "alice"), (gone.job_id, "bob")}
        seen = {(c.job_id, c.kind, c.user_id) for c in changes}
        assert {(j, ChangeKind.STATE, u) for j, u in expected} <= seen
        return seen

    asyncio.run(watch())


def test_a_dependency_being_retried_holds_its_dependents_until_its_last_attempt(
    store: SqlStore,
) -> None:
    spec = JobSpec(name="flaky", command="false", mode=Mode.BACKGROUND_JOB, max_retries=1)
    flaky = store.jobs.submit("alice", dataclasses.replace(spec, retry_delay_seconds=0))
    after = submit(store, "after", flaky)

    run_and_end(store, flaky, Status.FAILED)  # retried: Scheduled again, not finished
    assert state(store, flaky).status is Status.SCHEDULED
    assert state(store, after).status is Status.WAITING
    assert edges(store) == 1

    store.jobs.promote_due(store.jobs.clock.now() + 1)
    run_and_end(store, flaky, Status.FAILED)  # the last attempt: its dependents go with it
    assert state(store, flaky).status is Status.FAILED
    assert state(store, after).status is Status.CANCELLED
    assert output(store, after) == f"[Job cancelled: dependency {flaky.job_id} ended Failed]\n"
    assert edges(store) == 0


def test_a_released_job_whose_run_at_is_ahead_waits_for_it_scheduled(store: SqlStore) -> None:
    first = submit(store, "first")
    now = store.jobs.clock.now()
    later = JobSpec(
        name="later",
        command="echo later",
        mode=Mode.BACKGROUND_JOB,
        depends_on=(first.job_id,),
        run_at=now + 3600,
    )
    held = store.jobs.submit("alice", later)
    due = store.jobs.submit("alice", dataclasses.replace(later, name="due", run_at=now - 1))
    changes_before = store.jobs.schedule_changes

    claimed = run_and_end(store, first, Status.COMPLETED)

    assert [job.job_id for job in claimed] == [due.job_id]  # its time has come: it starts
    job = state(store, held)
    assert job.status is Status.SCHEDULED
    assert job.pending_reason is not None and job.pending_reason.startswith("scheduled for ")
    assert store.jobs.schedule_changes > changes_before  # the engine re-reads its alarm


def test_a_waiting_job_whose_reason_moves_on_is_published(store: SqlStore) -> None:
    async def watch() -> None:
        a, b = submit(store, "a"), submit(store, "b")
        both = submit(store, "both", a, b)
        store.jobs.claim(1, "node")
        with store.jobs.hub.subscribe() as subscription:
            store.jobs.record(finishes=[Finish(a.job_id, Outcome(Status.COMPLETED, 0))])
            changes = await subscription.next_batch(1.0)
        assert (both.job_id, ChangeKind.STATE) in {(c.job_id, c.kind) for c in changes}
        assert state(store, both).pending_reason == f"waiting for {b.job_id}"

    asyncio.run(watch())
