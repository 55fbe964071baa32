"""The jobhost command itself, run as a subprocess."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import Server, create_user, free_port, kill_jobs_under, run_cli


def test_first_start_creates_admin_once_and_prints_working_credentials(tmp_path: Path) -> None:
    server = Server(tmp_path, free_port(), {})
    server.start()
    try:
        log = server.log()
        password = re.findall(r"password: (\S+)", log)
        token = re.findall(r"API key:\s+(\S+)", log)
        assert len(password) == 1 and len(token) == 1
        me = httpx.get(
            server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {token[0]}"}
        ).json()
        assert me["user"] == {
            "UserID": "admin",
            "Roles": ["authenticated", "debug", "system_admin"],
        }
    finally:
        server.stop()
    server.port = free_port()
    server.start()  # a second start: the store is not empty, nothing new is printed
    try:
        assert "API key" not in server.log()
    finally:
        server.stop()


def test_a_busy_port_fails_before_the_first_start_makes_the_admin(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli(tmp_path, "serve", "--port", str(port))

    assert busy.returncode == 1
    assert busy.stderr.strip().splitlines() == [
        f"jobhost: cannot listen on 127.0.0.1:{port}: address already in use"
    ]
    assert "password" not in busy.stdout
    server = Server(tmp_path, free_port(), {})
    server.start()  # the credentials were not spent: this start shows them
    try:
        assert len(re.findall(r"password: (\S+)", server.log())) == 1
        assert len(re.findall(r"API key:\s+(\S+)", server.log())) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    "setting", [{}, {"JOBHOST_ACCESS_LOG": "false"}, {"JOBHOST_LOG_LEVEL": "warning"}]
)
def test_the_access_log_shows_each_request_unless_switched_off(
    tmp_path: Path, setting: dict[str, str]
) -> None:
    server = Server(tmp_path, free_port(), setting)
    server.start()  # polls /healthz until the server answers
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()
    # One line per request with its time, client, request line, status and duration; the
    # last batch is written when the server stops.
    line = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO jobhost\.access: 127\.0\.0\.1:\d+ - "
        r'"GET /healthz HTTP/1\.1" 200 \d+\.\dms$',
        re.MULTILINE,
    )
    assert bool(line.search(server.log())) is (not setting)


def test_user_and_key_lifecycle(tmp_path: Path) -> None:
    added = run_cli(tmp_path, "user", "add", "carol@example.com", "--role", "task_manager",
                    "--role", "ops", "--password-stdin", stdin="correct horse\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    users = json.loads(run_cli(tmp_path, "user", "list", "--json").stdout)
    assert users[0]["user_id"] == "carol@example.com"
    assert users[0]["roles"] == ["ops", "task_manager"]
    assert users[0]["has_password"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", users[0]["created_at"])

    created = run_cli(tmp_path, "key", "create", "carol@example.com", "--label", "ci")
    token = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"jh_[A-Za-z0-9_-]{43}", token)
    listing = run_cli(tmp_path, "key", "list", "--json").stdout
    assert token not in listing  # never shown again
    [key] = json.loads(listing)
    assert key["label"] == "ci" and key["state"] == "active"
    assert token not in run_cli(tmp_path, "key", "list").stdout

    revoked = run_cli(tmp_path, "key", "revoke", key["key_id"])
    assert revoked.returncode == 0
    assert json.loads(run_cli(tmp_path, "key", "list", "--json").stdout)[0]["state"] == "revoked"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "dup"], None, "User already exists: dup"),
        (["user", "add", "../etc"], None, "Invalid user name"),
        (["user", "add", "x", "--role", "Bad Role"], None, "Invalid role"),
        (["user", "add", "y", "--password-stdin"], "short\n", "at least 8 characters"),
        (["key", "create", "nobody"], None, "No such user: nobody"),
        (["key", "create", "dup", "--expires-days", "0"], None, "positive"),
        (["key", "revoke", "key_000000000000"], None, "No such key"),
        (["user", "frobnicate"], None, "No such command"),
        (["key", "create"], None, "Missing argument"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    assert run_cli(tmp_path, "user", "add", "dup").returncode == 0
    result = run_cli(tmp_path, *args, stdin=stdin)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jobhost: ")
    assert message in lines[0]


def test_a_misspelt_setting_is_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "user", "list", env={"JOBHOST_MAX_CONCURENT_JOBS": "3"})
    assert result.returncode == 1
    assert "Unknown setting JOBHOST_MAX_CONCURENT_JOBS" in result.stderr


def test_serve_refuses_a_bad_setting_before_starting(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", env={"JOBHOST_PORT": "seventy"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "jobhost: Invalid JOBHOST_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_version(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "version")
    assert result.returncode == 0
    assert re.fullmatch(r"\d+\.\d+\.\d+\n", result.stdout)


BUILT_IN = "debug, site_admin, system_admin, task_manager"
LOGIN = "/api/v1/auth/login"
OLD = "old password"


def login(server: Server, name: str, password: str) -> httpx.Response:
    return httpx.post(server.url + LOGIN, json={"username": name, "password": password})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path, free_port(), {})
    server.start()
    try:
        yield server
    finally:
        server.stop()
        kill_jobs_under(tmp_path)


def test_a_role_that_is_not_built_in_is_warned_about_and_can_be_corrected(
    tmp_path: Path,
) -> None:
    assert f"Built-in roles: {BUILT_IN}" in run_cli(tmp_path, "user", "add", "--help").stdout
    assert f"Built-in roles: {BUILT_IN}" in run_cli(tmp_path, "user", "roles", "--help").stdout

    typo = run_cli(tmp_path, "user", "add", "dana", "--role", "taskmanager")
    assert typo.returncode == 0, typo.stderr
    assert typo.stderr.strip().splitlines() == [
        f"jobhost: warning: 'taskmanager' is not a built-in role ({BUILT_IN}); "
        "it grants nothing unless a catalog entry names it"
    ]
    fixed = run_cli(tmp_path, "user", "roles", "dana", "--add", "task_manager", "--add", "debug",
                    "--remove", "taskmanager")  # fmt: skip
    assert (fixed.returncode, fixed.stderr) == (0, "")
    assert fixed.stdout == "roles of dana: debug, task_manager\n"
    dropped = run_cli(tmp_path, "user", "roles", "dana", "--remove", "debug", "--add", "ops")
    assert (dropped.returncode, dropped.stdout) == (0, "roles of dana: ops, task_manager\n")
    assert dropped.stderr.startswith("jobhost: warning: 'ops' is not a built-in role")
    run_cli(tmp_path, "user", "roles", "dana", "--remove", "ops")
    assert json.loads(run_cli(tmp_path, "user", "list", "--json").stdout)[0]["roles"] == [
        "task_manager"
    ]
    unknown = run_cli(tmp_path, "user", "roles", "nobody", "--add", "debug")
    assert (unknown.returncode, unknown.stderr) == (1, "jobhost: No such user: nobody\n")


def test_user_passwd_replaces_the_password_and_ends_sessions(
    tmp_path: Path, served: Server
) -> None:
    assert (
        run_cli(tmp_path, "user", "add", "erin", "--password-stdin", stdin=OLD + "\n").returncode
        == 0
    )
    session = login(served, "erin", OLD)
    assert session.status_code == 200

    changed = run_cli(tmp_path, "user", "passwd", "erin")
    assert changed.returncode == 0, changed.stderr
    [new] = re.findall(r"^new password of erin: (\S+)$", changed.stdout, re.MULTILINE)

    assert login(served, "erin", OLD).status_code == 401
    assert login(served, "erin", new).status_code == 200
    me = httpx.get(served.url + "/api/v1/auth/me", cookies=session.cookies)
    assert me.status_code == 401  # the session started with the old password has ended
    given = run_cli(tmp_path, "user", "passwd", "erin", "--password-stdin", stdin="chosen one\n")
    assert (given.returncode, given.stdout) == (0, "password of erin changed\n")
    assert "chosen one" not in given.stdout
    assert login(served, "erin", "chosen one").status_code == 200
    assert login(served, "erin", new).status_code == 401


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "passwd", "nobody"], None, "No such user: nobody"),
        (["user", "passwd", "erin", "--password-stdin"], "short\n", "at least 8 characters"),
        (["user", "rm", "nobody"], None, "No such user: nobody"),
        (["user", "roles", "erin", "--add", "Bad Role"], None, "Invalid role 'Bad Role'"),
    ],
)
def test_bad_user_changes_are_one_line_on_stderr(
    tmp_path: Path, args: list[str], stdin: str | None, message: str
) -> None:
    assert run_cli(tmp_path, "user", "add", "erin").returncode == 0
    result = run_cli(tmp_path, *args, stdin=stdin)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("jobhost: ") and message in line


def test_user_rm_ends_their_keys_and_sessions_and_keeps_their_jobs(
    tmp_path: Path, served: Server
) -> None:
    admin = create_user(tmp_path, "root", "system_admin")
    token = create_user(tmp_path, "gone", "task_manager")
    given = run_cli(tmp_path, "user", "passwd", "gone", "--password-stdin", stdin=OLD + "\n")
    assert given.returncode == 0, given.stderr
    session = login(served, "gone", OLD)
    with served.client(token) as theirs:
        submitted = theirs.post(
            "/jobs/submit", json={"jobName": "kept", "command": "true", "executionMode": "Runspace"}
        )
        job_id = submitted.json()["jobId"]

    removed = run_cli(tmp_path, "user", "rm", "gone")

    assert removed.returncode == 0, removed.stderr
    assert run_cli(tmp_path, "user", "rm", "--help").stdout.count("Their jobs stay") == 1
    with served.client(token) as theirs:
        assert theirs.get("/jobs").status_code == 401
    assert httpx.get(served.url + "/api/v1/auth/me", cookies=session.cookies).status_code == 401
    assert login(served, "gone", OLD).status_code == 401
    users = json.loads(run_cli(tmp_path, "user", "list", "--json").stdout)
    assert "gone" not in [user["user_id"] for user in users]
    with served.client(admin) as root:
        job = root.get("/jobs", params={"jobId": job_id}).json()["job"]
    assert job["UserID"] == "gone"
