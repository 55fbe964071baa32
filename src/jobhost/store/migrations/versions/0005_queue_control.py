"""Queue control: dependencies, run-at, retries, the pending reason, reruns.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SCHEDULED = sa.text("status = 'Scheduled'")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("depends_on", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("run_at", sa.Double(), nullable=True))
    op.add_column(
        "jobs",
        sa.Column("max_retries", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("jobs", sa.Column("retry_delay_seconds", sa.Double(), nullable=True))
    op.add_column("jobs", sa.Column("pending_reason", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("rerun_of", sa.String(36), nullable=True))
    op.create_index(
        "ix_jobs_run_at", "jobs", ["run_at"], sqlite_where=_SCHEDULED, postgresql_where=_SCHEDULED
    )
    op.create_table(
        "job_dependencies",
        sa.Column("depends_on", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("depends_on", "job_id", name="pk_job_dependencies"),
    )


def downgrade() -> None:
    op.drop_table("job_dependencies")
    op.drop_index("ix_jobs_run_at", "jobs")
    for column in (
        "rerun_of", "pending_reason", "retry_delay_seconds", "max_retries", "run_at", "depends_on"
    ):  # fmt: skip
        op.drop_column("jobs", column)
