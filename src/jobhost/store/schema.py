"""The tables, declared once; Alembic migrations must build exactly these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# On SQLite only an INTEGER PRIMARY KEY is the auto-incrementing rowid.
_SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=True),
    Column("roles", String(1000), nullable=False),  # space-separated, sorted
    Column("created_at", Double, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
    Column("last_used_at", Double, nullable=True),
)

# Browser sessions: the cookie's token is stored only as its SHA-256, like API keys.
sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    # seq orders jobs (FIFO dispatch, newest-first listing); job_id is the public name.
    Column("seq", _SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("job_id", String(36), nullable=False, unique=True),
    Column("user_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("command", Text, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("submitted_at", Double, nullable=False),
    Column("started_at", Double, nullable=True),
    Column("completed_at", Double, nullable=True),
    Column("stop_requested_at", Double, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("attempt", Integer, nullable=False, server_default=text("0")),
    Column("stop_grace_seconds", Double, nullable=True),
    Column("timeout_seconds", Double, nullable=True),
    Column("env", Text, nullable=True),  # JSON object of strings
    Column("working_directory", Text, nullable=True),
    Column("output_size", BigInteger, nullable=False, server_default=text("0")),
    Column("output_dropped", BigInteger, nullable=False, server_default=text("0")),
    Column("node", String(255), nullable=True),
    # Times a restarting engine put the job back in the queue because it had been claimed
    # but never started (store/unstart.py); once only, so a job cannot loop forever.
    Column("requeues", Integer, nullable=False, server_default=text("0")),
    # Queue control (CONTRACT Part 2, "Submit: more fields").
    Column("depends_on", Text, nullable=True),  # JSON list of job ids, in the order given
    Column("run_at", Double, nullable=True),  # Scheduled until then (a retry's time too)
    Column("max_retries", Integer, nullable=False, server_default=text("0")),
    Column("retry_delay_seconds", Double, nullable=True),
    Column("pending_reason", Text, nullable=True),  # set by the dispatcher, said as is
    Column("rerun_of", String(36), nullable=True),
    # Templates and schedules (CONTRACT Part 2).
    Column("template_id", String(255), nullable=True),
    Column("variables", Text, nullable=True),  # JSON object of strings: a template start's
    Column("schedule_id", String(36), nullable=True),
    # The last attempt's end while its retry is pending (store/scheduling.py), not shown: a
    # cancelled retry ends the job as that attempt did (store/jobs.py cancel).
    Column("last_status", String(16), nullable=True),
    Column("last_started_at", Double, nullable=True),
    Column("last_exit_code", Integer, nullable=True),
    Column("last_completed_at", Double, nullable=True),
    # What a finished BackgroundJob's process tree used (CONTRACT Part 2, "History").
    Column("cpu_seconds", Double, nullable=True),
    Column("max_rss_bytes", BigInteger, nullable=True),
    Index("ix_jobs_user_status_seq", "user_id", "status", "seq"),
    # Counting the pending and running jobs of every user seeks these few statuses.
    Index("ix_jobs_status", "status"),
)

# How many finished jobs each user has, kept by the same transactions that finish, cancel and
# delete jobs: counting a long history row by row made every listing slower as it grew.
job_totals = Table(
    "job_totals",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("finished", BigInteger, nullable=False),
)

# Partial indexes keep the engine's hot queries small however long the history grows.
# Queries must spell the condition literally (these constants) for SQLite to use them.


def _partial_index(name: str, condition: str, *columns: Any) -> Index:
    return Index(name, *columns, sqlite_where=text(condition), postgresql_where=text(condition))


# The dispatch queue: pending jobs in the order they are claimed.
PENDING_CONDITION = "status = 'Pending'"
_partial_index("ix_jobs_queue", PENDING_CONDITION, jobs.c.priority.desc(), jobs.c.seq)

# What each engine is running.
ACTIVE_CONDITION = "status IN ('Running', 'Stopping')"
_partial_index("ix_jobs_active", ACTIVE_CONDITION, jobs.c.node)

# The jobs each Scheduled job waits on the clock for: the earliest is the dispatcher's alarm.
SCHEDULED_CONDITION = "status = 'Scheduled'"
_partial_index("ix_jobs_run_at", SCHEDULED_CONDITION, jobs.c.run_at)

# Finished jobs in the order they finished, whatever their status: retention deletes the
# oldest first, a seek from the index's start (store/retention.py).
FINISHED_CONDITION = (
    "status IN ('Completed', 'Failed', 'Stopped', 'TimedOut', 'Interrupted', 'Cancelled')"
)
_partial_index("ix_jobs_finished", FINISHED_CONDITION, jobs.c.completed_at)

# Which jobs wait on which: a job's end looks up exactly its dependents (the key's prefix).
job_dependencies = Table(
    "job_dependencies",
    metadata,
    Column("depends_on", String(36), primary_key=True),
    Column("job_id", String(36), primary_key=True),
)

# Recurring jobs (CONTRACT Part 2, "Schedules"). next_run_at is null while paused: the
# firing loop's alarm is the earliest next_run_at (its index).
schedules = Table(
    "schedules",
    metadata,
    Column("schedule_id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("overlap", String(8), nullable=False),  # 'skip' or 'queue'
    Column("enabled", Boolean, nullable=False),
    Column("template_id", String(255), nullable=True),
    Column("variables", Text, nullable=True),  # JSON object of strings (template schedules)
    Column("job", Text, nullable=True),  # JSON submit payload (schedules of free-form jobs)
    # The catalog file that declares it (a template's `schedule`): updated and removed with it.
    Column("declared_by", String(255), nullable=True, unique=True),
    Column("created_at", Double, nullable=False),
    Column("next_run_at", Double, nullable=True),
    Column("last_run_at", Double, nullable=True),
    Column("last_job_id", String(36), nullable=True),
    Column("last_skipped_at", Double, nullable=True),
    # Why the last failed firing failed, shown to the owner; cleared by the next firing.
    Column("last_error", Text, nullable=True),
    Column("last_error_at", Double, nullable=True),
    Index("ix_schedules_user_id_created_at", "user_id", "created_at"),
    Index("ix_schedules_next_run_at", "next_run_at"),
)

# A job's output as consecutive byte ranges; chunks never exceed store.jobs.CHUNK_BYTES.
job_output = Table(
    "job_output",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("start", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)
