"""Retention purges the oldest finished jobs first: ix_jobs_finished orders them by
completed_at alone (it was by status, then completed_at, which no walk could keep in order).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As store/schema.py's FINISHED_CONDITION (a migration keeps its own copy of what it built).
_FINISHED = sa.text(
    "status IN ('Completed', 'Failed', 'Stopped', 'TimedOut', 'Interrupted', 'Cancelled')"
)


def _create(columns: list[str]) -> None:
    op.create_index(
        "ix_jobs_finished", "jobs", columns, sqlite_where=_FINISHED, postgresql_where=_FINISHED
    )


def upgrade() -> None:
    op.drop_index("ix_jobs_finished", "jobs")
    _create(["completed_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished", "jobs")
    _create(["status", "completed_at"])
