"""The WebSocket paths' permission decisions, made by the service without a socket."""

from __future__ import annotations

import pytest

from jobhost.clock import SystemClock
from jobhost.errors import Forbidden, JobNotFound
from jobhost.models import Job, JobSpec, Mode, User
from jobhost.service.jobs import JobOperations, SeenChange
from jobhost.store import Store
from jobhost.store.changes import ChangeKind, JobChange

ALICE = User("alice", frozenset())
BOB = User("bob", frozenset())
ADMIN = User("admin", frozenset({"site_admin"}))


def _operations(store: Store) -> JobOperations:
    return JobOperations(store.jobs, SystemClock(), lambda: None, 5.0)


def _submit(store: Store, user: User) -> Job:
    spec = JobSpec(name="test", command="true", mode=Mode.BACKGROUND_JOB)
    return store.jobs.submit(user.user_id, spec)


def test_a_follow_refuses_someone_elses_job_and_a_caller_who_lost_the_right_to_see_it(
    sqlite_store: Store,
) -> None:
    ops = _operations(sqlite_store)
    job = _submit(sqlite_store, ALICE)
    with pytest.raises(JobNotFound):
        ops.follow(BOB, job.job_id)
    follow = ops.follow(ADMIN, job.job_id)
    assert follow.read(ADMIN, 0, 100).job == job
    demoted = User(ADMIN.user_id, frozenset())
    with pytest.raises(JobNotFound):
        follow.read(demoted, 0, 100)


def test_a_follow_reports_a_deleted_job_as_none(sqlite_store: Store) -> None:
    ops = _operations(sqlite_store)
    job = _submit(sqlite_store, ALICE)
    follow = ops.follow(ALICE, job.job_id)
    assert ops.stop_or_remove(ALICE, job.job_id) == "Job cancelled successfully"
    assert ops.stop_or_remove(ALICE, job.job_id) == "Job result deleted successfully"
    read = follow.read(ALICE, 0, 100)
    assert read.job is None
    assert not read.at_end


def test_everyones_events_are_for_privileged_callers_only(sqlite_store: Store) -> None:
    ops = _operations(sqlite_store)
    with pytest.raises(Forbidden):
        ops.events(ALICE, all_users=True)
    feed = ops.events(ADMIN, all_users=True)
    with pytest.raises(Forbidden):
        feed.check(User(ADMIN.user_id, frozenset()))


def test_events_show_a_caller_their_own_jobs_once_each_and_everyones_to_the_privileged(
    sqlite_store: Store,
) -> None:
    ops = _operations(sqlite_store)
    mine, theirs = _submit(sqlite_store, ALICE), _submit(sqlite_store, BOB)
    batch = [
        JobChange(mine.job_id, ChangeKind.STATE),
        JobChange(theirs.job_id, ChangeKind.STATE),
        JobChange("gone-mine", ChangeKind.DELETED, ALICE.user_id),
        JobChange("gone-theirs", ChangeKind.DELETED, BOB.user_id),
        JobChange(mine.job_id, ChangeKind.OUTPUT),
        JobChange(mine.job_id, ChangeKind.STATE),
    ]
    own = ops.events(ALICE, all_users=False).seen(ALICE, batch)
    assert own == [SeenChange("gone-mine", None), SeenChange(mine.job_id, mine)]
    everyone = ops.events(ADMIN, all_users=True).seen(ADMIN, batch)
    assert [change.job_id for change in everyone] == [
        theirs.job_id,
        "gone-mine",
        "gone-theirs",
        mine.job_id,
    ]
    assert ops.events(ADMIN, all_users=False).seen(ADMIN, batch) == []
