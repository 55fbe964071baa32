"""dependsOn end to end against a real server: Waiting until every dependency Completed,
cancelled transitively with a note when one did not, 400 for an unknown one; the CLI's
``submit --after``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobhost import policy
from tests.integration.conftest import Keys
from tests.integration.server import Server, run_cli, wait_finished, wait_for

UNKNOWN = "00000000-0000-4000-8000-000000000000"
GATED = "while [ ! -e {gate} ]; do sleep 0.02; done; {then}"


@pytest.fixture(scope="module")
def admin(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.admin) as client:
        yield client


def submit(client: httpx.Client, command: str, *after: str, name: str = "dep") -> str:
    body: dict[str, Any] = {"jobName": name, "command": command, "executionMode": "BackgroundJob"}
    if after:
        body["dependsOn"] = list(after)
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def record(client: httpx.Client, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/jobs", params={"jobId": job_id}).json()["job"]
    return found


def output(client: httpx.Client, job_id: str) -> str:
    text: str = client.get("/jobs/output", params={"jobId": job_id}).json()["output"]
    return text


def gated(tmp_path: Path, then: str) -> tuple[str, Path]:
    """A command that runs until ``gate`` exists, then runs ``then``."""
    gate = tmp_path / "gate"
    return GATED.format(gate=gate, then=then), gate


def test_a_job_after_another_waits_then_runs_once_it_completed(
    admin: httpx.Client, tmp_path: Path
) -> None:
    command, gate = gated(tmp_path, "echo a")
    a = submit(admin, command)
    b = submit(admin, "echo b", a)

    waiting = record(admin, b)
    assert (waiting["Status"], waiting["PendingReason"]) == ("Waiting", f"waiting for {a}")
    gate.touch()

    done = wait_finished(admin, b)
    assert done["Status"] == "Completed"
    assert output(admin, b) == "b\n"
    assert done["StartedAt"] >= record(admin, a)["CompletedAt"]


def test_a_failure_cancels_three_levels_each_naming_its_dependency(
    admin: httpx.Client, tmp_path: Path
) -> None:
    command, gate = gated(tmp_path, "exit 3")
    a = submit(admin, command)
    b = submit(admin, "echo b", a)
    c = submit(admin, "echo c", b)
    d = submit(admin, "echo d", c)
    gate.touch()

    assert wait_finished(admin, a)["Status"] == "Failed"
    for job_id, cause, status in ((b, a, "Failed"), (c, b, "Cancelled"), (d, c, "Cancelled")):
        ended = wait_finished(admin, job_id)
        assert (ended["Status"], ended["StartedAt"]) == ("Cancelled", None)
        assert output(admin, job_id) == f"[Job cancelled: dependency {cause} ended {status}]\n"


def test_fan_in_of_fifty_runs_only_after_all_fifty(admin: httpx.Client, tmp_path: Path) -> None:
    command, gate = gated(tmp_path, "true")
    firsts = [submit(admin, "true", name=f"fan-{n}") for n in range(49)]
    firsts.append(submit(admin, command, name="fan-last"))
    last = submit(admin, "echo all", *firsts)
    for job_id in firsts[:-1]:
        assert wait_finished(admin, job_id)["Status"] == "Completed"
    assert record(admin, last)["Status"] == "Waiting"
    assert record(admin, last)["PendingReason"] == f"waiting for {firsts[-1]}"
    gate.touch()

    done = wait_finished(admin, last)
    assert done["Status"] == "Completed"
    assert done["StartedAt"] >= max(record(admin, j)["CompletedAt"] for j in firsts)


def test_an_unknown_dependency_is_a_400_and_stores_nothing(admin: httpx.Client) -> None:
    known = submit(admin, "true")
    wait_finished(admin, known)
    before = admin.get("/jobs").json()["counts"]

    body = {
        "jobName": "x",
        "command": "true",
        "executionMode": "BackgroundJob",
        "dependsOn": [known, UNKNOWN],
    }
    response = admin.post("/jobs/submit", json=body)

    assert response.status_code == 400
    assert response.json() == {"success": False, "error": f"Unknown job in dependsOn: {UNKNOWN}"}
    assert admin.get("/jobs").json()["counts"] == before


def test_a_dependency_the_caller_may_not_see_is_answered_as_an_unknown_one_and_stores_nothing(
    server: Server, keys: Keys, admin: httpx.Client
) -> None:
    # Every submit of a command by a user who may not see others' jobs is refused for its
    # roles before dependsOn is looked at: the answer for another user's job is the one for
    # an id that does not exist, so it says nothing of the job (the store's own 400 for an
    # invisible id: tests/store/test_dependencies.py).
    with server.client(keys.manager) as manager:
        theirs = submit(manager, "true")
    wait_finished(admin, theirs)
    everyone = admin.get("/jobs", params={"allUsers": "true"}).json()["counts"]
    with server.client(keys.bob) as bob:
        own = bob.get("/jobs").json()
        answers = []
        for dependency in (theirs, UNKNOWN):
            body = {"jobName": "x", "command": "true", "executionMode": "BackgroundJob"}
            response = bob.post("/jobs/submit", json=body | {"dependsOn": [dependency]})
            answers.append((response.status_code, response.json()))
        assert bob.get("/jobs").json() == own

    assert answers[0] == answers[1]
    assert answers[0] == (403, {"success": False, "error": policy.ELEVATED_REFUSAL})
    assert admin.get("/jobs", params={"allUsers": "true"}).json()["counts"] == everyone
    assert record(admin, theirs)["Status"] == "Completed"


def test_a_completed_dependency_counts_as_done_and_a_failed_one_cancels_at_once(
    admin: httpx.Client,
) -> None:
    good, bad = submit(admin, "true"), submit(admin, "exit 1")
    wait_finished(admin, good)
    wait_finished(admin, bad)

    runs = submit(admin, "echo ran", good)
    cancelled = submit(admin, "echo never", good, bad)

    assert wait_finished(admin, runs)["Status"] == "Completed"
    ended = record(admin, cancelled)
    assert (ended["Status"], ended["StartedAt"]) == ("Cancelled", None)
    assert output(admin, cancelled) == f"[Job cancelled: dependency {bad} ended Failed]\n"


def test_another_users_job_is_a_dependency_a_privileged_user_may_name(
    server: Server, keys: Keys, admin: httpx.Client
) -> None:
    # Only privileged users submit commands, and they see every job: their dependsOn may
    # name anyone's (the store refuses what the submitter may not see: tests/store).
    with server.client(keys.manager) as manager:
        theirs = submit(manager, "true")
    assert wait_finished(admin, submit(admin, "true", theirs))["Status"] == "Completed"


@pytest.mark.parametrize(
    ("watch", "code"),
    [([], 0), (["--wait"], 143), (["--follow"], 143)],
    ids=["plain", "wait", "follow"],
)
def test_cli_submit_after_a_failed_job_says_the_job_was_cancelled_and_why(
    server: Server, keys: Keys, admin: httpx.Client, watch: list[str], code: int
) -> None:
    bad = submit(admin, "exit 1")
    wait_finished(admin, bad)
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.admin}

    result = run_cli(server.data_dir, "submit", *watch, "--after", bad, "--", "true", env=env)

    assert result.returncode == code, result.stderr
    [job_id] = re.findall(r"job ([0-9a-f-]{36}) was submitted", result.stderr)
    assert result.stdout == ("" if watch == ["--follow"] else f"{job_id}\n")
    assert result.stderr == (
        f"job {job_id} was submitted and cancelled at once: dependency {bad} ended Failed\n"
    )
    assert record(admin, job_id)["Status"] == "Cancelled"


def test_cli_submit_after_waits_for_each_job_named(
    server: Server, keys: Keys, admin: httpx.Client, tmp_path: Path
) -> None:
    command, gate = gated(tmp_path, "true")
    first, second = submit(admin, command), submit(admin, "true")
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.admin}

    result = run_cli(
        server.data_dir, "submit", "--after", first, "--after", second, "--", "echo after", env=env
    )

    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    waiting = wait_for(admin, job_id, lambda job: job["Status"] == "Waiting")
    assert waiting["PendingReason"] == f"waiting for {first}"
    gate.touch()
    assert wait_finished(admin, job_id)["Status"] == "Completed"
    assert output(admin, job_id) == "after\n"


def test_cli_jobs_shows_waiting_and_scheduled_jobs_with_their_reasons(
    server: Server, keys: Keys, admin: httpx.Client, tmp_path: Path
) -> None:
    command, gate = gated(tmp_path, "true")
    first = submit(admin, command)
    waiting = submit(admin, "true", first, name="waits")
    later = {"jobName": "later", "command": "true", "executionMode": "BackgroundJob"}
    answer = admin.post("/jobs/submit", json=later | {"runAt": "2099-01-01T00:00:00Z"}).json()
    scheduled = answer["jobId"]
    env = {"JOBHOST_URL": server.url, "JOBHOST_TOKEN": keys.admin}
    try:
        table = run_cli(server.data_dir, "jobs", "--pending", env=env)
        listed = run_cli(server.data_dir, "jobs", "--pending", "--json", env=env)
    finally:
        for job_id in (waiting, scheduled):
            admin.delete("/jobs", params={"jobId": job_id})
        gate.touch()

    assert table.returncode == 0, table.stderr
    # Each reason is on the line under its job's row, in the status column.
    lines = table.stdout.splitlines()
    rows = {
        job_id: next(i for i, line in enumerate(lines) if job_id in line)
        for job_id in (waiting, scheduled)
    }
    assert "Waiting" in lines[rows[waiting]] and f"waiting for {first}" in lines[rows[waiting] + 1]
    assert "Scheduled" in lines[rows[scheduled]]
    assert "scheduled for 2099-01-01T00:00:00.000Z" in lines[rows[scheduled] + 1]
    reasons = {
        job["id"]: (job["status"], job["pending_reason"]) for job in json.loads(listed.stdout)
    }
    assert reasons[waiting] == ("Waiting", f"waiting for {first}")
    assert reasons[scheduled] == ("Scheduled", "scheduled for 2099-01-01T00:00:00.000Z")
