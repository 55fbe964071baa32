"""SQLAlchemy statements run straight on the sqlite3 driver: the hot path on SQLite.

Every statement is declared once, with SQLAlchemy, beside the verb that runs it; on SQLite
the hot ones (submit, claim, output, outcomes, the API-key lookup) are compiled here once
and their text cached, then executed by sqlite3 itself, which also keeps their prepared
form. Running them through SQLAlchemy held the GIL several times longer than SQLite took
(docs/PERFORMANCE.md). Values go to the driver as given and rows come back as its tuples:
for statements whose types need no bind or result processing (no Enum, DateTime or JSON).
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Executable, Select, Table, insert
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

_Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DriverSql:
    """A statement compiled for sqlite3: its text, and its parameters in placeholder order."""

    text: str
    bind: Callable[[_Params], Sequence[Any]]
    columns: tuple[str, ...]
    expanding: str | None = None
    """The parameter bound as a list (``IN``), whose length the text is compiled for."""


class _Compiler(SQLiteCompiler):
    """SQLite's compiler, rendering the statements' SQLite hints (``INDEXED BY``), which
    SQLAlchemy's own leaves out, and no ``OFFSET 0`` after a LIMIT (one value less to bind
    at every claim)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text

    def limit_clause(self, select: Any, **kw: Any) -> str:
        if select._limit_clause is not None and select._offset_clause is None:
            return "\n LIMIT " + self.process(select._limit_clause, **kw)
        return str(super().limit_clause(select, **kw))  # type: ignore[no-untyped-call]


class CompiledStatements:
    """Each statement's text for this dialect, compiled at its first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._plain: dict[object, DriverSql] = {}
        self._sized: dict[tuple[object, int], DriverSql] = {}

    def of(self, stmt: Executable, params: _Params) -> DriverSql:
        found = self._plain.get(stmt)
        if found is None:
            found = self._plain[stmt] = _driver_sql(self._compile(stmt))
        if found.expanding is None:
            return found
        size = len(params[found.expanding])
        sized = self._sized.get((stmt, size))
        if sized is None:
            sized = self._sized[(stmt, size)] = _expanded(self._compile(stmt), size)
        return sized

    def of_insert(self, table: Table, columns: tuple[str, ...]) -> DriverSql:
        """``INSERT INTO table (columns) VALUES (...)``: the columns left out take their
        defaults."""
        found = self._plain.get((table, columns))
        if found is None:
            unknown = set(columns) - set(table.c.keys())
            if unknown:  # SQLAlchemy would leave them out silently
                raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")
            compiled = self._compile(insert(table), column_keys=list(columns))
            found = self._plain[(table, columns)] = _driver_sql(compiled)
        return found

    def _compile(self, stmt: Executable, **kw: Any) -> SQLCompiler:
        assert isinstance(stmt, ClauseElement)
        return _Compiler(self._dialect, stmt, **kw)


class DriverStatements:
    """Statements run on one sqlite3 connection, in whatever transaction it is in."""

    dialect_name = "sqlite"

    def __init__(self, driver: sqlite3.Connection, compiled: CompiledStatements) -> None:
        self._driver = driver
        self._compiled = compiled

    def rows(self, stmt: Executable, params: _Params) -> list[tuple[Any, ...]]:
        sql = self._compiled.of(stmt, params)
        return self._driver.execute(sql.text, sql.bind(params)).fetchall()

    def first(self, stmt: Select[Any], params: _Params) -> dict[str, Any] | None:
        sql = self._compiled.of(stmt, params)
        found = self._driver.execute(sql.text, sql.bind(params)).fetchone()
        return dict(zip(sql.columns, found, strict=True)) if found is not None else None

    def run_many(self, stmt: Executable, rows: Sequence[_Params]) -> None:
        if rows:
            sql = self._compiled.of(stmt, rows[0])
            assert sql.expanding is None, "one statement text for every row"
            self._driver.executemany(sql.text, map(sql.bind, rows))

    def insert(self, table: Table, values: _Params) -> None:
        sql = self._compiled.of_insert(table, tuple(values))
        self._driver.execute(sql.text, sql.bind(values))


def _driver_sql(compiled: SQLCompiler) -> DriverSql:
    names, constants, listed = _parameters(compiled)
    return DriverSql(compiled.string, _binder(names, constants), _columns(compiled), listed)


def _expanded(compiled: SQLCompiler, size: int) -> DriverSql:
    """The statement with its list parameter spelt out for ``size`` values: one text per
    size, so that sqlite3 also reuses its prepared form."""
    names, constants, listed = _parameters(compiled)
    assert listed is not None and size > 0
    placeholders = {name: [None] * size if name == listed else None for name in names}
    text = compiled.construct_expanded_state(placeholders).statement
    at = names.index(listed)
    before, after = _binder(names[:at], constants), _binder(names[at + 1 :], constants)

    def bind(params: _Params) -> Sequence[Any]:
        return (*before(params), *params[listed], *after(params))

    return DriverSql(text, bind, _columns(compiled), listed)


def _parameters(compiled: SQLCompiler) -> tuple[tuple[str, ...], dict[str, Any], str | None]:
    """The parameters' names in placeholder order, the values the statement binds itself
    (a status it sets, LIMIT's OFFSET 0), and the one bound as a list, if any."""
    names = tuple(compiled.positiontup or ())
    binds = {name: compiled.binds[name] for name in names}
    constants = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
    listed = [name for name, bind in binds.items() if bind.expanding]
    if len(listed) > 1:
        raise ValueError(f"one list parameter at most, not {listed}")
    return names, constants, listed[0] if listed else None


def _binder(names: tuple[str, ...], constants: dict[str, Any]) -> Callable[[_Params], Any]:
    """A function from {name: value} to the values in ``names`` order, constants filled in."""
    if not names:
        return lambda _params: ()
    pick = operator.itemgetter(*names)
    if len(names) == 1:
        return lambda params: (pick({**constants, **params}) if constants else pick(params),)
    if constants:
        return lambda params: pick({**constants, **params})
    return pick


def _columns(compiled: SQLCompiler) -> tuple[str, ...]:
    stmt = compiled.statement
    return tuple(stmt.selected_columns.keys()) if isinstance(stmt, Select) else ()
