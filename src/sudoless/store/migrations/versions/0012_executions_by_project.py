"""executions by project: a project's newest execution found by one index search

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:00:00.000000

The projects list shows each project's newest execution. With only (project_id, flow_id, ...) indexes, the
newest of a project is a maximum over every execution of the project (a million executions of a long
history: hundreds of milliseconds on PostgreSQL); (project_id, id) makes it one index search.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_executions_project_id", "executions", ["project_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_executions_project_id", table_name="executions")
