"""runAt and retries against a real server: a job run a second from now, attempt headers,
stops never retried, and a job a server kill interrupted retried but never run twice."""

from __future__ import annotations

import datetime
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    kill_jobs_under,
    wait_finished,
    wait_for,
    wait_for_output,
)
from tests.integration.test_unstarted_after_kill import job_parent_of

INTERRUPTED = "[Job interrupted: the server stopped while it ran]"


def submit(client: httpx.Client, command: str, **fields: Any) -> str:
    body = {"jobName": "j", "command": command, "executionMode": "BackgroundJob", **fields}
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def record(client: httpx.Client, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = client.get("/jobs", params={"jobId": job_id}).json()["job"]
    return job


def seconds(text: str) -> float:
    return datetime.datetime.fromisoformat(text).timestamp()


def test_a_job_run_at_a_second_from_now_starts_then(server: Server, keys: Keys) -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    run_at = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with server.client(keys.admin) as client:
        job_id = submit(client, "echo on time", runAt=run_at)
        scheduled = record(client, job_id)
        job = wait_finished(client, job_id)

    assert scheduled["Status"] == "Scheduled"
    assert scheduled["PendingReason"] == f"scheduled for {run_at}"
    assert (job["Status"], job["Output"], job["RunAt"]) == ("Completed", "on time\n", run_at)
    assert job["PendingReason"] is None
    late = seconds(job["StartedAt"]) - seconds(run_at)
    assert 0 <= late < 1.0, late


def test_a_failing_job_is_retried_with_attempt_headers_up_to_max_retries(
    server: Server, keys: Keys
) -> None:
    with server.client(keys.admin) as client:
        job_id = submit(client, "echo try; exit 3", maxRetries=2, retryDelaySeconds=0)
        job = wait_finished(client, job_id)

    assert (job["Status"], job["ExitCode"], job["Attempt"]) == ("Failed", 3, 3)
    assert job["MaxRetries"] == 2
    assert job["Output"] == "try\n[Attempt 2 of 3]\ntry\n[Attempt 3 of 3]\ntry\n"


def test_a_job_waiting_for_its_retry_says_when(server: Server, keys: Keys) -> None:
    with server.client(keys.admin) as client:
        job_id = submit(client, "exit 1", maxRetries=3, retryDelaySeconds=600)
        job = wait_for(client, job_id, lambda job: job["Status"] == "Scheduled")
        assert client.delete("/jobs", params={"jobId": job_id}).status_code == 200
        cancelled = wait_finished(client, job_id)

    assert re.fullmatch(r"retry 1 of 3 at \S+Z", job["PendingReason"]), job["PendingReason"]
    due = job["PendingReason"].rsplit(" ", 1)[1]
    assert job["RunAt"] == due
    assert 600 <= seconds(due) - time.time() <= 661
    # It ran once: the cancel ends it as that attempt did, saying the retry will not run.
    assert (cancelled["Status"], cancelled["ExitCode"], cancelled["Attempt"]) == ("Failed", 1, 1)
    assert cancelled["StartedAt"] is not None
    assert cancelled["Output"] == "[Retry cancelled: attempt 2 of 4 will not run]\n"


def test_a_stopped_job_is_never_retried(server: Server, keys: Keys) -> None:
    with server.client(keys.admin) as client:
        job_id = submit(client, "echo start; sleep 60", maxRetries=3, retryDelaySeconds=0)
        wait_for_output(client, job_id, "start")
        assert client.delete("/jobs", params={"jobId": job_id}).status_code == 200
        job = wait_finished(client, job_id)
        time.sleep(0.3)  # time enough for a retry to have been claimed, were there one
        again = record(client, job_id)

    assert (job["Status"], job["Attempt"]) == ("Stopped", 1)
    assert again == job


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server of this test's own (it will be killed)."""
    key = create_user(tmp_path, "root", "system_admin")
    server = Server(tmp_path, free_port(), {})
    server.start()
    try:
        yield server, key
    finally:
        server.stop()
        kill_jobs_under(tmp_path)


def test_a_job_adopted_after_a_kill_is_not_also_retried(
    own_server: tuple[Server, str], tmp_path: Path
) -> None:
    server, key = own_server
    starts = tmp_path / "starts"
    with server.client(key) as client:
        command = f"echo start >> {starts}; echo one; sleep 1; echo two"
        job_id = submit(client, command, maxRetries=2, retryDelaySeconds=0)
        wait_for_output(client, job_id, "one")
    server.stop(signal.SIGKILL)  # the job runs on under its job parent

    server.port = free_port()
    server.start()
    with server.client(key) as client:
        job = wait_finished(client, job_id)
    assert (job["Status"], job["Attempt"], job["Output"]) == ("Completed", 1, "one\ntwo\n")
    assert starts.read_text() == "start\n"


def test_a_job_killed_with_the_server_is_retried_once_nothing_of_it_runs(
    own_server: tuple[Server, str], tmp_path: Path
) -> None:
    server, key = own_server
    starts = tmp_path / "starts"
    with server.client(key) as client:
        command = f"echo start >> {starts}; echo pid=$$; sleep 60"
        job_id = submit(client, command, maxRetries=1, retryDelaySeconds=0)
        output = wait_for_output(client, job_id, "pid=")
        first = int(re.findall(r"pid=(\d+)", output)[0])
        assert server.proc is not None
        parent = job_parent_of(server.proc.pid)
    server.stop(signal.SIGKILL)
    os.kill(parent, signal.SIGKILL)  # the job and its parent die too: nothing to adopt
    os.killpg(first, signal.SIGKILL)

    server.port = free_port()
    server.start()
    with server.client(key) as client:
        retried = wait_for(client, job_id, lambda job: job["Attempt"] == 2)
        output = wait_for_output(client, job_id, "[Attempt 2 of 2]\npid=")
        assert client.delete("/jobs", params={"jobId": job_id}).status_code == 200
        job = wait_finished(client, job_id)

    assert retried["Status"] in ("Running", "Stopping")
    assert output.startswith(f"pid={first}\n{INTERRUPTED}\n[Attempt 2 of 2]\npid=")
    assert (job["Status"], job["Attempt"]) == ("Stopped", 2)
    assert starts.read_text() == "start\nstart\n"
