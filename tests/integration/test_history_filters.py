"""The history filters and cursor paging of ``GET jobs``, ``jobs/list`` and ``jobs/results``
against a real server: each filter, combinations, bad values as 400s naming the field."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import Server, wait_finished


@pytest.fixture(scope="module")
def alice(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.manager) as client:
        yield client


@pytest.fixture(scope="module")
def bob(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.debugger) as client:
        yield client


def submit(
    client: httpx.Client, name: str, command: str, mode: str = "BackgroundJob", **extra: Any
) -> str:
    body = {"jobName": name, "command": command, "executionMode": mode} | extra
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def run(
    client: httpx.Client, name: str, command: str, mode: str = "BackgroundJob", **extra: Any
) -> str:
    job_id = submit(client, name, command, mode, **extra)
    wait_finished(client, job_id)
    return job_id


@pytest.fixture(scope="module")
def history(alice: httpx.Client, bob: httpx.Client) -> dict[str, str]:
    """Alice's (a task_manager's) finished jobs by name, oldest first, and one of Bob's."""
    made = {
        "ok-backup": run(alice, "ok-backup", "echo backup"),
        "failed-backup": run(alice, "failed-backup", "exit 3", description="nightly Backup"),
        "thread-ok": run(alice, "thread-ok", "pass", "Runspace"),
        "percent": run(alice, "percent", "echo 100%"),
        "timed-out": run(alice, "timed-out", "sleep 5", timeoutSeconds=1),
    }
    run(bob, "bobs-backup", "echo backup")
    return made


def completed(client: httpx.Client, path: str = "/jobs", **params: Any) -> list[str]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    records = body["jobs"]["completed"] if "jobs" in body else body["results"]
    return [record["JobName"] for record in records]


@pytest.mark.parametrize("path", ["/jobs", "/jobs/list", "/jobs/results"])
def test_status_filter_on_every_listing(
    alice: httpx.Client, history: dict[str, str], path: str
) -> None:
    assert completed(alice, path, status="Failed,TimedOut") == ["timed-out", "failed-backup"]


def test_mode_filter_takes_aliases(alice: httpx.Client, history: dict[str, str]) -> None:
    assert completed(alice, mode="thread") == ["thread-ok"]
    assert completed(alice, mode="Runspace") == ["thread-ok"]


def test_q_matches_name_description_or_command_in_any_case(
    alice: httpx.Client, history: dict[str, str]
) -> None:
    assert completed(alice, q="BACKUP") == ["failed-backup", "ok-backup"]
    assert completed(alice, q="nightly") == ["failed-backup"]
    assert completed(alice, q="100%") == ["percent"]
    assert completed(alice, q="_") == []  # not a wildcard: no name holds an underscore


def test_q_never_finds_another_users_jobs(alice: httpx.Client, history: dict[str, str]) -> None:
    assert completed(alice, q="bobs") == []


def test_since_and_until(alice: httpx.Client, history: dict[str, str]) -> None:
    record = alice.get("/jobs", params={"jobId": history["thread-ok"]}).json()["job"]
    at = datetime.datetime.fromisoformat(record["SubmittedAt"].replace("Z", "+00:00"))
    since = at.isoformat()
    until = (at - datetime.timedelta(microseconds=1)).isoformat()
    assert completed(alice, since=since) == ["timed-out", "percent", "thread-ok"]
    assert completed(alice, until=until) == ["failed-backup", "ok-backup"]
    far = "2999-01-01T00:00:00+00:00"
    assert completed(alice, since=far) == []


def test_filters_combine(alice: httpx.Client, history: dict[str, str]) -> None:
    assert completed(alice, status="Failed", q="backup", mode="BackgroundJob") == ["failed-backup"]
    assert completed(alice, status="Completed", q="backup", mode="Runspace") == []


def test_counts_are_the_users_totals_with_filters(
    alice: httpx.Client, history: dict[str, str]
) -> None:
    body = alice.get("/jobs", params={"status": "Failed"}).json()
    assert len(body["jobs"]["completed"]) == 1
    assert body["counts"]["completed"] == len(history)


def test_cursor_pages_through_without_gap_or_repeat(
    alice: httpx.Client, history: dict[str, str]
) -> None:
    names: list[str] = []
    params: dict[str, Any] = {"maxResults": 2}
    pages = 0
    while True:
        body = alice.get("/jobs/results", params=params).json()
        names += [record["JobName"] for record in body["results"]]
        pages += 1
        if body["nextCursor"] is None:
            break
        params["cursor"] = body["nextCursor"]
    assert names == list(reversed(history))
    assert pages == 3


def test_a_short_page_says_it_is_the_last(alice: httpx.Client, history: dict[str, str]) -> None:
    assert alice.get("/jobs", params={"maxResults": 100}).json()["nextCursor"] is None


def test_no_new_parameter_keeps_the_seed_listing(
    alice: httpx.Client, history: dict[str, str]
) -> None:
    body = alice.get("/jobs").json()
    assert set(body["jobs"]) == {"pending", "running", "completed"}
    assert len(body["jobs"]["completed"]) == len(history)


def _tampered() -> str:
    return base64.urlsafe_b64encode(b"v1:1 OR 1=1").decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "Failed,Exploded"}, "Invalid status:"),
        ({"mode": "fast"}, "Invalid mode:"),
        ({"since": "yesterday"}, "Invalid since:"),
        ({"since": "2026-01-01T00:00:00"}, "Invalid since: must say its time zone"),
        ({"until": "2026-13-01T00:00:00Z"}, "Invalid until:"),
        ({"scheduleId": "not-a-uuid"}, "Invalid scheduleId:"),
        ({"scheduleId": ""}, "Invalid scheduleId:"),
        ({"q": "x" * 201}, "Invalid q:"),
        ({"cursor": "!!!"}, "Invalid cursor"),
        ({"cursor": _tampered()}, "Invalid cursor"),
        ({"cursor": "djE6MA"}, "Invalid cursor"),  # v1:0
        ({"cursor": "A" * 500}, "Invalid cursor"),
    ],
)
@pytest.mark.parametrize("path", ["/jobs", "/jobs/results"])
def test_bad_filter_values_are_400_naming_the_field(
    alice: httpx.Client, path: str, params: dict[str, str], message: str
) -> None:
    response = alice.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(message)


def test_jobs_finishing_between_pages_cause_no_gap_or_repeat(
    bob: httpx.Client, history: dict[str, str], tmp_path: Path
) -> None:
    """Bob's jobs, so that the other tests' lists of Alice's stay as they are."""
    before = ["bobs-backup"] + [f"bob-{i}" for i in range(3)]
    for name in before[1:]:
        run(bob, name, "true")
    gate = tmp_path / "gate"
    waiting = f"while [ ! -e {gate} ]; do sleep 0.02; done"
    held = [submit(bob, f"held-{i}", waiting) for i in range(2)]
    try:
        first = bob.get("/jobs/results", params={"maxResults": 2}).json()
        gate.touch()
        for job_id in held:
            wait_finished(bob, job_id)
        names = [record["JobName"] for record in first["results"]]
        cursor = first["nextCursor"]
        while cursor is not None:
            body = bob.get("/jobs/results", params={"maxResults": 2, "cursor": cursor}).json()
            names += [record["JobName"] for record in body["results"]]
            cursor = body["nextCursor"]
    finally:
        gate.touch()
    assert names == list(reversed(before))  # the two that finished meanwhile are newer
    assert completed(bob, "/jobs/results", maxResults=2) == ["held-1", "held-0"]
