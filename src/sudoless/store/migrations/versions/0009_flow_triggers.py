"""flow triggers: each trigger's run state, its instances and their dependencies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 15:00:00.000000

A trigger's definition stays in the flow's graph JSON of its project version; these tables hold what
changes while it runs, so that a restarted server resumes waiting where it stopped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_triggers",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("cron", sa.String(length=255), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_fire", sa.BigInteger(), nullable=False),
        sa.Column("last_fire", sa.BigInteger(), nullable=False),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "flow_id"),
    )
    op.create_table(
        "trigger_instances",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("project_name", sa.String(length=255), nullable=False),
        sa.Column("project_version", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("submit_user", sa.String(length=255), nullable=False),
        sa.Column("cron", sa.String(length=255), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=False),
        sa.Column("max_wait_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("cancel_cause", sa.String(length=24), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("exec_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trigger_instances", schema=None) as batch_op:
        batch_op.create_index("ix_trigger_instances_status", ["status"], unique=False)
        batch_op.create_index("ix_trigger_instances_flow", ["project_id", "flow_id", "start_time"], unique=False)
    op.create_table(
        "trigger_dependencies",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=False),
        sa.Column("cancel_cause", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checked_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("trigger_dependencies")
    with op.batch_alter_table("trigger_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_instances_flow")
        batch_op.drop_index("ix_trigger_instances_status")
    op.drop_table("trigger_instances")
    op.drop_table("flow_triggers")
