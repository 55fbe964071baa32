"""A real server whose SQLite database another process holds the write lock of: reads and
/healthz still answer at once, and a write that cannot get the lock in time answers 503."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from tests.integration.server import Server, wait_finished, wait_for_output
from tests.integration.test_lifecycle import own_server as own_server

# The store's write budget (its busy timeout, 10 s: store/database.py) and a margin past it.
_HOLD_SECONDS = 13.0
_QUICK_SECONDS = 2.0
_BUSY = "The job store is unavailable: its write lock stayed taken (by another process?)."


def _timed_get(client: httpx.Client, url: str, **params: str) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.get(url, params=params)
    return response, time.monotonic() - began


def _submit(client: httpx.Client, name: str, command: str) -> httpx.Response:
    body = {"jobName": name, "command": command, "executionMode": "BackgroundJob"}
    return client.post("/jobs/submit", json=body)


def _degraded_health(server: Server) -> dict[str, object]:
    """/healthz, asked until it reports the store degraded; every answer must be quick."""
    deadline = time.monotonic() + 8
    with httpx.Client(base_url=server.url, timeout=30) as plain:
        while True:
            response, took = _timed_get(plain, "/healthz")
            assert took < _QUICK_SECONDS
            if response.status_code == 503 or time.monotonic() > deadline:
                assert response.status_code == 503, response.text
                body: dict[str, object] = response.json()
                return body
            time.sleep(0.2)


def _health_once_written(server: Server) -> dict[str, object]:
    """/healthz once it no longer reports the store degraded (after the next commit)."""
    deadline = time.monotonic() + 10
    while True:
        response = httpx.get(server.url + "/healthz", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            body: dict[str, object] = response.json()
            return body
        time.sleep(0.1)


@pytest.mark.timeout(90)
def test_reads_answer_while_another_process_holds_the_write_lock(
    own_server: tuple[Server, str],
) -> None:
    server, key = own_server
    with server.client(key) as client:
        running = _submit(client, "chatty", "while :; do echo tick; sleep 0.05; done").json()
        wait_for_output(client, running["jobId"], "tick")
        other = sqlite3.connect(server.data_dir / "jobhost.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held_at = time.monotonic()
        try:
            refused: list[httpx.Response] = []
            submitting = threading.Thread(
                target=lambda: refused.append(_submit(client, "refused", "echo never"))
            )
            submitting.start()
            time.sleep(0.5)  # the submit is now waiting for the lock
            for url, params in [("/jobs", {}), ("/jobs", {"jobId": running["jobId"]})]:
                response, took = _timed_get(client, url, **params)
                assert response.status_code == 200, response.text
                assert took < _QUICK_SECONDS, (url, params, took)
            health = _degraded_health(server)
            assert health["status"] == "degraded"
            assert "lock" in str(health["reason"])
            submitting.join(_HOLD_SECONDS - (time.monotonic() - held_at) - 0.5)
            assert not submitting.is_alive()  # answered within its budget, lock still held
            [answer] = refused
            assert (answer.status_code, answer.json()) == (503, {"success": False, "error": _BUSY})
        finally:
            other.rollback()
            other.close()
        # The refused submit left nothing behind, and the store is healthy again.
        listed = client.get("/jobs", params={"allUsers": "true"}).json()["jobs"]
        assert "refused" not in {job["JobName"] for jobs in listed.values() for job in jobs}
        assert _submit(client, "accepted", "echo yes").status_code == 200
        assert _health_once_written(server) == {"status": "ok"}
        assert client.delete("/jobs", params={"jobId": running["jobId"]}).status_code == 200
        assert wait_finished(client, running["jobId"])["Status"] == "Stopped"
