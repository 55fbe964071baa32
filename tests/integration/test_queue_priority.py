"""Priority, the per-user limit and PendingReason, against real servers running real jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobhost.auth.keys import create_key
from jobhost.clock import SystemClock
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.integration.server import (
    Server,
    free_port,
    kill_jobs_under,
    run_cli,
    wait_finished,
    wait_for,
)

GATED = (
    "echo start {name} >> {log}; while [ ! -e {gate} ]; do sleep 0.02; done; "
    "echo end {name} >> {log}"
)
SLOT_REASON = "waiting for a free slot (1 of 1 running)"
USER_REASON = "user limit reached (1 of 1 running)"


@dataclass(frozen=True)
class Keys:
    admin: str  # system_admin
    manager: str  # task_manager
    alice: str  # no stored roles


def make_keys(data_dir: Path) -> Keys:
    """The users, made in the server's store before it starts (quicker than the CLI)."""
    store = SqlStore.open(Settings(data_dir=data_dir).store_url, SystemClock())
    roles = {"root": {"system_admin"}, "manager": {"task_manager"}, "alice": set()}
    try:
        for name, held in roles.items():
            store.users.add_user(name, frozenset(held), None)
        made = [create_key(store.users, SystemClock(), name, None, None) for name in roles]
    finally:
        store.close()
    return Keys(*(key.token for key in made))


def serve(data_dir: Path, env: dict[str, str]) -> Iterator[tuple[Server, Keys]]:
    keys = make_keys(data_dir)
    server = Server(data_dir, free_port(), env)
    server.start()
    try:
        yield server, keys
    finally:
        server.stop()
        kill_jobs_under(data_dir)


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    """A server that runs one job at a time."""
    yield from serve(tmp_path_factory.mktemp("one-slot"), {"JOBHOST_MAX_CONCURRENT_JOBS": "1"})


@pytest.fixture(scope="module")
def one_each(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    """A server with three slots, one job at a time per user."""
    env = {"JOBHOST_MAX_CONCURRENT_JOBS": "3", "JOBHOST_MAX_JOBS_PER_USER": "1"}
    yield from serve(tmp_path_factory.mktemp("one-each"), env)


def submit(client: httpx.Client, name: str, command: str, priority: int = 0) -> str:
    body = {
        "jobName": name,
        "command": command,
        "executionMode": "BackgroundJob",
        "priority": priority,
    }
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def gated(client: httpx.Client, name: str, folder: Path, priority: int = 0) -> str:
    """A job that logs its start, waits for the file ``folder/<name>.gate``, logs its end."""
    log, gate = folder / "log", folder / f"{name}.gate"
    return submit(client, name, GATED.format(name=name, log=log, gate=gate), priority)


def running(job: dict[str, Any]) -> bool:
    return bool(job["Status"] == "Running")


def test_priority_above_zero_is_refused_to_a_user_without_a_privileged_role(
    one_slot: tuple[Server, Keys],
) -> None:
    server, keys = one_slot
    with server.client(keys.alice) as alice:
        body = {"jobName": "j", "command": "true", "executionMode": "BackgroundJob", "priority": 1}
        response = alice.post("/jobs/submit", json=body)
        assert response.status_code == 403
        assert response.json()["error"] == "Priority above 0 requires elevated roles"
        assert alice.get("/jobs").json()["counts"]["pending"] == 0


def test_a_full_queue_starts_jobs_by_priority_then_in_submission_order(
    one_slot: tuple[Server, Keys], tmp_path: Path
) -> None:
    server, keys = one_slot
    priorities = [0, 5, -3, 5, 0, 100, -100, 2, 0, 5, 2, -3, 0, 7, 5, 0, -1, 100, 2, 0]
    with server.client(keys.admin) as client:
        blocker = gated(client, "blocker", tmp_path)
        wait_for(client, blocker, running)
        ids = [
            submit(client, f"j{i}", f"echo j{i} >> {tmp_path / 'order'}", priority)
            for i, priority in enumerate(priorities)
        ]
        assert wait_for(client, ids[0], lambda job: True)["PendingReason"] == SLOT_REASON
        (tmp_path / "blocker.gate").touch()
        records = [wait_finished(client, job_id) for job_id in ids]

    expected = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    started = sorted(range(len(records)), key=lambda i: records[i]["StartedAt"])
    assert (tmp_path / "order").read_text().split() == [f"j{i}" for i in expected]
    assert started == expected


def test_status_and_jobs_show_why_a_job_is_pending(
    one_slot: tuple[Server, Keys], tmp_path: Path
) -> None:
    server, keys = one_slot
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.admin}
    with server.client(keys.admin) as client:
        blocker = gated(client, "blocker", tmp_path)
        wait_for(client, blocker, running)
        submitted = run_cli(server.data_dir, "submit", "--priority", "5", "--", "true", env=env)
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip()
        assert client.get("/jobs", params={"jobId": job_id}).json()["job"]["Priority"] == 5

        status = run_cli(server.data_dir, "status", job_id, env=env)
        as_json = run_cli(server.data_dir, "status", job_id, "--json", env=env)
        table = run_cli(server.data_dir, "jobs", "--pending", env=env)
        listed = run_cli(server.data_dir, "jobs", "--pending", "--json", env=env)
        (tmp_path / "blocker.gate").touch()
        wait_finished(client, job_id)

    assert any(
        line.split() == ["reason", *SLOT_REASON.split()] for line in status.stdout.splitlines()
    )
    assert ["priority", "5"] in [line.split() for line in status.stdout.splitlines()]
    assert json.loads(as_json.stdout)["pending_reason"] == SLOT_REASON
    assert SLOT_REASON in " ".join(table.stdout.split())
    assert [job["pending_reason"] for job in json.loads(listed.stdout)] == [SLOT_REASON]


def test_a_user_at_the_limit_waits_while_another_user_s_jobs_start(
    one_each: tuple[Server, Keys], tmp_path: Path
) -> None:
    server, keys = one_each
    with server.client(keys.admin) as root, server.client(keys.manager) as manager:
        mine = [gated(root, f"root{i}", tmp_path) for i in range(3)]
        wait_for(root, mine[0], running)
        theirs = gated(manager, "manager0", tmp_path)
        wait_for(manager, theirs, running)
        for job_id in mine[1:]:
            job = wait_for(root, job_id, lambda job: True)
            assert (job["Status"], job["PendingReason"]) == ("Pending", USER_REASON)

        for i in range(3):
            (tmp_path / f"root{i}.gate").touch()
            wait_finished(root, mine[i])
        (tmp_path / "manager0.gate").touch()
        wait_finished(manager, theirs)

    # root's jobs ran one after another, manager's beside them.
    events = (tmp_path / "log").read_text().split("\n")
    root_events = [line for line in events if "root" in line]
    assert root_events == [f"{edge} root{i}" for i in range(3) for edge in ("start", "end")]
    assert events.index("start manager0") < events.index("end root0")
