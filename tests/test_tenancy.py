"""Resolving the member of a request, and queries that cannot leave it."""

import pytest
import sqlalchemy as sa

from samverkan.cases.models import Case
from samverkan.catalogue.models import TenantService
from samverkan.extensions import db
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import TenantNotBound, bind_tenant

ANSWERS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}


def tenant_id(slug: str) -> int:
    return db.session.scalar(sa.select(Tenant.id).filter_by(slug=slug))


def test_a_tenant_scoped_query_without_a_bound_tenant_raises(app):
    with app.app_context():
        with pytest.raises(TenantNotBound):
            db.session.scalars(sa.select(TenantService)).all()
        db.session.rollback()


def test_a_bound_session_sees_only_its_own_members_rows(app, client):
    for member in ("arvika", "eda", "eda"):
        response = client.post(
            f"/api/v1/tenants/{member}/services/synpunkter/submissions", json=ANSWERS
        )
        assert response.status_code == 201
    with app.app_context():
        bind_tenant(db.session, tenant_id("eda"))
        references = db.session.scalars(sa.select(Case.reference)).all()
        assert sorted(ref[:3] for ref in references) == ["EDA", "EDA"]
        # Even asking for Arvika's rows by id finds nothing from Eda's session.
        arvika = tenant_id("arvika")
        assert db.session.scalars(sa.select(Case).where(Case.tenant_id == arvika)).all() == []


def test_writing_a_row_for_another_member_is_refused(app):
    with app.app_context():
        bind_tenant(db.session, tenant_id("eda"))
        service = db.session.scalar(sa.select(TenantService).filter_by(service_slug="synpunkter"))
        service.tenant_id = tenant_id("arvika")
        with pytest.raises(TenantNotBound):
            db.session.flush()
        db.session.rollback()


def test_the_tenant_comes_from_the_url_not_from_a_form_field(client, read_csrf):
    page = client.get("/arvika/e/synpunkter/steg/synpunkt")
    response = client.post(
        "/arvika/e/synpunkter/steg/synpunkt",
        data={
            "csrf_token": read_csrf(page.text),
            "tenant": "eda",
            "kind": "fraga",
            "area": "annat",
            "message": "Hej",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/arvika/")


@pytest.fixture
def host_map(app):
    trusted = app.config["TRUSTED_HOSTS"]
    app.config["TENANT_HOSTS"] = {"e-tjanster.arvika.se": "arvika"}
    app.config["TRUSTED_HOSTS"] = [*trusted, "e-tjanster.arvika.se"]
    yield
    app.config["TENANT_HOSTS"] = {}
    app.config["TRUSTED_HOSTS"] = trusted


def test_a_host_name_nobody_configured_is_refused(client):
    response = client.get("/arvika/", base_url="https://evil.example")
    assert response.status_code == 400
    submitted = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions",
        json={
            "kind": "fraga",
            "area": "annat",
            "message": "Hej",
            "want_reply": "yes",
            "email": "offer@exempel.se",
        },
        base_url="https://evil.example",
    )
    assert submitted.status_code == 400  # so no receipt can carry evil.example's link


def test_a_members_own_host_name_leads_to_its_pages_only(client, host_map):
    home = client.get("/", base_url="https://e-tjanster.arvika.se")
    assert home.status_code == 302
    assert home.headers["Location"] == "/arvika/"
    assert client.get("/arvika/", base_url="https://e-tjanster.arvika.se").status_code == 200
    assert client.get("/eda/", base_url="https://e-tjanster.arvika.se").status_code == 404
    assert client.get("/").status_code == 200  # the platform's own host still lists everyone


@pytest.mark.parametrize(
    "path",
    [
        "/%00/",
        "/arvika/e/%00",
        "/arvika/e/synpunkter/steg/%00",
        "/arvika/arende/%00",
        "/arvika/arende/" + "a" * 42 + "%00",
        "/api/v1/tenants/%00/services",
        "/api/v1/tenants/arvika/services/%00",
        "/api/v1/tenants/arvika/cases/%00",
        "/ARVIKA/",
    ],
)
def test_malformed_names_in_the_url_are_not_found_before_any_query(client, path):
    assert client.get(path).status_code == 404


def test_the_audit_log_refuses_changes_in_the_orm_and_in_the_database(app):
    from samverkan.audit.models import AuditEntry
    from samverkan.audit.operations import record

    with app.app_context():
        bind_tenant(db.session, db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika")))
        entry = record(db.session, "case.viewed", "case", "ARV-2026-000001", actor="test")
        db.session.commit()
        entry.actor = "someone else"
        with pytest.raises(PermissionError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEntry, entry.id))
        with pytest.raises(PermissionError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        if db.engine.dialect.name == "sqlite":  # under the ORM, the triggers
            with pytest.raises(sa.exc.IntegrityError, match="append-only"):
                db.session.execute(sa.text("DELETE FROM audit_log"))
            db.session.rollback()
        with pytest.raises(ValueError, match="unknown audit action"):
            record(db.session, "case.stolen", "case", "X")
        db.session.remove()


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: sa.select(sa.func.count()).select_from(TenantService), id="count"),
        pytest.param(lambda: sa.select(sa.func.count(TenantService.service_slug)), id="column"),
        pytest.param(
            lambda: sa.select(sa.func.count()).select_from(sa.orm.aliased(TenantService)),
            id="alias",
        ),
        pytest.param(
            lambda: sa.select(sa.func.count()).where(
                sa.literal("synpunkter").in_(sa.select(TenantService.service_slug))
            ),
            id="in-subquery",
        ),
        pytest.param(
            lambda: sa.select(sa.literal(1)).where(
                sa.exists(sa.select(TenantService.service_slug))
            ),
            id="subquery",
        ),
    ],
)
def test_every_shape_of_query_on_a_tenant_table_is_scoped_or_refused(app, statement):
    with app.app_context():
        with pytest.raises(TenantNotBound):
            db.session.scalar(statement())
        db.session.remove()
        bind_tenant(db.session, db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika")))
        # Arvika's own seven e-services (all 16 members' would be 99), or 1 for "exists".
        assert db.session.scalar(statement()) in (1, 7)
        db.session.remove()


def test_a_bare_table_cannot_be_queried_around_the_criteria(app):
    with app.app_context():
        bind_tenant(db.session, db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika")))
        with pytest.raises(TenantNotBound, match="through the ORM entity"):
            db.session.scalar(sa.select(sa.func.count()).select_from(TenantService.__table__))
        db.session.remove()


def test_a_connection_given_for_no_member_is_refused_as_an_unbound_session_is(app):
    from samverkan.tenancy.scoping import member_transaction, tenant_connection

    with app.app_context():
        with db.engine.connect() as connection, pytest.raises(TenantNotBound):
            tenant_connection(connection)
        if db.engine.dialect.name != "postgresql":
            # SQLite's writes take their lock in the session's transaction (resolve.py).
            member = tenant_id("arvika")
            with (
                pytest.raises(ValueError, match="PostgreSQL"),
                member_transaction(db.engine, member),
            ):
                pass


def test_a_statement_made_once_is_scoped_to_whichever_member_is_bound_each_time(app):
    """A module's constant statement comes back on every request, and the criteria kept
    with it (scoping.py) are kept per member: each run sees only the bound member's rows,
    and with no member bound it is refused as any query is."""
    services = sa.select(TenantService.service_slug).order_by(TenantService.service_slug)
    seen = {}
    with app.app_context():
        for member in ("arvika", "eda", "arvika", "eda"):
            bind_tenant(db.session, tenant_id(member))
            seen.setdefault(member, []).append(db.session.scalars(services).all())
            db.session.rollback()
        db.session.remove()
        with pytest.raises(TenantNotBound):
            db.session.scalars(services).all()
        db.session.rollback()
    assert seen["arvika"][0] == seen["arvika"][1] and "registerutdrag" in seen["arvika"][0]
    assert seen["eda"][0] == seen["eda"][1] and "registerutdrag" not in seen["eda"][0]
