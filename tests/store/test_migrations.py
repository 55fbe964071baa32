"""Migrations build exactly the declared tables on each dialect, and the SQLite settings hold."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from jobhost.models import JobSpec, Mode
from jobhost.store import SqlStore
from jobhost.store.database import normalise_url
from jobhost.store.migrate import alembic_config, migrate
from jobhost.store.schema import metadata


def schema_diff(store: SqlStore) -> list[Any]:
    """What autogenerate would change to make the database match ``schema.metadata``."""
    with store.db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def revision(store: SqlStore) -> str | None:
    with store.db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_build_the_declared_schema(store: SqlStore) -> None:
    assert schema_diff(store) == []


def index_definitions(conn: Connection, schema: str) -> dict[str, str]:
    """Each index of ``schema`` as the database itself renders it, without the schema name."""
    if conn.dialect.name == "sqlite":
        query = text(f"SELECT name, sql FROM {schema}.sqlite_master WHERE type = 'index'")
    else:
        query = text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :schema")
    return {
        name: " ".join(sql.replace(f" ON {schema}.", " ON ").split())
        for name, sql in conn.execute(query, {"schema": schema})
        if sql is not None and not name.startswith("alembic_version")
    }


def declared_index_definitions(store: SqlStore) -> dict[str, str]:
    """The indexes that ``metadata.create_all`` builds on the store's dialect."""
    if store.db.is_sqlite:
        engine = create_engine("sqlite://")
        try:
            with engine.begin() as conn:
                metadata.create_all(conn)
                return index_definitions(conn, "main")
        finally:
            engine.dispose()
    # PostgreSQL's DDL is transactional: build the reference in a schema and roll it back.
    with store.db.engine.connect() as conn, conn.begin() as transaction:
        conn.exec_driver_sql("CREATE SCHEMA reference")
        metadata.create_all(conn.execution_options(schema_translate_map={None: "reference"}))
        definitions = index_definitions(conn, "reference")
        transaction.rollback()
        return definitions


def test_migrations_build_the_declared_indexes_and_their_conditions(store: SqlStore) -> None:
    # compare_metadata ignores the WHERE clause of partial indexes; the database's own
    # rendering of each index does not.
    schema = "main" if store.db.is_sqlite else "public"
    with store.db.engine.connect() as conn:
        migrated = index_definitions(conn, schema)

    declared = declared_index_definitions(store)

    assert "ix_jobs_queue" in declared
    assert migrated == declared


def test_the_database_is_at_the_newest_revision(store: SqlStore) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    assert head is not None
    assert revision(store) == head


def test_migrating_again_is_a_no_op(store: SqlStore) -> None:
    job = store.jobs.submit("alice", JobSpec(name="kept", command="true", mode=Mode.RUNSPACE))
    before = revision(store)

    migrate(store.db)
    migrate(store.db)

    assert revision(store) == before
    assert schema_diff(store) == []
    assert store.jobs.get(job.job_id) == job


def test_reopening_a_migrated_database_keeps_its_rows(store: SqlStore) -> None:
    job = store.jobs.submit("alice", JobSpec(name="kept", command="true", mode=Mode.RUNSPACE))

    reopened = SqlStore.open(store.db.url, store.jobs.clock)
    try:
        assert reopened.jobs.get(job.job_id) == job
    finally:
        reopened.close()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_synchronous_normal(store: SqlStore) -> None:
    with store.db.engine.connect() as conn:
        pragma = conn.exec_driver_sql

        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 10_000


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:secret@db:5433/jobs", "postgresql+psycopg://u:secret@db:5433/jobs"),
        ("postgresql://u:secret@db/jobs", "postgresql+psycopg://u:secret@db/jobs"),
        ("postgresql://db/jobs?sslmode=require", "postgresql+psycopg://db/jobs?sslmode=require"),
        ("postgresql+psycopg://db/jobs", "postgresql+psycopg://db/jobs"),
        ("postgresql+psycopg2://db/jobs", "postgresql+psycopg2://db/jobs"),
        ("sqlite:////var/lib/jobhost/jobhost.db", "sqlite:////var/lib/jobhost/jobhost.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalise_url_chooses_psycopg_for_plain_postgres_urls(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_upgrading_counts_the_finished_jobs_already_stored(store: SqlStore) -> None:
    config = alembic_config()
    with store.db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    with store.db.write() as conn:
        for n, status in enumerate(["Completed", "Failed", "Running", "Cancelled", "Pending"]):
            conn.execute(
                text(
                    "INSERT INTO jobs (job_id, user_id, name, command, mode, status, "
                    "submitted_at) VALUES (:id, :user, 'j', 'true', 'BackgroundJob', :status, 1)"
                ),
                {"id": f"00000000-0000-4000-8000-{n:012x}", "user": f"u{n % 2}", "status": status},
            )

    migrate(store.db)

    with store.db.read() as conn:
        totals: dict[str, int] = dict(
            conn.execute(text("SELECT user_id, finished FROM job_totals")).all()
        )
    assert totals == {"u0": 1, "u1": 2}
