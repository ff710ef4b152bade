"""Fixtures: one migrated, synced database per test session (SQLite by default, a scratch
PostgreSQL database when DATABASE_URL points at a server), emptied of cases between tests."""

import contextlib
import logging
import os
import re
import uuid
from datetime import date
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa

from samverkan import create_app, memo
from samverkan.catalogue.models import TenantService
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db, limiter
from samverkan.settings import PROJECT_ROOT
from samverkan.sync import sync
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

# `make bench` and `make faults` start real servers; `make test` leaves them out.
collect_ignore = ["bench"]
if os.environ.get("SAMVERKAN_FAULTS") != "1":
    collect_ignore.append("faults")

# aiosmtpd, the tests' mail server, narrates every SMTP command at INFO; the app's JSON
# log handler (observability.py) would print it into the CLI output the tests read.
logging.getLogger("mail.log").setLevel(logging.ERROR)

CASE_TABLES = (
    "attachments",
    "case_events",
    "cases",
    "reference_counters",
    "drafts",
    "citizen_sessions",
    "outbox_messages",
    "audit_log",
    "api_tokens",
    "invitations",
    "memberships",
    "users",
)
# The audit log is append-only, for the owner too on SQLite (triggers, migration 0004):
# between tests the triggers step aside while the log is emptied.
SQLITE_AUDIT_TRIGGERS = {
    verb: f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
}


@contextlib.contextmanager
def audit_log_emptiable(session):
    """The audit log's append-only triggers step aside (the owner, between tests) and are
    back afterwards, in the same transaction (the caller commits after the block): SQLite's
    from 0004, PostgreSQL's from 0010."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        session.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
    else:
        session.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    yield
    if sqlite:
        session.execute(sa.text(SQLITE_AUDIT_TRIGGERS["DELETE"]))
    else:
        session.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql")) else None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh database: a scratch one on the PostgreSQL server named by DATABASE_URL (never
    the database it names), or an SQLite file."""
    server_url = _postgres_url()
    if server_url is None:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    url = sa.make_url(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", server_url))
    name = f"samverkan_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def e_id_provider():
    """The development e-ID provider (oidc-provider-mock), served over HTTP on loopback for
    the whole session: the tests sign citizens in with the real protocol against it."""
    import oidc_provider_mock

    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory, e_id_provider):
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "INSTANCE_PATH": str(instance),
            "UPLOAD_ROOT": str(instance / "uploads"),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SERVER_NAME": "localhost",
            "CITIZEN_OIDC_ISSUER": e_id_provider,
            "CITIZEN_OIDC_CLIENT_ID": "samverkan-test",
            "CITIZEN_OIDC_CLIENT_SECRET": "samverkan-test-secret",
        }
    )
    with app.app_context():
        flask_migrate.upgrade(directory=str(PROJECT_ROOT / "migrations"))
        with maintenance_session() as session:
            sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
            session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _empty_cases(request):
    """Each test starts with no cases, drafts or counters (the catalogue stays)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context(), maintenance_session() as session:
        with audit_log_emptiable(session):
            for table in CASE_TABLES:
                session.execute(sa.text(f"DELETE FROM {table}"))
        session.commit()  # the triggers back in place in the same transaction
    # Tests change members with plain SQL too, which the workers' memories cannot see.
    memo.forget_all()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Each test starts with no failed sign-ins counted against it."""
    if "app" in request.fixturenames:
        with request.getfixturevalue("app").app_context():
            limiter.reset()
    yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def resync(app):
    """Restore tenants/ and services/ after a test that changed the catalogue in the database
    (or a member's administrators changed their profile or services in the app)."""
    yield
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Tenant).values(
                profile_edited_at=None,
                logo_storage_name=None,
                logo_content_type=None,
                privacy_notice=None,
                accessibility_statement=None,
            )
        )
        session.execute(sa.update(TenantService).values(edited_at=None))
        sync(session, PROJECT_ROOT / "tenants", PROJECT_ROOT / "services")
        session.commit()


def count_all(app, table: str) -> int:
    """Rows in a table across every member, counted as the owner: the application's own
    role sees none without a bound member on PostgreSQL, which would make 'nothing was
    stored' true whatever happened."""
    with app.app_context(), maintenance_session() as session:
        return session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608


# What the command line logs when a test makes its accounts (users create): set-up, left
# out where a test asks what its own steps logged (tests/test_accounts.py checks it).
SET_UP_ACTIONS = ("staff.role_granted",)


def logged_count(app) -> int:
    """Audit entries, as count_all, but for the tests' own account set-up."""
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE action <> 'staff.role_granted'")
        ).scalar_one()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def read_csrf():
    return csrf_token


@pytest.fixture
def upload_root(app) -> Path:
    return Path(app.config["UPLOAD_ROOT"])


@pytest.fixture
def switched_off(app, resync):
    """Arvika switches synpunkter off in the database; `resync` switches it back on."""
    with app.app_context():
        bind_tenant(db.session, db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika")))
        service = db.session.scalar(sa.select(TenantService).filter_by(service_slug="synpunkter"))
        service.enabled = False
        db.session.commit()
        db.session.remove()
    return "synpunkter"


@pytest.fixture
def openapi(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def region_varmland(app):
    """Region Värmland as a member: county code 17, its population 2023 (FACTS.md)."""
    with app.app_context(), maintenance_session() as session:
        session.add(
            Tenant(
                slug="region-varmland",
                name="Region Värmland",
                short_name="Värmland",
                kind="region",
                scb_code="17",
                reference_prefix="RVL",
                primary_colour="#1d4f91",
                accent_colour="#f2c230",
                population_count=283_548,
                population_year=2023,
                member_since=date(2013, 1, 1),
            )
        )
        session.commit()
    yield "region-varmland"
    with app.app_context(), maintenance_session() as session:
        region = session.scalar(sa.select(Tenant.id).where(Tenant.slug == "region-varmland"))
        with audit_log_emptiable(session):  # what the hub did to it is in its own log
            for table in ("pool_participants", "audit_log"):
                session.execute(
                    sa.text(f"DELETE FROM {table} WHERE tenant_id = :t"),  # noqa: S608
                    {"t": region},
                )
        session.execute(sa.delete(Tenant).where(Tenant.slug == "region-varmland"))
        session.commit()
