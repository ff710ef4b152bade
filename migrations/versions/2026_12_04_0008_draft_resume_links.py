"""Save and continue later: a draft's private resume link (only its SHA-256 digest is
stored) and each member's own draft lifetime in days

The application may UPDATE draft_days on its own member's row (the profile page); the
own_profile policy of 0004 already limits it to the bound member.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:10:00.000000

"""

import re

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    op.add_column(
        "tenants", sa.Column("draft_days", sa.Integer(), nullable=False, server_default="30")
    )
    op.add_column("drafts", sa.Column("resume_digest", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_drafts_tenant_resume_digest", "drafts", ["tenant_id", "resume_digest"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT UPDATE (draft_days) ON tenants TO {_app_role()}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE (draft_days) ON tenants FROM {_app_role()}")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index("uq_drafts_tenant_resume_digest")
        batch_op.drop_column("resume_digest")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("draft_days")
