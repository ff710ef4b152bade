"""A member's administrators choose its default language (the profile page)

The application may now UPDATE default_language on its own member's row (the own_profile
policy of 0004 already limits it to the bound member).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:40:00.000000

"""

import re

from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT UPDATE (default_language) ON tenants TO {_app_role()}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE (default_language) ON tenants FROM {_app_role()}")
