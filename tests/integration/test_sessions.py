"""Browser sessions against a real server: login, cookie flags, CSRF, logout, throttling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobhost.auth.throttle import FAILURES_PER_ADDRESS
from tests.integration.conftest import Keys
from tests.integration.server import BASE, Server, free_port, run_cli

PASSWORD = "correct horse battery"
LOGIN = "/api/v1/auth/login"


def add_user_with_password(data_dir: Path, name: str, *roles: str) -> None:
    role_args = [arg for role in roles for arg in ("--role", role)]
    added = run_cli(data_dir, "user", "add", name, *role_args, "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr


@pytest.fixture(scope="module")
def people(server: Server, server_dir: Path) -> None:
    add_user_with_password(server_dir, "carol", "task_manager")
    add_user_with_password(server_dir, "erin")


@pytest.fixture
def browser(server: Server, people: None) -> Iterator[httpx.Client]:
    """A client with a cookie jar, as a browser has; not signed in yet."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def login(client: httpx.Client, name: str = "carol", password: str = PASSWORD) -> httpx.Response:
    return client.post(LOGIN, json={"username": name, "password": password})


def test_login_sets_a_locked_down_cookie_and_returns_the_csrf_token(browser: httpx.Client) -> None:
    response = login(browser)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["user"] == {"UserID": "carol", "Roles": ["authenticated", "task_manager"]}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("jobhost_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # plain HTTP on loopback; set over HTTPS
    me = browser.get("/api/v1/auth/me").json()
    assert me["user"]["UserID"] == "carol"
    assert me["csrfToken"] == body["csrfToken"]


def test_cookie_reads_need_no_token_but_changes_need_the_csrf_header(
    browser: httpx.Client,
) -> None:
    csrf = login(browser).json()["csrfToken"]
    job = {"jobName": "c", "command": "true", "executionMode": "BackgroundJob"}

    assert browser.get(BASE + "/jobs").status_code == 200
    refused = browser.post(BASE + "/jobs/submit", json=job)
    assert (refused.status_code, refused.json()) == (
        403,
        {"success": False, "error": "Missing or invalid CSRF token"},
    )
    wrong = browser.post(BASE + "/jobs/submit", json=job, headers={"X-CSRF-Token": csrf + "x"})
    assert wrong.status_code == 403
    accepted = browser.post(BASE + "/jobs/submit", json=job, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200, accepted.text
    job_id = accepted.json()["jobId"]
    assert browser.delete(BASE + "/jobs", params={"jobId": job_id}).status_code == 403


def test_logout_ends_the_session_even_for_a_replayed_cookie(browser: httpx.Client) -> None:
    csrf = login(browser).json()["csrfToken"]
    cookie = browser.cookies["jobhost_session"]

    assert browser.post("/api/v1/auth/logout").status_code == 403  # CSRF applies here too
    out = browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    assert out.status_code == 200
    assert "jobhost_session" not in browser.cookies
    replayed = httpx.get(
        browser.base_url.join("/api/v1/auth/me"), cookies={"jobhost_session": cookie}
    )
    assert (replayed.status_code, replayed.json()["error"]) == (401, "Unauthorized")


@pytest.mark.parametrize(
    ("name", "password"),
    [("carol", "wrong password"), ("nobody", PASSWORD), ("alice", PASSWORD)],
    ids=["wrong-password", "unknown-user", "user-without-password"],
)
def test_a_failed_login_says_the_same_whatever_was_wrong(
    browser: httpx.Client, name: str, password: str
) -> None:
    response = login(browser, name, password)

    assert (response.status_code, response.json()) == (
        401,
        {"success": False, "error": "Invalid username or password"},
    )
    assert "jobhost_session" not in browser.cookies


def test_login_refuses_what_a_cross_site_form_could_send(browser: httpx.Client) -> None:
    form = browser.post(LOGIN, data={"username": "carol", "password": PASSWORD})
    # A form with enctype=text/plain can carry a JSON-looking body.
    plain = browser.post(
        LOGIN,
        content=f'{{"username": "carol", "password": "{PASSWORD}"}}',
        headers={"Content-Type": "text/plain"},
    )
    for response in (form, plain):
        assert (response.status_code, response.json()["error"]) == (
            400,
            "Content-Type must be application/json",
        )
    assert "jobhost_session" not in browser.cookies


def test_a_bad_api_key_is_refused_even_beside_a_good_cookie(browser: httpx.Client) -> None:
    login(browser)
    response = browser.get(BASE + "/jobs", headers={"Authorization": "Bearer jh_not-a-key"})
    assert (response.status_code, response.json()["error"]) == (401, "Invalid API key")


def test_a_session_sees_only_its_users_jobs(
    browser: httpx.Client, server: Server, keys: Keys
) -> None:
    with server.client(keys.manager) as manager:
        theirs = manager.post(
            "/jobs/submit", json={"jobName": "m", "command": "true", "executionMode": "Runspace"}
        ).json()["jobId"]
    login(browser, "erin")

    assert browser.get(BASE + "/jobs", params={"jobId": theirs}).status_code == 404
    listing = browser.get(BASE + "/jobs").json()
    assert listing["counts"]["total"] == 0


def test_repeated_failures_lock_the_name_out_for_a_while(browser: httpx.Client) -> None:
    for _ in range(5):
        assert login(browser, "erin", "guess").status_code == 401

    locked = login(browser, "erin", PASSWORD)

    assert locked.status_code == 429
    assert locked.json()["error"].startswith("Too many failed logins; try again in ")
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert login(browser, "carol").status_code == 200  # other names are not locked out


@pytest.fixture
def fresh(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server of its own: these tests lock out 127.0.0.1, which would spoil the others."""
    env = getattr(request, "param", {})
    add_user_with_password(tmp_path, "carol", "task_manager")
    srv = Server(tmp_path, free_port(), env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def login_from(server: Server, name: str, password: str, forwarded_for: str) -> httpx.Response:
    return httpx.post(
        server.url + LOGIN,
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )


def test_a_forwarded_for_header_does_not_dodge_the_address_limit(fresh: Server) -> None:
    # A new name and a new claimed address for each guess: only the real peer ties them.
    for i in range(FAILURES_PER_ADDRESS):
        guess = login_from(fresh, f"nobody{i}", "guess", f"203.0.113.{i}")
        assert guess.status_code == 401, guess.text

    assert login_from(fresh, "nobody-else", "guess", "198.51.100.1").status_code == 429
    # While the peer is throttled even the right password is refused, whatever it claims.
    assert login_from(fresh, "carol", PASSWORD, "198.51.100.2").status_code == 429


@pytest.mark.parametrize("fresh", [{"JOBHOST_TRUSTED_PROXIES": "127.0.0.1"}], indirect=True)
def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(fresh: Server) -> None:
    for i in range(FAILURES_PER_ADDRESS):
        assert login_from(fresh, f"nobody{i}", "guess", "203.0.113.7").status_code == 401

    assert login_from(fresh, "carol", PASSWORD, "203.0.113.7").status_code == 429
    assert login_from(fresh, "carol", PASSWORD, "203.0.113.8").status_code == 200
