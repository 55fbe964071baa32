"""Bodies and parameters that once made a real server answer 500: each is a 400 naming the field."""

from __future__ import annotations

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
