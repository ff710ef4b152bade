"""PostgreSQL: the audit log append-only for the owner too, and the cost tables read-only
to the application role

A review on PostgreSQL found that the owner could UPDATE and DELETE audit entries (the
application role could not: its grants), while the hub's pages and the command line
work as the owner (hub/across.py, database_roles.maintenance_session); SQLite had
triggers for it from 0004. A trigger now refuses it here as well, as 0005's does for
allocation runs. And the application role could write the cost tables (0005 granted
it), which only the hub writes, as the owner: a member's request could have changed
another member's participation. It keeps SELECT.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 19:00:00.000000

"""

import re

from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COST_TABLES = ("cost_pools", "pool_participants")
RUN_TABLES = ("allocation_runs", "allocation_shares")


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: its triggers since 0004, and no roles
    op.execute("""
        CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only';
        END
        $$
    """)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()"
    )
    role = _app_role()
    for table in COST_TABLES:
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {role}")
    for table in RUN_TABLES:
        op.execute(f"REVOKE INSERT ON {table} FROM {role}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _app_role()
    for table in COST_TABLES:
        op.execute(f"GRANT INSERT, UPDATE, DELETE ON {table} TO {role}")
    for table in RUN_TABLES:
        op.execute(f"GRANT INSERT ON {table} TO {role}")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_is_append_only()")
