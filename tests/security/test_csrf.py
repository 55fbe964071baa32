"""The CSRF sweep: a request signed in with the session cookie that changes state (every
POST, PATCH and DELETE route of ``ROUTES``, which test_route_table holds to the app's) is
a 403 without the session's ``X-CSRF-Token``, or with a wrong one, and changes nothing,
though the same request with the token would succeed on the caller's own objects."""

from __future__ import annotations

import httpx
import pytest

from jobhost.auth.sessions import SESSION_COOKIE
from jobhost.web.app import BASE
from jobhost.web.deps import CSRF_REFUSAL
from tests.integration.server import Server
from tests.security.conftest import PASSWORD, Objects, ok
from tests.security.probe import Caller, send
from tests.security.routes import OWN_JOB, OWN_SCHEDULE, ROUTES, STATE_CHANGING, Call, own_calls


def _changes() -> list[pytest.ParameterSet]:
    return [
        pytest.param(call, id=call.label)
        for key, row in ROUTES.items()
        if key[0] in STATE_CHANGING and not row.public
        for call in own_calls(key, row)
    ]


@pytest.fixture(scope="module")
def session(server: Server, objects: Objects) -> tuple[str, str]:
    """carol's session cookie and its CSRF token."""
    credentials = {"username": "carol", "password": PASSWORD}
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as browser:
        signed_in = ok(browser.post("/api/v1/auth/login", json=credentials))
        return browser.cookies[SESSION_COOKIE], str(signed_in["csrfToken"])


@pytest.mark.parametrize("change", _changes())
def test_a_change_with_the_cookie_but_without_the_csrf_token_is_refused(
    server: Server, objects: Objects, session: tuple[str, str], change: Call
) -> None:
    call = change.filled(objects.own["carol"])
    cookie, token = session
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")
    for csrf in (None, "", wrong):
        answer = send(server, Caller(cookie=cookie, csrf=csrf), call)
        assert (answer.status, answer.body) == (403, {"success": False, "error": CSRF_REFUSAL})


def test_the_sweep_left_the_session_and_its_objects_as_they_were(
    server: Server, objects: Objects, session: tuple[str, str], http: dict[str, httpx.Client]
) -> None:
    cookie, token = session
    signed_in = Caller(cookie=cookie)
    me = send(server, signed_in, Call("GET", "/api/v1/auth/me"))
    assert (me.status, me.body["user"]["UserID"]) == (200, "carol")
    own = objects.own["carol"]
    carol = http["carol"]
    assert ok(carol.get("/jobs", params={"jobId": own[OWN_JOB]}))["job"]["Status"] == "Completed"
    schedule = ok(carol.get("/schedules", params={"scheduleId": own[OWN_SCHEDULE]}))
    assert schedule["schedule"]["Enabled"] is True
    # and with its token the cookie does change things
    pause = Call("PATCH", f"{BASE}/schedules", {"scheduleId": own[OWN_SCHEDULE]}, {"enabled": True})
    assert send(server, Caller(cookie=cookie, csrf=token), pause).status == 200
