"""Undoing the claim of jobs that never started, on both dialects."""

from __future__ import annotations

from jobhost.models import Status
from jobhost.store import SqlStore
from tests.store.test_job_store import claim_all, current, finish, names, submit


def test_jobs_put_back_keep_their_place_in_the_queue_and_lose_the_claim(store: SqlStore) -> None:
    low, high = submit(store, "low"), submit(store, "high", priority=5)
    claimed = claim_all(store, 2)
    submit(store, "later-high", priority=5)
    submit(store, "later-low")

    put_back = store.jobs.unstart([job.job_id for job in claimed])

    assert sorted(put_back) == sorted([low.job_id, high.job_id])
    for job in (low, high):
        found = current(store, job)
        assert (found.status, found.started_at, found.node, found.attempt) == (
            Status.PENDING,
            None,
            None,
            0,
        )
    # Priority first, then the order of submission, as if they had never been claimed.
    assert names(store.jobs.claim(10, "node-a")) == ["high", "later-high", "low", "later-low"]


def test_a_job_is_put_back_only_once(store: SqlStore) -> None:
    job = submit(store, "a")
    claim_all(store, 1)
    assert store.jobs.unstart([job.job_id]) == [job.job_id]
    claim_all(store, 1)

    assert store.jobs.unstart([job.job_id]) == []
    # Left running for the caller to end, but no longer marked as started.
    found = current(store, job)
    assert (found.status, found.started_at, found.attempt) == (Status.RUNNING, None, 0)
    assert store.jobs.unstart([job.job_id]) == []
    assert current(store, job).attempt == 0  # doing it again changes nothing


def test_a_stopping_job_is_not_put_back(store: SqlStore) -> None:
    job = submit(store, "a")
    claim_all(store, 1)
    store.jobs.request_stop(job.job_id)

    assert store.jobs.unstart([job.job_id]) == []
    found = current(store, job)
    assert (found.status, found.started_at, found.attempt) == (Status.STOPPING, None, 0)


def test_finished_and_unknown_jobs_are_left_alone(store: SqlStore) -> None:
    job = submit(store, "a")
    claim_all(store, 1)
    finish(store, job, Status.COMPLETED, 0)  # over: nothing to undo
    finished = current(store, job)

    assert store.jobs.unstart([job.job_id, "no-such-job"]) == []
    assert current(store, job) == finished
