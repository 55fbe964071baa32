"""The app in-process (TestClient, lifespan running): failures that a real server hides."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from jobhost.clock import SystemClock
from jobhost.models import JobSpec, Mode, Outcome, Status
from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.jobs import Finish, OutputChunk, OutputProgress
from jobhost.web import jobs as web_jobs
from jobhost.web.app import BASE


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client


def _submit(client: TestClient) -> str:
    response = client.post(
        BASE + "/jobs/submit", json={"jobName": "x", "command": "true", "executionMode": "process"}
    )
    assert response.status_code == 200
    job_id: str = response.json()["jobId"]
    return job_id


def test_an_unexpected_error_is_a_500_with_a_reference_and_no_trace(
    client: TestClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = _submit(client)
    store = SqlStore.open(settings.store_url, SystemClock())
    with store.db.write() as conn:  # a row no version of jobhost would write
        conn.execute(text("UPDATE jobs SET status = 'Bogus' WHERE job_id = :j"), {"j": job_id})
    store.close()
    with caplog.at_level(logging.ERROR, logger="jobhost.web.errors"):
        response = client.get(BASE + "/jobs", params={"jobId": job_id})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["error"].startswith("Internal error (ref ")
    assert "Traceback" not in response.text and "Bogus" not in response.text
    # Sent by Starlette's outermost error middleware; the security headers wrap even that.
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    ref = body["error"].removeprefix("Internal error (ref ").rstrip(")")
    assert any(ref in record.getMessage() for record in caplog.records)


def test_a_broken_store_is_a_503(client: TestClient, settings: Settings) -> None:
    store = SqlStore.open(settings.store_url, SystemClock())
    with store.db.write() as conn:
        conn.execute(text("ALTER TABLE jobs RENAME TO jobs_gone"))
    store.close()
    response = client.get(BASE + "/jobs")
    assert response.status_code == 503
    assert response.json() == {"success": False, "error": "The job store is unavailable."}
    assert client.get("/healthz").status_code == 503


@pytest.fixture
def three_finished(settings: Settings, token: str) -> list[str]:
    """Three finished jobs of root's with 100 bytes of output each, oldest first; made
    before the app (and its engine) starts."""
    store = SqlStore.open(settings.store_url, SystemClock())
    try:
        ids = []
        for n in range(3):
            spec = JobSpec(name=f"j{n}", command="true", mode=Mode.BACKGROUND_JOB)
            job_id = store.jobs.submit("root", spec).job_id
            store.jobs.claim(1, "elsewhere")
            store.jobs.record(
                [OutputChunk(job_id, 0, b"ABC"[n : n + 1] * 100)],
                [OutputProgress(job_id, 100, 0)],
                [Finish(job_id, Outcome(Status.COMPLETED, 0))],
            )
            ids.append(job_id)
        return ids
    finally:
        store.close()


def test_one_results_response_carries_a_bounded_amount_of_output(
    three_finished: list[str], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_jobs, "RESULTS_OUTPUT_BUDGET", 150)
    results = client.get(BASE + "/jobs/results").json()["results"]
    assert [r["JobID"] for r in results] == three_finished[::-1]  # newest first
    omitted = "[{} earlier bytes omitted; read them from jobs/output]\n"
    assert [r["Output"] for r in results] == [
        "C" * 100,
        omitted.format(50) + "B" * 50,
        omitted.format(100),
    ]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/jobs", "DELETE, GET"),  # two routes on one path: both named
        ("/schedules", "DELETE, GET, PATCH, POST"),
        ("/jobs/submit", "POST"),
    ],
)
def test_a_wrong_method_is_a_405_naming_every_method_of_the_path(
    client: TestClient, path: str, allowed: str
) -> None:
    response = client.request("TRACE", BASE + path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"success": False, "error": "Method Not Allowed"}
