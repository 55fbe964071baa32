"""The security headers on every response of a real server, walked from the app's route
table (so a route added later is covered), with no credentials and with a key; and no CORS
answer to a foreign origin."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts

from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.web.security_headers import CONTENT_SECURITY_POLICY
from tests.integration.conftest import Keys
from tests.integration.server import BASE, Server

FOREIGN = "http://evil.example"
REQUIRED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": CONTENT_SECURITY_POLICY,
}


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, path parameters filled with a plausible value."""
    app = create_app(Settings(data_dir="unused"))  # the table only: no lifespan runs
    found = []
    for context in iter_route_contexts(app.routes):
        path = re.sub(r"\{[^}]+\}", "app.js", str(context.path))
        if isinstance(context.original_route, APIWebSocketRoute):
            found.append(("GET", path))  # a plain request to a socket's path: 404
        else:
            found += [(method, path) for method in sorted((context.methods or set()) - {"HEAD"})]
    return found


ROUTES = _routes()


def check_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, where
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert not any(name.startswith("access-control-") for name in response.headers), where


def test_the_route_table_was_walked() -> None:
    paths = {path for _method, path in ROUTES}
    assert {BASE + "/jobs/submit", BASE + "/events", "/healthz", "/openapi.json"} <= paths


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_answers_with_the_security_headers(
    server: Server, keys: Keys, method: str, path: str
) -> None:
    statuses = set()
    for headers in ({}, {"Authorization": f"Bearer {keys.alice}"}):
        response = httpx.request(
            method, server.url + path, headers={**headers, "Origin": FOREIGN}, timeout=30
        )
        check_headers(response)
        statuses.add(response.status_code)
    assert 500 not in statuses


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", BASE + "/no/such/route", 404),
        ("GET", "/no-such-page", 404),
        ("PUT", BASE + "/jobs/submit", 405),
        ("GET", BASE + "/jobs", 401),
        ("GET", "/docs", 404),  # off: it would load a CDN's scripts into this origin
    ],
)
def test_errors_carry_the_security_headers_too(
    server: Server, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, server.url + path, timeout=30)
    assert response.status_code == status
    check_headers(response)
    assert response.json()["success"] is False


def test_an_invalid_key_answer_carries_them(server: Server) -> None:
    response = httpx.get(
        server.url + BASE + "/jobs", headers={"Authorization": "Bearer jh_nope"}, timeout=30
    )
    assert response.status_code == 401
    check_headers(response)


def test_a_too_large_body_carries_them(server: Server, keys: Keys) -> None:
    with server.client(keys.alice) as alice:
        response = alice.post("/jobs/submit", content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413
    check_headers(response)


@pytest.mark.parametrize("path", [BASE + "/jobs/submit", BASE + "/jobs", "/api/v1/auth/login"])
def test_a_preflight_from_a_foreign_origin_is_not_allowed(server: Server, path: str) -> None:
    response = httpx.options(
        server.url + path,
        headers={
            "Origin": FOREIGN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=30,
    )
    assert response.status_code == 405
    check_headers(response)


def test_a_foreign_origins_credentialed_request_gets_no_cors_answer(
    server: Server, keys: Keys
) -> None:
    with server.client(keys.alice) as alice:
        response = alice.get("/jobs", headers={"Origin": FOREIGN})
    assert response.status_code == 200
    check_headers(response)
