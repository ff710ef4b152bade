"""The workers' short memories (memo.py): the busiest public pages are not queried and
rendered for every visitor, and yet no change and no member's page leaks or lingers."""

import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import template_rendered
from test_accounts import create, sign_in
from test_admin import ADMIN, post_form, profile_form
from test_citizen_flow import fill_synpunkter

from samverkan import direct_sql, memo
from samverkan.cases.models import Case
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.tenancy import scoping, snapshot
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.request_session import RequestSession


@contextmanager
def statements(app):
    """The SQL the app sends while the block runs: through SQLAlchemy, and on PostgreSQL's
    driver cursor too (direct_sql.py), which SQLAlchemy's events do not see."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    def direct(connection, statement, params):
        seen.append(direct_sql._sql(statement, connection.dialect)[0].decode())
        return run_directly(connection, statement, params)

    with app.app_context():
        engine = db.engine
    run_directly = direct_sql._execute  # under fetch_one, fetch_all and run
    sa.event.listen(engine, "before_cursor_execute", record)
    direct_sql._execute = direct
    try:
        yield seen
    finally:
        direct_sql._execute = run_directly
        sa.event.remove(engine, "before_cursor_execute", record)


def reads_of(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith("SELECT") and table in s]


@pytest.fixture
def short_memory(app):
    saved = {k: app.config[k] for k in ("PUBLIC_PAGE_CACHE_SECONDS", "TENANT_CACHE_SECONDS")}
    app.config.update(PUBLIC_PAGE_CACHE_SECONDS=0.3, TENANT_CACHE_SECONDS=0.3)
    yield 0.3
    app.config.update(saved)


def owner_sql(app, sql: str) -> None:
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text(sql))
        session.commit()


def test_a_second_visitor_to_a_home_page_costs_no_member_or_catalogue_query(app, client):
    first = client.get("/arvika/")
    with statements(app) as seen:
        second = app.test_client().get("/arvika/")
    assert second.status_code == 200 and second.text == first.text
    assert reads_of(seen, "tenants") == [] and reads_of(seen, "tenant_services") == []


def test_a_remembered_page_makes_no_database_session_and_a_query_finds_its_member(
    app, client, monkeypatch
):
    client.get("/arvika/")
    client.get("/arvika/e/felanmalan/steg/fel")
    made = []
    original = RequestSession.__init__

    def counted(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(scoping.bound_tenant_id(self))

    monkeypatch.setattr(RequestSession, "__init__", counted)
    fresh = app.test_client()
    assert fresh.get("/arvika/").status_code == 200
    assert fresh.get("/arvika/e/felanmalan/steg/fel").status_code == 200
    assert made == []
    # A page that reads the member's rows gets a session bound to that member alone.
    arvika = db_tenant_id(app, "arvika")
    page = fresh.get("/arvika/e/felanmalan/fortsatt/" + "x" * 43)
    assert page.status_code == 404
    assert made == [arvika]


def db_tenant_id(app, slug: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(sa.select(Tenant.id).where(Tenant.slug == slug))


def test_the_remembered_member_is_shared_read_only(app, client):
    """Requests use the worker's copy as it is: a change to it, or attaching it to a
    session (where a commit would expire it under every other request), is refused."""
    client.get("/arvika/")
    copy = snapshot.remembered("arvika")
    assert copy is not None and copy.name == "Arvika kommun"
    with pytest.raises(snapshot.RememberedMemberChanged):
        copy.name = "Någon annan"
    with app.app_context(), pytest.raises(snapshot.RememberedMemberChanged):
        db.session.add(copy)
    with pytest.raises(TypeError):  # a JSON column's dict, changed in place
        copy.retention_by_service["synpunkter"] = 1
    assert snapshot.remembered("arvika").name == "Arvika kommun"
    assert app.test_client().get("/arvika/").status_code == 200


def test_each_member_gets_its_own_home_page(client):
    arvika = client.get("/arvika/").text
    eda = client.get("/eda/").text
    assert "Arvika kommun" in arvika and "Eda kommun" not in arvika
    assert "Eda kommun" in eda and "Arvika kommun" not in eda


def test_the_first_step_is_shared_but_each_visitor_gets_their_own_csrf_token(app, read_csrf):
    url = "/arvika/e/felanmalan/steg/fel"
    anna, bo = app.test_client(), app.test_client()
    anna_page = anna.get(url)
    with statements(app) as seen:
        bo_page = bo.get(url)
    assert reads_of(seen, "tenant_services") == []
    anna_token, bo_token = read_csrf(anna_page.text), read_csrf(bo_page.text)
    assert anna_token != bo_token
    assert anna_page.text.replace(anna_token, "") == bo_page.text.replace(bo_token, "")
    assert "\x00" not in bo_page.text
    assert bo_page.headers["Cache-Control"] == "no-store"
    # Each token is good for its own visitor's session, and not for the other's.
    answers = {"kind": "belysning", "description": "Lampan är trasig.", "location": "Storgatan"}
    wrong = bo.post(url, data={"csrf_token": anna_token, **answers})
    assert wrong.status_code == 400
    right = bo.post(url, data={"csrf_token": bo_token, **answers})
    assert right.status_code == 303, right.text


def test_a_visitor_with_a_draft_sees_their_own_answers_not_the_shared_page(app, read_csrf):
    url = "/arvika/e/felanmalan/steg/fel"
    citizen = app.test_client()
    token = read_csrf(citizen.get(url).text)
    answers = {"kind": "belysning", "description": "Min egen text.", "location": "Storgatan"}
    assert citizen.post(url, data={"csrf_token": token, **answers}).status_code == 303
    assert "Min egen text." in citizen.get(url).text
    assert "Min egen text." not in app.test_client().get(url).text


def test_a_change_committed_by_an_administrator_shows_at_once(app, client, read_csrf):
    assert "Arvika kommun" in client.get("/arvika/").text
    assert client.get("/arvika/e/synpunkter/steg/synpunkt").status_code in (200, 302)
    assert create(app, ADMIN, role="tenant_admin").exit_code == 0
    admin = app.test_client()
    assert sign_in(admin, read_csrf, ADMIN).status_code == 303
    saved = post_form(
        admin, read_csrf, "/arvika/admin/profil", profile_form(app, name="Arvika nya namnet")
    )
    assert saved.status_code == 303
    off = post_form(
        admin,
        read_csrf,
        "/arvika/admin/e-tjanster",
        {"enabled": "off"},
        action="/arvika/admin/e-tjanster/synpunkter/vaxla",
    )
    assert off.status_code in (302, 303)
    try:
        home = client.get("/arvika/").text
        assert "Arvika nya namnet" in home
        assert "/arvika/e/synpunkter" not in home
        assert client.get("/arvika/e/synpunkter/steg/synpunkt").status_code == 404
    finally:
        owner_sql(
            app,
            "UPDATE tenants SET name = 'Arvika kommun', profile_edited_at = NULL "
            "WHERE slug = 'arvika'",
        )
        owner_sql(
            app,
            "UPDATE tenant_services SET enabled = true, edited_at = NULL "
            "WHERE service_slug = 'synpunkter'",
        )


def test_a_change_made_elsewhere_shows_within_the_time_to_live(app, client, short_memory):
    assert "Arvika kommun" in client.get("/arvika/").text
    owner_sql(app, "UPDATE tenants SET name = 'Arvika i en annan process' WHERE slug = 'arvika'")
    try:
        time.sleep(short_memory + 0.05)
        assert "Arvika i en annan process" in client.get("/arvika/").text
    finally:
        owner_sql(app, "UPDATE tenants SET name = 'Arvika kommun' WHERE slug = 'arvika'")


@contextmanager
def renders(app):
    """The templates rendered while the block runs."""
    seen: list[str] = []

    def record(sender, template, context, **extra):
        seen.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(record, app)


def test_a_first_step_outlives_the_short_memories_until_something_it_shows_changes(
    app, client, short_memory
):
    step = "/arvika/e/synpunkter/steg/synpunkt"
    client.get(step)
    time.sleep(short_memory + 0.05)  # the member and e-service are read again ...
    with statements(app) as seen, renders(app) as rendered:
        again = app.test_client().get(step)
    assert again.status_code == 200 and reads_of(seen, "tenant_services")
    assert rendered == []  # ... and, as nothing changed, the page is not rendered again
    # A change made in another process (every change through the app moves updated_at):
    owner_sql(
        app,
        "UPDATE tenants SET name = 'Arvika i en annan process', updated_at = "
        "CURRENT_TIMESTAMP WHERE slug = 'arvika'",
    )
    try:
        time.sleep(short_memory + 0.05)
        assert "Arvika i en annan process" in app.test_client().get(step).text
    finally:
        owner_sql(app, "UPDATE tenants SET name = 'Arvika kommun' WHERE slug = 'arvika'")


ANOTHER_PROCESS = """
import sys
import sqlalchemy as sa
from samverkan import create_app
from samverkan.database_roles import maintenance_session
from samverkan.tenancy.models import Tenant

app = create_app({"INSTANCE_PATH": sys.argv[1], "SQLALCHEMY_DATABASE_URI": sys.argv[2],
                  "SECRET_KEY": "another-process-" * 4, "TESTING": True})
with app.app_context(), maintenance_session() as session:
    session.scalar(sa.select(Tenant).filter_by(slug="arvika")).name = sys.argv[3]
    session.commit()
"""


def test_a_change_committed_in_another_process_is_seen_at_once(app, client, database_url, resync):
    """Another worker, or the CLI, shares the instance folder: its commit is seen by the
    next request here, long before the time to live runs out."""
    assert app.config["TENANT_CACHE_SECONDS"] >= 60
    step = "/arvika/e/synpunkter/steg/synpunkt"
    assert "Arvika kommun" in client.get("/arvika/").text  # both remembered here
    assert "Arvika kommun" in client.get(step).text
    renamed = "Arvika från en annan process"
    subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS, app.instance_path, database_url, renamed],
        check=True,
        timeout=60,
    )
    assert renamed in client.get("/arvika/").text
    assert renamed in app.test_client().get(step).text


def _completed_draft(client, read_csrf) -> str:
    """Arvika's felanmälan filled in up to check answers; the submit form's CSRF token."""
    path = fill_synpunkter(client, read_csrf, "arvika")
    return read_csrf(client.get(path).text)


def cases_of(app, slug: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(
            sa.select(sa.func.count(Case.id)).join(Tenant).where(Tenant.slug == slug)
        )


def test_a_submission_checks_that_the_member_still_takes_cases(app, client, read_csrf):
    token = _completed_draft(client, read_csrf)  # Arvika and synpunkter are remembered
    before = cases_of(app, "arvika")
    owner_sql(app, "UPDATE tenants SET status = 'closed' WHERE slug = 'arvika'")
    try:
        sent = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
        # The remembered copy still says open; the numbering statement does not agree.
        assert sent.status_code == 303
        assert sent.headers["Location"].endswith("/arvika/e/synpunkter")
        assert cases_of(app, "arvika") == before
        assert client.get(sent.headers["Location"]).status_code == 410  # forgotten at once
    finally:
        owner_sql(app, "UPDATE tenants SET status = 'active' WHERE slug = 'arvika'")
    # Nothing was lost: the draft was given back, and it goes in once the member is open
    # (and the worker's memory of it closed has run out).
    memo.forget_all()
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert "/kvitto" in sent.headers["Location"] and cases_of(app, "arvika") == before + 1


def test_a_submission_to_an_e_service_switched_off_elsewhere_registers_nothing(
    app, client, read_csrf, resync
):
    token = _completed_draft(client, read_csrf)
    before = cases_of(app, "arvika")
    owner_sql(
        app,
        "UPDATE tenant_services SET enabled = false WHERE service_slug = 'synpunkter' "
        "AND tenant_id = (SELECT id FROM tenants WHERE slug = 'arvika')",
    )
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert sent.status_code == 303 and cases_of(app, "arvika") == before
    assert client.get(sent.headers["Location"]).status_code == 404


def test_with_no_time_to_live_nothing_is_remembered(app, client):
    saved = app.config["PUBLIC_PAGE_CACHE_SECONDS"], app.config["TENANT_CACHE_SECONDS"]
    app.config.update(PUBLIC_PAGE_CACHE_SECONDS=0, TENANT_CACHE_SECONDS=0)
    try:
        client.get("/arvika/")
        with statements(app) as seen:
            client.get("/arvika/")
        assert reads_of(seen, "tenants") and reads_of(seen, "tenant_services")
    finally:
        app.config.update(PUBLIC_PAGE_CACHE_SECONDS=saved[0], TENANT_CACHE_SECONDS=saved[1])
    with app.app_context():
        assert db.session.scalar(sa.select(Tenant.status).filter_by(slug="arvika")) == "active"


def test_a_visitors_pending_message_is_neither_shared_nor_lost(app, client):
    client.get("/arvika/")  # the page is remembered without any message
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "Bara till dig.")]
    assert "Bara till dig." in client.get("/arvika/").text
    assert "Bara till dig." not in app.test_client().get("/arvika/").text
    assert "Bara till dig." not in client.get("/arvika/").text  # shown once, as flashes are
