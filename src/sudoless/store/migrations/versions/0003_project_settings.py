"""project settings: proxy users, flow locks, job override properties

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000

Existing projects get their creator as proxy user, as Azkaban's ``creator.default.proxy`` does at creation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_proxy_users",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("added_time", sa.BigInteger(), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "name"),
    )
    op.create_table(
        "flow_locks",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=512), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("locked_time", sa.BigInteger(), nullable=False),
        sa.Column("locked_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "flow_id"),
    )
    op.create_table(
        "job_overrides",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("job_id", sa.String(length=255), nullable=False),
        sa.Column(
            "props",
            sa.Text().with_variant(mysql.LONGTEXT(), "mariadb").with_variant(mysql.LONGTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column("modified_time", sa.BigInteger(), nullable=False),
        sa.Column("modified_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "version", "flow_id", "job_id"),
    )
    projects = sa.table(
        "projects",
        sa.column("id", sa.Integer()),
        sa.column("created_by", sa.String()),
        sa.column("created_time", sa.BigInteger()),
    )
    proxies = sa.table(
        "project_proxy_users",
        sa.column("project_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("added_time", sa.BigInteger()),
        sa.column("added_by", sa.String()),
    )
    op.execute(
        proxies.insert().from_select(
            ["project_id", "name", "added_time", "added_by"],
            sa.select(projects.c.id, projects.c.created_by, projects.c.created_time, projects.c.created_by),
        )
    )


def downgrade() -> None:
    op.drop_table("job_overrides")
    op.drop_table("flow_locks")
    op.drop_table("project_proxy_users")
