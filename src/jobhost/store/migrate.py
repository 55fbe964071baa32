"""Bring a database up to the newest schema; run automatically whenever jobhost opens a store."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from jobhost.store.database import Database, lock_for_migration

_SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def migrate(db: Database) -> None:
    """Apply every pending migration in one transaction (a no-op when already current)."""
    config = alembic_config()
    with db.write() as conn:
        lock_for_migration(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
