"""Retention: a partial index of finished jobs by status and completed_at, so the purge
finds the oldest by a seek however long the history.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# As store/schema.py's FINISHED_CONDITION (a migration keeps its own copy of what it built).
_FINISHED = sa.text(
    "status IN ('Completed', 'Failed', 'Stopped', 'TimedOut', 'Interrupted', 'Cancelled')"
)


def upgrade() -> None:
    op.create_index(
        "ix_jobs_finished",
        "jobs",
        ["status", "completed_at"],
        sqlite_where=_FINISHED,
        postgresql_where=_FINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_finished", "jobs")
