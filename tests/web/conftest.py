"""Fixtures for the app tested in-process."""

from __future__ import annotations

import pytest

from jobhost.auth.keys import create_key
from jobhost.clock import SystemClock
from jobhost.settings import Settings
from jobhost.store import SqlStore


@pytest.fixture
def token(settings: Settings) -> str:
    """An API key of a new ``root`` user (system_admin) in the settings' store."""
    store = SqlStore.open(settings.store_url, SystemClock())
    try:
        store.users.add_user("root", frozenset({"system_admin"}), None)
        return create_key(store.users, SystemClock(), "root", None, None).token
    finally:
        store.close()
