"""long history: a duration column and index, narrow filter pairs and unfinished executions by index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 04:00:00.000000

With a million executions the executions list sorted by duration read and sorted every row (0.7-1.5 s a
page): duration was an expression of two columns. It becomes a generated column (``tables.DURATION``),
computed by the database: adding it fills it for every existing row (the backfill), and every later insert or
update of start or end time keeps it right whatever code writes them. SQLite can add only a VIRTUAL
generated column (computed on read, and stored in the index); PostgreSQL has only STORED ones (this
rewrites the table once); MariaDB's default is VIRTUAL, indexable too. The index (duration, id) then gives a
page of the sort like the other (column, id) indexes of migration 0013.

Two filter pairs of the list matched a few rows each but walked one index and tested the other condition
row by row: a status with a user, and a project with a flow (by name); each gets its (a, b, id) index.

A flow's unfinished executions (getRunning, the concurrency check at submit) are a handful among a
million: a partial index holds only those on SQLite and PostgreSQL (MariaDB has no partial indexes; its
planner already searched ``ix_executions_status``). SQLite with ``ANALYZE`` statistics otherwise judged a
status to match a fifth of the table and scanned it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The expressions as they stood when this migration was written (the tables module may move on).
DURATION = "CASE WHEN end_time < 0 OR start_time < 0 THEN -1 ELSE end_time - start_time END"
UNFINISHED_SQL = (
    "status IN ('READY', 'DISPATCHING', 'PREPARING', 'RUNNING', 'PAUSED', 'KILLING', 'FAILED_FINISHING', "
    "'SKIPPED', 'DISABLED', 'QUEUED', 'FAILED_SUCCEEDED', 'CANCELLED')"
)
PAIRS = (
    ("ix_executions_by_duration", ["duration", "id"]),
    ("ix_executions_status_user", ["status", "submit_user", "id"]),
    ("ix_executions_project_flow", ["project_name", "flow_id", "id"]),
)


def upgrade() -> None:
    op.add_column("executions", sa.Column("duration", sa.BigInteger(), sa.Computed(DURATION)))
    for name, columns in PAIRS:
        op.create_index(name, "executions", columns)
    if op.get_bind().dialect.name in ("sqlite", "postgresql"):
        where = sa.text(UNFINISHED_SQL)
        op.create_index(
            "ix_executions_unfinished",
            "executions",
            ["project_id", "flow_id", "id"],
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name in ("sqlite", "postgresql"):
        op.drop_index("ix_executions_unfinished", table_name="executions")
    for name, _ in PAIRS:
        op.drop_index(name, table_name="executions")
    op.drop_column("executions", "duration")
