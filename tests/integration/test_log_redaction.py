"""Credentials sent in a query string stay out of a real server's log lines."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import BASE, Server
from tests.integration.test_streams import refusal, socket


def _logged_lines(server: Server, marker: str, timeout: float = 10.0) -> list[str]:
    """The lines of the server's log that mention ``marker`` (waiting for the access log's
    batch to be written)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in server.log().splitlines() if marker in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("name", ["token", "access_token", "api_key", "key", "X-Api-Key"])
def test_a_token_in_the_query_string_is_not_in_the_access_log(
    server: Server, keys: Keys, name: str
) -> None:
    marker = f"accesslog{name.replace('_', '').replace('-', '')}"
    response = httpx.get(
        f"{server.url}{BASE}/jobs", params={"jobName": marker, name: keys.alice}, timeout=10
    )
    assert response.status_code == 401  # a query-string token is refused
    [line] = _logged_lines(server, marker)
    assert keys.alice not in line
    assert f"{name}=[redacted]" in line


def test_a_key_under_any_name_is_not_in_the_access_log(server: Server, keys: Keys) -> None:
    params = {"jobName": "accesslogcopied", "note": f"see {keys.bob}"}
    assert httpx.get(f"{server.url}{BASE}/jobs", params=params, timeout=10).status_code == 401
    [line] = _logged_lines(server, "accesslogcopied")
    assert keys.bob not in line
    assert "[redacted]" in line


def test_a_token_in_a_websocket_query_string_is_not_logged(server: Server, keys: Keys) -> None:
    path = f"/events?marker=wslogged&token={keys.debugger}"
    with socket(server, path) as ws:
        assert refusal(ws)[0] == 401
    [line] = _logged_lines(server, "wslogged")
    assert "WebSocket" in line
    assert keys.debugger not in line
    assert "token=[redacted]" in line
