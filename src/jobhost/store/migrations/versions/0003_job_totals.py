"""Finished-job counts per user, and an index for counting jobs by status.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FINISHED = "('Completed', 'Failed', 'Stopped', 'TimedOut', 'Interrupted', 'Cancelled')"


def upgrade() -> None:
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_totals",
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("finished", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_job_totals"),
    )
    op.execute(
        "INSERT INTO job_totals (user_id, finished) "
        f"SELECT user_id, count(*) FROM jobs WHERE status IN {FINISHED} GROUP BY user_id"
    )


def downgrade() -> None:
    op.drop_table("job_totals")
    op.drop_index("ix_jobs_status", table_name="jobs")
