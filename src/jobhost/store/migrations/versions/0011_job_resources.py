"""What a finished BackgroundJob's process tree used: CPU seconds and peak resident bytes.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("cpu_seconds", sa.Double(), nullable=True))
    op.add_column("jobs", sa.Column("max_rss_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "max_rss_bytes")
    op.drop_column("jobs", "cpu_seconds")
