"""The access-control sweep: every route that takes an object id, HTTP and WebSocket,
answers a plain user who names another user's object exactly as it answers an id that
names nothing (404, or the contract's 403 for templates and user filters), and changes
nothing. The cases come from ``ROUTES``, which test_route_table holds to the app's table.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import Server
from tests.security.conftest import UNKNOWN, Objects
from tests.security.probe import Caller, send
from tests.security.routes import ROUTES, WS, IdField, Kind

READS = ("GET", WS)

CASES = [
    pytest.param(key, field, id=f"{key[0]} {key[1]} {field.where}:{field.name}")
    for key, row in ROUTES.items()
    for field in row.ids
]


@pytest.mark.parametrize(("key", "field"), CASES)
def test_another_users_object_is_answered_as_a_missing_one(
    server: Server, keys: Keys, objects: Objects, key: tuple[str, str], field: IdField
) -> None:
    others = objects.others[field.kind]
    assert others, f"no {field.kind.value} of another user's to try {key} on: make one"
    alice, root = Caller(token=keys.alice), Caller(token=keys.admin)
    own = objects.own["alice"]
    unknown_id = UNKNOWN[field.kind]
    missing = send(server, alice, field.call(*key, unknown_id).filled(own))
    assert missing.status == field.refusal, (key, missing)
    for name, object_id in others.items():
        answer = send(server, alice, field.call(*key, object_id).filled(own))
        assert answer.without(object_id) == missing.without(unknown_id), (
            f"{key} {field.name}={name} answers differently from an unknown id: "
            f"{answer} vs {missing}"
        )
        if key[0] in READS:  # the same read by a privileged user does reach the object
            assert send(server, root, field.call(*key, object_id)).status == 200, (key, name)


def test_the_sweep_changed_none_of_the_objects(
    http: dict[str, httpx.Client], objects: Objects
) -> None:
    root = http["root"]
    jobs = objects.others[Kind.JOB]
    for name, job_id in jobs.items():
        job = root.get("/jobs", params={"jobId": job_id})
        assert job.status_code == 200, (name, job.text)
        expected = "Running" if "running" in name else "Completed"
        assert job.json()["job"]["Status"] == expected, name
    for name, schedule_id in objects.others[Kind.SCHEDULE].items():
        schedule = root.get("/schedules", params={"scheduleId": schedule_id})
        assert schedule.status_code == 200, (name, schedule.text)
        record = schedule.json()["schedule"]
        assert record["Enabled"] is True, name
        assert record["TemplateID"] in (None, "hello", "nightly"), name
