"""SQLite transactions as the store begins them: writes hold the write lock from the start,
and a read sees one snapshot for all its statements."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from jobhost.clock import SystemClock
from jobhost.store import Store


def test_a_write_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
    other = sqlite3.connect(tmp_path / "t.db", timeout=0, isolation_level=None)
    try:
        with store.db.write():
            # Nothing written yet, but BEGIN IMMEDIATE already took the lock.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()


def test_a_read_sees_one_snapshot(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 't.db'}", SystemClock())
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
