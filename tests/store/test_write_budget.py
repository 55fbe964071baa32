"""How long a SQLite write waits for the write lock, what its failures are called, and what
the store's write health says about them."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobhost.clock import SystemClock
from jobhost.errors import StoreBusy, StoreFull
from jobhost.models import JobSpec, Mode
from jobhost.store import SqlStore, database, write_health
from jobhost.store.jobs import OutputChunk
from tests.full_disk import cap_the_file


@contextlib.contextmanager
def _store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        yield opened
    finally:
        opened.close()


@contextlib.contextmanager
def _other(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection, as far as SQLite can tell."""
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with _store(tmp_path) as opened:
        yield opened


@pytest.fixture
def other(tmp_path: Path, store: SqlStore) -> Iterator[sqlite3.Connection]:
    with _other(tmp_path) as conn:
        yield conn


@pytest.mark.parametrize("kind", ["write", "driver_write"])
def test_a_write_that_may_not_wait_is_refused_at_once_and_is_no_failure(
    store: SqlStore, other: sqlite3.Connection, kind: str
) -> None:
    other.execute("BEGIN IMMEDIATE")
    began = time.monotonic()
    with pytest.raises(StoreBusy), getattr(store.db, kind)(wait=False):
        pass
    with pytest.raises(StoreBusy), store.db.without_waiting(), getattr(store.db, kind)():
        pass
    assert time.monotonic() - began < 0.5
    assert store.db.health.problem() is None  # its caller tries again where it may wait
    other.execute("ROLLBACK")
    with getattr(store.db, kind)(wait=False):
        pass


def test_waiting_for_this_process_and_for_sqlite_share_one_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "_BUSY_TIMEOUT_MS", 600)  # before connections are made
    with _store(tmp_path) as store, _other(tmp_path) as other:
        _wait_behind_a_waiting_writer(store, other)


def _wait_behind_a_waiting_writer(store: SqlStore, other: sqlite3.Connection) -> None:
    other.execute("BEGIN IMMEDIATE")
    holding = threading.Thread(target=_write_once_and_fail, args=(store,))
    holding.start()  # this process's writer, waiting for SQLite's lock, holds ours
    time.sleep(0.3)
    began = time.monotonic()
    with pytest.raises(StoreBusy), store.db.driver_write():
        pass
    took = time.monotonic() - began
    holding.join()
    assert 0.5 < took < 0.9  # 0.3 for our lock, the rest of 0.6 for SQLite's
    assert "lock" in (store.db.health.problem() or "")
    other.execute("ROLLBACK")
    with store.db.driver_write():
        pass
    assert store.db.health.problem() is None  # the next commit ends a busy spell


def _write_once_and_fail(store: SqlStore) -> None:
    with pytest.raises(StoreBusy), store.db.driver_write():
        pass


def test_a_write_holding_up_the_others_makes_the_store_degraded(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_health, "STALLED_SECONDS", 0.2)
    with store.db.write():
        assert store.db.health.problem() is None
        time.sleep(0.3)
        assert "waited" in (store.db.health.problem() or "")
    assert store.db.health.problem() is None


def test_a_full_database_is_told_apart_and_reported(store: SqlStore) -> None:
    job = store.jobs.submit("alice", JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB))
    cap_the_file(store)
    with pytest.raises(StoreFull):
        store.jobs.record([OutputChunk(job.job_id, 0, b"x" * 200_000)])
    assert "disk is full" in (store.db.health.problem() or "")
