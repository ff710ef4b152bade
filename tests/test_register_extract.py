"""Register extracts (registerutdrag, GDPR article 15): what is stored about the person in
a case, as a printable page and as JSON, for the citizen through their status link and for
staff from the case page. Every extract is logged and never cached."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, as_upload, tiny_png
from test_accounts import create, sign_in
from test_citizen_flow import fill_synpunkter

from samverkan.cases.models import Case
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.extracts.content import CITIZEN, build
from samverkan.retention.run import run_retention
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant

WORKER = "anna@arvika.example"


@pytest.fixture
def worker(app, read_csrf):
    assert create(app, WORKER).exit_code == 0
    browser = app.test_client()
    assert sign_in(browser, read_csrf, WORKER).status_code == 303
    return browser


@pytest.fixture
def retention_reset(app):
    yield
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).values(retention_months=None, retention_by_service={}))
        session.commit()


def submitted_on_the_web(client, read_csrf, member="arvika") -> tuple[str, str]:
    """A synpunkt submitted through the pages by `client`: (reference, status token)."""
    check = client.get(fill_synpunkter(client, read_csrf, member=member))
    receipt = client.post(f"/{member}/e/synpunkter", data={"csrf_token": read_csrf(check.text)})
    token = receipt.headers["Location"].split("/arende/")[1].split("/")[0]
    page = client.get(receipt.headers["Location"])
    reference = re.search(r"[A-Z]{3}-\d{4}-\d{6}", page.text).group(0)
    return reference, token


def handle(worker, read_csrf, reference: str) -> None:
    """A note, an assignment and a message to the citizen."""
    url = f"/arvika/staff/arenden/{reference}"
    token = read_csrf(worker.get(url).text)
    for path, data in (
        ("/anteckning", {"note": "Ringde upp: hen lät upprörd."}),
        ("/tilldela", {"assignee": "me"}),
        ("/status", {"status": "in_progress", "message": "Vi har skickat en elektriker."}),
    ):
        assert worker.post(url + path, data={"csrf_token": token, **data}).status_code == 303


def extract_entries(app) -> list[tuple]:
    with app.app_context(), maintenance_session() as session:
        found = session.execute(
            sa.text(
                "SELECT actor, object_ref, detail FROM audit_log "
                "WHERE action = 'case.extract' ORDER BY id"
            )
        ).all()
    return [(a, r, json.loads(d) if isinstance(d, str) else d) for a, r, d in found]


def test_the_citizen_who_submitted_gets_the_whole_extract_without_internal_notes(
    app, client, worker, read_csrf
):
    reference, token = submitted_on_the_web(client, read_csrf)
    handle(worker, read_csrf, reference)
    status = client.get(f"/arvika/arende/{token}")
    assert f'href="/arvika/arende/{token}/registerutdrag"' in status.text

    page = client.get(f"/arvika/arende/{token}/registerutdrag")

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert f"Registerutdrag för ärende {reference}" in page.text
    assert "Gatlyktan vid torget är trasig." in page.text and "a@exempel.se" in page.text
    assert "Klagomål" in page.text  # the option as the citizen read it, not its code
    assert "Vad vill du lämna?" in page.text  # with the question's label
    assert "Vi har skickat en elektriker." in page.text
    assert "Ringde upp" not in page.text and "Intern anteckning" not in page.text
    assert "Tilldelat" not in page.text
    assert "Arvika kommun" in page.text and "https://www.arvika.se" in page.text
    assert "Arvika kommun har inte beslutat någon gallringsfrist" in page.text
    assert "Integritetsskyddsmyndigheten" in page.text

    as_json = client.get(f"/arvika/arende/{token}/registerutdrag.json")
    assert as_json.status_code == 200 and as_json.headers["Cache-Control"] == "no-store"
    assert as_json.headers["Content-Disposition"] == (
        f'attachment; filename="registerutdrag-{reference}.json"'
    )
    body = as_json.get_json()
    assert body["made_for"] == "citizen" and body["answers_shown"] is True
    assert body["case"]["reference"] == reference and body["case"]["status"] == "in_progress"
    rows = {row["name"]: row for step in body["answers"] for row in step["rows"]}
    assert rows["message"]["value"] == "Gatlyktan vid torget är trasig."
    assert rows["kind"] == {"name": "kind", "label": "Vad vill du lämna?", "value": "Klagomål"}
    assert [e["what"] for e in body["history"]] == ["Inkommet", "Status ändrad"]
    assert not any(e["internal"] for e in body["history"])
    assert "Ringde upp" not in as_json.text
    assert "purpose" not in body and "legal_basis" not in body  # the definition has neither
    # The e-mails about the case and who got them (art. 15(1)(c)): the receipt and the
    # message, queued (the outbox worker sends them).
    assert [(m["to"], m["sent"]) for m in body["e_mails"]] == [("a@exempel.se", False)] * 2
    assert body["e_mails"][0]["subject"] == f"Vi har tagit emot ditt ärende {reference}"
    assert "E-post om ärendet" in page.text and "Inte ännu" in page.text
    entries = extract_entries(app)
    assert [(actor, ref) for actor, ref, _ in entries] == [
        ("den sökande (statuslänken)", reference),
        ("den sökande (statuslänken)", reference),
    ]
    assert [d["format"] for _, _, d in entries] == ["html", "json"]
    assert all(d["for"] == "citizen" and d["answers_shown"] for _, _, d in entries)


def test_anyone_else_with_the_link_learns_which_answers_are_stored_but_not_what(
    app, client, read_csrf
):
    answers = {
        **FELANMALAN,
        "want_contact": "yes",
        "name": "Anna Berg",
        "email": "anna@exempel.se",
        "photo": as_upload("anna-bergs-lampa.png", tiny_png()),
    }
    made = client.post("/api/v1/tenants/arvika/services/felanmalan/submissions", json=answers)
    token = made.get_json()["status_url"].rsplit("/", 1)[-1]
    stranger = app.test_client()

    page = stranger.get(f"/arvika/arende/{token}/registerutdrag")

    assert page.status_code == 200
    assert "Anna Berg" not in page.text and "anna@exempel.se" not in page.text
    assert "Storgatan" not in page.text and "anna-bergs-lampa" not in page.text
    assert "Svaren visas bara i den webbläsare som skickade in ärendet" in page.text
    assert "Sparat, visas inte här" in page.text
    body = stranger.get(f"/arvika/arende/{token}/registerutdrag.json").get_json()
    assert body["answers_shown"] is False
    values = [row["value"] for step in body["answers"] for row in step["rows"]]
    assert values and all(value is None for value in values)
    (attachment,) = body["attachments"]
    assert attachment["filename"] is None
    assert attachment["content_type"] == "image/png" and attachment["size"] > 0
    assert all(d["answers_shown"] is False for _, _, d in extract_entries(app))
    # The e-mails are listed, but not to whom (the address is one of the answers).
    assert [m["to"] for m in body["e_mails"]] == [None]
    assert "anna@exempel.se" not in stranger.get(f"/arvika/arende/{token}/registerutdrag.json").text


def test_a_link_that_opens_no_case_gives_404(app, client, read_csrf):
    _, token = submitted_on_the_web(client, read_csrf)
    assert client.get("/arvika/arende/" + "x" * 43 + "/registerutdrag").status_code == 404
    assert client.get(f"/eda/arende/{token}/registerutdrag").status_code == 404
    assert client.get(f"/eda/arende/{token}/registerutdrag.json").status_code == 404
    # Asked for as JSON, answered in JSON also when there is nothing (it was an HTML page).
    unknown = client.get(f"/arvika/arende/{'x' * 43}/registerutdrag.json")
    assert unknown.status_code == 404 and unknown.is_json
    assert unknown.get_json()["error"]
    assert extract_entries(app) == []


def test_staff_make_the_complete_extract_with_the_internal_notes_marked(
    app, client, worker, read_csrf
):
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    made = client.post("/api/v1/tenants/arvika/services/felanmalan/submissions", json=answers)
    reference = made.get_json()["reference"]
    handle(worker, read_csrf, reference)
    case_page = worker.get(f"/arvika/staff/arenden/{reference}")
    link = f'href="/arvika/staff/arenden/{reference}/registerutdrag"'
    assert link in case_page.text

    page = worker.get(f"/arvika/staff/arenden/{reference}/registerutdrag")

    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Gatlampan lyser inte." in page.text and "lampa.png" in page.text
    assert "Ringde upp: hen lät upprörd." in page.text
    assert "Intern anteckning – pröva sekretess innan utdraget lämnas ut" in page.text
    assert "Tilldelat" not in page.text  # who handles it is about the staff, not the person
    body = worker.get(f"/arvika/staff/arenden/{reference}/registerutdrag.json").get_json()
    assert body["made_for"] == "staff" and body["answers_shown"] is True
    notes = [e for e in body["history"] if e["internal"]]
    assert [(n["what"], n["message"]) for n in notes] == [
        ("Intern anteckning", "Ringde upp: hen lät upprörd.")
    ]
    (attachment,) = body["attachments"]
    assert attachment["filename"] == "lampa.png" and attachment["content_type"] == "image/png"
    actors = {actor for actor, _, _ in extract_entries(app)}
    assert actors == {WORKER}
    # Another member's staff find nothing under their own address.
    assert create(app, "bo@eda.example", tenant="eda").exit_code == 0
    eda = app.test_client()
    assert sign_in(eda, read_csrf, "bo@eda.example", tenant="eda").status_code == 303
    assert eda.get(f"/eda/staff/arenden/{reference}/registerutdrag").status_code == 404
    # In English the page around the document is English too.
    worker.get(f"/sprak/en?next=/arvika/staff/arenden/{reference}/registerutdrag")
    english = worker.get(f"/arvika/staff/arenden/{reference}/registerutdrag").text
    assert f"<title>Register extract {reference}" in english
    assert "This is the whole extract" in english and "Det här är hela utdraget" not in english
    assert f'href="/arvika/staff/arenden/{reference}/registerutdrag.json" download' in english


def set_member(app, slug: str, **values) -> None:
    """Change a member's row directly. Done before the test's first request to it: a
    worker may reuse what it read about a member for a few seconds (tenancy/snapshot.py)."""
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Tenant).where(Tenant.slug == slug).values(**values))
        session.commit()


def test_the_controller_is_named_with_only_the_contact_details_it_has_recorded(
    app, client, read_csrf, resync
):
    _, token = submitted_on_the_web(client, read_csrf)
    body = client.get(f"/arvika/arende/{token}/registerutdrag.json").get_json()
    assert body["controller"] == {
        "name": "Arvika kommun",
        "website": "https://www.arvika.se",
        "privacy_notice_url": "http://localhost/arvika/integritet",  # every member has one
    }
    set_member(app, "eda", phone="0571-280 00", privacy_notice="Så behandlar vi uppgifterna.")
    _, token = submitted_on_the_web(app.test_client(), read_csrf, member="eda")
    body = client.get(f"/eda/arende/{token}/registerutdrag.json").get_json()
    assert body["controller"] == {
        "name": "Eda kommun",
        "website": "https://www.eda.se",
        "phone": "0571-280 00",
        "privacy_notice_url": "http://localhost/eda/integritet",
    }


def test_the_extract_gives_the_retention_period_and_when_it_runs_out(
    app, client, read_csrf, retention_reset
):
    set_member(app, "eda", retention_months=24, retention_by_service={"synpunkter": 6})
    assert create(app, "bo@eda.example", tenant="eda").exit_code == 0
    staff = app.test_client()
    assert sign_in(staff, read_csrf, "bo@eda.example", tenant="eda").status_code == 303
    reference, token = submitted_on_the_web(client, read_csrf, member="eda")
    url = f"/eda/staff/arenden/{reference}"
    closing = {"csrf_token": read_csrf(staff.get(url).text), "status": "closed", "bekrafta": "ja"}
    assert staff.post(url + "/status", data=closing).status_code == 303
    body = client.get(f"/eda/arende/{token}/registerutdrag.json").get_json()
    assert body["retention"]["months"] == 6 and body["retention"]["set_for"] == "e-tjänsten"
    assert body["retention"]["description"] == (
        "Personuppgifterna i ärendet gallras 6 månader efter att ärendet avslutats."
    )
    closed = datetime.fromisoformat(body["case"]["closed_at"])
    due = datetime.fromisoformat(body["retention"]["thinned_from"])
    assert timedelta(days=180) <= due - closed <= timedelta(days=185)
    page = client.get(f"/eda/arende/{token}/registerutdrag")
    assert "gallras 6 månader efter att ärendet avslutats" in page.text
    assert "För det här ärendet: tidigast" in page.text


def test_a_thinned_cases_extract_says_so_and_holds_nothing_personal(
    app, client, worker, read_csrf, retention_reset
):
    reference, token = submitted_on_the_web(client, read_csrf)
    handle(worker, read_csrf, reference)
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Case)
            .where(Case.reference == reference)
            .values(status="closed", closed_at=datetime.now(UTC) - timedelta(days=60))
        )
        session.execute(sa.text("UPDATE outbox_messages SET status = 'sent'"))
        session.execute(sa.update(Tenant).where(Tenant.slug == "arvika").values(retention_months=1))
        session.commit()
    with app.app_context():
        (arvika,) = run_retention(
            db.engine,
            Path(app.config["UPLOAD_ROOT"]),
            now=datetime.now(UTC),
            dry_run=False,
            member="arvika",
        )
    assert arvika.thinned == 1
    assert client.get(f"/arvika/arende/{token}/registerutdrag.json").status_code == 410
    page = worker.get(f"/arvika/staff/arenden/{reference}/registerutdrag")
    assert page.status_code == 200 and "Ärendet gallrades" in page.text
    body = worker.get(f"/arvika/staff/arenden/{reference}/registerutdrag.json").get_json()
    assert body["answers"] == [] and body["attachments"] == []
    assert body["case"]["thinned_at"] is not None
    assert all(e["message"] is None for e in body["history"])
    assert "Gatlyktan" not in json.dumps(body) and "a@exempel.se" not in json.dumps(body)


def test_a_purpose_and_legal_basis_are_given_only_when_the_definition_states_them(app, client):
    made = client.post(
        "/api/v1/tenants/arvika/services/felanmalan/submissions", json=FELANMALAN
    ).get_json()
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant.id)
        case = db.session.scalar(sa.select(Case).filter_by(reference=made["reference"]))
        now = datetime.now(UTC)
        plain = build(case, tenant, audience=CITIZEN, answers_shown=True, now=now)
        assert "purpose" not in plain and "legal_basis" not in plain
        # Only in memory, never committed: a definition that states both.
        db.session.expunge(case.definition)
        case.definition.content = {
            **case.definition.content,
            "purpose": {"sv": "Att åtgärda felet du anmäler."},
            "legal_basis": {"sv": "Allmänt intresse (artikel 6.1 e)."},
        }
        stated = build(case, tenant, audience=CITIZEN, answers_shown=True, now=now)
        db.session.rollback()
        db.session.remove()
    assert stated["purpose"] == "Att åtgärda felet du anmäler."
    assert stated["legal_basis"] == "Allmänt intresse (artikel 6.1 e)."


def test_extracts_are_limited_per_address_with_the_clear_429(app, client, read_csrf, monkeypatch):
    """Each extract is audited: a link in the wrong hands must not grow the log unbounded."""
    monkeypatch.setitem(app.config, "EXTRACTS_PER_ADDRESS", "2 per minute")
    _, token = submitted_on_the_web(client, read_csrf)
    url = f"/arvika/arende/{token}/registerutdrag"
    taken = [client.get(url), client.get(url + ".json")]
    assert [answer.status_code for answer in taken] == [200, 200]
    # How many are left, but no Retry-After on an answer that was not refused.
    assert all("X-RateLimit-Remaining" in a.headers for a in taken)
    assert not any("Retry-After" in a.headers for a in taken)
    refused = client.get(url)
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert "För många försök" in refused.text
    assert "Försök igen om 1 minut." in refused.text  # when, as the limit says


def test_the_429_page_says_how_long_an_hourly_limit_lasts(app, client, read_csrf, monkeypatch):
    monkeypatch.setitem(app.config, "EXTRACTS_PER_ADDRESS", "1 per hour")
    _, token = submitted_on_the_web(client, read_csrf)
    url = f"/arvika/arende/{token}/registerutdrag"
    assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert "Försök igen om 1 timme." in refused.text
    assert "några minuter" not in refused.text
    assert client.get(f"/arvika/arende/{token}").status_code == 200  # the status page is not
