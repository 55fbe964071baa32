"""Opening the database: the one place that knows SQLite from PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a crash of the process loses nothing
committed; a power loss may drop the last few commits. Every write transaction starts with
``BEGIN IMMEDIATE`` so that two writers queue on ``busy_timeout`` instead of failing with
SQLITE_BUSY when a deferred transaction tries to upgrade its lock. A write waits for the
lock (this process's, then SQLite's) for the busy timeout in all, then raises StoreBusy;
reads never wait for it (WAL).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import PoolProxiedConnection

from jobhost.errors import StoreBusy, StoreFull, StoreUnavailable
from jobhost.store.checkpoint import SAFETY_NET_PAGES, WalCheckpointer
from jobhost.store.dialects import Dialect, dialect_for
from jobhost.store.write_health import WriteHealth

logger = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 10_000
_K = TypeVar("_K")


def normalise_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.get_backend_name() in ("postgres", "postgresql") and parsed.drivername in (
        "postgres",
        "postgresql",
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names; None for PostgreSQL or an in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Database:
    """A connection pool with ``read()`` and ``write()`` transactions and translated errors."""

    def __init__(self, url: str, background_checkpoints: bool = False) -> None:
        """``background_checkpoints``: for a long-running server on SQLite, checkpoint the
        log from a thread (see ``store/checkpoint.py``) instead of in committing threads."""
        self.url = normalise_url(url)
        self.engine: Engine = create_engine(
            self.url, pool_pre_ping=not self.url.startswith("sqlite")
        )
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite admits one writer at a time anyway; queueing writers of this process on a
        # lock keeps them off busy_timeout's sleep-and-retry loop.
        self._sqlite_writes = threading.Lock() if self.is_sqlite else None
        self._at_once = threading.local()
        self.health = WriteHealth()
        self._checkpointer: WalCheckpointer | None = None
        # The driver writes' connections: one waits for SQLite's lock, one never does.
        self._drivers: dict[bool, sqlite3.Connection] = {}
        self._idle_readers: list[sqlite3.Connection] = []
        self._closed = False
        if self.is_sqlite:
            pages = SAFETY_NET_PAGES if background_checkpoints else None
            _configure_sqlite(self.engine, pages)
            if background_checkpoints:
                self._checkpointer = WalCheckpointer(self.checkpoint)
                self._checkpointer.start()
        self.dialect: Dialect = dialect_for(self)
        """Runs the hot statements in this database's fastest form; the only dialect choice
        outside this module."""

    def answers_without_waiting(self) -> bool:
        """Whether a short store call may run on an event loop right now: the database is
        SQLite (a local file: no network round trip) and no write of this process is under
        way. A write that begins between this check and the call's statements makes the
        call wait for that one (short) transaction."""
        return self._sqlite_writes is not None and not self._sqlite_writes.locked()

    @contextlib.contextmanager
    def without_waiting(self) -> Iterator[None]:
        """In this block, this thread's writes raise StoreBusy rather than wait for the
        write lock: for work on an event loop, which must never block (another process
        may hold SQLite's lock, which ``answers_without_waiting`` cannot see)."""
        self._at_once.on = True
        try:
            yield
        finally:
            self._at_once.on = False

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reading: one snapshot for all its statements."""
        with translate_errors(), self.engine.connect() as conn:
            self._begin(conn, "BEGIN")
            yield conn

    @contextlib.contextmanager
    def write(self, wait: bool = True) -> Iterator[Connection]:
        """A write transaction; StoreBusy if the write lock is not had within the budget,
        or at once with ``wait=False`` (or in ``without_waiting``)."""
        at_once = self._is_at_once(wait)
        with translate_errors(self.health, at_once):
            busy_ms = self._lock_for_write(at_once)
            try:
                with self.engine.connect() as conn, conn.begin():
                    if self.is_sqlite:
                        _begin_immediate(_driver_of(conn), 0 if at_once else busy_ms)
                    yield conn
                self.health.commits += 1
            finally:
                self._unlock_after_write()

    @contextlib.contextmanager
    def driver_write(self, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """SQLite only: a write transaction straight on the driver, for the hot writes
        (``dialect.write()``: submit, claim, output and outcomes); waits as
        ``write`` does. Its connections stay open, outside the pool: every driver write
        holds the write lock, so one thread at a time uses them."""
        at_once = self._is_at_once(wait)
        with translate_errors(self.health, at_once):
            busy_ms = self._lock_for_write(at_once)
            try:
                driver = self._own_driver_connection(at_once)
                # The connection that never waits has a busy timeout of 0 of its own.
                _begin_immediate(driver, None if at_once else busy_ms)
                try:
                    yield driver
                    driver.commit()
                except BaseException:
                    # Never leave a transaction open: the next BEGIN would fail. A connection
                    # that cannot even roll back is dropped, and the next write opens another.
                    try:
                        driver.rollback()
                    except sqlite3.Error:
                        self._drop_driver_connection(at_once)
                    raise
                self.health.commits += 1
            finally:
                self._unlock_after_write()

    def _is_at_once(self, wait: bool) -> bool:
        return not wait or getattr(self._at_once, "on", False)

    def _lock_for_write(self, at_once: bool) -> int | None:
        """Take this process's write lock (SQLite); returns the busy timeout in ms that
        BEGIN IMMEDIATE may then use, or None for the connection's own: the budget is
        shared by both waits."""
        lock = self._sqlite_writes
        if lock is None:
            return None
        if not lock.acquire(blocking=False):
            asked = time.monotonic()
            budget = _BUSY_TIMEOUT_MS / 1000
            if at_once:
                raise StoreBusy()
            if not lock.acquire(timeout=budget):
                logger.warning(
                    "store unavailable: the write lock stayed taken for %.1f s",
                    budget,
                    extra={"action": "store_error"},
                )
                raise StoreBusy()
            self.health.began = time.monotonic()
            return max(1, int((budget - (self.health.began - asked)) * 1000))
        self.health.began = time.monotonic()
        return None

    def _unlock_after_write(self) -> None:
        if self._sqlite_writes is not None:
            self.health.began = None
            self._sqlite_writes.release()

    @contextlib.contextmanager
    def driver_read(self) -> Iterator[sqlite3.Connection]:
        """SQLite only: a connection straight on the driver, for hot lookups of one
        statement each (a statement reads one snapshot by itself; no BEGIN needed).

        These connections are kept in a list of their own rather than SQLAlchemy's pool,
        whose check-out and check-in cost more than the lookups themselves.
        There are never more of them than threads reading at once."""
        with translate_errors():
            try:
                driver = self._idle_readers.pop()  # list.pop and append are atomic
            except IndexError:
                driver = self._detached_connection()
            try:
                yield driver
                if driver.in_transaction:  # a statement that began one; end it as the pool would
                    driver.rollback()
            except BaseException:
                driver.close()  # whatever state it is in, it is not handed out again
                raise
            if self._closed:
                driver.close()
            else:
                self._idle_readers.append(driver)

    def _own_driver_connection(self, at_once: bool) -> sqlite3.Connection:
        driver = self._drivers.get(at_once)
        if driver is None:
            driver = self._drivers[at_once] = self._detached_connection()
            if at_once:
                driver.execute("PRAGMA busy_timeout=0")
        return driver

    def _detached_connection(self) -> sqlite3.Connection:
        """A new sqlite3 connection, configured exactly like the pool's, then let go of by
        the pool: its owner closes it."""
        pooled = self.engine.raw_connection()
        driver = _sqlite_of(pooled)
        pooled.detach()
        return driver

    def _drop_driver_connection(self, at_once: bool) -> None:
        """Close one of the driver writes' connections; hold the write lock."""
        driver = self._drivers.pop(at_once, None)
        if driver is not None:
            with contextlib.suppress(sqlite3.Error):
                driver.close()

    def _begin(self, conn: Connection, statement: str) -> None:
        # SQLite only (PostgreSQL's driver begins by itself), and straight to the driver:
        # SQLAlchemy's "begin" event would do it too, but any connection event makes every
        # statement of every connection dispatch events, which cost the dispatcher more
        # than its claim statement itself.
        if self.is_sqlite:
            _driver_of(conn).execute(statement)

    def checkpoint(self) -> tuple[int, int, int]:
        """SQLite: one PASSIVE checkpoint of the log; (busy, pages in the log, pages moved)."""
        with translate_errors(), self.engine.connect() as conn:
            busy, logged, moved = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(busy), int(logged), int(moved)

    def dispose(self) -> None:
        self._closed = True
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._sqlite_writes or contextlib.nullcontext():
            self._drop_driver_connection(at_once=False)
            self._drop_driver_connection(at_once=True)
        while self._idle_readers:
            self._idle_readers.pop().close()
        self.engine.dispose()


def _sqlite_of(pooled: PoolProxiedConnection) -> sqlite3.Connection:
    driver = pooled.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _driver_of(conn: Connection) -> Any:
    driver = conn.connection.driver_connection
    assert driver is not None  # checked out, hence connected
    return driver


def _begin_immediate(driver: sqlite3.Connection, busy_ms: int | None) -> None:
    """BEGIN IMMEDIATE, waiting up to ``busy_ms`` for SQLite's lock (None: the connection's
    own busy timeout)."""
    if busy_ms is None:
        driver.execute("BEGIN IMMEDIATE")
        return
    driver.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    try:
        driver.execute("BEGIN IMMEDIATE")
    finally:
        driver.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")


@contextlib.contextmanager
def translate_errors(health: WriteHealth | None = None, at_once: bool = False) -> Iterator[None]:
    """Driver errors stop here: callers see StoreUnavailable (StoreBusy, StoreFull), never
    sqlite3 or psycopg. A write's failure is noted in ``health``, save a StoreBusy of one
    that was not to wait (its caller tries again where it may)."""
    try:
        yield
    except StoreUnavailable as exc:  # already logged where it was raised
        _note(exc, None, health, at_once)
        raise
    except sqlite3.OperationalError as exc:
        # Raised straight from the driver: BEGIN IMMEDIATE and store/sqlite_driver.py's.
        error = _classified(exc)
        _note(error, exc, health, at_once)
        raise error from exc
    except DBAPIError as exc:
        if not (isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated):
            raise
        error = _classified(exc.orig)
        _note(error, exc.orig, health, at_once)
        raise error from exc


def _classified(orig: BaseException | None) -> StoreUnavailable:
    """The StoreUnavailable a driver error means: the disk full, the lock taken, or other."""
    code = getattr(orig, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    sqlstate = getattr(orig, "sqlstate", None)
    if primary == sqlite3.SQLITE_FULL or sqlstate == "53100":  # PostgreSQL's disk_full
        return StoreFull()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreBusy()
    return StoreUnavailable()


def _note(
    error: StoreUnavailable, cause: object, health: WriteHealth | None, at_once: bool
) -> None:
    if at_once and isinstance(error, StoreBusy):
        return
    if cause is not None:
        logger.warning("store unavailable: %s", cause, extra={"action": "store_error"})
    if health is not None:
        health.failed(error)


def _configure_sqlite(engine: Engine, autocheckpoint_pages: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if autocheckpoint_pages is not None:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint_pages)}")
        cursor.close()


KEYS_PER_STATEMENT = 500
"""Keys bound in one statement at most: within any SQLite's limit on parameters (999
before 3.32), for lookups whose key lists can grow long."""


def in_batches(keys: Sequence[_K]) -> list[Sequence[_K]]:
    """``keys`` cut into runs of at most KEYS_PER_STATEMENT."""
    step = KEYS_PER_STATEMENT
    return [keys[at : at + step] for at in range(0, len(keys), step)]


def lock_for_migration(conn: Connection) -> None:
    """Serialise concurrent migrations (two processes starting at once)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274001)")
