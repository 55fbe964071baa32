"""The client's I/O-free layer: requests it builds, answers it reads, when it polls again.

Records are made by the server's own ``job_record``/``detailed_record``, so a change to
the API's shape breaks these tests rather than only the client in the field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobhost.client import ApiError, Connection
from jobhost.client import protocol as p
from jobhost.client.values import Job, OutputPage
from jobhost.models import Category, JobSpec, Mode, Status
from jobhost.models import Job as StoredJob
from jobhost.web.records import detailed_record, job_record

JOB_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
T0 = datetime(2026, 1, 25, 10, 0, 0, 123000, tzinfo=UTC)


def stored(status: Status, exit_code: int | None = None) -> StoredJob:
    spec = JobSpec(name="nightly", command="make", mode=Mode.RUNSPACE, description="d")
    start = T0.timestamp()
    finished = status.is_finished
    return StoredJob(
        JOB_ID, "bob", spec, status, start, start + 1.5, start + 4.0 if finished else None,
        exit_code=exit_code, attempt=1, output_size=5,
    )  # fmt: skip


def answer(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def read(call: p.Call[p.T], body: dict[str, Any], status: int = 200) -> p.T:
    return p.read_response(call, status, answer(body))


def test_a_detailed_record_becomes_a_typed_job() -> None:
    record = detailed_record(stored(Status.FAILED, 3), T0.timestamp() + 9, b"boom\n")
    job = read(p.get(JOB_ID), {"success": True, "job": record})
    assert job == Job(
        id=JOB_ID, name="nightly", status=Status.FAILED, mode=Mode.RUNSPACE, user_id="bob",
        description="d", submitted_at=T0, started_at=datetime(2026, 1, 25, 10, 0, 1, 623000,
        tzinfo=UTC), completed_at=datetime(2026, 1, 25, 10, 0, 4, 123000, tzinfo=UTC),
        runtime=2.5, success=False, exit_code=3, can_stop=False, priority=0, attempt=1,
        depends_on=(), command="make", output="boom\n", output_bytes=5, output_truncated=False,
    )  # fmt: skip
    assert job.finished and job.category is Category.COMPLETED
    as_json = job.to_json()
    assert as_json["submitted_at"] == "2026-01-25T10:00:00.123Z"
    assert as_json["status"] == "Failed" and as_json["category"] == "completed"
    assert json.loads(json.dumps(as_json)) == as_json


def test_a_listing_keeps_categories_and_counts() -> None:
    now = T0.timestamp() + 2
    running, done = stored(Status.RUNNING), stored(Status.COMPLETED, 0)
    body = {
        "success": True,
        "jobs": {"pending": [], "running": [job_record(running, now)],
                 "completed": [job_record(done, now)]},
        "counts": {"pending": 0, "running": 1, "completed": 7, "total": 8},
    }  # fmt: skip
    listing = read(p.list_jobs(), body)
    assert [job.status for job in listing.jobs] == [Status.RUNNING, Status.COMPLETED]
    assert listing.running[0].can_stop and listing.running[0].runtime == 0.5
    assert listing.running[0].command is None  # listings carry no command
    assert listing.counts.completed == 7 and listing.counts.total == 8


def test_requests_carry_only_what_was_asked() -> None:
    submit = p.submit("echo hi", "n", mode="thread", timeout=5.0, env={"A": "1"})
    assert (submit.method, submit.path) == ("POST", "/jobs/submit")
    assert submit.body == {
        "jobName": "n", "command": "echo hi", "executionMode": "thread",
        "timeoutSeconds": 5.0, "env": {"A": "1"},
    }  # fmt: skip
    in_paris = datetime(2026, 12, 3, 16, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1)))
    later = p.submit("x", "n", run_at=in_paris, max_retries=2, retry_delay=0.5)
    assert later.body is not None
    assert later.body["runAt"] == "2026-12-03T15:00:00.250Z"
    assert (later.body["maxRetries"], later.body["retryDelaySeconds"]) == (2, 0.5)
    assert p.submit("x", "n").body == {
        "jobName": "n",
        "command": "x",
        "executionMode": "BackgroundJob",
    }
    listing = p.list_jobs(pending=False, max_results=5, all_users=True)
    assert listing.params == {
        "includePending": "false", "includeRunning": "true", "includeCompleted": "true",
        "maxResults": 5, "allUsers": "true",
    }  # fmt: skip
    assert p.list_jobs(user_id="bob").params["userId"] == "bob"
    assert p.output(JOB_ID).params == {"jobId": JOB_ID}
    assert p.output(JOB_ID, 12).params == {"jobId": JOB_ID, "offset": 12}
    assert (p.delete(JOB_ID).method, p.delete(JOB_ID).path) == ("DELETE", "/jobs/results")
    assert p.results(max_results=3).params == {"maxResults": 3}


def test_stop_uses_the_stop_only_route_and_waits_for_the_job_to_end() -> None:
    call = p.stop(JOB_ID)
    assert (call.method, call.path, call.params) == ("POST", "/jobs/stop", {"jobId": JOB_ID})
    assert call.timeout == p.STOP_TIMEOUT_SECONDS  # the server waits for the job to end


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (404, answer({"success": False, "error": f"Job not found: {JOB_ID}"}),
         f"Job not found: {JOB_ID}"),
        (401, answer({"success": False, "error": "Invalid API key"}), "Invalid API key"),
        (200, answer({"success": False, "error": "odd"}), "odd"),
        (500, answer({"success": False}), "The server refused the request (HTTP 500)"),
        (403, answer({"success": False, "error": "no\n\x1b]0;pwned\x07way"}), "no way"),
        (502, b"<html>Bad gateway</html>", "Unexpected answer from the server (HTTP 502, not "
         "jobhost's JSON); is the URL that of a jobhost server?"),
        (200, answer({"success": True}), "Unexpected answer from the server: KeyError('job')"),
        (200, answer({"success": True, "job": {"JobID": 1}}),
         "Unexpected answer from the server: TypeError('expected a string, got int')"),
    ],
)  # fmt: skip
def test_failures_are_one_error_type_with_status_and_one_line(
    status: int, content: bytes, message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        p.read_response(p.get(JOB_ID), status, content)
    assert (caught.value.status, caught.value.message) == (status, message)


def test_connection_prefers_arguments_then_environment_then_default() -> None:
    environ = {"JOBHOST_URL": "http://env:1/", "JOBHOST_TOKEN": "jh_env"}
    assert Connection.resolve(None, None, {}) == Connection("http://127.0.0.1:8080", None)
    assert Connection.resolve(None, None, environ) == Connection("http://env:1", "jh_env")
    given = Connection.resolve("https://arg:2" + p.BASE_PATH + "/", "jh_arg", environ)
    assert given == Connection("https://arg:2", "jh_arg")
    assert given.api_url == "https://arg:2" + p.BASE_PATH
    assert given.headers["Authorization"] == "Bearer jh_arg"
    assert "Authorization" not in Connection("http://x").headers
    assert "jh_arg" not in repr(given)
    with pytest.raises(ApiError, match="must start with http"):
        Connection.resolve("localhost:8080", None, {})


def page(offset: int, state: Status, text: str = "") -> OutputPage:
    return OutputPage(JOB_ID, text, state, 1.0, None, offset + len(text.encode()))


def test_follow_polls_with_backoff_until_finished_and_read_to_the_end() -> None:
    follow = p.Follow(JOB_ID)
    assert follow.call().params == {"jobId": JOB_ID}
    assert follow.receive(page(0, Status.RUNNING, "ab")) == p.FIRST_POLL_SECONDS
    assert follow.call().params == {"jobId": JOB_ID, "offset": 2}
    pauses = [follow.receive(page(2, Status.RUNNING)) for _ in range(12)]
    assert pauses[0] == p.FIRST_POLL_SECONDS
    assert pauses == sorted(pauses) and pauses[-1] == p.MAX_POLL_SECONDS
    assert follow.receive(page(2, Status.RUNNING, "c")) == p.FIRST_POLL_SECONDS  # reset
    last = page(3, Status.COMPLETED, "d")
    assert follow.receive(last) == 0  # finished: read on at once
    assert not follow.done and follow.wanted(last)
    end = page(4, Status.COMPLETED)
    assert follow.receive(end) == 0
    assert follow.done and follow.wanted(end) and follow.offset == 4


def test_follow_without_live_stops_at_the_end_of_what_is_stored() -> None:
    follow = p.Follow(JOB_ID, offset=10, live=False)
    assert follow.receive(page(10, Status.RUNNING, "x")) == 0
    empty = page(11, Status.RUNNING)
    assert not follow.wanted(empty)
    follow.receive(empty)
    assert follow.done and follow.wanted(empty)


def test_watch_ends_with_the_finished_record() -> None:
    watch = p.Watch(JOB_ID)
    running = read(p.get(JOB_ID), {"success": True, "job": job_record(stored(Status.RUNNING), 0)})
    assert watch.receive(running) > 0 and not watch.done
    done = read(p.get(JOB_ID), {"success": True, "job": job_record(stored(Status.FAILED), 0)})
    assert watch.receive(done) == 0 and watch.done
