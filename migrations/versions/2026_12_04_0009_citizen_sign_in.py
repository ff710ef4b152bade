"""Citizens' e-ID sign-in: their server-side sessions, each case's link to the person who
signed in to send it, and (PostgreSQL) the policy that lets a signed-in person read their
own cases in every member and nothing else

The person is told to the database like the member: set_config('app.person_key', …, true)
in the transaction (tenancy/scoping.py bind_person). The policy only adds SELECT of rows
whose person_key is that one; with no person set it adds nothing. A case's person_key is a
keyed digest (identity/persons.py), never a personnummer.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:30:00.000000

"""

import re

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BOUND_PERSON = (
    "person_key IS NOT NULL "
    "AND person_key = nullif(current_setting('app.person_key', true), '')"
)


def _app_role() -> str:
    role = current_app.config["APP_DATABASE_ROLE"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError(f"APP_DATABASE_ROLE {role!r} is not a plain role name")
    return role


def upgrade():
    op.create_table(
        "citizen_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("person_key", sa.String(length=64), nullable=False),
        sa.Column("identifier_kind", sa.String(length=20), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_citizen_sessions_expires", "citizen_sessions", ["expires_at"])
    op.add_column("cases", sa.Column("person_key", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_cases_person",
        "cases",
        ["person_key"],
        postgresql_where=sa.text("person_key IS NOT NULL"),
        sqlite_where=sa.text("person_key IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        role = _app_role()
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON citizen_sessions TO {role}")
        op.execute(
            f"CREATE POLICY own_cases_of_person ON cases FOR SELECT USING ({BOUND_PERSON})"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS own_cases_of_person ON cases")
        op.execute(f"REVOKE ALL ON citizen_sessions FROM {_app_role()}")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_person")
        batch_op.drop_column("person_key")
    op.drop_index("ix_citizen_sessions_expires", table_name="citizen_sessions")
    op.drop_table("citizen_sessions")
