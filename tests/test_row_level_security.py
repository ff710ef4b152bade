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


# -- staff accounts and e-ID sign-ins (migration 0011) ---------------------------------------


def _staff(app, email: str, member: str) -> int:
    from test_accounts import create

    assert create(app, email, tenant=member).exit_code == 0
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()


def _emails(statement: str = "SELECT email FROM users ORDER BY email") -> list[str]:
    return list(db.session.execute(sa.text(statement)).scalars())


def test_a_member_sees_only_its_own_staffs_accounts(app):
    """Every member's staff, their password hashes and second-factor secrets, were one
    forgotten filter away from any member's request."""
    _staff(app, "anna@arvika.example", "arvika")
    eda_id = _staff(app, "erik@eda.example", "eda")
    with app.app_context():
        assert _emails() == []  # no member, no one signed in
        db.session.rollback()
        bind_tenant(db.session, tenant_id("arvika"))
        assert _emails() == ["anna@arvika.example"]
        assert _emails("SELECT password_hash FROM users WHERE email LIKE '%eda%'") == []
        changed = db.session.execute(
            sa.text("UPDATE users SET active = false WHERE id = :id"), {"id": eda_id}
        ).rowcount
        assert changed == 0
        db.session.rollback()


def test_the_signed_in_user_sees_their_own_account_and_no_one_elses(app):
    from samverkan.tenancy.scoping import USER_SETTING, bind_setting

    anna_id = _staff(app, "anna@arvika.example", "arvika")
    _staff(app, "erik@eda.example", "eda")
    with app.app_context():
        bind_setting(db.session, USER_SETTING, anna_id)
        assert _emails() == ["anna@arvika.example"]
        db.session.commit()  # told again with the next transaction's BEGIN
        assert _emails() == ["anna@arvika.example"]
        bind_tenant(db.session, tenant_id("eda"))  # signed in at Arvika, on Eda's page
        assert _emails() == ["anna@arvika.example", "erik@eda.example"]
        bind_setting(db.session, USER_SETTING, None)
        assert _emails() == ["erik@eda.example"]
        db.session.rollback()


def test_an_invitation_shows_the_invitees_account_to_its_acceptance_only(app):
    """Accepting an invitation finds the account someone has at another member (its
    password proves it is theirs), or makes one. Only a transaction told the invitation's
    digest (only the invitee's link holds the token) sees it: an administrator inviting
    any address does not thereby see that account."""
    from samverkan.tenancy.scoping import INVITATION_SETTING, bind_setting

    _staff(app, "erik@eda.example", "eda")
    digest = "ab" * 32
    with app.app_context(), maintenance_session() as session:
        arvika = tenant_id("arvika")
        session.execute(
            sa.text(
                "INSERT INTO invitations (tenant_id, email, name, role, token_hash, "
                "created_at, expires_at) VALUES (:t, 'erik@eda.example', 'Erik', "
                "'case_worker', :digest, now(), now() + interval '1 day')"
            ),
            {"t": arvika, "digest": digest},
        )
        session.commit()
    with app.app_context():
        bind_tenant(db.session, arvika)
        assert _emails() == []  # invited, but no one here is accepting it
        bind_setting(db.session, INVITATION_SETTING, "cd" * 32)
        assert _emails() == []  # another invitation's digest
        bind_setting(db.session, INVITATION_SETTING, digest)
        assert _emails() == ["erik@eda.example"]
        db.session.execute(sa.text("UPDATE invitations SET accepted_at = now()"))
        assert _emails() == []  # accepted without joining: nothing more to find
        db.session.rollback()


def test_a_removed_case_workers_name_stays_readable_in_the_history_only(app, read_csrf):
    from test_accounts import sign_in

    anna_id = _staff(app, "anna@arvika.example", "arvika")
    client = app.test_client()
    reference = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=ANSWERS
    ).get_json()["reference"]
    assert sign_in(client, read_csrf, "anna@arvika.example").status_code == 303
    page = client.get(f"/arvika/staff/arenden/{reference}")
    note = client.post(
        f"/arvika/staff/arenden/{reference}/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "Ringt upp."},
    )
    assert note.status_code == 303
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text("DELETE FROM memberships WHERE user_id = :u"), {"u": anna_id})
        session.commit()
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        assert _emails() == ["anna@arvika.example"]  # she wrote in Arvika's history
        changed = db.session.execute(
            sa.text("UPDATE users SET name = 'x' WHERE id = :id"), {"id": anna_id}
        ).rowcount
        assert changed == 0
        db.session.rollback()
        bind_tenant(db.session, tenant_id("eda"))
        assert _emails() == []
        db.session.rollback()


def test_a_transaction_sees_only_the_e_id_sign_in_it_was_told(app):
    """Every signed-in citizen's personnummer and name were readable from any request."""
    from samverkan.tenancy.scoping import SIGN_IN_SETTING, bind_setting

    digests = ["a" * 64, "b" * 64]
    with app.app_context(), maintenance_session() as session:
        for digest in digests:
            session.execute(
                sa.text(
                    "INSERT INTO citizen_sessions (digest, person_key, identifier_kind, "
                    "identifier, signed_in_at, last_seen_at, expires_at) VALUES (:d, :d, "
                    "'personnummer', '191212121212', now(), now(), now() + interval '1 hour')"
                ),
                {"d": digest},
            )
        session.commit()
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        seen = "SELECT digest FROM citizen_sessions"
        assert list(db.session.execute(sa.text(seen)).scalars()) == []
        bind_setting(db.session, SIGN_IN_SETTING, digests[0])
        assert list(db.session.execute(sa.text(seen)).scalars()) == [digests[0]]
        assert db.session.execute(sa.text("DELETE FROM citizen_sessions")).rowcount == 1
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            db.session.execute(
                sa.text(
                    "INSERT INTO citizen_sessions (digest, person_key, identifier_kind, "
                    "identifier, signed_in_at, last_seen_at, expires_at) VALUES ('c', 'c', "
                    "'personnummer', '191212121212', now(), now(), now())"
                )
            )
        db.session.rollback()
