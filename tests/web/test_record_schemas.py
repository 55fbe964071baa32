"""Submit, output, the listings and results are sent without FastAPI checking them against
their response models (for speed), so these tests hold the bodies to the models: every key
the model names, no other, each of the declared type, for jobs in every state."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from jobhost.clock import SystemClock
from jobhost.models import JobSpec, Mode, Outcome, Status
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.job_listing import JobQuery
from jobhost.store.jobs import Finish, OutputChunk
from jobhost.web.app import BASE, create_app
from jobhost.web.jobs import _listing_body
from jobhost.web.records import detailed_record
from jobhost.web.schemas import (
    JobDetail,
    JobListResponse,
    JobRecord,
    OutputResponse,
    ResultsResponse,
    SubmitResponse,
)

FINISHED = [Status.COMPLETED, Status.FAILED, Status.STOPPED, Status.TIMED_OUT]


@pytest.fixture
def store_with_every_state(settings: Settings) -> Iterator[SqlStore]:
    store = SqlStore.open(settings.store_url, SystemClock())
    jobs = store.jobs
    spec = JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB, description="d")
    for status in FINISHED:
        job = jobs.submit("alice", spec)
        jobs.claim(1, "node")
        jobs.record(
            [OutputChunk(job.job_id, 0, b"out\n")],
            finishes=[Finish(job.job_id, Outcome(status, 0 if status is Status.COMPLETED else 1))],
        )
    jobs.cancel(jobs.submit("alice", spec).job_id)
    jobs.submit("alice", spec)
    jobs.claim(1, "node")  # one running
    jobs.submit("alice", JobSpec(name="p", command="pass", mode=Mode.RUNSPACE, priority=3))
    try:
        yield store
    finally:
        store.close()


def assert_matches(record: dict[str, Any], model: type[BaseModel]) -> None:
    assert set(record) == set(model.model_fields), set(record) ^ set(model.model_fields)
    model.model_validate(record, strict=True)


def test_listing_records_match_the_job_record_model(store_with_every_state: SqlStore) -> None:
    listing = store_with_every_state.jobs.listing(JobQuery("alice"))
    body = _listing_body(listing, SystemClock().now())
    JobListResponse.model_validate(body, strict=True)
    records = [r for category in body["jobs"].values() for r in category]
    assert len(records) == len(FINISHED) + 3
    assert {r["Status"] for r in records} >= {"Pending", "Running", "Cancelled", "TimedOut"}
    for record in records:
        assert_matches(record, JobRecord)
    json.dumps(body, allow_nan=False)  # what JSONResponse does with it


def test_result_records_match_the_job_detail_model(store_with_every_state: SqlStore) -> None:
    jobs = store_with_every_state.jobs
    finished = jobs.listing(JobQuery("alice")).by_category
    results = [
        detailed_record(job, SystemClock().now(), jobs.read_output(job.job_id, 0, 100))
        for category in finished.values()
        for job in category
    ]
    ResultsResponse.model_validate(
        {"success": True, "results": results, "count": len(results)}, strict=True
    )
    for record in results:
        assert_matches(record, JobDetail)


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings), headers=headers) as test_client:
        yield test_client


def test_submit_output_and_listing_bodies_match_their_models(client: TestClient) -> None:
    submitted = client.post(
        BASE + "/jobs/submit",
        json={"jobName": "x", "command": "echo hi", "executionMode": "BackgroundJob"},
    )
    assert submitted.status_code == 200
    assert_matches(submitted.json(), SubmitResponse)
    job_id = submitted.json()["jobId"]
    deadline = time.monotonic() + 10
    while (output := client.get(BASE + "/jobs/output", params={"jobId": job_id})).json()[
        "state"
    ] != "Completed":
        assert time.monotonic() < deadline, output.json()
        time.sleep(0.02)
    assert_matches(output.json(), OutputResponse)
    assert output.json()["output"] == "hi\n"
    listing = client.get(BASE + "/jobs").json()
    assert_matches(listing, JobListResponse)
    assert_matches(listing["jobs"]["completed"][0], JobRecord)
    results = client.get(BASE + "/jobs/results").json()
    assert_matches(results, ResultsResponse)
    assert_matches(results["results"][0], JobDetail)
