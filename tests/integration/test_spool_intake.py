"""The spool folder of a real server: a dropped file becomes a job that runs, or is rejected."""

from __future__ import annotations

import json
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
