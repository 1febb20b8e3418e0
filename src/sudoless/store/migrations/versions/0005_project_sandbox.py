"""project sandbox: the paths and ports an admin grants a project's jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 13:30:00.000000

One row per project that has a grant; a project without a row keeps the sandbox's defaults.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_sandbox",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("read_paths", sa.Text(), nullable=False),
        sa.Column("write_paths", sa.Text(), nullable=False),
        sa.Column("connect_ports", sa.Text(), nullable=True),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id"),
    )


def downgrade() -> None:
    op.drop_table("project_sandbox")
