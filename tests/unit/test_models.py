"""Domain values: mode parsing, status categories, runtimes and key usability."""

from __future__ import annotations

import pytest

from jobhost.models import ApiKey, Category, Job, JobSpec, Mode, Status, parse_mode, statuses_in

CATEGORY_OF_STATUS = {
    Status.PENDING: Category.PENDING,
    Status.WAITING: Category.PENDING,
    Status.SCHEDULED: Category.PENDING,
    Status.RUNNING: Category.RUNNING,
    Status.STOPPING: Category.RUNNING,
    Status.COMPLETED: Category.COMPLETED,
    Status.FAILED: Category.COMPLETED,
    Status.STOPPED: Category.COMPLETED,
    Status.TIMED_OUT: Category.COMPLETED,
    Status.INTERRUPTED: Category.COMPLETED,
    Status.CANCELLED: Category.COMPLETED,
}
"""The categories as CONTRACT.md lists them."""


def _job(started_at: float | None = None, completed_at: float | None = None) -> Job:
    spec = JobSpec(name="n", command="true", mode=Mode.BACKGROUND_JOB)
    status = Status.PENDING
    if started_at is not None:
        status = Status.RUNNING if completed_at is None else Status.COMPLETED
    return Job("id", "bob", spec, status, 100.0, started_at, completed_at)


def _key(expires_at: float | None = None, revoked_at: float | None = None) -> ApiKey:
    return ApiKey("key_1", "bob", None, 100.0, expires_at=expires_at, revoked_at=revoked_at)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("MainLoop", Mode.MAIN_LOOP),
        ("Runspace", Mode.RUNSPACE),
        ("BackgroundJob", Mode.BACKGROUND_JOB),
        ("mainloop", Mode.MAIN_LOOP),
        ("RUNSPACE", Mode.RUNSPACE),
        ("backgroundJOB", Mode.BACKGROUND_JOB),
        ("inline", Mode.MAIN_LOOP),
        ("Inline", Mode.MAIN_LOOP),
        ("thread", Mode.RUNSPACE),
        ("THREAD", Mode.RUNSPACE),
        ("process", Mode.BACKGROUND_JOB),
        ("PrOcEsS", Mode.BACKGROUND_JOB),
        ("  inline  ", Mode.MAIN_LOOP),
        ("\tRunspace\n", Mode.RUNSPACE),
        (" BackgroundJob", Mode.BACKGROUND_JOB),
    ],
)
def test_parse_mode_accepts_names_and_aliases_in_any_case(text: str, mode: Mode) -> None:
    assert parse_mode(text) is mode


@pytest.mark.parametrize(
    "text",
    ["", "   ", "main loop", "Main-Loop", "background", "job", "processes", "thread s", "1", "*"],
)
def test_parse_mode_returns_none_for_junk(text: str) -> None:
    assert parse_mode(text) is None


def test_modes_have_the_canonical_values() -> None:
    assert [mode.value for mode in Mode] == ["MainLoop", "Runspace", "BackgroundJob"]


def test_every_status_has_the_contract_category() -> None:
    assert set(CATEGORY_OF_STATUS) == set(Status)
    assert {status: status.category for status in Status} == CATEGORY_OF_STATUS


def test_statuses_in_partitions_all_statuses() -> None:
    groups = [statuses_in(category) for category in Category]
    flat = [status for group in groups for status in group]
    assert len(flat) == len(set(flat)) == len(Status)
    assert set(flat) == set(Status)
    for category, group in zip(Category, groups, strict=True):
        assert group, f"{category} is empty"
        assert all(status.category is category for status in group)


def test_statuses_in_keeps_declaration_order() -> None:
    assert statuses_in(Category.PENDING) == (Status.PENDING, Status.WAITING, Status.SCHEDULED)
    assert statuses_in(Category.RUNNING) == (Status.RUNNING, Status.STOPPING)


@pytest.mark.parametrize("status", list(Status))
def test_is_finished_exactly_for_the_completed_category(status: Status) -> None:
    assert status.is_finished is (CATEGORY_OF_STATUS[status] is Category.COMPLETED)


def test_runtime_is_none_before_the_job_starts() -> None:
    assert _job().runtime(now=500.0) is None


def test_runtime_of_a_running_job_counts_up_to_now() -> None:
    job = _job(started_at=200.0)
    assert job.runtime(now=212.5) == 12.5
    assert job.runtime(now=230.0) == 30.0


def test_runtime_of_a_running_job_is_never_negative() -> None:
    assert _job(started_at=200.0).runtime(now=199.0) == 0.0


def test_runtime_of_a_finished_job_ignores_now() -> None:
    job = _job(started_at=200.0, completed_at=203.25)
    assert job.runtime(now=10_000.0) == 3.25
    assert job.runtime(now=0.0) == 3.25


def test_job_success_only_when_completed() -> None:
    assert _job(started_at=1.0, completed_at=2.0).success is True
    assert _job(started_at=1.0).success is False


def test_a_key_that_never_expires_is_usable() -> None:
    assert _key().is_usable(now=1e12)


def test_a_key_is_usable_until_it_expires() -> None:
    key = _key(expires_at=1000.0)
    assert key.is_usable(now=999.9)
    assert not key.is_usable(now=1000.0)
    assert not key.is_usable(now=1000.1)


def test_a_revoked_key_is_not_usable() -> None:
    assert not _key(revoked_at=150.0).is_usable(now=200.0)
    assert not _key(expires_at=1e12, revoked_at=150.0).is_usable(now=200.0)
