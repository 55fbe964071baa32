"""The store: the single source of truth for jobs, output, users, keys and schedules.

Everyone else depends on the ``Store`` protocol (``store/protocol.py``); ``SqlStore`` is
the one implementation, over SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from jobhost.clock import Clock
from jobhost.errors import StoreBusy
from jobhost.store.database import Database
from jobhost.store.jobs import SqlJobStore
from jobhost.store.migrate import migrate
from jobhost.store.protocol import (
    ApiKeys,
    JobStore,
    Recording,
    ScheduleStore,
    Store,
    UserStore,
)
from jobhost.store.schedules import SqlScheduleStore
from jobhost.store.users import SqlUserStore

_T = TypeVar("_T")


@dataclass(frozen=True)
class SqlStore:
    """The parts of the store over one database."""

    db: Database
    jobs: SqlJobStore
    users: SqlUserStore
    schedules: SqlScheduleStore

    @classmethod
    def open(cls, url: str, clock: Clock, background_checkpoints: bool = False) -> SqlStore:
        """Connect and migrate to the newest schema (``background_checkpoints``: see
        Database)."""
        db = Database(url, background_checkpoints)
        migrate(db)
        return cls(db, SqlJobStore(db, clock), SqlUserStore(db, clock), SqlScheduleStore(db, clock))

    def run_at_once(self, work: Callable[[], _T]) -> _T:
        """See ``Store.run_at_once``: only on SQLite (a local file, no network round trip)
        with no write of this process under way; a write that would still wait (another
        process holds SQLite's lock) raises StoreBusy before its first statement."""
        if not self.db.answers_without_waiting():
            raise StoreBusy()
        with self.db.without_waiting():
            return work()

    def write_problem(self) -> str | None:
        return self.db.health.problem()

    def close(self) -> None:
        self.db.dispose()


__all__ = [
    "ApiKeys",
    "Database",
    "JobStore",
    "Recording",
    "ScheduleStore",
    "SqlJobStore",
    "SqlScheduleStore",
    "SqlStore",
    "SqlUserStore",
    "Store",
    "UserStore",
]


def _satisfies(store: SqlStore) -> Store:
    """Never called: mypy checks here that SqlStore implements the protocol."""
    return store
