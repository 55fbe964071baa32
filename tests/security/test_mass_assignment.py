"""Mass assignment: a record's own fields (``UserID``, ``Status``, ``ExitCode``, ...) sent in
a request body are a 400 naming the field, and nothing is stored or changed: in a submit
(the API's and the spool folder's), a schedule's create and patch, a template start and a
rerun. The contract makes every unknown key of a submit a 400; these are the ones an
attacker would try."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server import Server
from tests.security.conftest import Objects, ok
from tests.security.probe import Caller, send
from tests.security.routes import (
    CRON,
    OWN_JOB,
    OWN_SCHEDULE,
    ROUTES,
    SUBMIT,
    Call,
    app_routes,
    body_calls,
)

RECORD_FIELDS: dict[str, object] = {
    "UserID": "bob@example.com",
    "Status": "Completed",
    "ExitCode": 0,
    "Success": True,
    "JobID": "0b7e2c9a-5d4f-4e3a-9b8c-1a2d3e4f5a6b",
    "Attempt": 3,
    "Node": "elsewhere",
    "TemplateID": "admin-only",
    "ScheduleID": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "RerunOf": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
    "CpuSeconds": 0.0,
    "MaxRssBytes": 1,
}
LOWER_CAMEL = {"UserID": "userId", "JobID": "jobId", "TemplateID": "templateId"}
LOWER_CAMEL |= {"ScheduleID": "scheduleId", "RerunOf": "rerunOf"}
FIELDS = RECORD_FIELDS | {
    LOWER_CAMEL.get(key, key[0].lower() + key[1:]): value for key, value in RECORD_FIELDS.items()
}
NOT_IN_A_SCHEDULE = {key: value for key, value in FIELDS.items() if key != "templateId"}
SCHEDULE_FIELDS = {
    **NOT_IN_A_SCHEDULE,
    "NextRunAt": "2030-01-01T00:00:00.000Z",
    "LastRunAt": "2020-01-01T00:00:00.000Z",
    "LastJobID": "3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b",
    "declaredBy": "nightly",
}
NAMES = sorted(FIELDS)
NOT_AN_ID = [name for name in NAMES if name != "jobId"]


def refused(response: httpx.Response, field: str) -> None:
    assert (response.status_code, response.json()) == (
        400,
        {"success": False, "error": f"Unknown field: {field}"},
    ), response.text


def everything(root: httpx.Client) -> tuple[Any, Any]:
    """Every user's jobs and schedules, as a privileged user lists them."""
    jobs = ok(root.get("/jobs", params={"allUsers": "true", "maxResults": "1000"}))
    schedules = ok(root.get("/schedules", params={"allUsers": "true"}))["schedules"]
    return jobs["counts"], [(s["ScheduleID"], s["Enabled"], s["Name"]) for s in schedules]


@pytest.mark.parametrize("field", NAMES)
def test_a_record_field_in_a_submit_is_refused(
    http: dict[str, httpx.Client], objects: Objects, field: str
) -> None:
    before = everything(http["root"])
    refused(http["root"].post("/jobs/submit", json={**SUBMIT, field: FIELDS[field]}), field)
    assert everything(http["root"]) == before


@pytest.mark.parametrize("field", sorted(SCHEDULE_FIELDS))
def test_a_record_field_in_a_new_schedule_is_refused(
    http: dict[str, httpx.Client], objects: Objects, field: str
) -> None:
    before = everything(http["root"])
    value = SCHEDULE_FIELDS[field]
    free_form = {"name": "mass", "cron": CRON, **SUBMIT, field: value}
    refused(http["root"].post("/schedules", json=free_form), field)
    of_template = {"name": "mass", "cron": CRON, "templateId": "hello", field: value}
    refused(http["alice"].post("/schedules", json=of_template), field)
    assert everything(http["root"]) == before


@pytest.mark.parametrize("field", sorted(SCHEDULE_FIELDS))
def test_a_record_field_in_a_schedule_patch_is_refused_even_as_null(
    http: dict[str, httpx.Client], objects: Objects, field: str
) -> None:
    alice = http["alice"]
    params = {"scheduleId": objects.own["alice"][OWN_SCHEDULE]}
    before = ok(alice.get("/schedules", params=params))["schedule"]
    for value in (SCHEDULE_FIELDS[field], None):
        refused(alice.patch("/schedules", params=params, json={field: value}), field)
        refused(
            alice.patch("/schedules", params=params, json={"enabled": False, field: value}), field
        )
    assert ok(alice.get("/schedules", params=params))["schedule"] == before


@pytest.mark.parametrize("field", NOT_AN_ID)
def test_a_record_field_in_a_start_or_a_rerun_is_refused(
    http: dict[str, httpx.Client], objects: Objects, field: str
) -> None:
    alice = http["alice"]
    before = everything(http["root"])
    value = FIELDS[field]
    refused(alice.post("/jobs/start", json={"jobId": "hello", field: value}), field)
    rerun = {"jobId": objects.own["alice"][OWN_JOB], field: value}
    refused(alice.post("/jobs/rerun", json=rerun), field)
    assert everything(http["root"]) == before


def test_a_record_field_in_a_spool_file_rejects_the_file(
    sweep_dir: Path, http: dict[str, httpx.Client], objects: Objects
) -> None:
    folder = sweep_dir / "JobSubmission" / "manager"
    folder.mkdir(parents=True, exist_ok=True)
    for field in NAMES:
        body = {**SUBMIT, "jobName": f"spooled {field}", field: FIELDS[field]}
        partial = folder / f".{field}.partial"
        partial.write_text(json.dumps(body))
        partial.rename(folder / f"{field}.json")
    rejected = sweep_dir / "JobSubmission" / ".rejected"
    reasons = {field: rejected / f"manager.{field}.json.error.txt" for field in NAMES}
    deadline = time.monotonic() + 30
    while not all(path.exists() for path in reasons.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for field, path in reasons.items():
        assert path.read_text() == f"Unknown field: {field}\n"
    listed = ok(http["manager"].get("/jobs"))["jobs"]
    names = {job["JobName"] for jobs in listed.values() for job in jobs}
    assert not {name for name in names if name.startswith("spooled ")}


def _bodies() -> list[pytest.ParameterSet]:
    """A request with a body for every route whose body the app documents, aimed at the
    caller's own objects (each would succeed as it is)."""
    documented = {key for key, route in app_routes().items() if route.body_fields}
    calls = []
    for key, row in ROUTES.items():
        if key in documented and not row.public:
            for call in body_calls(key, row):
                calls.append(pytest.param(call, id=call.label))
    return calls


@pytest.mark.parametrize("call", _bodies())
def test_every_documented_body_refuses_a_record_field(
    server: Server, objects: Objects, carol_key: str, call: Call
) -> None:
    """Generated from the route table, so a route added later is held to it too."""
    before = everything_of(server, carol_key)
    forged = Call(call.method, call.path, call.params, {**(call.body or {}), "UserID": "bob"})
    answer = send(server, Caller(token=carol_key), forged.filled(objects.own["carol"]))
    assert (answer.status, answer.body) == (
        400,
        {"success": False, "error": "Unknown field: UserID"},
    )
    assert everything_of(server, carol_key) == before


def everything_of(server: Server, token: str) -> tuple[Any, Any]:
    with server.client(token) as client:
        return everything(client)
