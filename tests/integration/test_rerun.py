"""``POST jobs/rerun``, ``Client.rerun`` and ``jobhost rerun`` against a real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhost import Client
from jobhost.client import ApiError
from tests.integration.conftest import Keys
from tests.integration.server import Server, run_cli, wait_finished, wait_for_output
from tests.integration.test_api import error_of, submit


@pytest.fixture(scope="module")
def admin(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.admin) as client:
        yield client


@pytest.fixture(scope="module")
def manager(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.manager) as client:
        yield client


def rerun(client: httpx.Client, job_id: str) -> httpx.Response:
    return client.post("/jobs/rerun", json={"jobId": job_id})


def test_a_failed_job_runs_again_as_a_new_job_with_the_same_fields(
    admin: httpx.Client, tmp_path: Path
) -> None:
    done = submit(admin, "echo first")
    wait_finished(admin, done)
    old = submit(
        admin,
        'echo "$GREETING from $(pwd)"; exit 3',
        jobName="flaky",
        description="fails on purpose",
        env={"GREETING": "hello"},
        workingDirectory=str(tmp_path),
        timeoutSeconds=60,
        stopGraceSeconds=1,
        priority=5,
        maxRetries=0,
        retryDelaySeconds=3,
        dependsOn=[done],
        runAt="2020-01-01T00:00:00Z",
    )
    assert wait_finished(admin, old)["Status"] == "Failed"

    response = rerun(admin, old.upper())
    assert response.status_code == 200, response.text
    body = response.json()
    new = body["jobId"]
    assert body == {
        "success": True,
        "jobId": new,
        "message": "Job submitted successfully",
        "executionMode": "BackgroundJob",
        "rerunOf": old,
    }
    assert new != old
    record = wait_finished(admin, new)
    assert record["Status"] == "Failed" and record["ExitCode"] == 3
    assert record["RerunOf"] == old
    assert record["JobName"] == "flaky" and record["Description"] == "fails on purpose"
    assert record["Priority"] == 5
    # runAt and dependsOn belonged to the first run: the rerun runs now, on its own.
    assert record["RunAt"] is None and record["DependsOn"] == []
    assert record["Output"] == f"hello from {tmp_path}\n"
    original = admin.get("/jobs", params={"jobId": old}).json()["job"]
    assert original["RerunOf"] is None and original["DependsOn"] == [done]


def test_the_rerun_is_the_callers_job_under_the_callers_roles(
    admin: httpx.Client, manager: httpx.Client
) -> None:
    shell = submit(admin, "echo shell")
    python = submit(admin, "print('inline')", mode="MainLoop")
    wait_finished(admin, shell)
    wait_finished(admin, python)

    mine = rerun(manager, shell).json()["jobId"]
    assert wait_finished(manager, mine)["UserID"] == "manager"
    # The manager may see root's MainLoop job but, without the debug role, not submit one.
    assert error_of(rerun(manager, python)) == (
        403,
        "MainLoop execution mode requires 'debug' role",
    )


def test_a_job_that_has_not_finished_is_a_409(admin: httpx.Client) -> None:
    running = submit(admin, "echo started; sleep 30")
    try:
        wait_for_output(admin, running, "started")
        status, message = error_of(rerun(admin, running))
        assert status == 409
        assert message == f"Job has not finished: {running} is Running"
    finally:
        admin.delete("/jobs", params={"jobId": running})


def test_unknown_invisible_and_malformed_ids(
    admin: httpx.Client, server: Server, keys: Keys
) -> None:
    unknown = str(uuid.uuid4())
    assert error_of(rerun(admin, unknown)) == (404, f"Job not found: {unknown}")
    roots = submit(admin, "echo mine")
    wait_finished(admin, roots)
    with server.client(keys.alice) as alice:
        assert error_of(rerun(alice, roots)) == (404, f"Job not found: {roots}")
    assert error_of(rerun(admin, "../etc")) == (400, "Invalid jobId: must be a UUID")
    assert error_of(admin.post("/jobs/rerun", json={})) == (400, "Missing required field: jobId")
    assert error_of(admin.post("/jobs/rerun", json={"jobId": 7}))[0] == 400
    assert error_of(admin.post("/jobs/rerun", content=b"[]")) == (
        400,
        "Request body must be a JSON object",
    )
    with server.client(None) as anonymous:
        answer = anonymous.post("/jobs/rerun", json={"jobId": roots})
    assert error_of(answer) == (401, "Unauthorized")


def test_the_client_and_the_cli_rerun(server: Server, keys: Keys) -> None:
    with Client(server.url, keys.admin) as client:
        old = client.submit("echo again; exit 4", "twice")
        client.wait(old)
        new = client.rerun(old)
        assert client.wait(new).rerun_of == old
        with pytest.raises(ApiError) as refused:
            client.rerun(str(uuid.uuid4()))
        assert refused.value.status == 404

        env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.admin}
        followed = run_cli(server.data_dir, "rerun", "--follow", old, env=env)
        assert followed.returncode == 4, followed.stderr
        assert followed.stdout == "again\n"
        third = followed.stderr.split("submitted job ")[1].split()[0]
        assert client.get(third).rerun_of == old

        printed = run_cli(server.data_dir, "rerun", old, env=env)
        assert printed.returncode == 0, printed.stderr
        fourth = printed.stdout.strip()
        with server.client(keys.admin) as http:
            wait_for_output(http, fourth, "again")
