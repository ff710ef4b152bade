"""PostgreSQL row-level security: the backstop under the ORM criteria. Raw SQL as the
application's role sees and writes only the bound member's rows."""

import pytest
import sqlalchemy as sa

from samverkan.database_roles import maintenance_session
from samverkan.db import Base, TenantScoped
from samverkan.extensions import db
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}


@pytest.fixture(autouse=True)
def postgresql_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row-level security is PostgreSQL's; SQLite relies on the ORM criteria")


@pytest.fixture
def cases_in_two_members(client):
    for member in ("arvika", "arvika", "eda"):
        response = client.post(
            f"/api/v1/tenants/{member}/services/synpunkter/submissions", json=ANSWERS
        )
        assert response.status_code == 201


def tenant_id(slug: str) -> int:
    return db.session.scalar(sa.select(Tenant.id).filter_by(slug=slug))


def tenant_tables() -> list[str]:
    """The tables of every member-owned model (the hub's cost tables name members but are
    the hub's own)."""
    return sorted(
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    )


def test_the_application_role_owns_nothing_and_cannot_bypass_security(app):
    with app.app_context():
        row = db.session.execute(
            sa.text(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
        assert row == ("samverkan_app", False, False)
        owned = db.session.execute(
            sa.text(
                "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                "WHERE r.rolname = current_user"
            )
        ).scalar_one()
        assert owned == 0


def test_every_tenant_table_has_row_level_security_enabled_and_forced(app):
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relname = ANY(:names)"
            ),
            {"names": tenant_tables()},
        ).all()
    assert len(rows) == len(tenant_tables()) == 11
    assert all(enabled and forced for _, enabled, forced in rows), rows


def test_raw_sql_as_the_application_sees_only_the_bound_members_rows(app, cases_in_two_members):
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        references = db.session.execute(sa.text("SELECT reference FROM cases")).scalars().all()
        assert sorted(r[:3] for r in references) == ["ARV", "ARV"]
        events = db.session.execute(sa.text("SELECT count(*) FROM case_events")).scalar_one()
        assert events == 2


def test_with_no_member_bound_raw_sql_sees_no_rows(app, cases_in_two_members):
    with app.app_context():
        for table in tenant_tables():
            count = db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            assert count == 0, table
        deleted = db.session.execute(sa.text("DELETE FROM cases")).rowcount
        assert deleted == 0
        db.session.rollback()


def test_writing_a_row_for_another_member_is_refused_by_the_database(app, cases_in_two_members):
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        eda = tenant_id("eda")
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            db.session.execute(
                sa.text(
                    "INSERT INTO reference_counters (tenant_id, year, last_number) "
                    "VALUES (:eda, 1999, 1)"
                ),
                {"eda": eda},
            )
        db.session.rollback()
        bind_tenant(db.session, tenant_id("arvika"))
        moved = db.session.execute(
            sa.text("UPDATE cases SET status = 'closed' WHERE tenant_id = :eda"), {"eda": eda}
        ).rowcount
        assert moved == 0
        db.session.rollback()


def test_a_pooled_connection_never_carries_the_previous_members_setting(app):
    with app.app_context():
        # A pool of one, so the second checkout is certainly the first one's connection.
        engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
        with engine.connect() as first:
            backend = first.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            first.execute(sa.text("SELECT set_config('app.tenant_id', '1', true)"))
            assert (
                first.execute(sa.text("SELECT current_setting('app.tenant_id')")).scalar_one()
                == "1"
            )
            first.commit()
            after = first.execute(
                sa.text("SELECT coalesce(current_setting('app.tenant_id', true), '')")
            ).scalar_one()
            assert after == ""  # the setting ended with its transaction
        with engine.connect() as second:  # the same pooled connection, back again
            assert second.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == backend
            assert (
                second.execute(
                    sa.text("SELECT coalesce(current_setting('app.tenant_id', true), '')")
                ).scalar_one()
                == ""
            )
            assert second.execute(sa.text("SELECT count(*) FROM tenant_services")).scalar_one() == 0
        engine.dispose()


def test_the_application_can_only_append_to_the_audit_log(app, cases_in_two_members):
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        db.session.execute(
            sa.text(
                "INSERT INTO audit_log (tenant_id, at, actor, action, object_type, object_ref, "
                "detail) VALUES (:t, now(), 'test', 'case.viewed', 'case', 'X', '{}')"
            ),
            {"t": tenant_id("arvika")},
        )
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
            bind_tenant(db.session, tenant_id("arvika"))


def test_the_owner_cannot_change_the_audit_log_either(app, cases_in_two_members):
    """The hub's pages and the command line work as the owner (hub/across.py): the log
    must hold against them too (migration 0010), as allocation runs do (0005)."""
    with app.app_context(), maintenance_session() as session:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            session.execute(
                sa.text(
                    "INSERT INTO audit_log (tenant_id, at, actor, action, object_type, "
                    "object_ref, detail) VALUES (:t, now(), 'test', 'case.viewed', 'case', "
                    "'X', '{}')"
                ),
                {"t": session.scalar(sa.select(Tenant.id).filter_by(slug="arvika"))},
            )
            with pytest.raises(sa.exc.ProgrammingError, match="append-only"):
                session.execute(sa.text(statement))
            session.rollback()


def test_the_application_only_reads_the_hubs_cost_tables(app):
    """Only the hub writes them, as the owner: a member's request could otherwise change
    another member's share of a pool (migration 0010)."""
    columns = {
        "cost_pools": "name",
        "pool_participants": "tenant_id",
        "allocation_runs": "period",
        "allocation_shares": "tenant_id",
    }
    with app.app_context():
        for table, column in columns.items():
            bind_tenant(db.session, tenant_id("arvika"))
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() >= 0  # noqa: S608
            db.session.rollback()
            for statement in (
                f"INSERT INTO {table} DEFAULT VALUES",
                f"UPDATE {table} SET {column} = {column}",
                f"DELETE FROM {table}",
            ):
                bind_tenant(db.session, tenant_id("arvika"))
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                    db.session.execute(sa.text(statement))
                db.session.rollback()


def test_the_application_edits_only_its_own_members_profile(app):
    with app.app_context():
        arvika, eda = tenant_id("arvika"), tenant_id("eda")
        bind_tenant(db.session, arvika)
        everyone = db.session.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one()
        assert everyone == 16  # every member's public profile is readable
        own = db.session.execute(
            sa.text("UPDATE tenants SET phone = '0570-1' WHERE id = :id"), {"id": arvika}
        ).rowcount
        other = db.session.execute(
            sa.text("UPDATE tenants SET phone = '0570-1' WHERE id = :id"), {"id": eda}
        ).rowcount
        assert (own, other) == (1, 0)
        db.session.rollback()
        bind_tenant(db.session, arvika)
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            db.session.execute(
                sa.text(
                    "UPDATE tenants SET is_hub = true, reference_prefix = 'EDA' WHERE id = :id"
                ),
                {"id": arvika},
            )
        db.session.rollback()


def test_a_members_own_transaction_is_told_its_member_and_sees_only_its_rows(
    app, cases_in_two_members
):
    """scoping.member_transaction: a connection of its own, not the session's, for a web
    submission's statements; row-level security holds there as in the session's."""
    from samverkan.tenancy.scoping import member_transaction, tenant_connection

    with app.app_context():
        arvika, eda = tenant_id("arvika"), tenant_id("eda")
        with member_transaction(db.engine, arvika) as connection:
            assert tenant_connection(connection) == (connection, arvika)
            seen = connection.execute(sa.text("SELECT DISTINCT tenant_id FROM cases")).scalars()
            assert list(seen) == [arvika]
            with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
                connection.execute(
                    sa.text(
                        "INSERT INTO reference_counters (tenant_id, year, last_number) "
                        "VALUES (:eda, 1999, 1)"
                    ),
                    {"eda": eda},
                )
        # Leaving the block without a commit rolled it back, the member's setting with it.
        with db.engine.connect() as connection:
            setting = connection.execute(
                sa.text("SELECT coalesce(current_setting('app.tenant_id', true), '')")
            )
            assert setting.scalar_one() == ""
