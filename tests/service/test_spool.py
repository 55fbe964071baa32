"""The spool intake against a real SQLite store and a real folder, on a fake clock but for
the tests of its thread."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobhost.clock import SystemClock
from jobhost.models import Category, Job, Mode, Status
from jobhost.policy import ELEVATED_REFUSAL, MAIN_LOOP_REFUSAL
from jobhost.service.jobs import JobOperations
from jobhost.service.spool import SETTLE_SECONDS, SpoolIntake
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.job_listing import JobQuery
from tests.store.conftest import FakeClock

SHELL_JOB = {"jobName": "nightly", "command": "echo hi", "executionMode": "BackgroundJob"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(settings: Settings, clock: FakeClock) -> Iterator[SqlStore]:
    opened = SqlStore.open(settings.store_url, clock)
    opened.users.add_user("manager", frozenset({"task_manager"}), None)
    opened.users.add_user("plain", frozenset(), None)
    yield opened
    opened.close()


@pytest.fixture
def spool(settings: Settings, store: SqlStore, clock: FakeClock) -> SpoolIntake:
    root = settings.data_dir / "JobSubmission"
    root.mkdir()
    operations = JobOperations(store.jobs, clock, lambda: None, 5.0)
    return SpoolIntake(root, store.users, operations, clock, max_file_bytes=8192, min_interval=0.5)


def drop(spool: SpoolIntake, clock: FakeClock, folder: str, name: str, content: object) -> Path:
    """Write a spool file that has settled (its mtime well before the clock's now)."""
    path = spool.root / folder / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    settled = clock.now() - 10 * SETTLE_SECONDS
    os.utime(path, (settled, settled))
    return path


def pending_jobs(store: SqlStore, user_id: str) -> list[Job]:
    query = JobQuery(user_id, frozenset({Category.PENDING}))
    return store.jobs.listing(query).by_category.get(Category.PENDING, [])


def rejection(spool: SpoolIntake, name: str) -> str:
    """The reason recorded beside a rejected file (which must have been moved there)."""
    assert (spool.rejected / name).is_file(), sorted(os.listdir(spool.rejected))
    return (spool.rejected / f"{name}.error.txt").read_text()


def test_an_accepted_file_becomes_the_users_job_and_is_removed(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    path = drop(spool, clock, "manager", "job.json", {**SHELL_JOB, "description": "from cron"})

    assert spool.take_in() == 1

    assert not path.exists()
    [job] = pending_jobs(store, "manager")
    assert (job.spec.name, job.spec.command, job.spec.mode) == (
        "nightly",
        "echo hi",
        Mode.BACKGROUND_JOB,
    )
    assert job.spec.description == "from cron"
    assert not spool.rejected.exists()


def test_files_are_taken_in_name_order(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    for name in ("b.json", "a.json", "c.json"):
        drop(spool, clock, "manager", name, {**SHELL_JOB, "jobName": name})

    assert spool.take_in() == 3

    names = [job.spec.name for job in pending_jobs(store, "manager")]
    assert sorted(names) == ["a.json", "b.json", "c.json"]
    submitted = sorted(pending_jobs(store, "manager"), key=lambda job: job.submitted_at)
    assert [job.spec.name for job in submitted] == ["a.json", "b.json", "c.json"]


def test_invalid_json_is_rejected_with_the_reason_and_never_retried(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    drop(spool, clock, "manager", "bad.json", '{"jobName": "x", ')

    assert spool.take_in() == 0
    assert rejection(spool, "manager.bad.json").startswith("Invalid JSON:")
    assert not (spool.root / "manager" / "bad.json").exists()

    clock.advance(60)
    assert spool.take_in() == 0
    assert sorted(os.listdir(spool.rejected)) == ["manager.bad.json", "manager.bad.json.error.txt"]
    assert pending_jobs(store, "manager") == []


def test_a_file_still_being_written_is_left_until_it_settles(
    spool: SpoolIntake, clock: FakeClock
) -> None:
    path = drop(spool, clock, "manager", "half.json", '{"jobName": "x", ')
    os.utime(path, (clock.now(), clock.now()))

    assert spool.take_in() == 0
    assert path.exists()
    assert not spool.rejected.exists()

    clock.advance(SETTLE_SECONDS + 1)
    assert spool.take_in() == 0
    assert rejection(spool, "manager.half.json").startswith("Invalid JSON:")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2]", "Invalid submission: the file must hold a JSON object"),
        ({"jobName": "x", "executionMode": "BackgroundJob"}, "Missing required field: command"),
        ({**SHELL_JOB, "executionMode": "Cron"}, "Invalid execution mode."),
        ({**SHELL_JOB, "roles": ["debug"]}, "Unknown field: roles"),
        (b'{"jobName": "\xff"}', "Invalid JSON: 'utf-8' codec can't decode"),
        (json.dumps({**SHELL_JOB, "command": "echo \udfff"}), "Invalid command: contains a lone"),
        (json.dumps({**SHELL_JOB, "env": {"A": "\udfff"}}), "Invalid env: the value of A contains"),
        (json.dumps(SHELL_JOB)[:-1] + ', "timeoutSeconds": ' + "9" * 4400 + "}",
         "Invalid timeoutSeconds:"),
        ('{"description": ' + "[" * 3000 + "]" * 3000 + "}", "Invalid JSON: nested too deeply"),
        ({**SHELL_JOB, "executionMode": "Runspace", "command": "Write-Host 'hi'"},
         "command is not valid Python: invalid syntax (line 1)"),
    ],
)  # fmt: skip
def test_bad_submissions_are_rejected_with_the_apis_reason(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock, content: object, reason: str
) -> None:
    drop(spool, clock, "manager", "job.json", content)

    assert spool.take_in() == 0

    assert rejection(spool, "manager.job.json").startswith(reason)
    assert pending_jobs(store, "manager") == []


def test_the_users_current_roles_decide_not_the_file(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    # The seed wrote roles into the file and trusted them; here they are refused outright,
    # and the user's stored roles are what is checked.
    drop(spool, clock, "plain", "shell.json", SHELL_JOB)
    drop(spool, clock, "manager", "inline.json", {**SHELL_JOB, "executionMode": "MainLoop"})

    assert spool.take_in() == 0

    assert rejection(spool, "plain.shell.json") == ELEVATED_REFUSAL + "\n"
    assert rejection(spool, "manager.inline.json") == MAIN_LOOP_REFUSAL + "\n"
    assert pending_jobs(store, "plain") == [] and pending_jobs(store, "manager") == []


def test_a_folder_named_for_no_existing_user_has_its_files_rejected(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    drop(spool, clock, "mallory", "job.json", SHELL_JOB)

    assert spool.take_in() == 0

    assert rejection(spool, "mallory.job.json") == "Unknown user: mallory\n"
    assert pending_jobs(store, "mallory") == []


def test_a_folder_of_a_stored_user_named_system_has_its_files_rejected(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    store.users.add_user("system", frozenset({"system_admin"}), None)  # a legacy user
    drop(spool, clock, "system", "job.json", SHELL_JOB)

    assert spool.take_in() == 0
    assert rejection(spool, "system.job.json") == "Unknown user: system\n"
    assert pending_jobs(store, "system") == []


def test_only_json_files_in_user_id_folders_are_read(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    ignored = [
        drop(spool, clock, "manager", "notes.txt", SHELL_JOB),
        drop(spool, clock, "manager", ".hidden.json", SHELL_JOB),
        drop(spool, clock, "has space", "job.json", SHELL_JOB),
        drop(spool, clock, "-dash", "job.json", SHELL_JOB),
    ]

    assert spool.take_in() == 0

    assert all(path.exists() for path in ignored)
    assert not spool.rejected.exists()
    assert pending_jobs(store, "manager") == []


def test_links_out_of_the_spool_are_never_followed(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "job.json"
    secret.write_text(json.dumps(SHELL_JOB))
    (spool.root / "manager").mkdir()
    (spool.root / "manager" / "link.json").symlink_to(secret)
    (spool.root / "plain").symlink_to(outside, target_is_directory=True)

    assert spool.take_in() == 0

    assert rejection(spool, "manager.link.json") == "Cannot read the file: Not a regular file\n"
    assert (spool.rejected / "manager.link.json").is_symlink()
    assert secret.read_text() == json.dumps(SHELL_JOB)
    assert sorted(os.listdir(outside)) == ["job.json"]
    assert pending_jobs(store, "manager") == [] and pending_jobs(store, "plain") == []


def test_an_oversized_file_is_rejected_unread(spool: SpoolIntake, clock: FakeClock) -> None:
    drop(spool, clock, "manager", "big.json", {**SHELL_JOB, "description": "d" * 9000})

    assert spool.take_in() == 0

    assert rejection(spool, "manager.big.json") == "File too large: over 8192 bytes\n"


def test_rejecting_a_second_file_of_the_same_name_keeps_both(
    spool: SpoolIntake, clock: FakeClock
) -> None:
    drop(spool, clock, "manager", "bad.json", "first")
    spool.take_in()
    drop(spool, clock, "manager", "bad.json", "second")
    spool.take_in()

    assert (spool.rejected / "manager.bad.json").read_text() == "first"
    assert (spool.rejected / "manager.bad.json.1").read_text() == "second"
    assert rejection(spool, "manager.bad.json.1").startswith("Invalid JSON:")


def test_passes_are_spaced_by_the_minimum_interval(spool: SpoolIntake, clock: FakeClock) -> None:
    assert spool.due()
    spool.take_in()
    assert not spool.due()
    clock.advance(0.5)
    assert spool.due()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def make_bad_entries(folder: Path, count: int) -> list[str]:
    """``count`` entries named ``*.json`` that are no readable regular file, of every kind."""
    folder.mkdir(exist_ok=True)
    names = []
    for number in range(count):
        path = folder / f"trap{number:03}.json"
        kind = number % 4
        if kind == 0:
            path.mkdir()
        elif kind == 1:
            os.mkfifo(path)
        elif kind == 2:
            path.symlink_to("/dev/null")
        else:
            path.mkdir()  # a folder with a good submission inside is still no file
            (path / "inner.json").write_text(json.dumps(SHELL_JOB))
        names.append(path.name)
    return names


def test_bad_entries_are_rejected_without_leaking_or_stopping_the_pass(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    # The store opens its connections lazily over the first two submissions (its pool's, then
    # the driver writes' own); the count after them is the base.
    for name in ("first", "second"):
        drop(spool, clock, "manager", f"{name}.json", {**SHELL_JOB, "jobName": name})
        assert spool.take_in() == 1
    before = open_fds()
    names = make_bad_entries(spool.root / "alice", 100)
    drop(spool, clock, "manager", "good.json", SHELL_JOB)

    spool.take_in()

    assert open_fds() == before
    assert sorted(job.spec.name for job in pending_jobs(store, "manager")) == [
        "first",
        "nightly",
        "second",
    ]
    for name in names[:8]:
        assert rejection_of_entry(spool, f"alice.{name}").startswith("Cannot read the file:")
    while spool.take_in() or os.listdir(spool.root / "alice"):
        clock.advance(1)
    assert open_fds() == before
    assert sorted(os.listdir(spool.rejected)) == sorted(
        [f"alice.{name}" for name in names] + [f"alice.{name}.error.txt" for name in names]
    )


def rejection_of_entry(spool: SpoolIntake, name: str) -> str:
    """The reason beside a rejected entry of any kind (moved there, not followed)."""
    assert os.path.lexists(spool.rejected / name), sorted(os.listdir(spool.rejected))
    return (spool.rejected / f"{name}.error.txt").read_text()


def threaded(settings: Settings, store: SqlStore, wake: Callable[[], None]) -> SpoolIntake:
    """An intake for its own thread: on the real clock, a pass every 10 ms."""
    operations = JobOperations(store.jobs, SystemClock(), wake, 5.0)
    root = settings.data_dir / "JobSubmission"
    root.mkdir(exist_ok=True)
    return SpoolIntake(root, store.users, operations, SystemClock(), 8192, min_interval=0.01)


def test_a_failing_spool_pass_is_logged_and_the_next_pass_still_runs(
    settings: Settings, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    intake = threaded(settings, store, lambda: None)
    passes: list[int] = []
    second_pass = threading.Event()

    def take_in() -> int:
        passes.append(1)
        if len(passes) == 2:
            second_pass.set()
        raise OSError("the spool folder went away")

    intake.take_in = take_in  # type: ignore[method-assign]
    intake.start()
    try:
        assert second_pass.wait(10)
    finally:
        intake.stop()

    assert "spool pass failed" in caplog.text


def test_the_intake_thread_submits_dropped_files_and_wakes_the_engine(
    settings: Settings, store: SqlStore, clock: FakeClock
) -> None:
    woken = threading.Event()
    intake = threaded(settings, store, woken.set)
    drop(intake, clock, "manager", "job.json", SHELL_JOB)

    intake.start()
    try:
        assert woken.wait(10)
    finally:
        intake.stop()

    assert [job.spec.name for job in pending_jobs(store, "manager")] == ["nightly"]
    assert not (intake.root / "manager" / "job.json").exists()


def test_depends_on_in_a_file_is_taken_as_the_api_takes_it(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    drop(spool, clock, "manager", "a.json", SHELL_JOB)
    spool.take_in()
    [first] = pending_jobs(store, "manager")
    unknown = "00000000-0000-4000-8000-000000000000"
    drop(spool, clock, "manager", "b.json", {**SHELL_JOB, "dependsOn": [first.job_id]})
    drop(spool, clock, "manager", "c.json", {**SHELL_JOB, "dependsOn": [unknown]})
    clock.advance(1)

    assert spool.take_in() == 1

    waiting = [job for job in pending_jobs(store, "manager") if job.job_id != first.job_id]
    assert [(job.status, job.pending_reason) for job in waiting] == [
        (Status.WAITING, f"waiting for {first.job_id}")
    ]
    assert rejection(spool, "manager.c.json") == f"Unknown job in dependsOn: {unknown}\n"


def test_priority_run_at_and_retries_in_a_file_are_taken_as_the_api_takes_them(
    spool: SpoolIntake, store: SqlStore, clock: FakeClock
) -> None:
    queue_fields = {"priority": -7, "runAt": "2023-11-14T23:13:20Z", "maxRetries": 2}
    drop(spool, clock, "manager", "a.json", {**SHELL_JOB, **queue_fields, "retryDelaySeconds": 3})
    drop(spool, clock, "manager", "b.json", {**SHELL_JOB, "maxRetries": 11})
    drop(spool, clock, "plain", "c.json", {**SHELL_JOB, "priority": 1})

    assert spool.take_in() == 1

    [job] = pending_jobs(store, "manager")
    assert (job.spec.priority, job.spec.max_retries, job.spec.retry_delay_seconds) == (-7, 2, 3)
    assert (job.status, job.spec.run_at) == (Status.SCHEDULED, clock.now() + 3600)
    assert rejection(spool, "manager.b.json").startswith("Invalid maxRetries")
    assert rejection(spool, "plain.c.json") == "Priority above 0 requires elevated roles\n"
