"""SQLite's log moved into the database file by a thread of its own, not by committers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from jobhost.clock import SystemClock
from jobhost.errors import StoreUnavailable
from jobhost.models import JobSpec, Mode
from jobhost.store import SqlStore
from jobhost.store.checkpoint import SAFETY_NET_PAGES, WalCheckpointer
from jobhost.store.jobs import OutputChunk

EIGHT_MIB = 8 * 1024 * 1024


def _write_output(store: SqlStore) -> None:
    job = store.jobs.submit("u", JobSpec(name="j", command="true", mode=Mode.BACKGROUND_JOB))
    store.jobs.claim(1, "n")
    store.jobs.record([OutputChunk(job.job_id, 0, b"x" * EIGHT_MIB)])


def test_commits_leave_the_log_to_the_thread_which_moves_it(tmp_path: Path) -> None:
    path = tmp_path / "bg.db"
    store = SqlStore.open(f"sqlite:///{path}", SystemClock(), background_checkpoints=True)
    try:
        with store.db.read() as conn:
            pages = conn.execute(text("PRAGMA wal_autocheckpoint")).scalar()
        assert pages == SAFETY_NET_PAGES
        _write_output(store)
        deadline = time.monotonic() + 10
        while path.stat().st_size < EIGHT_MIB:
            assert time.monotonic() < deadline, "the log never reached the database file"
            time.sleep(0.05)
    finally:
        store.close()


def test_without_the_thread_sqlite_checkpoints_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "fg.db"
    store = SqlStore.open(f"sqlite:///{path}", SystemClock())
    try:
        with store.db.read() as conn:
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
        _write_output(store)
        assert path.stat().st_size >= EIGHT_MIB  # copied by the commit itself
    finally:
        store.close()


def test_the_checkpointer_keeps_going_after_a_failure_and_stops_when_asked() -> None:
    calls: list[float] = []
    failed = threading.Event()

    def checkpoint() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            failed.set()
            raise StoreUnavailable()

    checkpointer = WalCheckpointer(checkpoint, interval=0.01)
    checkpointer.start()
    deadline = time.monotonic() + 5
    while len(calls) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    checkpointer.stop()
    stopped_at = len(calls)
    time.sleep(0.05)
    assert failed.is_set() and len(calls) == stopped_at
