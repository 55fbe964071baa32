"""The WebSockets of a real server: live output with resumable offsets, and job events."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.integration.conftest import Keys
from tests.integration.server import (
    BASE,
    Server,
    create_key,
    kill_jobs_under,
    run_cli,
    wait_finished,
)

PASSWORD = "stream password"


@contextmanager
def socket(
    server: Server,
    path: str,
    token: str | None = None,
    cookie: str | None = None,
    origin: str | None = None,
) -> Iterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie is not None:
        headers["Cookie"] = f"jobhost_session={cookie}"
    url = f"ws://127.0.0.1:{server.port}{BASE}{path}"
    # proxy=None: test traffic must stay on loopback whatever the environment says.
    with connect(
        url,
        additional_headers=headers,
        origin=Origin(origin) if origin else None,
        proxy=None,
        open_timeout=10,
    ) as ws:
        yield ws


def receive(ws: ClientConnection, timeout: float = 20.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def refusal(ws: ClientConnection) -> tuple[int, int | None, str]:
    """The error message's status, the close code, and the error text."""
    message = receive(ws)
    assert message["type"] == "error", message
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)
    return message["status"], ws.close_code, message["error"]


def submit(client: httpx.Client, command: str, mode: str = "BackgroundJob") -> str:
    body = {"jobName": "streamed", "command": command, "executionMode": mode}
    response = client.post("/jobs/submit", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def follow(ws: ClientConnection) -> tuple[str, list[dict[str, Any]]]:
    """Read a stream to its end: the output and every message."""
    messages = []
    while True:
        message = receive(ws)
        messages.append(message)
        if message["type"] == "end":
            break
    return "".join(m["data"] for m in messages if m["type"] == "output"), messages


NUMBERED = "for i in $(seq 1 {n}); do echo line $i; sleep {pause}; done; exit 3"


def numbered(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, n + 1))


def test_a_stream_sends_a_running_jobs_output_as_written_then_its_end(
    server: Server, keys: Keys
) -> None:
    with server.client(keys.manager) as manager:
        job_id = submit(manager, NUMBERED.format(n=20, pause=0.05))
        with socket(server, f"/jobs/stream?jobId={job_id}", keys.manager) as ws:
            first = receive(ws)
            output, messages = follow(ws)

    assert first["type"] == "state" and first["job"]["JobID"] == job_id
    assert output == numbered(20)
    outputs = [m for m in messages if m["type"] == "output"]
    assert len(outputs) > 1  # it arrived piece by piece, while the job ran
    for before, after in itertools.pairwise(outputs):
        assert after["offset"] == before["nextOffset"]
    end = messages[-1]["job"]
    assert (end["Status"], end["ExitCode"]) == ("Failed", 3)


def test_resuming_from_the_last_offset_after_a_cut_gives_every_byte_once(
    server: Server, keys: Keys
) -> None:
    with server.client(keys.manager) as manager:
        job_id = submit(manager, NUMBERED.format(n=60, pause=0.02))
        parts = []
        next_offset = 0
        # Cut the connection after a few messages, three times, then read to the end.
        for _ in range(3):
            with socket(
                server, f"/jobs/stream?jobId={job_id}&offset={next_offset}", keys.manager
            ) as ws:
                received = 0
                while received < 3:
                    message = receive(ws)
                    if message["type"] == "output":
                        assert message["offset"] == next_offset
                        parts.append(message["data"])
                        next_offset = message["nextOffset"]
                        received += 1
                    if message["type"] == "end":
                        break
        with socket(
            server, f"/jobs/stream?jobId={job_id}&offset={next_offset}", keys.manager
        ) as ws:
            rest, _messages = follow(ws)

    assert "".join(parts) + rest == numbered(60)


def test_a_finished_jobs_stream_replays_it_and_ends(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as manager:
        job_id = submit(manager, "print('é' * 3)", "Runspace")
        wait_finished(manager, job_id)
        with socket(server, f"/jobs/stream?jobId={job_id}&offset=2", keys.manager) as ws:
            assert receive(ws)["type"] == "state"
            output, messages = follow(ws)

    assert output == "éé\n"  # from byte 2: the first character skipped
    assert messages[-1]["job"]["Status"] == "Completed"


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("jobId=../x", 400, "Invalid jobId: must be a UUID"),
        ("jobId=*", 400, "Invalid jobId: must be a UUID"),
        ("jobId=00000000-0000-4000-8000-000000000000", 404, "Job not found: "),
        ("jobId=00000000-0000-4000-8000-000000000000&offset=-1", 400, "Invalid value for offset"),
        # Digits to str.isdigit, not to the HTTP route: '²' and the Arabic-Indic one.
        (
            "jobId=00000000-0000-4000-8000-000000000000&offset=%C2%B2",
            400,
            "Invalid value for offset",
        ),
        (
            "jobId=00000000-0000-4000-8000-000000000000&offset=%D9%A1",
            400,
            "Invalid value for offset",
        ),
    ],
)
def test_bad_stream_requests_are_refused_with_a_reason(
    server: Server, keys: Keys, query: str, status: int, error: str
) -> None:
    with socket(server, f"/jobs/stream?{query}", keys.manager) as ws:
        got_status, code, message = refusal(ws)
    assert (got_status, code) == (status, 4000 + status)
    assert message.startswith(error)


def test_another_users_job_cannot_be_streamed(server: Server, keys: Keys) -> None:
    with server.client(keys.manager) as manager:
        job_id = submit(manager, "echo private")
    with socket(server, f"/jobs/stream?jobId={job_id}", keys.bob) as ws:
        assert refusal(ws) == (404, 4404, f"Job not found: {job_id}")


@pytest.mark.parametrize(
    ("token", "error"), [(None, "Unauthorized"), ("jh_bad", "Invalid API key")]
)
def test_a_stream_needs_credentials(
    server: Server, keys: Keys, token: str | None, error: str
) -> None:
    with socket(server, "/events", token) as ws:
        assert refusal(ws) == (401, 4401, error)


@pytest.fixture(scope="module")
def session_cookie(server: Server, server_dir: Path) -> str:
    added = run_cli(
        server_dir,
        "user",
        "add",
        "sam",
        "--role",
        "task_manager",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert added.returncode == 0, added.stderr
    response = httpx.post(
        server.url + "/api/v1/auth/login", json={"username": "sam", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.cookies["jobhost_session"]


def test_a_session_cookie_works_from_the_servers_own_pages_only(
    server: Server, session_cookie: str
) -> None:
    own = f"http://127.0.0.1:{server.port}"
    with socket(server, "/events", cookie=session_cookie, origin=own) as ws:
        assert receive(ws) == {"type": "ready"}
    with socket(server, "/events", cookie=session_cookie, origin="http://evil.example") as ws:
        assert refusal(ws) == (403, 4403, "Cross-origin WebSocket refused")
    with socket(server, "/events", cookie=session_cookie) as ws:  # no Origin at all
        assert refusal(ws) == (403, 4403, "Cross-origin WebSocket refused")


def test_events_report_the_callers_jobs_changing_state_and_nobody_elses(
    server: Server, keys: Keys
) -> None:
    with (
        server.client(keys.manager) as manager,
        server.client(keys.admin) as admin,
        socket(server, "/events", keys.manager) as ws,
    ):
        assert receive(ws) == {"type": "ready"}
        foreign = submit(admin, "true")
        # Running for a second: changes that come together reach the stream as one record,
        # so a job done within milliseconds may show only its end.
        mine = submit(manager, "echo mine; sleep 1")
        wait_finished(manager, mine)
        statuses = []
        seen = set()
        while "Completed" not in statuses:
            message = receive(ws)
            if message["type"] == "job":
                seen.add(message["job"]["JobID"])
                if message["job"]["JobID"] == mine:
                    statuses.append(message["job"]["Status"])
        assert manager.delete("/jobs", params={"jobId": mine}).status_code == 200
        while (message := receive(ws))["type"] != "deleted":
            seen.add(message["job"]["JobID"])
        wait_finished(admin, foreign)

    assert message == {"type": "deleted", "jobId": mine}
    assert statuses[0] in ("Pending", "Running") and statuses[-1] == "Completed"
    assert foreign not in seen


def test_every_users_events_need_a_privileged_role(server: Server, keys: Keys) -> None:
    with socket(server, "/events?allUsers=true", keys.alice) as ws:
        status, code, _error = refusal(ws)
    assert (status, code) == (403, 4403)
    with socket(server, "/events?allUsers=true", keys.admin) as ws:
        assert receive(ws) == {"type": "ready"}


def test_a_logout_ends_the_sessions_open_sockets(server: Server, session_cookie: str) -> None:
    login = httpx.post(
        server.url + "/api/v1/auth/login", json={"username": "sam", "password": PASSWORD}
    )
    cookie, csrf = login.cookies["jobhost_session"], login.json()["csrfToken"]
    own = f"http://127.0.0.1:{server.port}"
    with socket(server, "/events", cookie=cookie, origin=own) as ws:
        assert receive(ws) == {"type": "ready"}
        out = httpx.post(
            server.url + "/api/v1/auth/logout",
            cookies={"jobhost_session": cookie},
            headers={"X-CSRF-Token": csrf},
        )
        assert out.status_code == 200
        assert refusal(ws) == (401, 4401, "Unauthorized")


def test_a_revoked_key_ends_an_open_stream(server: Server, server_dir: Path) -> None:
    token = create_key(server_dir, "manager", "--label", "short-lived")
    with server.client(token) as manager:
        job_id = submit(manager, "echo up; sleep 30")
        with socket(server, f"/jobs/stream?jobId={job_id}", token) as ws:
            assert receive(ws)["type"] == "state"
            keys = json.loads(run_cli(server_dir, "key", "list", "--json").stdout)
            [key_id] = [key["key_id"] for key in keys if key["label"] == "short-lived"]
            assert run_cli(server_dir, "key", "revoke", key_id).returncode == 0
            while (message := receive(ws))["type"] == "output":
                pass
            assert message == {"type": "error", "status": 401, "error": "Invalid API key"}
    kill_jobs_under(server_dir)


def test_sockets_their_clients_close_first_leave_no_error_in_the_log(
    server: Server, keys: Keys
) -> None:
    # A client that hangs up first (after `ready`, or as soon as it has the `end`) is the
    # common case, not a failure: the server must not log it as an ASGI exception.
    with server.client(keys.manager) as manager:
        job_id = submit(manager, "echo done")
        wait_finished(manager, job_id)
        seen = len(server.log())
        for _ in range(5):
            with socket(server, "/events", keys.manager) as ws:
                assert receive(ws) == {"type": "ready"}
            with socket(server, f"/jobs/stream?jobId={job_id}", keys.manager) as ws:
                assert follow(ws)[0] == "done\n"
        # Every socket's end handled: a request answered after them all, then a moment.
        assert manager.get("/jobs", params={"jobId": job_id}).status_code == 200
        time.sleep(0.5)
    added = server.log()[seen:]
    assert "Traceback" not in added and " ERROR " not in added, added[-3000:]
