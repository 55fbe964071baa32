"""Fixtures of the service tests: the schedule harness over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobhost.settings import Settings
from jobhost.store import SqlStore
from tests.service.schedule_fixtures import Harness, harness
from tests.store.conftest import FakeClock


@pytest.fixture
def h(settings: Settings) -> Iterator[Harness]:
    """Users of each kind and the schedule operations, on a fake clock at START."""
    clock = FakeClock()
    store = SqlStore.open(settings.store_url, clock)
    try:
        yield harness(store, clock)
    finally:
        store.close()
