"""Fuzzing the API from its own OpenAPI document with schemathesis, against a real server.

Every documented operation is called with generated requests, valid and invalid, as an
admin (system_admin + debug) and as a user with no roles, so that both sides of every
permission check are reached. Each answer must not be a 5xx and must match the document:
its status code, content type, headers and body schema. Schema-valid requests the server
refuses anyway (positive_data_acceptance) are allowed: a job's command, a cron expression
or a user id are checked past what a JSON Schema says, and each such refusal is a 400
naming the field (tests/integration/test_bad_input.py).

The server runs commands as its own user: every request body's ``command`` is replaced by
``true`` just before it is sent (``before_call``, which also covers the requests the checks
send again), so a job, a schedule's job or a rerun can only run that. The templates the
user with no roles may start are the fuzz catalog's one, whose variable is a pattern.

JOBHOST_FUZZ_EXAMPLES sets the examples per operation and caller (docs/FUZZING.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from jobhost import policy
from jobhost.catalog.template import is_valid_template_id
from jobhost.schedules.cron import MAX_CRON_CHARS
from jobhost.server import create_app
from jobhost.settings import Settings
from tests.integration.conftest import Keys
from tests.integration.server import Server, serving, wait_finished

EXAMPLES = int(os.environ.get("JOBHOST_FUZZ_EXAMPLES", "25"))
SAFE_COMMAND = "true"
TEMPLATE_ID = "fuzz/echo"
TEMPLATE = """
name = "Echo"
description = "Prints one word"
command = "printf '%s\\\\n' {{word}}"
startRoles = ["authenticated"]
stopRoles = ["authenticated"]

[[variables]]
name = "word"
default = "hello"
pattern = "^[a-z]{0,12}$"
"""
MODES = ["BackgroundJob", "Runspace", "MainLoop"]
SEEDS = 3  # of each kind: the fuzzer deletes some as it goes
CRONS = ["*/5 * * * *", "0 3 * * MON-FRI", "30 2 * * *"]
# Ids of what exists on the server, filled by the ``existing`` fixture before the fuzzing:
# generated ids are swapped for them now and then, so requests reach real jobs and
# schedules (the caller's own and others'), not only 404s.
KNOWN: dict[str, list[str]] = {"job": [], "schedule": []}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Whatever was generated, no job runs anything but ``true``."""
    if isinstance(case.body, dict) and isinstance(case.body.get("command"), str):
        case.body["command"] = SAFE_COMMAND


def _sometimes(value: object, choices: list[str]) -> st.SearchStrategy[object]:
    return st.sampled_from([value, *choices]) if choices else st.just(value)


def _steered(values: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``values`` with some strings swapped for ones that reach deeper: existing ids, real
    modes and crons. Only a string that is already schema-valid is swapped, for another
    valid one, so a case generated to be invalid stays invalid."""
    parts: dict[str, st.SearchStrategy[object]] = {}
    for key, value in values.items():
        if not isinstance(value, str):
            parts[key] = st.just(value)
        elif key == "executionMode":
            parts[key] = _sometimes(value, MODES)
        elif key == "cron" and len(value) <= MAX_CRON_CHARS:
            parts[key] = _sometimes(value, CRONS)
        elif key in ("jobId", "scheduleId") and policy.is_valid_job_id(value.lower()):
            parts[key] = _sometimes(value, KNOWN["schedule" if key == "scheduleId" else "job"])
        elif key == "jobId" and is_valid_template_id(value):  # for start and stop
            parts[key] = _sometimes(value, [TEMPLATE_ID])
        else:
            parts[key] = st.just(value)
    return st.fixed_dictionaries(parts)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> Any:
    return _steered(query) if isinstance(query, dict) else st.just(query)


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    return _steered(body) if isinstance(body, dict) else st.just(body)


def _document() -> dict[str, Any]:
    """The app's document, built as the server builds it (test_the_server_serves_it checks
    that); the operations are collected from it before any server runs."""
    document: dict[str, Any] = create_app(Settings(data_dir=Path("/nonexistent"))).openapi()
    return document


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fuzzed server's data dir, in tmp, with the fuzz catalog in it."""
    root = tmp_path_factory.mktemp("fuzz")
    template = root / "catalog" / f"{TEMPLATE_ID}.toml"
    template.parent.mkdir(parents=True)
    template.write_text(TEMPLATE)
    return root


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys) -> Iterator[Server]:
    """The shared server's settings, with the invalid-key throttle out of the way: the
    fuzzer sends bad keys on purpose, and expects their 401, not the throttle's 429."""
    env = {"JOBHOST_STOP_GRACE_SECONDS": "2", "JOBHOST_BAD_KEYS_PER_MINUTE": "1000000"}
    with serving(server_dir, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def existing(server: Server, keys: Keys) -> dict[str, list[str]]:
    """Finished jobs of each user, and schedules of the admin's, for the fuzzer to find."""
    with server.client(keys.admin) as admin, server.client(keys.alice) as alice:
        job = {"jobName": "seed", "command": SAFE_COMMAND, "executionMode": MODES[0]}
        answers = [admin.post("/jobs/submit", json=job) for _ in range(SEEDS)]
        answers += [alice.post("/jobs/start", json={"jobId": TEMPLATE_ID}) for _ in range(SEEDS)]
        schedule = {"name": "seed", "cron": CRONS[0], **job}
        scheduled = [admin.post("/schedules", json=schedule) for _ in range(SEEDS)]
        for answer in answers + scheduled:
            assert answer.status_code == 200, answer.text
        jobs = [answer.json().get("executionId") or answer.json()["jobId"] for answer in answers]
        for job_id in jobs:
            wait_finished(admin, job_id)
    KNOWN["job"][:] = jobs
    KNOWN["schedule"][:] = [answer.json()["scheduleId"] for answer in scheduled]
    return KNOWN


@pytest.fixture(scope="module", params=["admin", "alice"])
def caller(request: pytest.FixtureRequest, keys: Keys) -> str:
    """The API key the fuzzer calls with: an admin's, or that of a user with no roles."""
    return str(getattr(keys, request.param))


def test_the_server_serves_the_document_fuzzed(server: Server) -> None:
    assert httpx.get(server.url + "/openapi.json").json() == _document()


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_answers_every_request_as_documented(
    case: Any, server: Server, caller: str, existing: dict[str, list[str]]
) -> None:
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {caller}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )


def test_every_job_the_fuzzer_left_ran_only_the_safe_command(server: Server, keys: Keys) -> None:
    with server.client(keys.admin) as admin:
        listing = admin.get("/jobs", params={"allUsers": "true", "maxResults": 1000}).json()
        jobs = [job for section in listing["jobs"].values() for job in section]
        assert jobs, "the fuzzer should have left some jobs"
        for job in jobs:
            record = admin.get("/jobs", params={"jobId": job["JobID"]}).json()["job"]
            expected = "printf '%s\\n' " if record["TemplateID"] else SAFE_COMMAND
            assert record["Command"].startswith(expected), record
