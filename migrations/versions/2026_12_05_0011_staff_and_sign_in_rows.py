"""PostgreSQL: row-level security on staff accounts and on citizens' e-ID sign-ins

A review on PostgreSQL found that the application role read and wrote every row of
`users` (every member's staff: e-mail, password hash, second-factor secret) and of
`citizen_sessions` (every signed-in citizen's personnummer and name) whatever member or
sign-in its transaction was for: one forgotten filter would have shown them.

A member's transaction now sees the accounts of its own staff (a membership here), of
the one whose invitation it is accepting (a pending invitation here whose token digest
it was told, app.invitation: only the invitee's link holds the token), of the signed-in
user (app.user_id, set from the signed session, so that
someone signed in elsewhere is still recognised here), and reads, only, the accounts of
those who wrote in its cases' history (staff removed since keep their names there). A
transaction sees one e-ID sign-in: the one whose digest it was told (app.citizen_session,
from the browser's own token). Ended sign-ins of anyone are removed by the owner
(`drafts expire`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 21:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The policies call functions rather than holding their subqueries: a policy's subqueries
# are planned into every statement that reads users (the inbox joins them for the
# assignee's name), which raised PostgreSQL's CPU per inbox request by half (bench:
# cpu_per_request.py inbox: 527 µs without the policy, 806 with its subqueries, 531 with
# these functions). They run as the caller (SECURITY INVOKER, the default), so the
# memberships, invitations and case events they read are held to the bound member by
# their own policies.
STAFF_OF_BOUND_MEMBER = """
    CREATE FUNCTION staff_of_bound_member(account integer, address text) RETURNS boolean
    LANGUAGE plpgsql STABLE AS $$
    BEGIN
        RETURN account = nullif(current_setting('app.user_id', true), '')::integer
            OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = account)
            OR EXISTS (
                SELECT 1 FROM invitations i
                WHERE i.email = address
                    AND i.token_hash = nullif(current_setting('app.invitation', true), '')
                    AND i.accepted_at IS NULL AND i.expires_at > now()
            );
    END
    $$
"""
AUTHOR_IN_BOUND_MEMBER = """
    CREATE FUNCTION author_in_bound_member(account integer) RETURNS boolean
    LANGUAGE plpgsql STABLE AS $$
    BEGIN
        RETURN EXISTS (SELECT 1 FROM case_events e WHERE e.author_id = account);
    END
    $$
"""
OWN_SIGN_IN = "digest = nullif(current_setting('app.citizen_session', true), '')"


def upgrade():
    # For the authors' policy: a case page reads its history's authors.
    op.create_index(
        "ix_case_events_author",
        "case_events",
        ["tenant_id", "author_id"],
        postgresql_where=sa.text("author_id IS NOT NULL"),
        sqlite_where=sa.text("author_id IS NOT NULL"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one user; the application's queries are its isolation
    for table in ("users", "citizen_sessions"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER "
            "USING (true) WITH CHECK (true)"
        )
    op.execute(STAFF_OF_BOUND_MEMBER)
    op.execute(AUTHOR_IN_BOUND_MEMBER)
    staff = "staff_of_bound_member(id, email)"
    op.execute(
        f"CREATE POLICY staff_of_bound_member ON users USING ({staff}) WITH CHECK ({staff})"
    )
    op.execute(
        "CREATE POLICY authors_in_bound_member ON users FOR SELECT "
        "USING (author_in_bound_member(id))"
    )
    op.execute(
        f"CREATE POLICY own_sign_in ON citizen_sessions "
        f"USING ({OWN_SIGN_IN}) WITH CHECK ({OWN_SIGN_IN})"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS own_sign_in ON citizen_sessions")
        op.execute("DROP POLICY IF EXISTS authors_in_bound_member ON users")
        op.execute("DROP POLICY IF EXISTS staff_of_bound_member ON users")
        op.execute("DROP FUNCTION IF EXISTS author_in_bound_member(integer)")
        op.execute("DROP FUNCTION IF EXISTS staff_of_bound_member(integer, text)")
        for table in ("users", "citizen_sessions"):
            op.execute(f"DROP POLICY IF EXISTS owner_maintenance ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.drop_index("ix_case_events_author", table_name="case_events")
