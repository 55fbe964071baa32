"""Bodies and parameters that once made a real server answer 500: each is a 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import Server

SURROGATE = "\\udfff"  # a JSON escape that decodes to a lone surrogate, which UTF-8 cannot encode
HUGE = "9" * 5000  # past Python's 4,300-digit limit for turning digits into an int
DEEP = "[" * 100_000 + "]" * 100_000


def body(**fields: str) -> bytes:
    """A submit body whose names and values are raw JSON text, so that escapes reach the
    server as they are."""
    values = {"jobName": '"bad input"', "command": '"echo hi"', "executionMode": '"BackgroundJob"'}
    values |= fields
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}").encode()


def post(client: httpx.Client, content: bytes) -> tuple[int, str]:
    response = client.post(
        "/jobs/submit", content=content, headers={"Content-Type": "application/json"}
    )
    answer = response.json()
    assert answer["success"] is False, answer
    return response.status_code, answer["error"]


@pytest.fixture(scope="module")
def admin(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.admin) as client:
        yield client


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (body(command=f'"echo {SURROGATE}"'), "Invalid command: contains a lone surrogate"),
        (body(description=f'"a{SURROGATE}"'), "Invalid description: contains a lone surrogate"),
        (body(jobName=f'"a{SURROGATE}"'), "Invalid jobName:"),
        (body(env=f'{{"NAME": "{SURROGATE}"}}'), "Invalid env: the value of NAME contains a lone"),
        (body(env=f'{{"A{SURROGATE}": "x"}}'), "Invalid env: 'A\\udfff' is not a valid variable"),
        (body(workingDirectory=f'"/tmp/{SURROGATE}"'), "Invalid workingDirectory:"),
        (body(**{f"x{SURROGATE}": "1"}), "Invalid field name: contains a lone surrogate"),
        (body(timeoutSeconds=HUGE), "Invalid timeoutSeconds:"),
        (body(stopGraceSeconds="-" + HUGE), "Invalid stopGraceSeconds:"),
        (body(command=HUGE), "Invalid command:"),
        (body(extra=HUGE), "Unknown field: extra"),
        (body(description=DEEP), "Invalid JSON body: nested too deeply"),
    ],
    ids=[
        "surrogate-command", "surrogate-description", "surrogate-jobName", "surrogate-env-value",
        "surrogate-env-name", "surrogate-workingDirectory", "surrogate-field-name",
        "huge-timeout", "huge-negative-grace", "huge-command", "huge-unknown", "deep",
    ],
)  # fmt: skip
def test_bad_submissions_are_400_naming_the_field(
    admin: httpx.Client, content: bytes, message: str
) -> None:
    status, error = post(admin, content)
    assert (status, error[: len(message)]) == (400, message), error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "101"), ("priority", "-101"), ("priority", '"1"'), ("priority", "1.5"),
        ("dependsOn", "[]"), ("dependsOn", '"x"'), ("dependsOn", "[1]"),
        ("dependsOn", '["../x"]'), ("runAt", '"tomorrow"'), ("runAt", '"2026-12-03T15:00:00"'),
        ("runAt", "1796310000"), ("maxRetries", "11"), ("maxRetries", "-1"),
        ("maxRetries", '"2"'), ("retryDelaySeconds", "-1"), ("retryDelaySeconds", "86401"),
        ("retryDelaySeconds", '"10"'),
    ],
)  # fmt: skip
def test_a_queue_control_field_of_the_wrong_type_or_range_is_a_400_naming_it_storing_nothing(
    admin: httpx.Client, field: str, value: str
) -> None:
    before = admin.get("/jobs", params={"allUsers": "true"}).json()["counts"]
    status, error = post(admin, body(**{field: value}))
    assert (status, error.startswith(f"Invalid {field}")) == (400, True), error
    assert admin.get("/jobs", params={"allUsers": "true"}).json()["counts"] == before


def test_a_surrogate_in_a_mode_that_takes_no_env_is_still_named(admin: httpx.Client) -> None:
    content = body(executionMode='"Runspace"', command=f'"print(1)  # {SURROGATE}"')
    assert post(admin, content)[1].startswith("Invalid command: contains a lone surrogate")


def test_an_offset_past_what_an_int64_holds_is_400(admin: httpx.Client) -> None:
    job_id = admin.post(
        "/jobs/submit", json={"jobName": "o", "command": "true", "executionMode": "BackgroundJob"}
    ).json()["jobId"]
    response = admin.get("/jobs/output", params={"jobId": job_id, "offset": 10**23})
    assert response.status_code == 400, response.text
    assert "offset" in response.json()["error"]
    for digit in ("\u00b2", "\u0661"):  # digits to str.isdigit, not offsets
        refused = admin.get("/jobs/output", params={"jobId": job_id, "offset": digit})
        assert refused.status_code == 400, refused.text
    far = admin.get("/jobs/output", params={"jobId": job_id, "offset": 10**15})
    assert far.status_code == 200, far.text
    assert (far.json()["output"], far.json()["nextOffset"]) == ("", 10**15)


def test_a_surrogate_in_a_login_name_is_refused_not_a_500(server: Server) -> None:
    content = b'{"username": "a\\udfff", "password": "x"}'
    response = httpx.post(
        server.url + "/api/v1/auth/login",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 401), response.text


POWERSHELL = 'Write-Host "Starting"\nGet-Process | Select-Object -First 3'


@pytest.mark.parametrize("mode", ["Runspace", "MainLoop"])
def test_a_python_mode_refuses_source_that_is_not_python(admin: httpx.Client, mode: str) -> None:
    content = json.dumps({"jobName": "ps", "command": POWERSHELL, "executionMode": mode})
    assert post(admin, content.encode()) == (
        400,
        "command is not valid Python: invalid syntax (line 1)",
    )


def test_a_python_mode_names_the_line_of_the_error(admin: httpx.Client) -> None:
    source = "print('fine')\nfor x in range(3):\nprint(x)\n"
    content = json.dumps({"jobName": "py", "command": source, "executionMode": "Runspace"})
    status, error = post(admin, content.encode())
    assert (status, error) == (
        400,
        "command is not valid Python: expected an indented block after 'for' statement on"
        " line 2 (line 3)",
    )


def test_python_too_deeply_nested_to_compile_is_a_400_too(admin: httpx.Client) -> None:
    content = json.dumps(
        {"jobName": "py", "command": "-" * 90_000 + "1", "executionMode": "thread"}
    )
    assert post(admin, content.encode()) == (
        400,
        "command is not valid Python: nested too deeply to compile",
    )


def test_a_background_job_is_not_held_to_python(admin: httpx.Client) -> None:
    job = {"jobName": "sh", "command": "echo 'not: python' {", "executionMode": "BackgroundJob"}
    assert admin.post("/jobs/submit", json=job).status_code == 200


def test_valid_python_with_top_level_code_of_every_kind_is_accepted(admin: httpx.Client) -> None:
    source = "import sys\nclass A:\n    x: int = 1\nprint(A.x, file=sys.stderr)\nsys.exit(0)\n"
    job = {"jobName": "py", "command": source, "executionMode": "Runspace"}
    assert admin.post("/jobs/submit", json=job).status_code == 200


def test_the_python_check_comes_after_the_roles_check(server: Server, keys: Keys) -> None:
    # Compiling is the costliest check: only a caller who may run the code makes the server do it.
    with server.client(keys.alice) as alice:
        content = json.dumps({"jobName": "ps", "command": POWERSHELL, "executionMode": "Runspace"})
        status, error = post(alice, content.encode())
    assert status == 403, error
