"""schedules: an end time and what to do with slots missed while no scheduler ran

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:10:00.000000

Azkaban's ``endSchedTime`` (no fire after it; -1 for none) and ``backExecuteOnce`` (run once for missed
slots, or skip them). Existing schedules keep the behaviour they had: missed slots run once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("end_time", sa.BigInteger(), nullable=False, server_default="-1"))
        batch.add_column(sa.Column("back_execute_once", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("back_execute_once")
        batch.drop_column("end_time")
