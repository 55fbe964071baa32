"""Fixtures shared by every test: data dirs, settings, and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from jobhost.clock import SystemClock
from jobhost.settings import Settings
from jobhost.store import SqlStore


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="run the heavier variants of the fault tests (tests/faults) at full size",
    )


@pytest.fixture(scope="session")
def slow(request: pytest.FixtureRequest) -> bool:
    """Whether ``--slow`` was given: tests that scale take their full size."""
    return bool(request.config.getoption("--slow"))


POSTGRES_ADMIN_URL = os.environ.get(
    "JOBHOST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _postgres_reachable() -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        return f"no PostgreSQL server at {POSTGRES_ADMIN_URL}: {exc.orig}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = _postgres_reachable()
    if reason is not None:
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="module")
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test module, dropped afterwards."""
    name = f"jobhost_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, output_flush_seconds=0.01, tick_seconds=0.2)


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[SqlStore]:
    store = SqlStore.open(settings.store_url, SystemClock())
    yield store
    store.close()
