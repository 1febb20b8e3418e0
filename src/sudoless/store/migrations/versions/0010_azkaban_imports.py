"""azkaban imports: what `sudoless azkaban import` already brought in, so that a rerun skips it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "azkaban_imports",
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("imported_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "kind", "source_key"),
    )


def downgrade() -> None:
    op.drop_table("azkaban_imports")
