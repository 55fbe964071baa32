"""The role matrix and per-user isolation on every job route, against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from jobhost.clock import SystemClock
from jobhost.models import JobSpec, Mode
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.integration.conftest import Keys
from tests.integration.server import Server, wait_finished, wait_for

MAIN_LOOP_REFUSAL = "MainLoop execution mode requires 'debug' role"
ELEVATED_REFUSAL = (
    "Runspace/BackgroundJob execution requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)
# Short sleeps: a Runspace job blocked in one long call cannot be stopped until it returns.
LOOP = "import time\npass\nwhile True:\n    time.sleep(0.05)"
COMMANDS = {"MainLoop": "pass", "Runspace": "pass", "BackgroundJob": "true"}

# who → mode → expected refusal (None: allowed)
MATRIX: dict[str, dict[str, str | None]] = {
    "admin": {"MainLoop": None, "Runspace": None, "BackgroundJob": None},
    "debugger": {"MainLoop": None, "Runspace": None, "BackgroundJob": None},
    "manager": {"MainLoop": MAIN_LOOP_REFUSAL, "Runspace": None, "BackgroundJob": None},
    "alice": {
        "MainLoop": MAIN_LOOP_REFUSAL,
        "Runspace": ELEVATED_REFUSAL,
        "BackgroundJob": ELEVATED_REFUSAL,
    },
}


@pytest.fixture(scope="module")
def clients(server: Server, keys: Keys) -> Iterator[dict[str, httpx.Client]]:
    made = {
        name: server.client(getattr(keys, name))
        for name in ("admin", "manager", "debugger", "alice", "bob")
    }
    yield made
    for client in made.values():
        client.close()


@pytest.mark.parametrize("who", sorted(MATRIX))
@pytest.mark.parametrize("mode", sorted(COMMANDS))
def test_submit_role_matrix(clients: dict[str, httpx.Client], who: str, mode: str) -> None:
    response = clients[who].post(
        "/jobs/submit", json={"jobName": "m", "command": COMMANDS[mode], "executionMode": mode}
    )
    refusal = MATRIX[who][mode]
    if refusal is None:
        assert response.status_code == 200, response.text
        wait_finished(clients[who], response.json()["jobId"])
    else:
        assert response.status_code == 403
        assert response.json() == {"success": False, "error": refusal}


def store_submit(server: Server, user_id: str, command: str) -> str:
    """Put a job in the server's store as ``user_id``.

    Users without elevated roles cannot submit free-form commands; their jobs arrive
    through catalog entries, which later work adds. Until then the store stands in.
    """
    store = SqlStore.open(Settings(data_dir=server.data_dir).store_url, SystemClock())
    try:
        spec = JobSpec(name=f"{user_id}'s job", command=command, mode=Mode.RUNSPACE)
        return store.jobs.submit(user_id, spec).job_id
    finally:
        store.close()


def job_routes(job_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/jobs?jobId={job_id}"),
        ("GET", f"/jobs/output?jobId={job_id}"),
        ("DELETE", f"/jobs?jobId={job_id}"),
        ("DELETE", f"/jobs/results?jobId={job_id}"),
    ]


def listed_ids(client: httpx.Client, **params: str) -> set[str]:
    ids = set()
    for path in ("/jobs", "/jobs/list"):
        body = client.get(path, params=params).json()
        ids |= {job["JobID"] for jobs in body["jobs"].values() for job in jobs}
    results = client.get("/jobs/results", params=params).json()["results"]
    return ids | {job["JobID"] for job in results}


def assert_invisible(client: httpx.Client, job_id: str) -> None:
    for method, path in job_routes(job_id):
        response = client.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"success": False, "error": f"Job not found: {job_id}"}
    assert job_id not in listed_ids(client)


def test_a_user_never_sees_another_users_running_job(
    server: Server, clients: dict[str, httpx.Client]
) -> None:
    job_id = store_submit(server, "alice", LOOP.replace("pass", "print('mine')", 1))
    alice, bob = clients["alice"], clients["bob"]
    wait_for(alice, job_id, lambda job: job["Status"] == "Running")
    assert_invisible(bob, job_id)
    assert job_id in listed_ids(alice)
    # the owner, without any stored role, may stop her own job
    assert alice.delete("/jobs", params={"jobId": job_id}).json()["message"] == (
        "Job stopped successfully"
    )
    assert wait_finished(alice, job_id)["Status"] == "Stopped"
    assert_invisible(bob, job_id)
    # and delete its result
    assert alice.delete("/jobs", params={"jobId": job_id}).status_code == 200
    assert alice.get("/jobs", params={"jobId": job_id}).status_code == 404


def test_plain_users_do_not_see_privileged_users_jobs(clients: dict[str, httpx.Client]) -> None:
    admin = clients["admin"]
    job_id = admin.post(
        "/jobs/submit", json={"jobName": "root's", "command": "echo x", "executionMode": "process"}
    ).json()["jobId"]
    wait_finished(admin, job_id)
    assert_invisible(clients["alice"], job_id)
    assert_invisible(clients["bob"], job_id)


@pytest.mark.parametrize("params", [{"allUsers": "true"}, {"userId": "root"}])
def test_plain_users_cannot_widen_a_listing(
    clients: dict[str, httpx.Client], params: dict[str, str]
) -> None:
    for path in ("/jobs", "/jobs/list", "/jobs/results"):
        response = clients["alice"].get(path, params=params)
        assert response.status_code == 403, path
        assert response.json()["success"] is False


def test_a_plain_user_may_name_herself(clients: dict[str, httpx.Client]) -> None:
    assert clients["alice"].get("/jobs", params={"userId": "alice"}).status_code == 200


def test_privileged_users_see_everyone_only_when_they_ask(
    server: Server, clients: dict[str, httpx.Client]
) -> None:
    admin, manager = clients["admin"], clients["manager"]
    roots = admin.post(
        "/jobs/submit", json={"jobName": "r", "command": "echo r", "executionMode": "process"}
    ).json()["jobId"]
    alices = store_submit(server, "alice", "print('a')")
    wait_finished(admin, roots)
    wait_finished(admin, alices)
    assert roots not in listed_ids(manager)  # own jobs by default
    everyone = listed_ids(manager, allUsers="true")
    assert {roots, alices} <= everyone
    only_alice = listed_ids(manager, userId="alice")
    assert alices in only_alice and roots not in only_alice
    # and may act on any job by its id
    assert manager.get("/jobs", params={"jobId": alices}).json()["job"]["UserID"] == "alice"
    assert manager.delete("/jobs", params={"jobId": alices}).status_code == 200
    assert admin.get("/jobs", params={"jobId": alices}).status_code == 404


def test_a_privileged_user_can_stop_another_users_job(
    server: Server, clients: dict[str, httpx.Client]
) -> None:
    job_id = store_submit(server, "alice", LOOP)
    manager = clients["manager"]
    wait_for(manager, job_id, lambda job: job["Status"] == "Running")
    assert manager.delete("/jobs", params={"jobId": job_id}).status_code == 200
    assert wait_finished(clients["alice"], job_id)["Status"] == "Stopped"


def test_an_invalid_user_id_filter_is_400(clients: dict[str, httpx.Client]) -> None:
    response = clients["manager"].get("/jobs", params={"userId": "../etc"})
    assert response.status_code == 400
