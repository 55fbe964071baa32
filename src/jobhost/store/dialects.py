"""How each database runs the store's statements, chosen once per Database.

The verbs declare their statements once, with SQLAlchemy, and run them through
``Statements``. On SQLite a ``Dialect`` runs the hot ones on the sqlite3 driver, compiled
once (``store/sqlite_driver.py``); on PostgreSQL through SQLAlchemy, which caches their
compiled form itself. What else differs by dialect (the counters' upsert) is here too.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, Executable, Insert, Select, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from jobhost.store.sqlite_driver import CompiledStatements, DriverStatements

if TYPE_CHECKING:
    from jobhost.store.database import Database

_Params = Mapping[str, Any]


class Statements(Protocol):
    """Statements run in one transaction; rows as tuples in the statement's column order."""

    dialect_name: str

    def rows(self, stmt: Executable, params: _Params) -> Sequence[Sequence[Any]]: ...

    def first(self, stmt: Select[Any], params: _Params) -> Mapping[Any, Any] | None: ...

    def run_many(self, stmt: Executable, rows: Sequence[_Params]) -> None:
        """Run ``stmt`` once for each of ``rows`` (its parameters)."""

    def insert(self, table: Table, values: _Params) -> None:
        """Add a row; columns left out take their defaults."""


class Dialect(Protocol):
    """Transactions for the hot statements, in the form that is fastest on this database."""

    def write(self, wait: bool = True) -> contextlib.AbstractContextManager[Statements]:
        """A write transaction, committed at the end of the block; waits as
        ``Database.write`` does."""

    def read(self) -> contextlib.AbstractContextManager[Statements]:
        """For lookups of one statement each (one statement reads one snapshot)."""


def dialect_for(db: Database) -> Dialect:
    return SqliteDialect(db) if db.is_sqlite else PostgresqlDialect(db)


class SqliteDialect:
    """Straight on the sqlite3 driver (``Database.driver_write`` and ``driver_read``)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._compiled = CompiledStatements(db.engine.dialect)

    def write(self, wait: bool = True) -> contextlib.AbstractContextManager[Statements]:
        return _OnDriver(self._db.driver_write(wait), self._compiled)

    def read(self) -> contextlib.AbstractContextManager[Statements]:
        return _OnDriver(self._db.driver_read(), self._compiled)


class _OnDriver:
    """A driver transaction's context, handing out its Statements (a class rather than a
    generator: one less frame to resume on the dispatcher's every commit)."""

    __slots__ = ("_compiled", "_transaction")

    def __init__(
        self,
        transaction: contextlib.AbstractContextManager[sqlite3.Connection],
        compiled: CompiledStatements,
    ) -> None:
        self._transaction = transaction
        self._compiled = compiled

    def __enter__(self) -> Statements:
        return DriverStatements(self._transaction.__enter__(), self._compiled)

    def __exit__(self, *exc: Any) -> bool | None:
        return self._transaction.__exit__(*exc)


class PostgresqlDialect:
    """Through SQLAlchemy (``Database.write`` and ``read``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.contextmanager
    def write(self, wait: bool = True) -> Iterator[Statements]:
        with self._db.write(wait) as conn:
            yield ConnectionStatements(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Statements]:
        with self._db.read() as conn:
            yield ConnectionStatements(conn)


class ConnectionStatements:
    """Statements run through SQLAlchemy, on a connection of either dialect."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect_name = conn.dialect.name

    def rows(self, stmt: Executable, params: _Params) -> Sequence[Sequence[Any]]:
        return self._conn.execute(stmt, params).all()

    def first(self, stmt: Select[Any], params: _Params) -> Mapping[Any, Any] | None:
        row = self._conn.execute(stmt, params).first()
        return row._mapping if row is not None else None

    def run_many(self, stmt: Executable, rows: Sequence[_Params]) -> None:
        if rows:
            self._conn.execute(stmt, list(rows))

    def insert(self, table: Table, values: _Params) -> None:
        self._conn.execute(insert(table), values)


def add_to_counters(
    run: Statements, table: Table, key: str, column: str, deltas: Mapping[str, int]
) -> None:
    """Add ``deltas`` to per-key counters, creating missing rows (an upsert: spelt per dialect)."""
    rows = [{key: name, column: delta} for name, delta in deltas.items() if delta]
    if rows:
        run.run_many(_counter_upsert(run.dialect_name, table, key, column), rows)


@functools.cache
def _counter_upsert(dialect_name: str, table: Table, key: str, column: str) -> Insert:
    """The upsert behind add_to_counters, built once per table (it runs on every finish)."""
    stmt = (sqlite.insert if dialect_name == "sqlite" else postgresql.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={column: table.c[column] + stmt.excluded[column]}
    )
