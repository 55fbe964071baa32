"""Where a route's store work runs: on the event loop while SQLite can answer at once, on a
worker thread behind a write, so that a request waiting for the write lock never holds up
the others."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from jobhost.catalog import Catalog
from jobhost.clock import SystemClock
from jobhost.server import create_app
from jobhost.settings import Settings
from jobhost.store import SqlStore
from jobhost.web.app import BASE
from jobhost.web.deps import Guards, Services, store_work


@pytest.fixture
def sql_store(settings: Settings) -> Iterator[SqlStore]:
    store = SqlStore.open(settings.store_url, SystemClock())
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def services(settings: Settings, sql_store: SqlStore) -> Services:
    clock = SystemClock()
    catalog = Catalog(settings.catalog_path, clock.monotonic)
    return Services(
        settings, sql_store, clock, lambda: None, Guards.for_settings(settings, clock), catalog
    )


def _thread_of_work(svc: Services) -> tuple[int, int]:
    """(the thread the work ran on, the event loop's thread)."""

    async def measure() -> tuple[int, int]:
        return await store_work(svc, threading.get_ident), threading.get_ident()

    return asyncio.run(measure())


def test_work_runs_on_the_event_loop_while_sqlite_is_free(services: Services) -> None:
    ran_on, loop_thread = _thread_of_work(services)
    assert ran_on == loop_thread


def test_work_goes_to_a_thread_while_a_write_is_under_way(
    services: Services, sql_store: SqlStore
) -> None:
    with sql_store.db.driver_write():
        ran_on, loop_thread = _thread_of_work(services)
    assert ran_on != loop_thread


@pytest.mark.timeout(30)
def test_a_submit_waiting_for_the_write_lock_holds_up_no_other_request(
    settings: Settings, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, run_engine=False), headers=headers) as client:
        db = client.app.state.services.store.db  # type: ignore[attr-defined]
        statuses: list[int] = []
        body = {"jobName": "x", "command": "true", "executionMode": "BackgroundJob"}
        submitting = threading.Thread(
            target=lambda: statuses.append(
                client.post(BASE + "/jobs/submit", json=body).status_code
            )
        )
        # The key's first use records it (a write); done here, not behind the lock below.
        assert client.get(BASE + "/jobs").status_code == 200
        with db.driver_write():  # as the engine's transactions hold it
            submitting.start()
            submitting.join(0.5)
            # Had the submit run on the event loop, it would block it on the lock, and
            # this request would wait for the end of the write (a hang here).
            assert client.get("/healthz").status_code == 200
            assert client.get(BASE + "/jobs").status_code == 200
            assert submitting.is_alive() and statuses == []
        submitting.join(10)
        assert statuses == [200]


def test_work_whose_write_would_wait_starts_over_on_a_thread(
    services: Services, sql_store: SqlStore, settings: Settings
) -> None:
    # Another process's write, invisible to this one (shared with the timer's thread).
    other = sqlite3.connect(
        settings.data_dir / "jobhost.db", isolation_level=None, check_same_thread=False
    )
    ran_on: list[int] = []

    def work() -> None:
        ran_on.append(threading.get_ident())
        with sql_store.db.driver_write():
            pass

    async def measure() -> int:
        await store_work(services, work)
        return threading.get_ident()

    try:
        other.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, other.rollback).start()
        loop_thread = asyncio.run(measure())
    finally:
        other.close()
    assert ran_on[0] == loop_thread and ran_on[1:] != [loop_thread]
    assert len(ran_on) == 2
