"""The schedule verbs on SQLite and PostgreSQL alike: the alarm's time, what is due, what a
firing records, and the catalog's schedules kept in step with it."""

from __future__ import annotations

import uuid
from dataclasses import replace

from jobhost.models import Overlap, Schedule
from jobhost.store import SqlStore
from jobhost.store.schedules import DeclaredRow
from tests.store.conftest import START, FakeClock


def schedule(
    user_id: str = "alice", next_run_at: float | None = START + 60, **kw: object
) -> Schedule:
    values: dict[str, object] = {
        "schedule_id": str(uuid.uuid4()),
        "user_id": user_id,
        "name": "nightly",
        "cron": "* * * * *",
        "timezone": "UTC",
        "overlap": Overlap.SKIP,
        "enabled": next_run_at is not None,
        "created_at": START,
        "job": {"jobName": "n", "command": "true", "executionMode": "BackgroundJob"},
        "next_run_at": next_run_at,
    }
    values.update(kw)
    return Schedule(**values)  # type: ignore[arg-type]


def test_a_schedule_reads_back_as_created(store: SqlStore) -> None:
    made = store.schedules.create(
        schedule(template_id=None, variables={}, overlap=Overlap.QUEUE, last_skipped_at=None)
    )
    assert store.schedules.get(made.schedule_id) == made
    templated = store.schedules.create(
        schedule(job=None, template_id="disk/usage", variables={"path": "/var"})
    )
    assert store.schedules.get(templated.schedule_id) == templated
    assert store.schedules.get(str(uuid.uuid4())) is None


def test_listing_is_per_user_oldest_first_or_everyones(store: SqlStore) -> None:
    first = store.schedules.create(schedule("alice", created_at=START))
    other = store.schedules.create(schedule("bob", created_at=START + 1))
    second = store.schedules.create(schedule("alice", created_at=START + 2))

    assert [s.schedule_id for s in store.schedules.listing("alice")] == [
        first.schedule_id,
        second.schedule_id,
    ]
    assert len(store.schedules.listing(None)) == 3
    assert [s.schedule_id for s in store.schedules.listing("bob")] == [other.schedule_id]


def test_the_alarm_is_the_earliest_next_run_and_paused_ones_never_count(store: SqlStore) -> None:
    assert store.schedules.earliest_next_run() is None
    store.schedules.create(schedule(next_run_at=None))
    assert store.schedules.earliest_next_run() is None
    store.schedules.create(schedule(next_run_at=START + 90))
    store.schedules.create(schedule(next_run_at=START + 30))
    assert store.schedules.earliest_next_run() == START + 30


def test_due_returns_the_overdue_first_and_only_those_due(store: SqlStore) -> None:
    late = store.schedules.create(schedule(next_run_at=START - 100))
    now = store.schedules.create(schedule(next_run_at=START))
    store.schedules.create(schedule(next_run_at=START + 1))
    store.schedules.create(schedule(next_run_at=None))

    assert [s.schedule_id for s in store.schedules.due(START)] == [
        late.schedule_id,
        now.schedule_id,
    ]
    assert len(store.schedules.due(START, limit=1)) == 1


def test_a_firing_records_its_job_and_moves_the_next_run_on(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START))
    job_id = str(uuid.uuid4())

    assert store.schedules.claim_firing(made.schedule_id, START, START + 60)
    assert store.schedules.record_firing(made.schedule_id, START + 1, job_id)
    after = store.schedules.get(made.schedule_id)
    assert after is not None
    assert (after.last_run_at, after.last_job_id, after.next_run_at) == (
        START + 1,
        job_id,
        START + 60,
    )
    assert after.last_skipped_at is None


def test_a_skip_records_its_time_and_keeps_the_last_job(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START, last_job_id="j"))

    assert store.schedules.claim_firing(made.schedule_id, START, START + 60)
    assert store.schedules.record_skip(made.schedule_id, START + 2)
    after = store.schedules.get(made.schedule_id)
    assert after is not None
    assert (after.last_skipped_at, after.last_job_id, after.next_run_at) == (
        START + 2,
        "j",
        START + 60,
    )


def test_a_failure_is_recorded_until_the_next_firing_clears_it(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START, last_job_id="j"))

    assert store.schedules.record_failure(made.schedule_id, START + 3, "Access denied: no")
    failed = store.schedules.get(made.schedule_id)
    assert failed is not None
    assert (failed.last_error, failed.last_error_at, failed.last_job_id) == (
        "Access denied: no",
        START + 3,
        "j",
    )
    assert store.schedules.record_firing(made.schedule_id, START + 60, "k")
    fired = store.schedules.get(made.schedule_id)
    assert fired is not None and (fired.last_error, fired.last_error_at) == (None, None)


def test_a_firing_is_claimed_once_and_not_after_a_pause(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START))
    assert store.schedules.claim_firing(made.schedule_id, START, START + 60)
    assert not store.schedules.claim_firing(made.schedule_id, START, START + 60)  # taken

    store.schedules.set_enabled(made.schedule_id, False, None)
    assert not store.schedules.claim_firing(made.schedule_id, START + 60, START + 120)
    after = store.schedules.get(made.schedule_id)
    assert after is not None
    assert (after.next_run_at, after.last_job_id) == (None, None)


def test_recording_for_a_deleted_schedule_says_so(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START))
    assert store.schedules.delete(made.schedule_id)
    assert not store.schedules.delete(made.schedule_id)
    assert not store.schedules.claim_firing(made.schedule_id, START, None)
    assert not store.schedules.record_firing(made.schedule_id, START, "j")
    assert not store.schedules.record_skip(made.schedule_id, START)
    assert not store.schedules.record_failure(made.schedule_id, START, "x")


def test_an_update_without_retime_keeps_the_next_run_and_the_firing_record(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START))
    store.schedules.claim_firing(made.schedule_id, START, START + 60)
    store.schedules.record_firing(made.schedule_id, START, "j")

    renamed = store.schedules.update(replace(made, name="renamed", next_run_at=None), retime=False)
    assert renamed is not None
    assert (renamed.name, renamed.next_run_at, renamed.last_job_id) == ("renamed", START + 60, "j")
    assert store.schedules.update(replace(made, schedule_id=str(uuid.uuid4())), retime=True) is None


def test_sync_declared_adds_updates_and_removes_the_catalogs_schedules(
    store: SqlStore, clock: FakeClock
) -> None:
    own = store.schedules.create(schedule(template_id="a/b", job=None))
    store.schedules.sync_declared(
        "system",
        [
            DeclaredRow("a/b", "0 3 * * *", "UTC", START + 10),
            DeclaredRow("c", "0 4 * * *", "Europe/Berlin", START + 20),
        ],
    )
    declared = {s.declared_by: s for s in store.schedules.listing("system")}
    assert set(declared) == {"a/b", "c"}
    first = declared["a/b"]
    assert (first.user_id, first.template_id, first.cron, first.next_run_at) == (
        "system",
        "a/b",
        "0 3 * * *",
        START + 10,
    )
    assert first.enabled and first.overlap is Overlap.SKIP and first.job is None

    # Paused by an admin, then its file changes the cron: it stays paused.
    store.schedules.update(replace(declared["c"], enabled=False, next_run_at=None), retime=True)
    store.schedules.sync_declared(
        "system",
        [
            DeclaredRow("a/b", "0 3 * * *", "UTC", START + 999),  # unchanged: not retimed
            DeclaredRow("c", "0 5 * * *", "Europe/Berlin", START + 30),
        ],
    )
    again = {s.declared_by: s for s in store.schedules.listing("system")}
    assert again["a/b"] == first
    assert (again["c"].cron, again["c"].next_run_at, again["c"].enabled) == (
        "0 5 * * *",
        None,
        False,
    )

    store.schedules.sync_declared("system", [DeclaredRow("c", "0 5 * * *", "UTC", START)])
    assert [s.declared_by for s in store.schedules.listing("system")] == ["c"]
    store.schedules.sync_declared("system", [])
    assert store.schedules.listing("system") == []
    assert store.schedules.get(own.schedule_id) == own  # a user's schedule of a template stays


def test_set_enabled_writes_only_enabled_and_the_next_run(store: SqlStore) -> None:
    made = store.schedules.create(schedule(next_run_at=START + 60))
    store.schedules.update(replace(made, cron="0 4 * * *"), retime=False)  # a change meanwhile

    paused = store.schedules.set_enabled(made.schedule_id, False, None)
    assert paused is not None
    assert (paused.enabled, paused.next_run_at, paused.cron) == (False, None, "0 4 * * *")
    resumed = store.schedules.set_enabled(made.schedule_id, True, START + 120)
    assert resumed is not None and (resumed.enabled, resumed.next_run_at) == (True, START + 120)
    assert store.schedules.set_enabled(str(uuid.uuid4()), False, None) is None


def test_sync_declared_keeps_the_rows_of_templates_whose_files_are_broken_as_they_are(
    store: SqlStore,
) -> None:
    store.schedules.sync_declared(
        "system",
        [
            DeclaredRow("a", "0 3 * * *", "UTC", START + 10),
            DeclaredRow("b", "0 4 * * *", "UTC", START),
        ],
    )
    rows = {s.declared_by: s for s in store.schedules.listing("system")}
    paused = store.schedules.set_enabled(rows["a"].schedule_id, False, None)
    assert store.schedules.record_firing(rows["b"].schedule_id, START, "job-1")
    before = {s.declared_by: s for s in store.schedules.listing("system")}

    # Both files broken (a typo): neither row is touched, let alone removed.
    store.schedules.sync_declared("system", [], keep=["a", "b", "never-declared"])
    assert {s.declared_by: s for s in store.schedules.listing("system")} == before

    # Mended, a with a new cron: still paused; b's last job (overlap protection) kept.
    store.schedules.sync_declared(
        "system",
        [
            DeclaredRow("a", "0 5 * * *", "UTC", START + 20),
            DeclaredRow("b", "0 4 * * *", "UTC", START),
        ],
    )
    after = {s.declared_by: s for s in store.schedules.listing("system")}
    assert paused is not None
    assert after["a"] == replace(paused, cron="0 5 * * *")
    assert after["b"] == before["b"] and after["b"].last_job_id == "job-1"
