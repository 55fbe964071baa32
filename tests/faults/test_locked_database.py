"""Another process holding the SQLite database with ``BEGIN EXCLUSIVE`` for a few seconds,
inside the store's write budget: submits made meanwhile wait for it and then succeed,
reads answer at once, and nothing submitted is lost. Past the budget a write answers 503
(tests/integration/test_store_busy.py)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from jobhost.errors import StoreBusy
from tests.faults.side_effects import stored_jobs
from tests.integration.server import (
    Server,
    create_user,
    free_port,
    run_cli,
    serving,
    wait_finished,
)
from tests.integration.test_lifecycle import own_server as own_server

_HOLD_SECONDS = 3.0
_BUDGET_SECONDS = 10.0  # the store's write budget (store/database.py)
_SUBMITTERS = 4
_QUICK_SECONDS = 2.0
_BUSY = StoreBusy().message


def _submit_one(server: Server, key: str, answers: list[tuple[httpx.Response, float]]) -> None:
    body = {"jobName": "behind", "command": "echo behind", "executionMode": "BackgroundJob"}
    with server.client(key) as client:
        began = time.monotonic()
        response = client.post("/jobs/submit", json=body)
        answers.append((response, time.monotonic() - began))


@pytest.mark.timeout(60)
def test_writes_wait_out_a_short_exclusive_lock_and_nothing_is_lost(
    own_server: tuple[Server, str],
) -> None:
    server, key = own_server
    db = Path(server.data_dir) / "jobhost.db"
    with server.client(key) as client:
        before = client.post(
            "/jobs/submit",
            json={"jobName": "before", "command": "print(1)", "executionMode": "Runspace"},
        ).json()["jobId"]
        wait_finished(client, before)
        answers: list[tuple[httpx.Response, float]] = []
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        held_at = time.monotonic()
        try:
            threads = [
                threading.Thread(target=_submit_one, args=(server, key, answers))
                for _ in range(_SUBMITTERS)
            ]
            for thread in threads:
                thread.start()
            while time.monotonic() - held_at < _HOLD_SECONDS:
                began = time.monotonic()
                read = client.get("/jobs", params={"jobId": before})
                assert read.status_code == 200, read.text
                assert time.monotonic() - began < _QUICK_SECONDS
                time.sleep(0.2)
            assert answers == []  # all still waiting for the lock
        finally:
            other.rollback()
            other.close()
        for thread in threads:
            thread.join(_BUDGET_SECONDS)
        assert [response.status_code for response, _ in answers] == [200] * _SUBMITTERS
        assert max(took for _, took in answers) < _BUDGET_SECONDS
        ids = [response.json()["jobId"] for response, _ in answers]
        jobs = [wait_finished(client, job_id) for job_id in ids]
    assert {(job["Status"], job["Output"]) for job in jobs} == {("Completed", "behind\n")}
    assert set(ids) | {before} == set(stored_jobs(db))


@pytest.mark.timeout(60)
def test_serve_started_while_the_database_is_locked_gives_up_in_one_line(tmp_path: Path) -> None:
    """Opening the store writes (migrations, the first admin): past the write budget
    ``jobhost serve`` exits saying the lock stayed taken, and starts once it is free."""
    create_user(tmp_path, "root", "system_admin")
    other = sqlite3.connect(tmp_path / "jobhost.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        done = run_cli(tmp_path, "serve", "--port", str(free_port()))
        took = time.monotonic() - began
    finally:
        other.rollback()
        other.close()
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"jobhost: {_BUSY}"
    assert "Traceback" not in done.stderr
    assert _BUDGET_SECONDS <= took < _BUDGET_SECONDS + 20
    with serving(tmp_path, {}) as server:
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
