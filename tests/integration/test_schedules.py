"""Schedules against a real ``jobhost serve``: a due schedule fires a job that runs, and the
schedule commands of the CLI (run as subprocesses)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from jobhost import Client
from jobhost.client import ApiError
from jobhost.clock import SystemClock
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.schema import schedules
from tests.integration.conftest import Keys
from tests.integration.server import Server, run_cli


@pytest.fixture(scope="module")
def jh(server: Server, keys: Keys) -> Iterator[Client]:
    with Client(server.url, keys.admin) as client:
        yield client


def cli(server: Server, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": token}
    return run_cli(server.data_dir, *args, env=env)


def make_due(server: Server, schedule_id: str) -> None:
    """Move a schedule's next firing into the past, as a clock would have (no minute's wait)."""
    store = SqlStore.open(Settings(data_dir=server.data_dir).store_url, SystemClock())
    try:
        with store.db.write() as conn:
            conn.execute(
                update(schedules)
                .where(schedules.c.schedule_id == schedule_id)
                .values(next_run_at=time.time() - 1)
            )
    finally:
        store.close()


def test_a_due_schedule_fires_a_job_of_its_owner_that_runs(jh: Client, server: Server) -> None:
    schedule_id = jh.add_schedule("every minute", "* * * * *", "echo fired")
    before = jh.schedule(schedule_id)
    assert before.next_run_at is not None and len(before.next_runs) == 5

    make_due(server, schedule_id)
    jh.update_schedule(schedule_id, {"name": "every minute!"})  # a change wakes the loop
    deadline = time.monotonic() + 20
    while (fired := jh.schedule(schedule_id)).last_job_id is None:
        assert time.monotonic() < deadline, "the schedule never fired"
        time.sleep(0.05)

    assert fired.last_job_id is not None and fired.next_run_at is not None
    assert fired.next_run_at.timestamp() > time.time() - 1
    job = jh.wait(fired.last_job_id)
    assert (job.schedule_id, job.user_id, job.name, job.status.value) == (
        schedule_id,
        "root",
        "every minute",
        "Completed",
    )
    assert "fired" in (jh.get(job.id).output or "")
    jh.delete_schedule(schedule_id)
    assert jh.get(job.id).id == job.id  # its jobs stay


def test_the_schedule_commands_add_list_pause_resume_and_remove(server: Server, keys: Keys) -> None:
    added = cli(
        server, keys.admin, "schedule", "add", "nightly", "--cron", "0 3 * * *",
        "--timezone", "Europe/Berlin", "--overlap", "queue", "--command", "echo hi", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    schedule_id = made["id"]
    assert (made["cron"], made["timezone"], made["overlap"], made["enabled"]) == (
        "0 3 * * *",
        "Europe/Berlin",
        "queue",
        True,
    )

    table = cli(server, keys.admin, "schedules")
    assert table.returncode == 0 and schedule_id in table.stdout and "nightly" in table.stdout
    listed = json.loads(cli(server, keys.admin, "schedules", "--json").stdout)
    assert schedule_id in [item["id"] for item in listed]

    paused = json.loads(cli(server, keys.admin, "schedule", "pause", schedule_id, "--json").stdout)
    assert (paused["enabled"], paused["next_run_at"], paused["next_runs"]) == (False, None, [])
    assert "paused" in cli(server, keys.admin, "schedules").stdout
    resumed = cli(server, keys.admin, "schedule", "resume", schedule_id)
    assert resumed.returncode == 0 and "next run: 20" in resumed.stdout

    removed = cli(server, keys.admin, "schedule", "rm", schedule_id)
    assert removed.returncode == 0 and removed.stdout.strip() == "Schedule deleted successfully"
    missing = cli(server, keys.admin, "schedule", "rm", schedule_id)
    assert missing.returncode == 1 and f"Schedule not found: {schedule_id}" in missing.stderr


def test_a_plain_user_is_refused_a_command_schedule_and_everyones(
    server: Server, keys: Keys
) -> None:
    refused = cli(
        server, keys.alice, "schedule", "add", "n", "--cron", "0 3 * * *", "--command", "x"
    )
    assert refused.returncode == 1
    assert "Runspace/BackgroundJob execution requires elevated roles" in refused.stderr
    others = cli(server, keys.alice, "schedules", "--all")
    assert others.returncode == 1 and "Viewing other users' schedules" in others.stderr
    assert cli(server, keys.alice, "schedules").stderr.strip() == "no schedules"


def test_bad_cron_and_options_are_refused_naming_them(server: Server, keys: Keys) -> None:
    bad = cli(server, keys.admin, "schedule", "add", "n", "--cron", "daily", "--command", "x")
    assert bad.returncode == 1 and "Invalid cron" in bad.stderr
    zone = cli(
        server, keys.admin, "schedule", "add", "n", "--cron", "0 3 * * *",
        "--timezone", "Mars/Base", "--command", "x",
    )  # fmt: skip
    assert zone.returncode == 1 and "Invalid timezone" in zone.stderr
    both = cli(server, keys.admin, "schedule", "add", "n", "--cron", "0 3 * * *")
    assert both.returncode == 1 and "Give either --command or --template" in both.stderr


def test_preview_from_the_client(jh: Client) -> None:
    runs = jh.preview_schedule("0 12 * * *", "Asia/Tokyo")
    assert len(runs) == 5 and all(moment.hour == 3 for moment in runs)
    with pytest.raises(ApiError, match="Invalid timezone") as caught:
        jh.preview_schedule("0 12 * * *", "Nowhere")
    assert caught.value.status == 400


def test_the_user_id_system_cannot_be_created(server: Server) -> None:
    made = run_cli(server.data_dir, "user", "add", "system")
    assert made.returncode == 1 and "reserved" in made.stderr
