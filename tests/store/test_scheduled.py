"""runAt and retries in the store: Scheduled jobs, the alarm's time, promotion, and an end
that becomes the next attempt; on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from jobhost.models import Category, Job, JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore
from jobhost.store.claims import ClaimOrder
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from tests.store.conftest import FakeClock


def submit(store: SqlStore, name: str = "j", **options: object) -> Job:
    spec = JobSpec(name=name, command="false", mode=Mode.BACKGROUND_JOB, **options)  # type: ignore[arg-type]
    return store.jobs.submit("alice", spec)


def current(store: SqlStore, job: Job) -> Job:
    found = store.jobs.get(job.job_id)
    assert found is not None
    return found


def end(store: SqlStore, job: Job, outcome: Outcome) -> None:
    store.jobs.record(finishes=[Finish(job.job_id, outcome)])


def finished_count(store: SqlStore) -> int:
    return store.jobs.listing(JobQuery("alice")).counts[Category.COMPLETED]


FAILED = Outcome(Status.FAILED, 1)


def test_a_job_to_run_later_is_scheduled_with_its_reason(store: SqlStore, clock: FakeClock) -> None:
    changes = store.jobs.schedule_changes
    job = submit(store, run_at=clock.now() + 60)

    assert job.status is Status.SCHEDULED
    assert current(store, job) == job
    assert job.pending_reason == "scheduled for 2023-11-14T22:14:20.000Z"
    assert store.jobs.schedule_changes == changes + 1
    assert store.jobs.claim(10, "n") == []


@pytest.mark.parametrize("ahead", [0.0, -3600.0])
def test_a_run_at_now_or_past_is_pending_at_once(
    store: SqlStore, clock: FakeClock, ahead: float
) -> None:
    job = submit(store, run_at=clock.now() + ahead)

    assert job.status is Status.PENDING
    assert job.pending_reason is None
    assert [j.job_id for j in store.jobs.claim(10, "n")] == [job.job_id]


def test_the_alarm_is_the_earliest_scheduled_time(store: SqlStore, clock: FakeClock) -> None:
    assert store.jobs.next_run_at() is None
    submit(store, run_at=clock.now() + 30)
    early = submit(store, run_at=clock.now() + 10)
    submit(store)  # pending jobs do not count

    assert store.jobs.next_run_at() == clock.now() + 10
    store.jobs.cancel(early.job_id)
    assert store.jobs.next_run_at() == clock.now() + 30


def test_promote_due_makes_only_the_due_jobs_pending(store: SqlStore, clock: FakeClock) -> None:
    soon = submit(store, "soon", run_at=clock.now() + 10)
    later = submit(store, "later", run_at=clock.now() + 20)

    assert store.jobs.promote_due(clock.now() + 9.999) == 0
    assert store.jobs.promote_due(clock.now() + 10) == 1

    promoted = current(store, soon)
    assert (promoted.status, promoted.pending_reason) == (Status.PENDING, None)
    assert promoted.spec.run_at == clock.now() + 10  # RunAt stays on the record
    assert current(store, later).status is Status.SCHEDULED
    assert store.jobs.next_run_at() == clock.now() + 20


def test_a_failed_job_with_retries_left_is_scheduled_for_its_retry(
    store: SqlStore, clock: FakeClock
) -> None:
    store.jobs.retry_jitter = lambda: 0.05
    job = submit(store, max_retries=2, retry_delay_seconds=4)
    [claimed] = store.jobs.claim(1, "n")
    assert claimed.attempt == 1
    changes = store.jobs.schedule_changes

    end(store, claimed, FAILED)

    retried = current(store, job)
    assert retried.status is Status.SCHEDULED
    assert retried.attempt == 1
    assert retried.spec.run_at == pytest.approx(clock.now() + 4 * 1.05)
    assert retried.pending_reason == "retry 1 of 2 at 2023-11-14T22:13:24.200Z"
    assert (retried.started_at, retried.completed_at, retried.exit_code) == (None, None, None)
    assert retried.node is None
    assert store.jobs.schedule_changes == changes + 1
    assert finished_count(store) == 0  # a retried end is no finish


def test_retries_double_the_delay_and_stop_after_max_retries(
    store: SqlStore, clock: FakeClock
) -> None:
    store.jobs.retry_jitter = lambda: 0.0
    job = submit(store, max_retries=2, retry_delay_seconds=1)
    delays = []
    for _attempt in range(3):
        store.jobs.promote_due(clock.now() + 3600)
        [claimed] = store.jobs.claim(1, "n")
        end(store, claimed, Outcome(Status.TIMED_OUT))
        after = current(store, job)
        if after.status is Status.SCHEDULED:
            assert after.spec.run_at is not None
            delays.append(after.spec.run_at - clock.now())

    assert delays == [1.0, 2.0]
    final = current(store, job)
    assert (final.status, final.attempt) == (Status.TIMED_OUT, 3)
    assert final.completed_at == clock.now()
    assert finished_count(store) == 1


def test_the_default_first_delay_is_ten_seconds(store: SqlStore, clock: FakeClock) -> None:
    store.jobs.retry_jitter = lambda: 0.0
    job = submit(store, max_retries=1)
    [claimed] = store.jobs.claim(1, "n")
    end(store, claimed, Outcome(Status.INTERRUPTED))

    assert current(store, job).spec.run_at == clock.now() + 10


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(Status.COMPLETED, 0),
        Outcome(Status.STOPPED),
        Outcome(Status.CANCELLED),
        Outcome(Status.INTERRUPTED, may_retry=False),
    ],
    ids=["completed", "stopped", "cancelled", "final-interrupted"],
)
def test_these_ends_are_never_retried(store: SqlStore, outcome: Outcome) -> None:
    job = submit(store, max_retries=3, retry_delay_seconds=0)
    [claimed] = store.jobs.claim(1, "n")
    end(store, claimed, outcome)

    assert current(store, job).status is outcome.status
    assert finished_count(store) == 1


def test_a_job_without_retries_fails_as_before(store: SqlStore) -> None:
    job = submit(store)
    store.jobs.claim(1, "n")
    end(store, job, FAILED)

    assert current(store, job).status is Status.FAILED
    assert finished_count(store) == 1


def test_a_retry_due_at_once_is_claimed_after_promotion_with_the_next_attempt(
    store: SqlStore, clock: FakeClock
) -> None:
    job = submit(store, max_retries=1, retry_delay_seconds=0)
    assert len(store.jobs.claim(1, "n")) == 1
    # The end and the claim share a transaction: the retry is Scheduled, so not claimed yet.
    again = store.jobs.record_and_claim(ClaimOrder(0, "n"), finishes=[Finish(job.job_id, FAILED)])
    assert again == []
    assert store.jobs.next_run_at() == clock.now()

    assert store.jobs.promote_due(clock.now()) == 1
    [second] = store.jobs.claim(1, "n")
    assert (second.job_id, second.attempt, second.status) == (job.job_id, 2, Status.RUNNING)


def output(store: SqlStore, job: Job) -> str:
    return store.jobs.read_output(job.job_id, 0, 1 << 20).decode()


def ran_once(store: SqlStore, clock: FakeClock, job: Job, outcome: Outcome, text: bytes) -> float:
    """Claim ``job``, store ``text`` as its output and end it with ``outcome`` an hour
    later (now); when it started."""
    [claimed] = store.jobs.claim(1, "n")
    clock.advance(3600)
    store.jobs.record(
        chunks=[OutputChunk(job.job_id, 0, text)],
        progress=[OutputProgress(job.job_id, len(text), 0)],
        finishes=[Finish(job.job_id, outcome)],
    )
    assert claimed.started_at is not None
    return claimed.started_at


@pytest.mark.parametrize("promoted", [False, True], ids=["scheduled", "promoted"])
def test_a_cancelled_retry_ends_the_job_as_its_last_attempt_did(
    store: SqlStore, clock: FakeClock, promoted: bool
) -> None:
    job = submit(store, max_retries=2, retry_delay_seconds=60)
    started = ran_once(store, clock, job, Outcome(Status.TIMED_OUT, -9), b"partial")
    ended = clock.now()
    if promoted:  # due, Pending for a slot: it ran all the same
        store.jobs.promote_due(clock.now() + 60)
    clock.advance(5)

    assert store.jobs.cancel(job.job_id)
    final = current(store, job)
    assert (final.status, final.exit_code, final.attempt) == (Status.TIMED_OUT, -9, 1)
    # The wait for the retry is not run time: the record is that attempt's.
    assert (final.started_at, final.completed_at) == (started, ended)
    assert final.pending_reason is None
    assert output(store, job) == "partial\n[Retry cancelled: attempt 2 of 3 will not run]\n"
    assert final.output_size == len(output(store, job))
    assert finished_count(store) == 1
    assert not store.jobs.cancel(job.job_id)


def test_a_cancelled_retry_cancels_its_dependents_with_the_last_attempts_status(
    store: SqlStore, clock: FakeClock
) -> None:
    job = submit(store, max_retries=1, retry_delay_seconds=60)
    dependent = submit(store, "dependent", depends_on=(job.job_id,))
    ran_once(store, clock, job, FAILED, b"no\n")

    assert store.jobs.cancel(job.job_id)
    assert output(store, job) == "no\n[Retry cancelled: attempt 2 of 2 will not run]\n"
    assert current(store, dependent).status is Status.CANCELLED
    assert output(store, dependent) == f"[Job cancelled: dependency {job.job_id} ended Failed]\n"


def test_a_cancelled_job_that_never_ran_is_cancelled_with_no_note(store: SqlStore) -> None:
    job = submit(store, max_retries=1)

    assert store.jobs.cancel(job.job_id)
    final = current(store, job)
    assert (final.status, final.started_at, final.exit_code) == (Status.CANCELLED, None, None)
    assert final.completed_at == store.jobs.clock.now()
    assert (final.output_size, output(store, job)) == (0, "")


@pytest.mark.parametrize(
    ("outcome", "retried"),
    [
        (Outcome(Status.FAILED, 1), False),  # the stop raced the job's own failure
        (Outcome(Status.INTERRUPTED), False),  # a restart ended it while it was stopping
        (Outcome(Status.TIMED_OUT), True),  # its own timeout marks it Stopping too
    ],
    ids=["failed", "interrupted", "timed-out"],
)
def test_a_job_asked_to_stop_is_not_retried_unless_it_timed_out(
    store: SqlStore, outcome: Outcome, retried: bool
) -> None:
    job = submit(store, max_retries=3, retry_delay_seconds=0)
    store.jobs.claim(1, "n")
    assert store.jobs.request_stop(job.job_id)
    end(store, job, outcome)

    expected = Status.SCHEDULED if retried else outcome.status
    assert current(store, job).status is expected
