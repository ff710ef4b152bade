"""Retention (gallring): a member's retention period, per e-service overrides, and when a
case was thinned

The application may now UPDATE the two retention columns of its own member's row (the
own_profile policy of 0004 already limits it to the bound member). It needs nothing new on
the case tables: thinning clears columns and deletes attachment and outbox rows, which it
could already do there, for the bound member only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:02:11.000000

"""

import re

import sqlalchemy as sa
from alembic import op
from flask import current_app

RETENTION_COLUMNS = ("retention_months", "retention_by_service")
DUE = "closed_at IS NOT NULL AND thinned_at IS NULL"

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thinned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_cases_tenant_due_for_thinning",
            ["tenant_id", "service_slug", "closed_at"],
            unique=False,
            postgresql_where=sa.text(DUE),
            sqlite_where=sa.text(DUE),
        )

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_months", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "retention_by_service", sa.JSON(), server_default=sa.text("'{}'"), nullable=False
            )
        )

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"GRANT UPDATE ({', '.join(RETENTION_COLUMNS)}) ON tenants TO {_app_role()}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE ({', '.join(RETENTION_COLUMNS)}) ON tenants FROM {_app_role()}")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("retention_by_service")
        batch_op.drop_column("retention_months")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_tenant_due_for_thinning")
        batch_op.drop_column("thinned_at")
