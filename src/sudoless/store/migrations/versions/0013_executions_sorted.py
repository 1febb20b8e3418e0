"""executions sorted: the executions list's sorts and name filters read off indexes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:30:00.000000

The executions list sorts by any of its columns, newest first among equals, and shows one page of 50. With
an index on (column, id) a page is read off the index in order (forwards or backwards) and the walk stops
after the page, where without one every matching execution is read and sorted: with a million executions,
hundreds of milliseconds per page view. The same indexes let the filters on parts of project, flow and user
names find the few distinct names by index searches (``sudoless.store.executions``) and the executions of
those names in id order. The index on end_time alone gives way to (end_time, id), which serves what it
served (the scheduler's recently finished executions) and the sort by end.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: (index, column); each is (column, id)
SORTED = (
    ("ix_executions_by_project", "project_name"),
    ("ix_executions_by_flow", "flow_id"),
    ("ix_executions_by_status", "status"),
    ("ix_executions_by_user", "submit_user"),
    ("ix_executions_by_submitted", "submit_time"),
    ("ix_executions_by_started", "start_time"),
    ("ix_executions_by_ended", "end_time"),
    ("ix_executions_by_source", "source"),
)


def upgrade() -> None:
    op.drop_index("ix_executions_end", table_name="executions")
    for name, column in SORTED:
        op.create_index(name, "executions", [column, "id"])


def downgrade() -> None:
    for name, _ in SORTED:
        op.drop_index(name, table_name="executions")
    op.create_index("ix_executions_end", "executions", ["end_time"])
