"""The store: the single source of truth for jobs, output, users and keys."""

from __future__ import annotations

from dataclasses import dataclass

from jobhost.clock import Clock
from jobhost.store.database import Database
from jobhost.store.jobs import JobStore
from jobhost.store.migrate import migrate
from jobhost.store.users import UserStore


@dataclass(frozen=True)
class Store:
    """The two halves of the store over one database."""

    db: Database
    jobs: JobStore
    users: UserStore

    @classmethod
    def open(cls, url: str, clock: Clock, background_checkpoints: bool = False) -> Store:
        """Connect and migrate to the newest schema (``background_checkpoints``: see
        Database)."""
        db = Database(url, background_checkpoints)
        migrate(db)
        return cls(db, JobStore(db, clock), UserStore(db, clock))

    def close(self) -> None:
        self.db.dispose()


__all__ = ["Database", "JobStore", "Store", "UserStore"]
