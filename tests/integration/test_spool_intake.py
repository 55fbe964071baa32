"""The spool folder of a real server: a dropped file becomes a job that runs, or is rejected."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx

from tests.integration.conftest import Keys
from tests.integration.server import Server, wait_finished, wait_for_output


def spool_file(server_dir: Path, user_id: str, name: str, body: dict[str, str]) -> Path:
    """Write a spool file under another name and rename it into place, as writers should."""
    folder = server_dir / "JobSubmission" / user_id
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.partial"
    partial.write_text(json.dumps(body))
    return partial.rename(folder / name)


def wait_for_job_named(client: httpx.Client, name: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.get("/jobs").json()["jobs"]
        for job in jobs["pending"] + jobs["running"] + jobs["completed"]:
            if job["JobName"] == name:
                return str(job["JobID"])
        time.sleep(0.05)
    raise AssertionError(f"no job named {name} appeared")


def test_a_file_dropped_into_the_spool_runs_as_its_users_job(
    server: Server, keys: Keys, server_dir: Path
) -> None:
    body = {"jobName": "spooled", "command": "print('from the spool')", "executionMode": "Runspace"}
    path = spool_file(server_dir, "manager", "spooled.json", body)

    with server.client(keys.manager) as manager:
        job_id = wait_for_job_named(manager, "spooled")
        assert wait_for_output(manager, job_id, "from the spool") == "from the spool\n"
        assert wait_finished(manager, job_id)["Status"] == "Completed"
    assert not path.exists()


def test_a_file_the_user_may_not_submit_is_moved_aside_with_the_reason(
    server: Server, server_dir: Path
) -> None:
    body = {"jobName": "sneaky", "command": "id", "executionMode": "BackgroundJob"}
    path = spool_file(server_dir, "alice", "sneaky.json", body)
    reason = server_dir / "JobSubmission" / ".rejected" / "alice.sneaky.json.error.txt"

    deadline = time.monotonic() + 20
    while not reason.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert "requires elevated roles" in reason.read_text()
    assert not path.exists()


def server_fds(server: Server) -> int:
    assert server.proc is not None
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def steady_fds(server: Server, timeout: float = 10.0) -> int:
    """The server's fd count once it holds still for a moment."""
    deadline = time.monotonic() + timeout
    previous, count = -1, server_fds(server)
    while count != previous and time.monotonic() < deadline:
        time.sleep(0.3)
        previous, count = count, server_fds(server)
    return count


def settle_fds(server: Server, target: int, timeout: float = 10.0) -> int:
    """The server's fd count once it is back at ``target`` (sockets and job pipes of work
    just done close a moment later), or what it is when the time is up."""
    deadline = time.monotonic() + timeout
    while (count := server_fds(server)) != target and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def test_bad_entries_in_the_spool_leak_nothing_and_hold_up_no_other_user(
    server: Server, keys: Keys, server_dir: Path
) -> None:
    # A first job through the spool opens whatever the server opens lazily for one.
    body = {"jobName": "warm-up", "command": "true", "executionMode": "BackgroundJob"}
    spool_file(server_dir, "manager", "warm-up.json", body)
    with server.client(keys.manager) as manager:
        wait_finished(manager, wait_for_job_named(manager, "warm-up"))
    before = steady_fds(server)
    traps = server_dir / "JobSubmission" / "alice"
    traps.mkdir(exist_ok=True)
    for number in range(100):
        trap = traps / f"trap{number}.json"
        if number % 2:
            trap.mkdir()
        else:
            os.mkfifo(trap)

    spool_file(server_dir, "manager", "after-traps.json", {**body, "jobName": "after-traps"})

    with server.client(keys.manager) as manager:
        wait_finished(manager, wait_for_job_named(manager, "after-traps"))
    rejected = server_dir / "JobSubmission" / ".rejected"
    deadline = time.monotonic() + 20
    while os.listdir(traps) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(traps) == []
    assert (rejected / "alice.trap0.json.error.txt").read_text().startswith("Cannot read the file")
    assert settle_fds(server, before) == before
    assert "dispatch cycle failed" not in server.log()


def test_a_spool_file_name_cannot_forge_a_log_line(
    server: Server, keys: Keys, server_dir: Path
) -> None:
    forged = "x\n2026-01-01 00:00:00,000 INFO jobhost.auth: admin signed in\x1b[2J"
    body = {"jobName": "forger", "command": "print('ok')", "executionMode": "Runspace"}
    spool_file(server_dir, "manager", f"{forged}.json", body)
    with server.client(keys.manager) as client:
        job_id = wait_for_job_named(client, "forger")
        wait_finished(client, job_id)
    deadline = time.monotonic() + 10
    while f"submitted as job {job_id}" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    lines = server.log().splitlines()
    assert not any(line.startswith("2026-01-01 00:00:00,000") for line in lines)
    [line] = [line for line in lines if job_id in line and "spool file" in line]
    assert "x\\n2026-01-01 00:00:00,000 INFO jobhost.auth: admin signed in\\x1b[2J" in line
