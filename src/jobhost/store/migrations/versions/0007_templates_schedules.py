"""Templates and schedules: a job's template, variables and schedule; the schedules table.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("template_id", sa.String(255), nullable=True))
    op.add_column("jobs", sa.Column("variables", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("schedule_id", sa.String(36), nullable=True))
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("overlap", sa.String(8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("template_id", sa.String(255), nullable=True),
        sa.Column("variables", sa.Text(), nullable=True),
        sa.Column("job", sa.Text(), nullable=True),
        sa.Column("declared_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("next_run_at", sa.Double(), nullable=True),
        sa.Column("last_run_at", sa.Double(), nullable=True),
        sa.Column("last_job_id", sa.String(36), nullable=True),
        sa.Column("last_skipped_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("schedule_id", name="pk_schedules"),
        sa.UniqueConstraint("declared_by", name="uq_schedules_declared_by"),
    )
    op.create_index("ix_schedules_user_id_created_at", "schedules", ["user_id", "created_at"])
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])


def downgrade() -> None:
    op.drop_index("ix_schedules_next_run_at", "schedules")
    op.drop_index("ix_schedules_user_id_created_at", "schedules")
    op.drop_table("schedules")
    for column in ("schedule_id", "variables", "template_id"):
        op.drop_column("jobs", column)
