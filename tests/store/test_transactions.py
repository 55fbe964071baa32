"""SQLite transactions as the store begins them: writes hold the write lock from the start,
and a read sees one snapshot for all its statements."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text

from jobhost.clock import SystemClock
from jobhost.errors import StoreUnavailable
from jobhost.store import SqlStore, database
from jobhost.store.schema import jobs, users


@pytest.mark.parametrize("kind", ["write", "driver_write"])
def test_a_write_holds_the_write_lock_from_its_start(tmp_path: Path, kind: str) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    other = sqlite3.connect(tmp_path / "t.db", timeout=0, isolation_level=None)
    try:
        with getattr(store.db, kind)():
            # Nothing written yet, but BEGIN IMMEDIATE already took the lock.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


def test_a_read_sees_one_snapshot(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        other.execute("CREATE TABLE t (n INTEGER)")
        with store.db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
            other.execute("INSERT INTO t VALUES (1)")  # committed meanwhile
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        with store.db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        other.close()
        store.close()


def test_a_write_that_cannot_get_the_lock_reports_the_store_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BEGIN IMMEDIATE and the engine's hot statements go to the driver directly, past
    # SQLAlchemy's error wrapping; callers must still see StoreUnavailable, not sqlite3.
    monkeypatch.setattr(database, "_BUSY_TIMEOUT_MS", 50)
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable):
            store.jobs.claim(1, "node-a")
        other.execute("ROLLBACK")
        assert store.jobs.claim(1, "node-a") == []
    finally:
        other.close()
        store.close()


def test_a_failed_driver_write_leaves_nothing_and_the_next_one_works(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        with pytest.raises(RuntimeError), store.db.driver_write() as driver:
            driver.execute("INSERT INTO job_totals VALUES ('lost', 1)")
            raise RuntimeError("between two statements")
        with store.db.driver_write() as driver:
            driver.execute("INSERT INTO job_totals VALUES ('kept', 1)")
        with store.db.read() as conn:
            users = conn.execute(text("SELECT user_id FROM job_totals")).scalars().all()
        assert users == ["kept"]
    finally:
        store.close()


def test_a_job_row_names_only_the_tables_columns(tmp_path: Path) -> None:
    # SQLAlchemy would leave other names out of the insert silently; the store refuses them.
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        with pytest.raises(ValueError, match="not columns"), store.db.dialect.write() as run:
            run.insert(jobs, {"job_id": "x", "name) VALUES (1); --": 1})
    finally:
        store.close()


def test_a_driver_connection_that_cannot_roll_back_is_replaced(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        with pytest.raises(RuntimeError), store.db.driver_write() as driver:
            driver.close()  # as a connection broken mid-transaction would be
            raise RuntimeError("the write failed")
        with store.db.driver_write() as driver:
            driver.execute("INSERT INTO job_totals VALUES ('after', 1)")
        with store.db.read() as conn:
            assert conn.execute(text("SELECT user_id FROM job_totals")).scalars().all() == ["after"]
    finally:
        store.close()


def test_only_an_idle_sqlite_store_answers_without_waiting(store: SqlStore) -> None:
    # The web runs short store work on its event loop only when this says so: never across
    # a network round trip, never behind a write of this process.
    if not store.db.is_sqlite:
        assert not store.db.answers_without_waiting()
        return
    assert store.db.answers_without_waiting()
    with store.db.write():
        assert not store.db.answers_without_waiting()
    with store.db.driver_write():
        assert not store.db.answers_without_waiting()
    assert store.db.answers_without_waiting()


def test_first_row_binds_parameters_by_name_in_statement_order(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        store.users.add_user("ann", frozenset({"user"}), None)
        store.users.add_user("bob", frozenset({"admin"}), None)
        query = select(users.c.user_id, users.c.roles).where(
            users.c.roles == bindparam("role"), users.c.user_id != bindparam("not_user")
        )
        with store.db.dialect.read() as run:
            # The mapping's order is the opposite of the statement's placeholders.
            found = run.first(query, {"not_user": "ann", "role": "admin"})
            missing = run.first(query, {"not_user": "bob", "role": "admin"})
        assert found == {"user_id": "bob", "roles": "admin"}
        assert missing is None
    finally:
        store.close()


def test_driver_reads_reuse_their_connections_and_see_each_commit(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        with store.db.driver_read() as first, store.db.driver_read() as second:
            assert first is not second  # two readers at once never share a connection
        for n in range(3):
            store.users.add_user(f"user-{n}", frozenset({"user"}), None)
            with store.db.driver_read() as again:
                # One of the same two, and no snapshot left open from its last statement.
                assert again is first or again is second
                assert again.execute("SELECT count(*) FROM users").fetchone() == (n + 1,)
    finally:
        store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        first.execute("SELECT 1")  # closing the store closed the idle ones


def test_a_driver_read_that_failed_is_not_handed_out_again(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    try:
        with pytest.raises(StoreUnavailable), store.db.driver_read() as broken:
            broken.execute("SELECT * FROM no_such_table")
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            broken.execute("SELECT 1")
        with store.db.driver_read() as driver:
            assert driver is not broken
            driver.execute("BEGIN")  # left open by its user: ended before the next one
        with store.db.driver_read() as same:
            assert same is driver and not same.in_transaction
    finally:
        store.close()
