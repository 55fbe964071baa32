"""The schedule routes in-process: the contract's envelopes and record keys, 400s naming the
field, 404 for someone else's schedule and 403 for a plain user's allUsers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jobhost.auth.keys import create_key
from jobhost.clock import SystemClock
from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.store import SqlStore

BASE = "/apps/WebHostTaskManagement/api/v1"
RECORD_KEYS = [
    "ScheduleID",
    "Name",
    "Cron",
    "Timezone",
    "Overlap",
    "Enabled",
    "UserID",
    "TemplateID",
    "NextRunAt",
    "LastRunAt",
    "LastJobID",
    "NextRuns",
    "LastSkippedAt",
    "LastError",
    "LastErrorAt",
]
JOB = {"command": "echo hi", "executionMode": "BackgroundJob"}


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    store = SqlStore.open(settings.store_url, SystemClock())
    try:
        made = {}
        for name, roles in (
            ("root", {"system_admin"}),
            ("tm", {"task_manager"}),
            ("plain", set()),
            ("other", set()),
        ):
            store.users.add_user(name, frozenset(roles), None)
            made[name] = create_key(store.users, SystemClock(), name, None, None).token
        return made
    finally:
        store.close()


@pytest.fixture
def client(settings: Settings, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_engine=False), base_url="http://t" + BASE) as c:
        yield c


def auth(tokens: dict[str, str], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[name]}"}


def create(client: TestClient, headers: dict[str, str], **fields: Any) -> str:
    body = {"name": "nightly", "cron": "0 3 * * *", **JOB, **fields}
    response = client.post("/schedules", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer) == ["success", "scheduleId", "nextRunAt"]
    assert answer["success"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT0[123]:00:00\.000Z", answer["nextRunAt"])
    schedule_id: str = answer["scheduleId"]
    return schedule_id


def test_create_list_get_patch_delete_with_the_contracts_keys(
    client: TestClient, tokens: dict[str, str]
) -> None:
    root = auth(tokens, "root")
    schedule_id = create(client, root, timezone="Europe/Berlin")

    listed = client.get("/schedules", headers=root).json()
    assert list(listed) == ["success", "schedules", "count"] and listed["count"] == 1
    [record] = listed["schedules"]
    assert list(record) == RECORD_KEYS
    assert record["ScheduleID"] == schedule_id and record["UserID"] == "root"
    assert (record["Overlap"], record["Enabled"], record["Timezone"]) == (
        "skip",
        True,
        "Europe/Berlin",
    )
    assert len(record["NextRuns"]) == 5 and record["NextRuns"][0] == record["NextRunAt"]
    assert record["NextRunAt"].endswith(("T02:00:00.000Z", "T01:00:00.000Z"))  # 03:00 in Berlin

    one = client.get("/schedules", params={"scheduleId": schedule_id}, headers=root).json()
    assert one == {"success": True, "schedule": record}

    paused = client.patch(
        "/schedules", params={"scheduleId": schedule_id}, json={"enabled": False}, headers=root
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["schedule"]["NextRunAt"] is None
    assert paused.json()["schedule"]["NextRuns"] == []

    gone = client.delete("/schedules", params={"scheduleId": schedule_id}, headers=root)
    assert gone.json() == {
        "success": True,
        "message": "Schedule deleted successfully",
        "scheduleId": schedule_id,
    }
    assert client.get("/schedules", headers=root).json()["count"] == 0


def test_another_users_schedule_is_404_and_a_plain_users_all_users_is_403(
    client: TestClient, tokens: dict[str, str]
) -> None:
    root = auth(tokens, "root")
    schedule_id = create(client, root)
    other = auth(tokens, "other")

    for response in (
        client.get("/schedules", params={"scheduleId": schedule_id}, headers=other),
        client.patch("/schedules", params={"scheduleId": schedule_id}, json={}, headers=other),
        client.delete("/schedules", params={"scheduleId": schedule_id}, headers=other),
    ):
        assert response.status_code == 404
        assert response.json() == {"success": False, "error": f"Schedule not found: {schedule_id}"}
    refused = client.get("/schedules", params={"allUsers": "true"}, headers=other)
    assert refused.status_code == 403
    assert client.get("/schedules", headers=other).json()["schedules"] == []
    assert client.get("/schedules", params={"allUsers": "true"}, headers=root).json()["count"] == 1


def test_user_id_lists_one_users_schedules_for_a_privileged_role_only(
    client: TestClient, tokens: dict[str, str]
) -> None:
    schedule_id = create(client, auth(tokens, "root"))
    create(client, auth(tokens, "tm"))

    listed = client.get("/schedules", params={"userId": "root"}, headers=auth(tokens, "tm"))
    assert [s["ScheduleID"] for s in listed.json()["schedules"]] == [schedule_id]
    refused = client.get("/schedules", params={"userId": "root"}, headers=auth(tokens, "plain"))
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("Viewing other users' schedules requires elevated")
    bad = client.get("/schedules", params={"userId": "a/b"}, headers=auth(tokens, "tm"))
    assert (bad.status_code, bad.json()["error"]) == (400, "Invalid userId")


def test_root_changing_another_users_schedule_is_a_403_but_pausing_it_works(
    client: TestClient, tokens: dict[str, str]
) -> None:
    root, schedule_id = auth(tokens, "root"), create(client, auth(tokens, "tm"))
    where = {"scheduleId": schedule_id}

    refused = client.patch("/schedules", params=where, json={"command": "echo x"}, headers=root)
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("Only a schedule's owner may change")
    paused = client.patch("/schedules", params=where, json={"enabled": False}, headers=root)
    assert paused.status_code == 200
    record = paused.json()["schedule"]
    assert (record["UserID"], record["Enabled"], record["NextRunAt"]) == ("tm", False, None)


def test_a_plain_users_free_form_schedule_is_refused_as_a_submit_would_be(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = {"name": "n", "cron": "0 3 * * *", **JOB}
    response = client.post("/schedules", json=body, headers=auth(tokens, "plain"))
    assert response.status_code == 403
    assert response.json()["error"].startswith("Runspace/BackgroundJob execution requires")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"cron": "every day"}, "Invalid cron: must be 5 fields"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Base"}, "Invalid timezone: unknown time zone"),
        ({"cron": "0 3 * * *", "timezone": ""}, "Invalid timezone: must be an IANA time zone"),
        ({}, "Missing required parameter: cron"),
        ({"cron": "*" * 201}, "Invalid cron: at most 200 characters"),
        ({"cron": "61 * * * *"}, "Invalid cron: minute field 61 is out of range 0-59"),
    ],
)
def test_preview_400s_name_cron_or_timezone(
    client: TestClient, tokens: dict[str, str], params: dict[str, str], error: str
) -> None:
    response = client.get("/schedules/preview", params=params, headers=auth(tokens, "plain"))
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_preview_gives_five_utc_times(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/schedules/preview",
        params={"cron": "30 2 * * *", "timezone": "Asia/Kolkata"},
        headers=auth(tokens, "plain"),
    )
    answer = response.json()
    assert list(answer) == ["success", "nextRuns"] and len(answer["nextRuns"]) == 5
    assert all(text.endswith("T21:00:00.000Z") for text in answer["nextRuns"])


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"cron": "0 3 * * *", **JOB}, "Missing required field: name"),
        ({"name": "n", "cron": "0 3 * * *", "overlap": 1, **JOB}, "Invalid overlap"),
        ({"name": "n", "cron": "0 3 * * *", "timezone": "", **JOB}, "Invalid timezone"),
        ({"name": "n", "cron": "*" * 400, **JOB}, "Invalid cron: at most 200 characters"),
        ({"name": "n", "cron": "0 0 * * 8", **JOB}, "Invalid cron: day-of-week field 8 is out"),
        ({"name": "n", "cron": "0 3 * * *", "bogus": 1, **JOB}, "Unknown field: bogus"),
        ([1, 2], "Request body must be a JSON object"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(
    client: TestClient, tokens: dict[str, str], body: object, error: str
) -> None:
    response = client.post("/schedules", json=body, headers=auth(tokens, "root"))
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_a_bad_schedule_id_is_a_400(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/schedules", params={"scheduleId": "x/../y"}, headers=auth(tokens, "root")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid scheduleId: must be a UUID"


def test_a_template_schedule_is_refused_while_no_catalog_is_wired(
    client: TestClient, tokens: dict[str, str]
) -> None:
    body = {"name": "n", "cron": "0 3 * * *", "templateId": "disk/usage"}
    response = client.post("/schedules", json=body, headers=auth(tokens, "root"))
    assert response.status_code == 403
    assert response.json()["error"] == "Access denied: You do not have permission to start this job"


def test_a_schedule_past_jobhost_max_schedules_per_user_is_a_409(
    settings: Settings, tokens: dict[str, str]
) -> None:
    capped = settings.model_copy(update={"max_schedules_per_user": 1})
    app = create_app(capped, run_engine=False)
    with TestClient(app, base_url="http://t" + BASE) as client:
        create(client, auth(tokens, "root"))
        body = {"name": "second", "cron": "0 3 * * *", **JOB}
        refused = client.post("/schedules", json=body, headers=auth(tokens, "root"))
    assert refused.status_code == 409
    assert refused.json()["error"].startswith("Schedule limit reached: root has 1 schedules")
