"""The retention pass and its thread, over a real SQLite store on a fake clock."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost.engine.retention import DAY_SECONDS, Pace, Retention, RunFolders
from jobhost.errors import StoreUnavailable
from jobhost.models import JobSpec, Mode
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.store.conftest import FakeClock

SPEC = JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB)
FAST = Pace(batch=3, pause=0.0, interval=0.01)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    opened = SqlStore.open(settings.store_url, clock)
    yield opened
    opened.close()


def cancelled_jobs(store: SqlStore, count: int) -> list[str]:
    """Jobs that finished now (cancelled before they ran)."""
    ids = [store.jobs.submit("ann", SPEC).job_id for _ in range(count)]
    assert all(store.jobs.cancel(job_id) for job_id in ids)
    return ids


def folders_in(root: Path) -> RunFolders:
    return RunFolders(
        lambda: [entry.name for entry in root.iterdir()],
        lambda job_id: shutil.rmtree(root / job_id),
    )


def test_a_pass_deletes_what_is_past_the_period_in_batches_and_their_run_folders(
    store: SqlStore, clock: FakeClock, tmp_path: Path
) -> None:
    old = cancelled_jobs(store, 7)
    clock.advance(29 * DAY_SECONDS)
    young = cancelled_jobs(store, 2)
    clock.advance(2 * DAY_SECONDS)  # the old ones are 31 days old, the young ones 2
    runs = tmp_path / "runs"
    for job_id in (old[0], young[0], "not-a-job"):
        (runs / job_id).mkdir(parents=True)
    calls: list[int] = []
    purge = store.jobs.purge_finished

    def counted(before: float, limit: int) -> list[str]:
        calls.append(limit)
        return purge(before, limit)

    store.jobs.purge_finished = counted  # type: ignore[method-assign]
    retention = Retention(store.jobs, clock, 30, folders_in(runs), FAST)
    assert retention.purge_once() == 7
    assert calls == [3, 3, 3, 3]  # 3 + 3 + 1, then one that finds none left
    assert set(store.jobs.get_many(old + young)) == set(young)
    assert sorted(path.name for path in runs.iterdir()) == sorted([young[0], "not-a-job"])
    assert retention.purge_once() == 0


def test_zero_days_keeps_everything_and_starts_no_thread(store: SqlStore, clock: FakeClock) -> None:
    old = cancelled_jobs(store, 2)
    clock.advance(10_000 * DAY_SECONDS)
    retention = Retention(store.jobs, clock, 0, None, FAST)
    assert not retention.enabled
    before = threading.active_count()
    retention.start()
    assert threading.active_count() == before
    assert retention.purge_once() == 0
    retention.stop()
    assert set(store.jobs.get_many(old)) == set(old)


def test_the_thread_purges_at_start_and_again_each_interval(
    store: SqlStore, clock: FakeClock
) -> None:
    first = cancelled_jobs(store, 4)
    clock.advance(31 * DAY_SECONDS)
    passes = threading.Semaphore(0)

    class Watched(Retention):
        def purge_once(self) -> int:
            found = super().purge_once()
            passes.release()
            return found

    retention = Watched(store.jobs, clock, 30, None, FAST)
    retention.start()
    try:
        assert passes.acquire(timeout=10)  # the pass at start
        assert store.jobs.get_many(first) == {}
        later = cancelled_jobs(store, 1)
        clock.advance(31 * DAY_SECONDS)
        for _ in range(3):  # a later pass (the one running now may have read the time early)
            assert passes.acquire(timeout=10)
        assert store.jobs.get_many(later) == {}
    finally:
        retention.stop()


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = threading.Semaphore(0)

    def purge_finished(self, before: float, limit: int) -> list[str]:
        self.calls.release()
        raise self.error


@pytest.mark.parametrize("error", [StoreUnavailable(), RuntimeError("bug")])
def test_a_failed_pass_is_logged_and_the_next_one_runs(
    clock: FakeClock, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = Failing(error)
    retention = Retention(jobs, clock, 30, None, FAST)
    with caplog.at_level(logging.ERROR, "jobhost.engine.retention"):
        retention.start()
        try:
            assert jobs.calls.acquire(timeout=10) and jobs.calls.acquire(timeout=10)
        finally:
            retention.stop()
    failed = [r for r in caplog.records if r.getMessage() == "retention pass failed"]
    assert bool(failed) is isinstance(error, RuntimeError)
