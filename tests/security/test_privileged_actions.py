"""Every privileged action is a 403 for a plain user (``PRIVILEGED``), and changes nothing:
their jobs and schedules are as they were. Also what a plain user sees less of: the
catalog's broken files, and other users' jobs of a template they stop."""

from __future__ import annotations

import httpx
import pytest

from jobhost.clock import SystemClock
from jobhost.models import JobSpec, Mode
from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.integration.conftest import Keys
from tests.integration.server import Server, wait_finished, wait_for
from tests.security.conftest import Objects, ok, start
from tests.security.privileged import OWN_FREE_FORM_JOB, PRIVILEGED, Refused
from tests.security.probe import Caller, send


def stored_job(server: Server, user_id: str) -> str:
    """A finished Python job of ``user_id``'s, put in the store directly: a plain user
    could not have submitted it (the spool and the API both refuse them)."""
    store = SqlStore.open(Settings(data_dir=server.data_dir).store_url, SystemClock())
    try:
        spec = JobSpec(name="stored", command="print('stored')", mode=Mode.RUNSPACE)
        return store.jobs.submit(user_id, spec).job_id
    finally:
        store.close()


@pytest.fixture(scope="module")
def own(
    server: Server, objects: Objects, http: dict[str, httpx.Client]
) -> dict[str, dict[str, str]]:
    job_id = stored_job(server, "alice")
    wait_finished(http["alice"], job_id)
    return {
        "alice": {**objects.own["alice"], OWN_FREE_FORM_JOB: job_id},
        "manager": {},
    }


def holdings(client: httpx.Client) -> tuple[object, object]:
    """What a user owns, as its listings show it."""
    jobs = ok(client.get("/jobs"))["counts"]
    schedules = ok(client.get("/schedules"))["schedules"]
    return jobs, schedules


@pytest.mark.parametrize("case", PRIVILEGED, ids=lambda case: case.name)
def test_a_privileged_action_is_refused(
    server: Server,
    keys: Keys,
    http: dict[str, httpx.Client],
    own: dict[str, dict[str, str]],
    case: Refused,
) -> None:
    token = {"alice": keys.alice, "manager": keys.manager}[case.who]
    before = holdings(http[case.who])
    answer = send(server, Caller(token=token), case.call.filled(own[case.who]))
    assert answer.status == 403, answer
    if answer.close_code is None:
        assert answer.body == {"success": False, "error": case.refusal}
    else:
        assert (answer.body["error"], answer.close_code) == (case.refusal, 4403)
    assert holdings(http[case.who]) == before


def test_a_plain_user_sees_no_catalog_errors_nor_the_templates_they_may_not_use(
    http: dict[str, httpx.Client],
) -> None:
    alice = ok(http["alice"].get("/jobs/catalog"))
    root = ok(http["root"].get("/jobs/catalog"))
    assert alice["errors"] == []
    assert [error["file"] for error in root["errors"]] == ["broken.toml"]
    assert {item["jobId"] for item in alice["jobs"]} == {"hello", "sleeper"}
    assert "admin-only" in {item["jobId"] for item in root["jobs"]}


def test_stopping_a_template_stops_only_the_plain_users_own_jobs(
    http: dict[str, httpx.Client],
) -> None:
    alice, bob = http["alice"], http["bob"]
    bobs = start(bob, "sleeper")
    alices = start(alice, "sleeper")
    for client, job_id in ((bob, bobs), (alice, alices)):
        wait_for(client, job_id, lambda job: job["Status"] == "Running")
    stopped = ok(alice.post("/jobs/stop", json={"jobId": "sleeper"}))["stopped"]
    assert stopped == [alices]
    assert wait_finished(alice, alices)["Status"] == "Stopped"
    assert ok(bob.get("/jobs", params={"jobId": bobs}))["job"]["Status"] == "Running"
    assert ok(bob.delete("/jobs", params={"jobId": bobs}))["message"] == "Job stopped successfully"
