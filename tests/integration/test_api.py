"""Every CONTRACT.md endpoint and error case, against a real `jobhost serve`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Keys
from tests.integration.server import (
    BASE,
    Server,
    create_key,
    run_cli,
    wait_finished,
    wait_for,
    wait_for_output,
)

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RECORD_KEYS = {
    "JobID", "JobName", "Description", "ExecutionMode", "UserID", "Status", "SubmittedAt",
    "StartedAt", "CompletedAt", "DateStarted", "DateCompleted", "Runtime", "Success",
    "ExitCode", "CanStop", "Priority", "DependsOn", "Attempt",
    # CONTRACT Part 2, queue control
    "PendingReason", "RunAt", "MaxRetries", "RerunOf",
    # CONTRACT Part 2, templates and schedules
    "TemplateID", "ScheduleID",
    # CONTRACT Part 2, history: per-job resources
    "CpuSeconds", "MaxRssBytes",
}  # fmt: skip


def submit(client: httpx.Client, command: str, mode: str = "BackgroundJob", **extra: Any) -> str:
    body = {"jobName": extra.pop("jobName", "test job"), "command": command, "executionMode": mode}
    response = client.post("/jobs/submit", json=body | extra)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "error"}
    return response.status_code, body["error"]


@pytest.fixture(scope="module")
def admin(server: Server, keys: Keys) -> Iterator[httpx.Client]:
    with server.client(keys.admin) as client:
        yield client


def test_healthz_needs_no_credentials(server: Server) -> None:
    response = httpx.get(server.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_submit_answers_the_contract_shape(admin: httpx.Client) -> None:
    response = admin.post(
        "/jobs/submit",
        json={"jobName": "shape", "command": "echo hi", "executionMode": "process"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "jobId", "message", "executionMode"}
    assert body["success"] is True
    assert body["message"] == "Job submitted successfully"
    assert body["executionMode"] == "BackgroundJob"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["jobId"])


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("MainLoop", "MainLoop"),
        ("inline", "MainLoop"),
        ("RUNSPACE", "Runspace"),
        ("thread", "Runspace"),
        ("backgroundjob", "BackgroundJob"),
        ("Process", "BackgroundJob"),
    ],
)
def test_modes_are_case_insensitive_with_aliases(
    admin: httpx.Client, given: str, canonical: str
) -> None:
    command = "true" if canonical == "BackgroundJob" else "pass"
    response = admin.post(
        "/jobs/submit", json={"jobName": "m", "command": command, "executionMode": given}
    )
    assert response.json()["executionMode"] == canonical
    job = wait_finished(admin, response.json()["jobId"])
    assert job["ExecutionMode"] == canonical
    assert job["Status"] == "Completed"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"command": "x", "executionMode": "thread"}, "Missing required field: jobName"),
        ({"jobName": "n", "executionMode": "thread"}, "Missing required field: command"),
        ({"jobName": "n", "command": "x"}, "Missing required field: executionMode"),
        ({"jobName": "n", "command": "   ", "executionMode": "thread"},
         "Missing required field: command"),
        ({"jobName": "n", "command": "x", "executionMode": "fast"},
         "Invalid execution mode. Must be one of: MainLoop, Runspace, BackgroundJob"),
        ({"jobName": "n", "command": "x", "executionMode": 3},
         "Invalid execution mode. Must be one of: MainLoop, Runspace, BackgroundJob"),
        ({"jobName": "n", "command": "x", "executionMode": "thread", "extra": 1},
         "Unknown field: extra"),
        ({"jobName": "", "command": "x", "executionMode": "thread"},
         "Invalid jobName: must be 1-200 printable characters"),
        ({"jobName": "n" * 201, "command": "x", "executionMode": "thread"},
         "Invalid jobName: must be 1-200 printable characters"),
        ({"jobName": "a\nb", "command": "x", "executionMode": "thread"},
         "Invalid jobName: must be 1-200 printable characters"),
    ],
)  # fmt: skip
def test_submit_rejects_bad_bodies_with_400(
    admin: httpx.Client, body: dict[str, Any], message: str
) -> None:
    assert error_of(admin.post("/jobs/submit", json=body)) == (400, message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"jobName": "x"', "Invalid JSON body"),
        (b"\xff\xfe", "Invalid JSON body"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b"", "Invalid JSON body"),
    ],
)
def test_submit_rejects_what_is_not_a_json_object(
    admin: httpx.Client, content: bytes, message: str
) -> None:
    response = admin.post(
        "/jobs/submit", content=content, headers={"Content-Type": "application/json"}
    )
    assert error_of(response) == (400, message)


def test_a_body_over_the_limit_is_413(admin: httpx.Client) -> None:
    big = {"jobName": "big", "command": "x" * (2 * 1024 * 1024), "executionMode": "thread"}
    status, message = error_of(admin.post("/jobs/submit", json=big))
    assert status == 413
    assert message.startswith("Request body too large")


def test_a_chunked_body_over_the_limit_is_413_too(admin: httpx.Client) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    response = admin.post("/jobs/submit", content=chunks())
    assert error_of(response)[0] == 413


def test_listing_has_three_arrays_and_total_counts(admin: httpx.Client) -> None:
    done = submit(admin, "echo listed")
    wait_finished(admin, done)
    body = admin.get("/jobs").json()
    assert body["success"] is True
    assert set(body["jobs"]) == {"pending", "running", "completed"}
    assert all(isinstance(body["jobs"][k], list) for k in body["jobs"])
    counts = body["counts"]
    assert counts["total"] == counts["pending"] + counts["running"] + counts["completed"]
    listed = [job for job in body["jobs"]["completed"] if job["JobID"] == done]
    assert len(listed) == 1
    assert set(listed[0]) == RECORD_KEYS  # list items carry no Output
    assert admin.get("/jobs/list").json()["counts"] == counts


def test_max_results_caps_the_completed_list_newest_first_but_not_the_counts(
    admin: httpx.Client,
) -> None:
    ids = [submit(admin, f"echo {n}") for n in range(3)]
    for job_id in ids:
        wait_finished(admin, job_id)
    body = admin.get("/jobs", params={"maxResults": 2}).json()
    completed = body["jobs"]["completed"]
    assert [job["JobID"] for job in completed] == [ids[2], ids[1]]
    assert body["counts"]["completed"] >= 3


def test_max_results_leaves_the_pending_list_whole(admin: httpx.Client) -> None:
    # A MainLoop job holds the dispatcher, so the jobs behind it stay pending meanwhile.
    blocker = submit(admin, "import time\ntime.sleep(2)", "MainLoop")
    queued = [submit(admin, "true") for _ in range(3)]
    body = admin.get("/jobs", params={"maxResults": 1}).json()
    for job_id in [blocker, *queued]:
        wait_finished(admin, job_id)
    pending = [job["JobID"] for job in body["jobs"]["pending"]]
    assert set(queued) <= set(pending)


def test_include_flags_turn_categories_off(admin: httpx.Client) -> None:
    body = admin.get(
        "/jobs", params={"includePending": "false", "includeCompleted": "false"}
    ).json()
    assert body["jobs"]["pending"] == []
    assert body["jobs"]["completed"] == []
    assert body["counts"]["completed"] > 0


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"maxResults": 0}, "maxResults"),
        ({"maxResults": 1001}, "maxResults"),
        ({"maxResults": "ten"}, "maxResults"),
        ({"includeRunning": "perhaps"}, "includeRunning"),
    ],
)
def test_bad_query_values_are_400(
    admin: httpx.Client, params: dict[str, Any], fragment: str
) -> None:
    status, message = error_of(admin.get("/jobs", params=params))
    assert status == 400
    assert fragment in message


def test_one_finished_job_has_its_record_output_and_times(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo out; echo err >&2; exit 5", description="described")
    job = wait_finished(admin, job_id)
    assert RECORD_KEYS <= set(job)
    assert job["Status"] == "Failed"
    assert job["Success"] is False
    assert job["ExitCode"] == 5
    assert job["Output"] == "out\nerr\n"
    assert job["Description"] == "described"
    assert job["CanStop"] is False
    assert job["Attempt"] == 1
    for key in ("SubmittedAt", "StartedAt", "CompletedAt"):
        assert ISO.fullmatch(job[key]), job[key]
    assert job["DateStarted"] == job["StartedAt"]
    assert job["DateCompleted"] == job["CompletedAt"]
    assert isinstance(job["Runtime"], float)


def test_a_running_job_has_no_output_in_its_record_and_can_stop(admin: httpx.Client) -> None:
    job_id = submit(admin, "sleep 30")
    job = wait_for(admin, job_id, lambda j: j["Status"] == "Running")
    assert job["CanStop"] is True
    assert job["Output"] is None
    assert job["CompletedAt"] is None
    admin.delete("/jobs", params={"jobId": job_id})


def test_output_follows_a_running_job_by_offset(admin: httpx.Client) -> None:
    job_id = submit(admin, "for i in 1 2 3; do echo line $i; sleep 0.2; done")
    collected = ""
    offset = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        body = admin.get("/jobs/output", params={"jobId": job_id, "offset": offset}).json()
        assert set(body) == {
            "success", "jobId", "output", "runtime", "state", "message", "nextOffset"
        }  # fmt: skip
        assert body["nextOffset"] == offset + len(body["output"].encode())
        collected += body["output"]
        offset = body["nextOffset"]
        if body["state"] == "Completed" and not body["output"]:
            break
        time.sleep(0.05)
    assert collected == "line 1\nline 2\nline 3\n"


@pytest.mark.parametrize(("mode", "command"), [("Runspace", "print('py out')"),
                                                ("MainLoop", "print('py out')"),
                                                ("BackgroundJob", "echo py out")])  # fmt: skip
def test_output_is_available_in_every_mode(admin: httpx.Client, mode: str, command: str) -> None:
    job_id = submit(admin, command, mode)
    wait_finished(admin, job_id)
    body = admin.get("/jobs/output", params={"jobId": job_id}).json()
    assert body["output"] == "py out\n"
    assert body["state"] == "Completed"
    tail = admin.get("/jobs/output", params={"jobId": job_id, "offset": 3}).json()
    assert tail["output"] == "out\n"


def test_output_rejects_a_negative_offset(admin: httpx.Client) -> None:
    job_id = submit(admin, "true")
    response = admin.get("/jobs/output", params={"jobId": job_id, "offset": -1})
    assert error_of(response)[0] == 400


def test_delete_stops_a_running_job(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo started; sleep 60")
    wait_for(admin, job_id, lambda j: j["Status"] == "Running")
    response = admin.delete("/jobs", params={"jobId": job_id})
    assert response.status_code == 200
    assert response.json() == {
        "success": True, "message": "Job stopped successfully", "jobId": job_id
    }  # fmt: skip
    job = wait_finished(admin, job_id)
    assert job["Status"] == "Stopped"
    assert job["Success"] is False
    assert job["Output"].endswith("[Job stopped by user]\n")


def test_delete_refuses_to_stop_a_running_mainloop_job(admin: httpx.Client) -> None:
    job_id = submit(admin, "import time\nprint('in', flush=True)\ntime.sleep(1.5)", "MainLoop")
    job = wait_for(admin, job_id, lambda j: j["Status"] == "Running")
    assert job["CanStop"] is False
    assert error_of(admin.delete("/jobs", params={"jobId": job_id})) == (
        409,
        "Cannot stop MainLoop jobs - they execute synchronously",
    )
    assert wait_finished(admin, job_id)["Status"] == "Completed"


def test_delete_cancels_a_pending_job(admin: httpx.Client) -> None:
    # A MainLoop job holds the dispatcher, so the job behind it stays pending.
    blocker = submit(admin, "import time\ntime.sleep(1.5)", "MainLoop")
    wait_for(admin, blocker, lambda j: j["Status"] == "Running")
    waiting = submit(admin, "echo never")
    assert admin.get("/jobs", params={"jobId": waiting}).json()["job"]["Status"] == "Pending"
    response = admin.delete("/jobs", params={"jobId": waiting})
    assert response.json()["message"] == "Job cancelled successfully"
    job = wait_finished(admin, waiting)
    assert job["Status"] == "Cancelled"
    assert job["StartedAt"] is None
    wait_finished(admin, blocker)
    assert admin.get("/jobs", params={"jobId": waiting}).json()["job"]["Status"] == "Cancelled"


def test_delete_removes_a_finished_job_everywhere(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo bye")
    wait_finished(admin, job_id)
    response = admin.delete("/jobs", params={"jobId": job_id})
    assert response.json()["message"] == "Job result deleted successfully"
    not_found = (404, f"Job not found: {job_id}")
    assert error_of(admin.get("/jobs", params={"jobId": job_id})) == not_found
    assert error_of(admin.get("/jobs/output", params={"jobId": job_id})) == not_found
    assert error_of(admin.delete("/jobs", params={"jobId": job_id})) == not_found
    assert error_of(admin.delete("/jobs/results", params={"jobId": job_id})) == not_found
    listed = admin.get("/jobs").json()["jobs"]["completed"]
    assert job_id not in {job["JobID"] for job in listed}


def test_results_lists_finished_jobs_with_output_and_deletes_them(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo result")
    wait_finished(admin, job_id)
    body = admin.get("/jobs/results", params={"maxResults": 5}).json()
    assert body["success"] is True
    assert body["count"] == len(body["results"]) <= 5
    newest = body["results"][0]
    assert newest["JobID"] == job_id
    assert newest["Output"] == "result\n"
    response = admin.delete("/jobs/results", params={"jobId": job_id})
    assert response.json() == {"success": True, "message": "Job result deleted successfully"}
    assert admin.get("/jobs", params={"jobId": job_id}).status_code == 404


def test_results_delete_refuses_a_running_job(admin: httpx.Client) -> None:
    job_id = submit(admin, "sleep 30")
    wait_for(admin, job_id, lambda j: j["Status"] == "Running")
    assert error_of(admin.delete("/jobs/results", params={"jobId": job_id}))[0] == 409
    admin.delete("/jobs", params={"jobId": job_id})


@pytest.mark.parametrize("hostile", ["../x", "*", "not-a-uuid", "..%2F..%2Fetc%2Fpasswd",
                                     "00000000-0000-0000-0000-00000000000/", " "])  # fmt: skip
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/jobs"), ("DELETE", "/jobs"), ("GET", "/jobs/output"), ("DELETE", "/jobs/results")],
)
def test_hostile_job_ids_are_400(admin: httpx.Client, hostile: str, method: str, path: str) -> None:
    response = admin.request(method, path, params={"jobId": hostile})
    assert error_of(response) == (400, "Invalid jobId: must be a UUID")


def test_an_unknown_well_formed_id_is_404(admin: httpx.Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert error_of(admin.get("/jobs", params={"jobId": missing})) == (
        404,
        f"Job not found: {missing}",
    )


def test_no_credentials_is_401_on_every_route(server: Server) -> None:
    job = "00000000-0000-4000-8000-000000000000"
    anonymous = server.client(None)
    for method, path, params in [
        ("POST", "/jobs/submit", {}),
        ("GET", "/jobs", {}),
        ("GET", "/jobs/list", {}),
        ("GET", "/jobs", {"jobId": job}),
        ("DELETE", "/jobs", {"jobId": job}),
        ("GET", "/jobs/output", {"jobId": job}),
        ("GET", "/jobs/results", {}),
        ("DELETE", "/jobs/results", {"jobId": job}),
    ]:
        response = anonymous.request(method, path, params=params)
        assert error_of(response) == (401, "Unauthorized"), (method, path)
    anonymous.close()
    assert httpx.get(server.url + "/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer nope", "Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer jh_" + "x" * 43]
)
def test_a_bad_key_is_401_invalid_api_key(server: Server, header: str) -> None:
    response = httpx.get(server.url + BASE + "/jobs", headers={"Authorization": header})
    assert error_of(response) == (401, "Invalid API key")


def test_revoked_and_expired_keys_stop_working(server: Server, server_dir: Any) -> None:
    revocable = create_key(server_dir, "alice", "--label", "to revoke")
    with server.client(revocable) as client:
        assert client.get("/jobs").status_code == 200
        listed = json.loads(run_cli(server_dir, "key", "list", "--json").stdout)
        key_id = next(key["key_id"] for key in listed if key["label"] == "to revoke")
        assert run_cli(server_dir, "key", "revoke", key_id).returncode == 0
        assert error_of(client.get("/jobs")) == (401, "Invalid API key")

    short_lived = create_key(server_dir, "alice", "--expires-days", "0.00002")  # ~1.7 s
    with server.client(short_lived) as client:
        assert client.get("/jobs").status_code == 200
        time.sleep(2.0)
        assert error_of(client.get("/jobs")) == (401, "Invalid API key")


def test_me_shows_the_caller_and_roles(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as client:
        body = client.get(server.url + "/api/v1/auth/me").json()
    assert body == {
        "success": True,
        "user": {"UserID": "manager", "Roles": ["authenticated", "task_manager"]},
    }


def test_unknown_routes_and_methods_keep_the_envelope(admin: httpx.Client) -> None:
    assert error_of(admin.get("/nothing-here"))[0] == 404
    assert error_of(admin.put("/jobs"))[0] == 405


def test_openapi_documents_every_route_with_response_models(server: Server) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/jobs/submit", "post"),
        ("/jobs", "get"),
        ("/jobs", "delete"),
        ("/jobs/list", "get"),
        ("/jobs/output", "get"),
        ("/jobs/results", "get"),
        ("/jobs/results", "delete"),
    ]:
        operation = paths[BASE + path][method]
        assert "schema" in operation["responses"]["200"]["content"]["application/json"]
        assert "401" in operation["responses"]
    assert "JobRecord" in spec["components"]["schemas"]


def test_an_uppercase_job_id_names_the_same_job_and_answers_come_back_lowercase(
    admin: httpx.Client,
) -> None:
    job_id = submit(admin, "echo case")
    wait_finished(admin, job_id)

    shown = admin.get("/jobs", params={"jobId": job_id.upper()})
    deleted = admin.delete("/jobs", params={"jobId": job_id.upper()})

    assert shown.json()["job"]["JobID"] == job_id
    assert (deleted.status_code, deleted.json()["jobId"]) == (200, job_id)


def test_the_stop_route_stops_a_running_job(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo up; sleep 30")
    wait_for_output(admin, job_id, "up")

    response = admin.post("/jobs/stop", params={"jobId": job_id})

    assert response.json() == {
        "success": True,
        "message": "Job stopped successfully",
        "jobId": job_id,
    }
    assert wait_finished(admin, job_id)["Status"] == "Stopped"


def test_the_stop_route_cancels_a_pending_job(admin: httpx.Client) -> None:
    blocker = submit(admin, "import time\ntime.sleep(1.5)", "MainLoop")
    queued = submit(admin, "true")

    response = admin.post("/jobs/stop", params={"jobId": queued})

    assert response.json()["message"] == "Job cancelled successfully"
    assert wait_finished(admin, queued)["Status"] == "Cancelled"
    wait_finished(admin, blocker)


def test_the_stop_route_refuses_a_finished_job_and_keeps_it(admin: httpx.Client) -> None:
    job_id = submit(admin, "echo kept")
    wait_finished(admin, job_id)

    response = admin.post("/jobs/stop", params={"jobId": job_id})

    assert error_of(response) == (409, f"Job has already finished: {job_id} is Completed")
    assert admin.get("/jobs", params={"jobId": job_id}).json()["job"]["Output"] == "kept\n"


def test_the_stop_route_hides_other_users_jobs_and_checks_ids(
    admin: httpx.Client, server: Server, keys: Keys
) -> None:
    job_id = submit(admin, "sleep 5")
    with server.client(keys.bob) as bob:
        assert error_of(bob.post("/jobs/stop", params={"jobId": job_id})) == (
            404,
            f"Job not found: {job_id}",
        )
        assert bob.post("/jobs/stop", params={"jobId": "../x"}).status_code == 400
    admin.post("/jobs/stop", params={"jobId": job_id})
