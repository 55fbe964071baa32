"""The existing limits at their edges on a real server: exactly at the limit is served, one
past it is refused (or truncated) with the documented status and message."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import Server, serving, wait_finished

BODY_LIMIT = 2048
PAGE = 1024 * 1024  # one jobs/output page, and the tail a finished job's record carries
CAP = PAGE + 1
TOO_LARGE = {"success": False, "error": f"Request body too large (limit {BODY_LIMIT} bytes)"}


@pytest.fixture(scope="module")
def server(server_dir: Path, keys: Keys) -> Iterator[Server]:
    env = {"JOBHOST_MAX_BODY_BYTES": str(BODY_LIMIT), "JOBHOST_OUTPUT_CAP_BYTES": str(CAP)}
    with serving(server_dir, env) as srv:
        yield srv


def submit_body(size: int) -> bytes:
    """A valid submit body of exactly ``size`` bytes (padded in its description)."""
    body = {"jobName": "edge", "command": "true", "executionMode": "BackgroundJob"}
    bare = len(json.dumps({**body, "description": ""}).encode())
    encoded = json.dumps({**body, "description": "d" * (size - bare)}).encode()
    assert len(encoded) == size
    return encoded


def _chunks(data: bytes) -> Iterator[bytes]:
    yield data[:100]
    yield data[100:]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_served_and_one_byte_more_is_a_413(
    server: Server, keys: Keys, chunked: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    with server.client(keys.manager) as manager:
        for size, status in ((BODY_LIMIT, 200), (BODY_LIMIT + 1, 413)):
            data = submit_body(size)
            content = _chunks(data) if chunked else data
            response = manager.post("/jobs/submit", content=content, headers=headers)
            assert response.status_code == status, response.text
            if status == 413:
                assert response.json() == TOO_LARGE


@pytest.mark.parametrize("path", ["/jobs", "/jobs/list", "/jobs/results"])
def test_max_results_takes_1_to_1000(server: Server, keys: Keys, path: str) -> None:
    with server.client(keys.alice) as alice:
        for good in (1, 1000):
            assert alice.get(path, params={"maxResults": good}).status_code == 200
        for bad, bound in ((0, "greater than or equal to 1"), (1001, "less than or equal to 1000")):
            response = alice.get(path, params={"maxResults": bad})
            assert response.status_code == 400
            assert response.json() == {
                "success": False,
                "error": f"Invalid value for maxResults: Input should be {bound}",
            }


def test_max_results_caps_the_lists_at_its_value_and_counts_stay_whole(
    server: Server, keys: Keys
) -> None:
    body = {"jobName": "quick", "command": "true", "executionMode": "BackgroundJob"}
    with server.client(keys.debugger) as debugger:  # no jobs of its own before this test
        for _ in range(3):
            job_id = debugger.post("/jobs/submit", json=body).json()["jobId"]
            wait_finished(debugger, job_id)
        for limit in (2, 3):
            listing = debugger.get("/jobs", params={"maxResults": limit}).json()
            assert (len(listing["jobs"]["completed"]), listing["counts"]["completed"]) == (
                limit,
                3,
            )
            results = debugger.get("/jobs/results", params={"maxResults": limit}).json()
            assert (len(results["results"]), results["count"]) == (limit, limit)


def _print_bytes(client: httpx.Client, count: int) -> dict[str, Any]:
    command = f"{sys.executable} -c \"import sys; sys.stdout.write('x' * {count})\""
    body = {"jobName": f"{count} bytes", "command": command, "executionMode": "BackgroundJob"}
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    return wait_finished(client, response.json()["jobId"], timeout=60)


def test_output_exactly_at_the_cap_is_kept_whole_over_two_pages(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as manager:
        job = _print_bytes(manager, CAP)
        assert (job["Status"], job["OutputTruncated"], job["OutputBytes"]) == (
            "Completed",
            False,
            CAP,
        )
        assert job["Output"] == "[1 earlier bytes omitted; read them from jobs/output]\n" + (
            "x" * PAGE
        )
        params = {"jobId": job["JobID"]}
        first = manager.get("/jobs/output", params=params).json()
        assert (len(first["output"]), first["nextOffset"], first["message"]) == (PAGE, PAGE, None)
        second = manager.get("/jobs/output", params={**params, "offset": PAGE}).json()
        assert (second["output"], second["nextOffset"]) == ("x", CAP)


def test_one_byte_past_the_cap_is_dropped_and_said_so(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as manager:
        job = _print_bytes(manager, CAP + 1)
        assert (job["Status"], job["OutputTruncated"]) == ("Completed", True)
        note = "\n[Output truncated: 1 more bytes were written and not kept]\n"
        assert str(job["Output"]).endswith("x" + note)
        answer = manager.get("/jobs/output", params={"jobId": job["JobID"], "offset": PAGE}).json()
        assert answer["output"] == "x" + note
        assert answer["message"] == "Output truncated: 1 bytes past the cap were not kept"
