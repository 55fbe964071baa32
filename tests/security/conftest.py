"""One real server for the security tests, its users, and objects of several owners.

alice and bob hold no stored roles; root (system_admin, debug) and manager are privileged;
carol (task_manager) signs in with a password for the CSRF sweep. The catalog lets every
signed-in user start ``hello`` and ``sleeper``; ``admin-only`` is for privileged roles, and
``nightly`` declares a schedule owned by the built-in user ``system``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys, make_keys
from tests.integration.server import (
    Server,
    clients,
    create_key,
    run_cli,
    serving,
    wait_finished,
    wait_for,
)
from tests.security.routes import CRON, OWN_JOB, OWN_SCHEDULE, SUBMIT, Kind

PASSWORD = "sweep password for carol"
CATALOG = {
    "hello.toml": 'name = "Hello"\ncommand = "echo hello"\nstartRoles = ["authenticated"]\n',
    "sleeper.toml": 'name = "Sleeper"\ncommand = "sleep 300"\nstartRoles = ["authenticated"]\n',
    "admin-only.toml": 'name = "Admin only"\ncommand = "echo secret"\n',
    "nightly.toml": f'name = "Nightly"\ncommand = "echo night"\nschedule = "{CRON}"\n',
    "broken.toml": "name = [unclosed",
}
UNKNOWN = {
    Kind.JOB: "3f1b8e52-0c9d-4d8e-9a57-6c1f2b7e0a11",
    Kind.SCHEDULE: "7a2c4e61-1b3d-4f5a-8c9e-0d2f4b6a8c10",
    Kind.WEBHOOK: "9c8b7a65-4321-4fed-8cba-987654321012",
    Kind.TEMPLATE: "no-such-template",
    Kind.USER: "nobody-here",
}
"""An id of each kind that names nothing."""


@dataclass(frozen=True)
class Objects:
    """Other users' objects by kind (description → id) and each caller's own."""

    others: dict[Kind, dict[str, str]]
    own: dict[str, dict[str, str]]


@pytest.fixture(scope="package")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweep")


@pytest.fixture(scope="package")
def keys(sweep_dir: Path) -> Keys:
    return make_keys(sweep_dir)


@pytest.fixture(scope="package")
def carol_key(sweep_dir: Path) -> str:
    """carol (task_manager) has a password, for a browser session, and a key."""
    args = ("user", "add", "carol", "--role", "task_manager", "--password-stdin")
    added = run_cli(sweep_dir, *args, stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    return create_key(sweep_dir, "carol")


@pytest.fixture(scope="package")
def server(sweep_dir: Path, keys: Keys, carol_key: str) -> Iterator[Server]:
    catalog = sweep_dir / "catalog-files"
    catalog.mkdir()
    for name, text in CATALOG.items():
        (catalog / name).write_text(text)
    env = {"JOBHOST_CATALOG_DIR": str(catalog), "JOBHOST_STOP_GRACE_SECONDS": "1"}
    with serving(sweep_dir, env) as srv:
        yield srv


@pytest.fixture(scope="package")
def http(server: Server, keys: Keys, carol_key: str) -> Iterator[dict[str, httpx.Client]]:
    tokens = {"root": keys.admin, "manager": keys.manager, "alice": keys.alice}
    with clients(server, tokens | {"bob": keys.bob, "carol": carol_key}) as made:
        yield made


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def start(client: httpx.Client, template_id: str) -> str:
    return str(ok(client.post("/jobs/start", json={"jobId": template_id}))["executionId"])


def finished_start(client: httpx.Client, template_id: str) -> str:
    job_id = start(client, template_id)
    wait_finished(client, job_id)
    return job_id


def template_schedule(client: httpx.Client, template_id: str) -> str:
    body = {"name": f"{template_id} yearly", "cron": CRON, "templateId": template_id}
    return str(ok(client.post("/schedules", json=body))["scheduleId"])


def declared_schedule(root: httpx.Client, template_id: str) -> str:
    """The schedule a catalog template declares, once the catalog has been read."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = ok(root.get("/schedules", params={"allUsers": "true"}))["schedules"]
        for schedule in listed:
            if schedule["TemplateID"] == template_id and schedule["UserID"] == "system":
                return str(schedule["ScheduleID"])
        time.sleep(0.1)
    raise AssertionError(f"the catalog's schedule of {template_id} never appeared")


@pytest.fixture(scope="package")
def objects(http: dict[str, httpx.Client]) -> Objects:
    root, bob = http["root"], http["bob"]
    running = start(bob, "sleeper")
    wait_for(bob, running, lambda job: job["Status"] == "Running")
    roots_job = str(ok(root.post("/jobs/submit", json=SUBMIT))["jobId"])
    wait_finished(root, roots_job)
    free_form = {"name": "root's", "cron": CRON, **SUBMIT}
    others = {
        Kind.JOB: {
            "bob's finished job": finished_start(bob, "hello"),
            "bob's running job": running,
            "root's job": roots_job,
        },
        Kind.SCHEDULE: {
            "bob's schedule": template_schedule(bob, "hello"),
            "root's schedule": str(ok(root.post("/schedules", json=free_form))["scheduleId"]),
            "system's schedule": declared_schedule(root, "nightly"),
        },
        Kind.TEMPLATE: {"a template alice may not start": "admin-only"},
        Kind.USER: {"bob": "bob@example.com", "root": "root"},
        Kind.WEBHOOK: {},  # no webhook routes yet: make bob's webhooks here when they come
    }
    own = {
        name: {
            OWN_JOB: finished_start(http[name], "hello"),
            OWN_SCHEDULE: template_schedule(http[name], "hello"),
        }
        for name in ("alice", "carol")
    }
    return Objects(others, own)
