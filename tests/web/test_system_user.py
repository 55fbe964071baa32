"""A user stored under the id ``system`` (made before the name was reserved) cannot sign in
in any way: the catalog's schedules and their jobs are owned by that id, and the built-in
``system`` never signs in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from jobhost.auth.keys import create_key, hash_token
from jobhost.auth.passwords import hash_password
from jobhost.clock import SystemClock
from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.store import SqlStore

PASSWORD = "correct horse battery staple"
SESSION = "a-session-token-of-the-legacy-user"


@pytest.fixture
def legacy_token(settings: Settings) -> str:
    """The API key of a stored user ``system`` with a password and a live session."""
    store = SqlStore.open(settings.store_url, SystemClock())
    try:
        store.users.add_user("system", frozenset({"system_admin"}), hash_password(PASSWORD))
        store.users.add_session(hash_token(SESSION), "system", "csrf", SystemClock().now() + 600)
        return create_key(store.users, SystemClock(), "system", None, None).token
    finally:
        store.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_engine=False), base_url="http://t") as c:
        yield c


def test_a_stored_user_named_system_cannot_use_a_key_a_password_or_a_session(
    client: TestClient, legacy_token: str
) -> None:
    schedules = "/apps/WebHostTaskManagement/api/v1/schedules"
    keyed = client.get(schedules, headers={"Authorization": f"Bearer {legacy_token}"})
    assert keyed.status_code == 401
    login = {"username": "system", "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=login).status_code == 401
    client.cookies.set("jobhost_session", SESSION)
    assert client.get(schedules).status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401


def test_the_server_says_at_startup_that_a_stored_system_user_cannot_sign_in(
    settings: Settings, legacy_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings, run_engine=False)):
        pass
    assert "a stored user is named system, the id of the catalog's schedules" in caplog.text
