"""Row-level security on every tenant table, and the application's own role (PostgreSQL)

The application connects as a role that owns nothing and cannot bypass row-level
security; each transaction says which member it is for with
set_config('app.tenant_id', …, true), and sees and writes only that member's rows. With no
member set it sees none. The owner (who runs this) keeps a policy of its own for the sync
and other maintenance, since FORCE makes the policies apply to the owner too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:10:00
"""

import re

from alembic import op
from flask import current_app

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "tenant_services",
    "reference_counters",
    "cases",
    "case_events",
    "attachments",
    "drafts",
)
SHARED_TABLES = ("tenants", "categories", "service_definitions")  # read-only for the app
BOUND_TENANT = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::integer"


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one user; the ORM criteria are its isolation
    role = _app_role()
    # The role is made here when the owner may create roles (development, CI); in
    # production a DBA creates it (LOGIN, NOSUPERUSER, NOBYPASSRLS) before migrating.
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                IF (SELECT rolcreaterole OR rolsuper FROM pg_roles
                    WHERE rolname = current_user) THEN
                    CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
                ELSE
                    RAISE EXCEPTION 'create the role {role} (LOGIN NOBYPASSRLS) first';
                END IF;
            END IF;
        END
        $$;
    """)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    for table in SHARED_TABLES:
        op.execute(f"GRANT SELECT ON {table} TO {role}")
    for table in TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING ({BOUND_TENANT}) WITH CHECK ({BOUND_TENANT})"
        )
        op.execute(
            f"CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER "
            "USING (true) WITH CHECK (true)"
        )
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _app_role()
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS owner_maintenance ON {table}")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    for table in SHARED_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {role}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
