"""Statements run on the driver's cursor (direct_sql.py) behave as SQLAlchemy's would: the
literals Core made are filled in, rows have their columns' names, a failing statement
raises SQLAlchemy's error of the same kind, and a lost connection is thrown away so the
next request gets a working one (the 503 in between is test_database_unavailable's)."""

import pytest
import sqlalchemy as sa
from psycopg import pq

from samverkan import direct_sql
from samverkan.catalogue.models import TenantService
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant, tenant_connection


@pytest.fixture(autouse=True)
def postgresql_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the direct path is PostgreSQL's; SQLite runs through SQLAlchemy")


def member_id(slug: str) -> int:
    return db.session.scalar(sa.select(Tenant.id).filter_by(slug=slug))


def test_literals_are_filled_in_and_rows_have_names(app):
    statement = sa.select(
        sa.literal("konstant").label("fixed"),
        sa.bindparam("given", type_=sa.Integer).label("given"),
    )
    with app.app_context():
        bind_tenant(db.session, member_id("arvika"))
        connection, _ = tenant_connection(db.session)
        row = direct_sql.fetch_one(connection, statement, {"given": 7})
        assert (row.fixed, row.given) == ("konstant", 7)
        # The statement's row class is made once, and a row is still a tuple.
        again = direct_sql.fetch_all(connection, statement, {"given": 8})
        assert type(again[0]) is type(row) and tuple(again[0]) == ("konstant", 8)
        assert direct_sql.fetch_all(connection, statement.where(sa.false()), {"given": 1}) == []
        db.session.rollback()


def test_the_member_setting_reaches_row_level_security(app):
    """The setting made with the transaction's BEGIN is the transaction's: raw SQL as the
    application's role then reads only the bound member's rows."""
    with app.app_context():
        arvika, eda = member_id("arvika"), member_id("eda")
        db.session.rollback()
        bind_tenant(db.session, arvika)
        setting = db.session.execute(sa.text("SELECT current_setting('app.tenant_id')"))
        assert setting.scalar_one() == str(arvika)
        offers = sa.text("SELECT count(*) FROM tenant_services WHERE tenant_id = :member")
        assert db.session.execute(offers, {"member": arvika}).scalar_one() > 0
        assert db.session.execute(offers, {"member": eda}).scalar_one() == 0
        db.session.rollback()


def test_a_failing_statement_raises_sqlalchemys_error_of_its_kind(app):
    duplicate = sa.text(
        "INSERT INTO reference_counters (tenant_id, year, last_number) VALUES (:t, 1900, 0)"
    )
    with app.app_context():
        arvika = member_id("arvika")
        bind_tenant(db.session, arvika)
        connection, _ = tenant_connection(db.session)
        direct_sql.run(connection, duplicate, {"t": arvika})
        with pytest.raises(sa.exc.IntegrityError) as raised:
            direct_sql.run(connection, duplicate, {"t": arvika})
        assert "reference_counters" in str(raised.value)
        assert "parameters hidden" in str(raised.value)  # as the engine's hide_parameters
        db.session.rollback()
        # The refusal left nothing behind.
        bind_tenant(db.session, arvika)
        count = db.session.execute(
            sa.text("SELECT count(*) FROM reference_counters WHERE year = 1900")
        ).scalar_one()
        assert count == 0
        db.session.rollback()


def test_a_lost_connection_is_thrown_away_and_the_next_one_works(app):
    with app.app_context():
        arvika = member_id("arvika")
        bind_tenant(db.session, arvika)
        connection, _ = tenant_connection(db.session)
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with maintenance_session() as owner:
            owner.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(sa.exc.OperationalError) as raised:
            direct_sql.fetch_one(connection, sa.select(sa.literal(1)), {})
        assert raised.value.connection_invalidated
        assert connection.invalidated
        assert "parameters hidden" in str(raised.value) or "[SQL:" in str(raised.value)
        db.session.remove()
        bind_tenant(db.session, arvika)
        again, _ = tenant_connection(db.session)
        assert again.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != backend
        assert direct_sql.fetch_one(again, sa.select(sa.literal(1).label("one")), {}).one == 1
        db.session.rollback()


def test_a_pooled_connection_keeps_one_cursor_and_rows_are_read_at_once(app):
    """fetch_one, fetch_all and run share the connection's kept cursor, each statement's
    rows read before the next one runs; a closed cursor is replaced."""
    numbers = sa.union_all(sa.select(sa.literal(1).label("n")), sa.select(sa.literal(2)))
    with app.app_context():
        bind_tenant(db.session, member_id("arvika"))
        connection, _ = tenant_connection(db.session)
        both = direct_sql.fetch_all(connection, numbers, {})
        kept = connection.connection.info[direct_sql._CURSOR]
        three = direct_sql.fetch_one(connection, sa.select(sa.literal(3).label("n")), {})
        assert [row.n for row in both] == [1, 2] and three.n == 3
        assert (
            direct_sql.fetch_one(connection, sa.select(sa.literal(1)).where(sa.false()), {}) is None
        )
        direct_sql.run(connection, sa.select(sa.literal(4)), {})
        assert connection.connection.info[direct_sql._CURSOR] is kept
        kept.close()
        assert direct_sql.fetch_one(connection, sa.select(sa.literal(5).label("n")), {}).n == 5
        assert connection.connection.info[direct_sql._CURSOR] is not kept
        db.session.rollback()


def test_begin_and_setting_go_in_one_round_trip_only_on_a_transaction_not_yet_begun(app):
    with app.app_context(), db.engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert direct_sql.begin_with_setting(connection, "app.tenant_id", 7)
        assert driver.pgconn.transaction_status == pq.TransactionStatus.INTRANS
        setting = connection.exec_driver_sql("SELECT current_setting('app.tenant_id')")
        assert setting.scalar_one() == "7"
        # Begun: nothing is sent, the caller sets it as a statement.
        assert not direct_sql.begin_with_setting(connection, "app.tenant_id", 8)
        assert connection.exec_driver_sql("SELECT current_setting('app.tenant_id')").scalar() == "7"
        connection.rollback()
        # Local to the transaction, as set_config(…, true) is.
        leftover = connection.exec_driver_sql("SELECT current_setting('app.tenant_id', true)")
        assert leftover.scalar() in (None, "")
        connection.rollback()


def test_only_a_settings_name_is_written_into_the_begin(app):
    with app.app_context(), db.engine.connect() as connection:
        with pytest.raises(ValueError):
            direct_sql.begin_with_setting(connection, "app.x', 'y', true); DROP TABLE cases; --", 1)
        with pytest.raises((ValueError, TypeError)):
            direct_sql.begin_with_setting(connection, "app.tenant_id", "1'); --")


def test_the_member_the_user_and_a_sign_in_go_with_one_begin(app):
    """Row-level security on accounts and e-ID sign-ins (migration 0011) reads two more
    settings; they cost no round trip of their own. Only integers and hexadecimal digests
    are written into the SQL."""
    digest = "ab" * 32
    settings = {"app.tenant_id": 7, "app.user_id": 12, "app.citizen_session": digest}
    with app.app_context(), db.engine.connect() as connection:
        assert direct_sql.begin_with_settings(connection, settings)
        read = connection.exec_driver_sql(
            "SELECT current_setting('app.tenant_id'), current_setting('app.user_id'), "
            "current_setting('app.citizen_session')"
        )
        assert read.one() == ("7", "12", digest)
        connection.rollback()
        for value in ("ab'); --", "AB", True, 1.5):
            with pytest.raises(TypeError):
                direct_sql.begin_with_settings(connection, {"app.citizen_session": value})
        assert direct_sql.begin_with_settings(connection, {"app.user_id": 3})  # nothing sent before
        connection.rollback()


def test_a_begin_on_a_lost_connection_is_sqlalchemys_error_and_throws_it_away(app):
    with app.app_context(), db.engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        connection.rollback()
        with maintenance_session() as owner:
            owner.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(sa.exc.OperationalError) as raised:
            direct_sql.begin_with_setting(connection, "app.tenant_id", 1)
        assert raised.value.connection_invalidated and connection.invalidated


def test_a_lost_connection_throws_away_the_ones_the_pool_held_before_it(app):
    """As SQLAlchemy does on a disconnect: after a PostgreSQL restart every pooled
    connection is dead, and each would otherwise cost a request its 503 in turn."""
    with app.app_context():
        engine = db.engine
        with engine.connect() as held, engine.connect() as failing:
            kept = held.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            lost = failing.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            failing.rollback()
            held.rollback()
            held.close()  # back in the pool, alive
            with maintenance_session() as owner:
                owner.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
            with pytest.raises(sa.exc.OperationalError):
                direct_sql.begin_with_setting(failing, "app.tenant_id", 1)
        with engine.connect() as after:
            assert after.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() not in (kept, lost)


def _prepared_names(driver) -> set[str]:
    """The statements prepared on this backend, asked outside psycopg (whose rollback of
    the question would deallocate them), with no transaction open."""
    assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
    result = driver.pgconn.exec_(b"SELECT name FROM pg_prepared_statements")
    return {result.get_value(row, 0).decode() for row in range(result.ntuples)}


def test_a_rollback_that_keeps_the_drivers_prepared_statements(app):
    """psycopg's own rollback deallocates every prepared statement; the one a request ends
    with keeps them, and psycopg goes on using them."""
    with app.app_context(), db.engine.connect() as connection:
        driver = connection.connection.driver_connection
        driver.execute("SELECT 1 AS kept", prepare=True)
        direct_sql.rollback_keeping_prepared(connection)
        prepared = _prepared_names(driver)
        assert prepared  # the statement above, by psycopg's name for it
        driver.execute("SELECT 1 AS kept", prepare=True)  # a transaction, open
        direct_sql.rollback_keeping_prepared(connection)
        assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        assert _prepared_names(driver) == prepared
        assert driver.execute("SELECT 1 AS kept", prepare=True).fetchone() == (1,)
        # Nothing open: nothing sent (a failing command would raise).
        direct_sql.rollback_keeping_prepared(connection)
        # For contrast, the driver's own rollback of a transaction.
        driver.execute("SELECT 1 AS kept", prepare=True)
        driver.rollback()
        assert _prepared_names(driver) == set()


def test_a_rollback_on_a_lost_connection_is_sqlalchemys_error_and_throws_it_away(app):
    with app.app_context(), db.engine.connect() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with maintenance_session() as owner:
            owner.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(sa.exc.OperationalError) as raised:
            direct_sql.rollback_keeping_prepared(connection)
        assert raised.value.connection_invalidated and connection.invalidated


def test_a_request_that_only_reads_leaves_the_statements_prepared(app):
    """A request that only read ends its transaction keeping what the driver prepared
    (errors.py ends every request's session so), so a worker's busiest statements are
    planned once, not on every page."""
    with app.test_request_context("/arvika/"):
        bind_tenant(db.session, member_id("arvika"))
        for _ in range(6):  # psycopg prepares a statement on its fifth use
            db.session.execute(sa.text("SELECT count(*) FROM tenant_services")).scalar_one()
        driver = db.session.connection().connection.driver_connection
        assert driver.pgconn.transaction_status == pq.TransactionStatus.INTRANS
    # The request's teardown has run: the transaction ended, the statement still prepared.
    assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
    assert _prepared_names(driver)


def test_a_request_whose_flush_failed_still_ends_cleanly(app):
    """A failed flush leaves the session's transaction to be rolled back by the session's
    own close (asking it for its connection would raise PendingRollbackError): the
    request's end neither raises nor leaves the connection in a transaction."""
    with app.test_request_context("/arvika/"):
        bind_tenant(db.session, member_id("arvika"))
        driver = db.session.connection().connection.driver_connection
        offered = sa.select(TenantService.definition_id).filter_by(service_slug="synpunkter")
        definition_id = db.session.scalar(offered)
        # The member offers it already: the second row breaks the primary key.
        db.session.add(
            TenantService(service_slug="synpunkter", definition_id=definition_id, enabled=True)
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
    assert driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
