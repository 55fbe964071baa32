"""Two firing loops over one store (two servers sharing a database), on SQLite and
PostgreSQL: each due firing is claimed by one of them, and only the claimer submits; a
claimed firing whose job the store cannot take is lost, never submitted twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from jobhost.errors import StoreUnavailable
from jobhost.models import Schedule
from jobhost.service.schedule_firing import ScheduleFiring
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.schedules import SqlScheduleStore
from tests.service.schedule_fixtures import (
    MANAGER,
    PLAIN,
    SHELL_JOB,
    Harness,
    harness,
)
from tests.store.conftest import DIALECTS, FakeClock, empty


class MeetingSchedules(SqlScheduleStore):
    """The real schedule store, whose first ``due`` waits until the other loop's has read
    too: both loops then hold the same due firing, as two servers waking together would."""

    def __init__(self, store: SqlStore, clock: FakeClock, meeting: threading.Barrier) -> None:
        super().__init__(store.db, clock)
        self._meeting: threading.Barrier | None = meeting

    def due(self, now: float, limit: int = 100) -> list[Schedule]:
        found = super().due(now, limit)
        if self._meeting is not None:
            meeting, self._meeting = self._meeting, None
            meeting.wait(timeout=10)
        return found


@pytest.fixture(params=DIALECTS)
def shared(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Harness]:
    """The schedule harness over a store of each dialect."""
    url = settings.store_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    clock = FakeClock()
    store = SqlStore.open(url, clock)
    try:
        empty(store)
        yield harness(store, clock)
    finally:
        store.close()


def loop(h: Harness, meeting: threading.Barrier) -> ScheduleFiring:
    schedules = MeetingSchedules(h.store, h.clock, meeting)
    return ScheduleFiring(schedules, h.store.users, h.jobs, h.templates, h.clock)


def test_two_loops_that_both_see_a_firing_due_submit_it_once(shared: Harness) -> None:
    h = shared
    made = h.ops.create(MANAGER, {"name": "five", "cron": "*/5 * * * *", **SHELL_JOB})
    h.clock.advance(100)
    meeting = threading.Barrier(2)
    loops = [loop(h, meeting), loop(h, meeting)]
    threads = [threading.Thread(target=firing.fire_due) for firing in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    [job] = h.schedule_jobs(made.schedule_id)
    assert made.next_run_at is not None
    after = h.store.schedules.get(made.schedule_id)
    assert after is not None
    assert (after.last_job_id, after.next_run_at) == (job.job_id, made.next_run_at + 300)


def test_a_claimed_firing_whose_job_the_store_refuses_is_lost_not_doubled(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    made = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    h.clock.advance(100)
    h.templates.busy = True

    with pytest.raises(StoreUnavailable):
        h.firing().fire_due()
    assert "is lost, its job not taken: database is locked" in caplog.text
    h.templates.busy = False
    assert h.firing().fire_due() == 0  # the slot was claimed: no second try
    after = h.store.schedules.get(made.schedule_id)
    assert after is not None and made.next_run_at is not None
    assert (after.next_run_at, after.last_job_id) == (made.next_run_at + 300, None)
