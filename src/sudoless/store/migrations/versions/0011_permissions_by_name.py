"""permissions by name: a session's read loads the grants of its user and the user's groups

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_permissions_name", "permissions", ["name", "is_group"])


def downgrade() -> None:
    op.drop_index("ix_permissions_name", table_name="permissions")
