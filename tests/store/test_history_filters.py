"""The history filters and the completed list's keyset paging, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert

from jobhost.models import Category, Job, JobSpec, Mode, Outcome, Status
from jobhost.store import SqlStore
from jobhost.store.job_listing import HistoryFilter, JobListing, JobQuery
from jobhost.store.jobs import Finish
from jobhost.store.schema import jobs
from tests.store.conftest import START, FakeClock

COMPLETED = frozenset({Category.COMPLETED})


def finished_job(
    store: SqlStore,
    name: str,
    status: Status = Status.COMPLETED,
    *,
    mode: Mode = Mode.BACKGROUND_JOB,
    description: str | None = None,
    command: str = "echo hi",
    user_id: str = "alice",
    template_id: str | None = None,
    schedule_id: str | None = None,
) -> Job:
    """A job submitted now, run and ended with ``status``, through the store's own writes."""
    job = store.jobs.submit(
        user_id,
        JobSpec(name=name, command=command, mode=mode, description=description),
    )
    if template_id is not None or schedule_id is not None:
        with store.db.write() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.job_id == job.job_id)
                .values(template_id=template_id, schedule_id=schedule_id)
            )
    claimed = store.jobs.claim(100, "node-a")
    assert job.job_id in {j.job_id for j in claimed}
    store.jobs.record(finishes=[Finish(job.job_id, Outcome(status, 0))])
    return job


def completed(store: SqlStore, history: HistoryFilter, limit: int = 100) -> list[str]:
    listing = store.jobs.listing(JobQuery("alice", COMPLETED, limit, history=history))
    return [job.spec.name for job in listing.by_category[Category.COMPLETED]]


def test_status_filter_keeps_only_those_statuses(store: SqlStore) -> None:
    finished_job(store, "ok")
    finished_job(store, "bad", Status.FAILED)
    finished_job(store, "slow", Status.TIMED_OUT)

    wanted = frozenset({Status.FAILED, Status.TIMED_OUT})
    assert completed(store, HistoryFilter(statuses=wanted)) == ["slow", "bad"]


def test_a_status_of_another_category_empties_the_completed_list(store: SqlStore) -> None:
    finished_job(store, "ok")
    assert completed(store, HistoryFilter(statuses=frozenset({Status.RUNNING}))) == []


def test_mode_filter(store: SqlStore) -> None:
    finished_job(store, "proc", mode=Mode.BACKGROUND_JOB)
    finished_job(store, "thread", mode=Mode.RUNSPACE)
    assert completed(store, HistoryFilter(mode=Mode.RUNSPACE)) == ["thread"]


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("BACKUP", ["Backup-home"]),
        ("nightly", ["by-desc"]),
        ("RSYNC", ["by-command"]),
        ("100%", ["percent"]),
        ("a_b", ["underscore"]),
        ("c\\d", ["backslash"]),
        ("zzz-nowhere", []),
    ],
)
def test_text_matches_name_description_or_command_literally(
    store: SqlStore, needle: str, expected: list[str]
) -> None:
    finished_job(store, "Backup-home")
    finished_job(store, "by-desc", description="The Nightly run")
    finished_job(store, "by-command", command="rsync -a /src /dst")
    finished_job(store, "percent", command="echo 100%")
    finished_job(store, "thousand", command="echo 1000")  # "100%" as a wildcard matches it
    finished_job(store, "underscore", command="echo a_b")
    finished_job(store, "axb", command="echo axb")  # so would "a_b"
    finished_job(store, "backslash", command="echo c\\d")
    finished_job(store, "cd", command="echo cd")  # and "c\\d" read as an escape

    assert completed(store, HistoryFilter(text=needle)) == expected


def test_since_and_until_bound_submitted_at(store: SqlStore, clock: FakeClock) -> None:
    finished_job(store, "early")
    clock.advance(3600)
    finished_job(store, "middle")
    clock.advance(3600)
    finished_job(store, "late")

    assert completed(store, HistoryFilter(since=START + 1)) == ["late", "middle"]
    assert completed(store, HistoryFilter(until=START + 3600)) == ["middle", "early"]
    window = HistoryFilter(since=START + 1800, until=START + 5400)
    assert completed(store, window) == ["middle"]


def test_template_and_schedule_filters(store: SqlStore) -> None:
    finished_job(store, "plain")
    finished_job(store, "from-template", template_id="backup")
    finished_job(store, "from-schedule", schedule_id="s-1")
    assert completed(store, HistoryFilter(template_id="backup")) == ["from-template"]
    assert completed(store, HistoryFilter(schedule_id="s-1")) == ["from-schedule"]


def test_filters_combine(store: SqlStore, clock: FakeClock) -> None:
    finished_job(store, "old-failed-backup", Status.FAILED, command="backup")
    clock.advance(100)
    finished_job(store, "new-failed-backup", Status.FAILED, command="backup")
    finished_job(store, "new-ok-backup", command="backup")
    finished_job(store, "new-failed-thread", Status.FAILED, mode=Mode.RUNSPACE, command="backup")
    finished_job(store, "new-failed-other", Status.FAILED, command="other")

    history = HistoryFilter(
        statuses=frozenset({Status.FAILED}),
        mode=Mode.BACKGROUND_JOB,
        text="BACKUP",
        since=START + 50,
    )
    assert completed(store, history) == ["new-failed-backup"]


def test_filters_never_show_another_users_jobs(store: SqlStore) -> None:
    finished_job(store, "mine")
    finished_job(store, "theirs", user_id="bob")
    assert completed(store, HistoryFilter(text="")) == ["mine"]
    assert completed(store, HistoryFilter(text="theirs")) == []


def test_counts_stay_the_users_totals_under_filters(store: SqlStore) -> None:
    finished_job(store, "ok")
    finished_job(store, "bad", Status.FAILED)
    history = HistoryFilter(statuses=frozenset({Status.FAILED}))
    listing = store.jobs.listing(JobQuery("alice", frozenset(Category), 100, history=history))
    assert listing.counts[Category.COMPLETED] == 2
    assert len(listing.by_category[Category.COMPLETED]) == 1


def _bulk_completed(store: SqlStore, count: int, user_id: str = "alice") -> None:
    """``count`` finished jobs written in one statement: 10,000 submits would be slow."""
    rows = [
        {
            "job_id": str(uuid.uuid4()),
            "user_id": user_id,
            "name": f"bulk-{i:05d}",
            "command": "echo bulk",
            "mode": Mode.BACKGROUND_JOB.value,
            "status": (Status.FAILED if i % 3 == 0 else Status.COMPLETED).value,
            "submitted_at": START + i,
            "started_at": START + i,
            "completed_at": START + i + 1,
            "exit_code": 0,
        }
        for i in range(count)
    ]
    with store.db.write() as conn:
        conn.execute(insert(jobs), rows)


def _page(store: SqlStore, history: HistoryFilter, limit: int) -> JobListing:
    return store.jobs.listing(JobQuery("alice", COMPLETED, limit, history=history))


def test_keyset_paging_over_10000_jobs_has_no_gap_and_no_repeat(store: SqlStore) -> None:
    _bulk_completed(store, 10_000)
    late = JobSpec(name="late", command="x", mode=Mode.RUNSPACE)
    running = [store.jobs.submit("alice", late) for _ in range(40)]
    store.jobs.claim(100, "node-a")
    seen: list[str] = []
    before: int | None = None
    pages = 0
    while True:
        listing = _page(store, HistoryFilter(before_seq=before), 250)
        seen.extend(job.spec.name for job in listing.by_category[Category.COMPLETED])
        pages += 1
        if running:  # a job finishes between every two pages
            done = running.pop()
            store.jobs.record(finishes=[Finish(done.job_id, Outcome(Status.COMPLETED, 0))])
        before = listing.next_before_seq
        if before is None:
            break
    bulk = [name for name in seen if name.startswith("bulk-")]
    assert len(seen) == len(set(seen)), "a job was sent twice"
    assert bulk == [f"bulk-{i:05d}" for i in reversed(range(10_000))], "a gap or a reorder"
    assert pages == 41  # 10,000 / 250 pages, then the empty one that ends it


def test_keyset_paging_with_a_filter(store: SqlStore) -> None:
    _bulk_completed(store, 1000)
    failed = HistoryFilter(statuses=frozenset({Status.FAILED}))
    seen: list[str] = []
    before: int | None = None
    while True:
        listing = _page(store, HistoryFilter(failed.statuses, before_seq=before), 100)
        seen.extend(job.spec.name for job in listing.by_category[Category.COMPLETED])
        before = listing.next_before_seq
        if before is None:
            break
    assert seen == [f"bulk-{i:05d}" for i in reversed(range(1000)) if i % 3 == 0]


def test_a_short_page_has_no_next_cursor(store: SqlStore) -> None:
    finished_job(store, "only")
    listing = _page(store, HistoryFilter(), 10)
    assert listing.next_before_seq is None
