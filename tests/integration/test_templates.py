"""The job catalog against a real server: ``jobs/catalog``, ``jobs/start``, ``jobs/stop`` with
a template, the rerun of a template job, injection attempts through variables, broken and
edited catalog files (the client and the CLI: test_cli_templates.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import (
    Server,
    clients,
    create_user,
    serving,
    wait_finished,
    wait_for,
)
from tests.integration.test_api import error_of

START_REFUSAL = "Access denied: You do not have permission to start this job"
STOP_REFUSAL = "Access denied: You do not have permission to stop this job"
ELEVATED_REFUSAL = (
    "Runspace/BackgroundJob execution requires elevated roles "
    "(task_manager, debug, system_admin, or site_admin)"
)
PRIVILEGED = ["debug", "site_admin", "system_admin", "task_manager"]
CATALOG = {
    "echo.toml": """
name = "Echo"
command = "printf '[%s]\\\\n' {{v}}"
startRoles = ["authenticated"]
[[variables]]
name = "v"
""",
    "checked.toml": """
name = "Checked"
description = "Two checked variables"
command = "echo {{path}} {{level}}"
startRoles = ["authenticated"]
[[variables]]
name = "path"
description = "A path"
pattern = "^/[a-z/]+$"
[[variables]]
name = "level"
choices = ["info", "warn"]
default = "info"
""",
    "sleeper.toml": 'name = "Sleeper"\ncommand = "sleep 30"\nstartRoles = ["authenticated"]\n',
    "guarded.toml": """
name = "Guarded"
command = "sleep 30"
startRoles = ["authenticated"]
stopRoles = ["operator"]
""",
    "admin-only.toml": 'name = "Admin only"\ncommand = "echo secret"\n',
    "reports/py.toml": """
name = "Python report"
executionMode = "Runspace"
startRoles = ["authenticated"]
command = "print('name:', repr(variables['name']), sorted(variables))"
[[variables]]
name = "name"
""",
    "reports/bad-py.toml": """
name = "Spliced"
executionMode = "Runspace"
startRoles = ["authenticated"]
command = "print('{{name}}')"
[[variables]]
name = "name"
""",
    "broken.toml": "name = [unclosed",
}


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"))


def write_catalog(root: Path) -> Path:
    for relative, text in CATALOG.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.fixture(scope="module")
def oper_key(server_dir: Path, keys: Keys) -> str:
    """A user whose only role is one the catalog invents: ``operator``."""
    return create_user(server_dir, "oper", "operator")


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys, oper_key: str, catalog_dir: Path) -> Iterator[Server]:
    env = {"JOBHOST_STOP_GRACE_SECONDS": "1", "JOBHOST_CATALOG_DIR": str(catalog_dir)}
    with serving(server_dir, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: Server, keys: Keys, oper_key: str) -> Iterator[dict[str, httpx.Client]]:
    tokens = {"admin": keys.admin, "manager": keys.manager, "alice": keys.alice}
    with clients(server, tokens | {"bob": keys.bob, "oper": oper_key}) as made:
        yield made


def start(client: httpx.Client, template_id: str, **variables: object) -> httpx.Response:
    return client.post("/jobs/start", json={"jobId": template_id, "variables": variables})


def started(client: httpx.Client, template_id: str, **variables: object) -> str:
    response = start(client, template_id, **variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "message", "jobId", "executionId", "status"}
    assert (body["success"], body["message"], body["status"]) == (
        True,
        "Job started successfully",
        "Queued",
    )
    assert body["jobId"] == template_id
    job_id: str = body["executionId"]
    return job_id


def output(client: httpx.Client, job_id: str) -> str:
    text: str = client.get("/jobs/output", params={"jobId": job_id}).json()["output"]
    return text


def catalog(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/jobs/catalog")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_plain_user_starts_a_permitted_template_as_their_own_job(
    http: dict[str, httpx.Client],
) -> None:
    job_id = started(http["alice"], "checked", path="/tmp/x")
    job = wait_finished(http["alice"], job_id)
    assert (job["Status"], job["UserID"], job["TemplateID"]) == ("Completed", "alice", "checked")
    assert (job["JobName"], job["Description"]) == ("Checked", "Two checked variables")
    assert job["Command"] == "echo /tmp/x info"
    assert output(http["alice"], job_id) == "/tmp/x info\n"


def test_a_plain_user_is_refused_other_templates_and_free_form_submits(
    http: dict[str, httpx.Client],
) -> None:
    alice = http["alice"]
    for template_id in ("admin-only", "no-such-template", "../etc/passwd", "broken"):
        assert error_of(start(alice, template_id)) == (403, START_REFUSAL)
    submit = {"jobName": "x", "command": "echo hi", "executionMode": "BackgroundJob"}
    assert error_of(alice.post("/jobs/submit", json=submit)) == (403, ELEVATED_REFUSAL)
    wait_finished(http["admin"], started(http["admin"], "admin-only"))


def test_bad_variables_are_400s_naming_each_of_them(http: dict[str, httpx.Client]) -> None:
    alice = http["alice"]
    assert error_of(start(alice, "checked", path="/tmp; rm", level="loud", x="1")) == (
        400,
        "Unknown variable: x; Invalid value for path: must match ^/[a-z/]+$; "
        "Invalid value for level: must be one of: info, warn",
    )
    assert error_of(start(alice, "checked")) == (400, "Missing required variable: path")
    assert error_of(start(alice, "checked", path=5)) == (
        400,
        "Invalid value for path: must be a string",
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "Missing required field: jobId"),
        ({"jobId": 5}, "Invalid jobId: Input should be a valid string"),
        (
            {"jobId": "echo", "variables": ["v"]},
            "Invalid variables: Input should be a valid dictionary",
        ),
        ({"jobId": "echo", "vars": {}}, "Unknown field: vars"),
    ],
)
def test_start_bodies_are_checked(
    http: dict[str, httpx.Client], body: dict[str, object], error: str
) -> None:
    assert error_of(http["alice"].post("/jobs/start", json=body)) == (400, error)


def test_the_catalog_shows_a_plain_user_only_what_they_may_use_and_no_errors(
    http: dict[str, httpx.Client],
) -> None:
    body = catalog(http["alice"])
    assert set(body) == {"success", "jobs", "count", "userRoles", "errors"}
    ids = [item["jobId"] for item in body["jobs"]]
    assert ids == ["checked", "echo", "guarded", "reports/py", "sleeper"]
    assert (body["count"], body["userRoles"], body["errors"]) == (5, ["authenticated"], [])
    checked = body["jobs"][0]
    assert checked == {
        "jobId": "checked",
        "displayName": "Checked",
        "description": "Two checked variables",
        "executionMode": "BackgroundJob",
        "schedule": None,
        "timezone": "UTC",
        "templateVariables": [
            {
                "name": "path",
                "description": "A path",
                "default": None,
                "required": True,
                "pattern": "^/[a-z/]+$",
                "choices": None,
            },
            {
                "name": "level",
                "description": "",
                "default": "info",
                "required": False,
                "pattern": None,
                "choices": ["info", "warn"],
            },
        ],
        "permissions": {"canStart": True, "canStop": True},
        "roles": {"start": ["authenticated"], "stop": PRIVILEGED},
    }


def test_broken_files_are_listed_for_privileged_callers_and_the_rest_works(
    http: dict[str, httpx.Client],
) -> None:
    body = catalog(http["manager"])
    assert "admin-only" in [item["jobId"] for item in body["jobs"]]
    errors = {error["file"]: error["error"] for error in body["errors"]}
    assert sorted(errors) == ["broken.toml", "reports/bad-py.toml"]
    assert errors["broken.toml"].startswith("is not valid TOML")
    assert "{{name}} in Python source" in errors["reports/bad-py.toml"]


CANARY_VALUES = [
    "; touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    "x\ntouch {canary}",
    "'; touch {canary}; '",
    '"; touch {canary}; "',
    "--option=$(touch {canary})",
    "-n",
    "\\'; touch {canary} #",
]


@pytest.mark.parametrize("template", CANARY_VALUES)
def test_shell_injection_through_a_variable_runs_nothing(
    http: dict[str, httpx.Client], tmp_path: Path, template: str
) -> None:
    canary = tmp_path / "CANARY"
    value = template.format(canary=canary)
    job_id = started(http["alice"], "echo", v=value)
    assert wait_finished(http["alice"], job_id)["Status"] == "Completed"
    assert output(http["alice"], job_id) == f"[{value}]\n"
    assert not canary.exists()


def test_a_python_template_reads_its_variables_as_data(http: dict[str, httpx.Client]) -> None:
    value = "'); import os; os.system('touch /tmp/x'); print('"
    job_id = started(http["alice"], "reports/py", name=value)
    assert wait_finished(http["alice"], job_id)["Status"] == "Completed"
    assert output(http["alice"], job_id) == f"name: {value!r} ['name']\n"


def test_a_file_edit_is_picked_up_within_two_seconds(
    http: dict[str, httpx.Client], catalog_dir: Path
) -> None:
    path = catalog_dir / "late.toml"
    path.write_text('name = "Late"\ncommand = "echo late"\nstartRoles = ["authenticated"]\n')
    _within_two_seconds(lambda: "late" in _ids(http["alice"]))
    path.write_text('name = "Late, renamed"\ncommand = "echo late"\n')  # now admins only
    _within_two_seconds(lambda: "late" not in _ids(http["alice"]))
    path.unlink()
    _within_two_seconds(lambda: "late" not in _ids(http["admin"]))


def _ids(client: httpx.Client) -> list[str]:
    return [item["jobId"] for item in catalog(client)["jobs"]]


def _within_two_seconds(condition: Any) -> None:
    deadline = time.monotonic() + 2.0
    while not condition():
        assert time.monotonic() < deadline, "the catalog did not change within 2 s"
        time.sleep(0.05)


def stop_template(client: httpx.Client, template_id: str) -> httpx.Response:
    return client.post("/jobs/stop", json={"jobId": template_id})


def stopped(client: httpx.Client, template_id: str) -> set[str]:
    response = stop_template(client, template_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: v for k, v in body.items() if k != "stopped"} == {
        "success": True,
        "message": "Job stop command queued successfully",
        "jobId": template_id,
        "status": "StopQueued",
    }
    return set(body["stopped"])


def running(client: httpx.Client, template_id: str) -> str:
    job_id = started(client, template_id)
    wait_for(client, job_id, lambda job: job["Status"] == "Running")
    return job_id


def test_stop_by_template_stops_the_callers_jobs_and_privileged_roles_everyones(
    http: dict[str, httpx.Client],
) -> None:
    alice, bob, manager = http["alice"], http["bob"], http["manager"]
    hers, his = running(alice, "sleeper"), running(bob, "sleeper")
    assert stopped(alice, "sleeper") == {hers}
    assert wait_finished(alice, hers)["Status"] == "Stopped"
    assert wait_for(bob, his, lambda job: job["Status"] == "Running")
    assert stopped(manager, "sleeper") == {his}
    assert wait_finished(bob, his)["Status"] == "Stopped"
    assert stopped(manager, "sleeper") == set()


def test_stop_roles_let_their_holders_stop_everyones_jobs_of_that_template(
    http: dict[str, httpx.Client],
) -> None:
    alice, oper = http["alice"], http["oper"]
    guarded = {item["jobId"]: item["permissions"] for item in catalog(oper)["jobs"]}["guarded"]
    assert guarded == {"canStart": True, "canStop": True}  # authenticated may start it too
    hers = running(alice, "guarded")
    assert error_of(stop_template(oper, "admin-only")) == (403, STOP_REFUSAL)
    assert stopped(oper, "guarded") == {hers}
    assert wait_finished(alice, hers)["Status"] == "Stopped"
    assert error_of(stop_template(alice, "admin-only")) == (403, STOP_REFUSAL)
    assert error_of(stop_template(alice, "nope")) == (403, STOP_REFUSAL)
    assert error_of(alice.post("/jobs/stop", json={})) == (400, "Missing required field: jobId")


def test_the_stop_of_one_job_by_its_id_still_works(http: dict[str, httpx.Client]) -> None:
    job_id = running(http["alice"], "sleeper")
    response = http["alice"].post("/jobs/stop", params={"jobId": job_id})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Job stopped successfully"


def test_a_template_job_runs_again_through_its_template(http: dict[str, httpx.Client]) -> None:
    alice = http["alice"]
    old = started(alice, "checked", path="/var", level="warn")
    wait_finished(alice, old)
    response = alice.post("/jobs/rerun", json={"jobId": old})
    assert response.status_code == 200, response.text
    assert response.json()["rerunOf"] == old
    new = wait_finished(alice, response.json()["jobId"])
    assert (new["TemplateID"], new["RerunOf"], new["Status"]) == ("checked", old, "Completed")
    assert output(alice, new["JobID"]) == "/var warn\n"
