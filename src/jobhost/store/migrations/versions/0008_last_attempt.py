"""The last attempt's end (status, start, exit code, end) kept while a retry is pending, so that
cancelling the retry ends the job as that attempt did.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("last_status", sa.String(16), nullable=True))
    op.add_column("jobs", sa.Column("last_started_at", sa.Double(), nullable=True))
    op.add_column("jobs", sa.Column("last_exit_code", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("last_completed_at", sa.Double(), nullable=True))


def downgrade() -> None:
    for column in ("last_completed_at", "last_exit_code", "last_started_at", "last_status"):
        op.drop_column("jobs", column)
