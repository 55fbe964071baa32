"""The store contract fixtures: one ``store`` per dialect, a clean slate and a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.store.schema import (
    api_keys,
    job_dependencies,
    job_output,
    job_totals,
    jobs,
    schedules,
    users,
)

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

START = 1_700_000_000.0
"""Where every fake clock starts: a plausible epoch time, exactly representable as a float."""


class FakeClock:
    """A Clock that only moves when a test says so."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._monotonic = 1000.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._monotonic += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def empty(store: SqlStore) -> None:
    """Delete every row, children before parents (a module shares one PostgreSQL database)."""
    with store.db.write() as conn:
        for table in (job_dependencies, job_output, jobs, job_totals, schedules, api_keys, users):
            conn.execute(delete(table))


def _url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """An empty database of the requested dialect (a file for SQLite, so threads share it)."""
    if request.param == "sqlite":
        return settings.store_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=DIALECTS)
def store(
    request: pytest.FixtureRequest, settings: Settings, clock: FakeClock
) -> Iterator[SqlStore]:
    """A migrated store on the fake ``clock``, with no rows in any table."""
    opened = SqlStore.open(_url(request, settings), clock)
    try:
        empty(opened)
        yield opened
    finally:
        opened.close()
