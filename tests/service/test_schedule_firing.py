"""The firing loop on a fake clock over a real SQLite store: cron firings, overlap, missed
firings after downtime, DST days, pause, failing firings, restarts, the catalog's schedules,
and the thread itself woken rather than waited for."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from jobhost.catalog import DeclaredSchedule
from jobhost.models import Status, User
from jobhost.service.schedule_firing import MAX_SLEEP_SECONDS, CatalogSchedules, ScheduleFiring
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.schema import users
from tests.service.schedule_fixtures import MANAGER, PLAIN, SHELL_JOB, Harness, harness
from tests.store.conftest import START, FakeClock

# START is 2023-11-14T22:13:20Z: the first */5 firing is 100 s later.
FIRST = START + 100


def every_five_minutes(h: Harness, user: User = MANAGER, **fields: object) -> str:
    made = h.ops.create(user, {"name": "five", "cron": "*/5 * * * *", **SHELL_JOB, **fields})
    return made.schedule_id


def next_run(h: Harness, schedule_id: str) -> float | None:
    found = h.store.schedules.get(schedule_id)
    assert found is not None
    return found.next_run_at


def test_a_schedule_fires_at_its_time_one_job_of_its_owner(h: Harness) -> None:
    schedule_id = every_five_minutes(h)
    firing = h.firing()
    h.clock.advance(99)
    assert firing.fire_due() == 0
    assert firing.seconds_to_next() == 1

    h.clock.advance(1)
    assert firing.fire_due() == 1
    [job] = h.schedule_jobs(schedule_id)
    assert (job.user_id, job.spec.schedule_id, job.spec.name, job.spec.command) == (
        "manager",
        schedule_id,
        "five",
        "echo hi",
    )
    after = h.store.schedules.get(schedule_id)
    assert after is not None
    assert (after.last_run_at, after.last_job_id, after.next_run_at) == (
        FIRST,
        job.job_id,
        FIRST + 300,
    )
    assert firing.fire_due() == 0


def test_overlap_skip_submits_nothing_while_the_last_job_is_pending(h: Harness) -> None:
    schedule_id = every_five_minutes(h)
    firing = h.firing()
    h.clock.advance(100)
    firing.fire_due()
    h.clock.advance(300)
    firing.fire_due()

    [job] = h.schedule_jobs(schedule_id)
    after = h.store.schedules.get(schedule_id)
    assert after is not None
    assert (after.last_skipped_at, after.last_run_at, after.last_job_id) == (
        FIRST + 300,
        FIRST,
        job.job_id,
    )
    assert after.next_run_at == FIRST + 600

    h.store.jobs.cancel(job.job_id)  # finished: the next firing submits again
    h.clock.advance(300)
    firing.fire_due()
    assert len(h.schedule_jobs(schedule_id)) == 2


def test_overlap_skip_also_waits_for_a_running_job(h: Harness) -> None:
    schedule_id = every_five_minutes(h)
    firing = h.firing()
    h.clock.advance(100)
    firing.fire_due()
    [claimed] = h.store.jobs.claim(1, "node")
    assert claimed.status is Status.RUNNING
    h.clock.advance(300)
    firing.fire_due()
    assert len(h.schedule_jobs(schedule_id)) == 1


def test_overlap_queue_submits_beside_an_unfinished_job(h: Harness) -> None:
    schedule_id = every_five_minutes(h, overlap="queue")
    firing = h.firing()
    for _ in range(3):
        h.clock.advance(300)
        firing.fire_due()
    jobs = h.schedule_jobs(schedule_id)
    assert [job.status for job in jobs] == [Status.PENDING] * 3
    after = h.store.schedules.get(schedule_id)
    assert after is not None and after.last_skipped_at is None


def test_missed_firings_after_three_hours_of_downtime_run_once(h: Harness) -> None:
    schedule_id = every_five_minutes(h, overlap="queue")
    h.clock.advance(3 * 3600)  # 36 firings missed while nothing ran

    assert h.firing().fire_due() == 1
    assert len(h.schedule_jobs(schedule_id)) == 1
    now = h.clock.now()
    following = next_run(h, schedule_id)
    assert following is not None and now < following <= now + 300
    assert following % 300 == 0


def test_a_new_loop_over_the_same_store_keeps_the_next_firing(
    h: Harness, settings: Settings
) -> None:
    schedule_id = every_five_minutes(h)
    h.clock.advance(100)
    h.firing().fire_due()
    h.store.close()

    reopened = SqlStore.open(settings.store_url, h.clock)
    try:
        restarted = harness(reopened, h.clock, add_users=False)
        assert next_run(restarted, schedule_id) == FIRST + 300
        assert restarted.firing().fire_due() == 0
        reopened.jobs.cancel(restarted.schedule_jobs(schedule_id)[0].job_id)
        h.clock.advance(300)
        assert restarted.firing().fire_due() == 1
        assert len(restarted.schedule_jobs(schedule_id)) == 2
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("start", "day"),
    [((2026, 3, 27), (2026, 3, 29)), ((2026, 10, 23), (2026, 10, 25))],
    ids=["spring-forward", "fall-back"],
)
def test_a_0230_daily_job_in_berlin_runs_once_each_day_across_a_dst_change(
    settings: Settings, start: tuple[int, int, int], day: tuple[int, int, int]
) -> None:
    clock = FakeClock(datetime(*start, 12, tzinfo=UTC).timestamp())
    store = SqlStore.open(settings.store_url, clock)
    try:
        h = harness(store, clock)
        schedule_id = h.ops.create(
            MANAGER,
            {"name": "n", "cron": "30 2 * * *", "timezone": "Europe/Berlin", "overlap": "queue"}
            | SHELL_JOB,
        ).schedule_id
        firing = h.firing()
        for _ in range(4 * 24 * 6):  # four days in 10-minute steps
            clock.advance(600)
            firing.fire_due()
        berlin = ZoneInfo("Europe/Berlin")
        days = [
            datetime.fromtimestamp(j.submitted_at, berlin).date()
            for j in h.schedule_jobs(schedule_id)
        ]
        assert len(days) == len(set(days)) == 4
        assert datetime(*day).date() in days
    finally:
        store.close()


def test_a_paused_schedule_does_not_fire_and_resumes_from_now(h: Harness) -> None:
    schedule_id = every_five_minutes(h)
    firing = h.firing()
    h.ops.patch(MANAGER, schedule_id, {"enabled": False})
    h.clock.advance(3600)
    assert firing.fire_due() == 0
    assert firing.seconds_to_next() == MAX_SLEEP_SECONDS

    h.ops.patch(MANAGER, schedule_id, {"enabled": True})
    h.clock.advance(300)
    assert firing.fire_due() == 1


def test_a_firing_that_fails_is_logged_and_the_schedule_moves_on(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    lost_roles = every_five_minutes(h)
    gone = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    fine = every_five_minutes(h, overlap="queue")
    h.store.users.change_roles("manager", frozenset(), frozenset({"task_manager"}))
    h.templates.gone.add("disk")
    h.clock.advance(100)

    assert h.firing().fire_due() == 3
    assert h.schedule_jobs(lost_roles) == [] and h.schedule_jobs(gone.schedule_id) == []
    assert next_run(h, lost_roles) == FIRST + 300 and next_run(h, gone.schedule_id) == FIRST + 300
    assert "could not fire: Runspace/BackgroundJob execution requires" in caplog.text
    assert "could not fire: Access denied" in caplog.text
    assert h.schedule_jobs(fine) == []  # the manager lost the roles for this one too
    # Gone behind the store's back (remove_user takes the user's schedules with it).
    with h.store.db.write() as conn:
        conn.execute(delete(users).where(users.c.user_id == "plain"))
    h.templates.gone.clear()
    h.clock.advance(300)
    h.firing().fire_due()
    assert "its owner plain no longer exists" in caplog.text


def test_a_failed_firing_is_the_schedules_last_error_until_one_submits_again(h: Harness) -> None:
    made = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    h.templates.gone.add("disk")
    h.clock.advance(100)
    h.firing().fire_due()

    failed = h.store.schedules.get(made.schedule_id)
    assert failed is not None
    assert (failed.last_error, failed.last_error_at) == (
        "Access denied: You do not have permission to start this job",
        FIRST,
    )
    assert failed.last_run_at is None

    h.templates.gone.clear()
    h.clock.advance(300)
    h.firing().fire_due()
    fired = h.store.schedules.get(made.schedule_id)
    assert fired is not None and fired.last_run_at == FIRST + 300
    assert (fired.last_error, fired.last_error_at) == (None, None)


def test_a_firing_whose_owner_is_gone_says_so_in_its_last_error(h: Harness) -> None:
    made = h.ops.create(PLAIN, {"name": "du", "cron": "*/5 * * * *", "templateId": "disk"})
    with h.store.db.write() as conn:
        conn.execute(delete(users).where(users.c.user_id == "plain"))
    h.clock.advance(100)
    h.firing().fire_due()
    failed = h.store.schedules.get(made.schedule_id)
    assert failed is not None and failed.last_error == "its owner plain no longer exists"


def test_a_template_schedule_fires_through_the_template_start(h: Harness) -> None:
    made = h.ops.create(
        PLAIN,
        {"name": "du", "cron": "*/5 * * * *", "templateId": "disk", "variables": {"path": "/srv"}},
    )
    h.clock.advance(100)
    h.firing().fire_due()

    [job] = h.schedule_jobs(made.schedule_id)
    assert (job.user_id, job.spec.template_id, job.spec.command) == ("plain", "disk", "du -sh /srv")
    assert h.templates.started == [("disk", made.schedule_id)]


def disk(cron: str, name: str = "Disk usage") -> DeclaredSchedule:
    return DeclaredSchedule("disk", cron, "UTC", name)


def test_the_catalogs_schedules_sync_when_its_generation_changes_and_fire_as_system(
    h: Harness,
) -> None:
    broken = DeclaredSchedule("broken", "not cron", "UTC", "Broken")
    catalog = [CatalogSchedules(1, [disk("*/5 * * * *"), broken])]
    firing = h.firing(lambda: catalog[-1])
    assert firing.sync_declared()
    assert not firing.sync_declared()
    [declared] = h.store.schedules.listing("system")
    assert (declared.declared_by, declared.next_run_at) == ("disk", FIRST)
    assert declared.name == "Disk usage"  # the template's display name, not its id

    h.clock.advance(100)
    firing.fire_due()
    [job] = h.schedule_jobs(declared.schedule_id)
    assert job.user_id == "system"

    [fired] = h.store.schedules.listing("system")
    catalog.append(CatalogSchedules(2, [disk("*/5 * * * *", "Disk space")]))
    assert firing.sync_declared()
    [renamed] = h.store.schedules.listing("system")
    assert renamed == replace(fired, name="Disk space")  # not retimed

    catalog.append(CatalogSchedules(3, []))
    assert firing.sync_declared()
    assert h.store.schedules.listing("system") == []


def test_a_catalog_schedule_whose_file_breaks_keeps_its_row_its_pause_and_its_last_job(
    h: Harness,
) -> None:
    catalog = [CatalogSchedules(1, [disk("*/5 * * * *")])]
    firing = h.firing(lambda: catalog[-1])
    firing.sync_declared()
    h.clock.advance(100)
    firing.fire_due()
    [fired] = h.store.schedules.listing("system")
    assert fired.last_job_id is not None
    h.ops.patch(MANAGER, fired.schedule_id, {"enabled": False})
    [paused] = h.store.schedules.listing("system")

    catalog.append(CatalogSchedules(2, [], broken=["disk"]))  # a typo in disk.toml
    assert firing.sync_declared()
    assert h.store.schedules.listing("system") == [paused]
    catalog.append(CatalogSchedules(3, [disk("H * * * *")]))  # a cron we refuse
    assert firing.sync_declared()
    assert h.store.schedules.listing("system") == [paused]

    catalog.append(CatalogSchedules(4, [disk("0 * * * *")]))  # mended, changed
    assert firing.sync_declared()
    [mended] = h.store.schedules.listing("system")
    assert mended == replace(paused, cron="0 * * * *")
    assert (mended.enabled, mended.next_run_at, mended.last_job_id) == (
        False,
        None,
        fired.last_job_id,
    )


def fire_on_its_thread(h: Harness, firing: ScheduleFiring) -> None:
    """Start the loop's thread, make a schedule due and wake it: it fires the schedule once."""
    firing.start()
    try:
        schedule_id = every_five_minutes(h)
        h.clock.advance(100)
        firing.wake()
        deadline = time.monotonic() + 5
        while not h.schedule_jobs(schedule_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(h.schedule_jobs(schedule_id)) == 1
    finally:
        firing.stop(timeout=5)


def test_the_thread_sleeps_until_woken_and_fires_what_is_due(h: Harness) -> None:
    firing = h.firing()
    fire_on_its_thread(h, firing)
    assert not firing._thread or not firing._thread.is_alive()


def test_a_failing_catalog_does_not_stop_the_schedules_from_firing(h: Harness) -> None:
    def broken_catalog() -> CatalogSchedules:
        raise OSError("the catalog folder is gone")

    fire_on_its_thread(h, h.firing(broken_catalog))


def test_a_schedule_with_no_firing_left_stops_enabled_without_a_next_run_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # A clock at the end of the calendar: a daily 03:00 has no firing left after this one.
    last_day = datetime(9999, 12, 31, 2, 0, tzinfo=UTC).timestamp()
    clock = FakeClock(last_day)
    store = SqlStore.open(settings.store_url, clock)
    try:
        h = harness(store, clock)
        made = h.ops.create(MANAGER, {"name": "daily", "cron": "0 3 * * *", **SHELL_JOB})
        assert made.next_run_at == last_day + 3600
        h.clock.advance(3600)
        assert h.firing().fire_due() == 1

        after = h.store.schedules.get(made.schedule_id)
        assert after is not None
        assert (after.enabled, after.next_run_at) == (True, None)
        assert len(h.schedule_jobs(made.schedule_id)) == 1
        assert f"schedule {made.schedule_id} stops: its cron has no firing left" in caplog.text
    finally:
        store.close()
