"""A stop waits for the job's end on the change feed, reading the job only when it changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from jobhost.clock import SystemClock
from jobhost.models import Job, JobSpec, Mode, Outcome, Status, User
from jobhost.service.jobs import STILL_STOPPING, STOPPED, JobOperations
from jobhost.store import Store
from jobhost.store.changes import ChangeKind, Hub, JobChange
from jobhost.store.jobs import Finish

TESTER = User("tester", frozenset())
# Long enough that a polling wait would read the job dozens of times before the end.
END_AFTER_SECONDS = 0.5


class Reads:
    """Counts the stop's reads of the job, by standing in for the store's get."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self._get = store.jobs.get

    def __call__(self, job_id: str) -> Job | None:
        self.count += 1
        return self._get(job_id)


@pytest.fixture
def running(sqlite_store: Store) -> Iterator[Job]:
    spec = JobSpec(name="test", command="sleep 100", mode=Mode.BACKGROUND_JOB)
    job = sqlite_store.jobs.submit(TESTER.user_id, spec)
    (claimed,) = sqlite_store.jobs.claim(1, "test-node")
    assert claimed.job_id == job.job_id
    yield claimed


def _end_once_stopping(store: Store, job_id: str) -> None:
    """What the engine does, late: see the stop request, then record the job's end."""
    while (job := store.jobs.get(job_id)) is None or job.status is not Status.STOPPING:
        time.sleep(0.01)
    time.sleep(END_AFTER_SECONDS)
    store.jobs.record(finishes=[Finish(job_id, Outcome(Status.STOPPED, None))])


def test_a_stop_returns_when_the_job_ends_having_read_it_a_handful_of_times(
    sqlite_store: Store, running: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    grace = 30.0
    ops = JobOperations(sqlite_store.jobs, SystemClock(), lambda: None, grace)
    engine = threading.Thread(target=_end_once_stopping, args=(sqlite_store, running.job_id))
    engine.start()
    reads = Reads(sqlite_store)
    monkeypatch.setattr(sqlite_store.jobs, "get", reads)
    started = time.monotonic()
    try:
        assert ops.stop(TESTER, running.job_id) == STOPPED
    finally:
        engine.join()
    assert time.monotonic() - started < grace / 4
    # The caller's look, the one after watching, the one after the end; polling every
    # 20 ms would have read it about END_AFTER_SECONDS / 0.02 times.
    assert reads.count <= 5


def test_a_stop_of_a_job_that_does_not_end_answers_still_stopping_after_the_wait(
    sqlite_store: Store, running: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops = JobOperations(sqlite_store.jobs, SystemClock(), lambda: None, 0.0)
    reads = Reads(sqlite_store)
    monkeypatch.setattr(sqlite_store.jobs, "get", reads)
    started = time.monotonic()
    assert ops.stop(TESTER, running.job_id) == STILL_STOPPING
    waited = time.monotonic() - started
    # A grace of 0 waits the 2 s extra, reading again about once a second meanwhile.
    assert 1.9 <= waited < 10
    assert reads.count <= 6


def test_a_state_watch_keeps_a_change_made_before_the_wait_and_ignores_output() -> None:
    hub = Hub()
    with hub.watch("a") as watch:
        hub.publish([JobChange("a", ChangeKind.OUTPUT), JobChange("b", ChangeKind.STATE)])
        assert not watch.wait(0.01)
        hub.publish([JobChange("a", ChangeKind.STATE)])
        assert watch.wait(0.01)
        assert not watch.wait(0.01)  # each change wakes one wait, not every later one
    hub.publish([JobChange("a", ChangeKind.DELETED)])  # closed: no longer delivered
    assert not watch.wait(0.01)
