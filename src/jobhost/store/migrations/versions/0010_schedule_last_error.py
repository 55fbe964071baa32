"""A schedule's last failed firing (why, and when), so its owner sees it: the refusal
was only logged.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("schedules", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("schedules", sa.Column("last_error_at", sa.Double(), nullable=True))


def downgrade() -> None:
    op.drop_column("schedules", "last_error_at")
    op.drop_column("schedules", "last_error")
