"""The hub's contact centre: finding any member's case by its reference (status and the
citizen's history only), registering a submission for a caller, and the audit of both."""

import re

import pytest
import sqlalchemy as sa
from api_support import ANONYMOUS, WITH_REPLY
from conftest import count_all, logged_count
from test_accounts import create, sign_in

from samverkan.clock import swedish_today
from samverkan.database_roles import maintenance_session

SEARCH = "/hub/kontaktcenter"
REGISTER = "/hub/kontaktcenter/registrera"
SECRET_ANSWER = "Min granne bygger en mur utan bygglov."
INTERNAL_NOTE = "Ringde sökanden, verkar vara en granntvist."
TO_CITIZEN = "Vi har skickat frågan vidare till bygglovsenheten."
KIL_SYNPUNKTER = f"{REGISTER}?medlem=kil&etjanst=synpunkter"


def submit(client, member: str, answers: dict) -> str:
    response = client.post(
        f"/api/v1/tenants/{member}/services/synpunkter/submissions", json=answers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["reference"]


def signed_in(app, read_csrf, email: str, tenant: str, role: str):
    assert create(app, email, tenant=tenant, role=role).exit_code == 0
    browser = app.test_client()
    assert sign_in(browser, read_csrf, email, tenant=tenant).status_code == 303
    return browser


@pytest.fixture
def agent(app, read_csrf):
    """A browser signed in as an agent of the contact centre at the hub (Karlstad)."""
    return signed_in(app, read_csrf, "kc@karlstad.example", "karlstad", "contact_centre")


def search(agent, read_csrf, reference: str):
    token = read_csrf(agent.get(SEARCH).text)
    return agent.post(SEARCH, data={"csrf_token": token, "referens": reference})


def audit(app, action: str, member: str) -> list[sa.Row]:
    """A member's audit entries for an action, read as the owner."""
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text(
                "SELECT a.object_ref, a.actor FROM audit_log a JOIN tenants t "
                "ON t.id = a.tenant_id WHERE t.slug = :member AND a.action = :action"
            ),
            {"member": member, "action": action},
        ).all()


def case_row(app, reference: str) -> sa.Row:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text(
                "SELECT c.channel, c.year, c.number, t.slug, e.message, u.email AS author "
                "FROM cases c JOIN tenants t ON t.id = c.tenant_id "
                "JOIN case_events e ON e.tenant_id = c.tenant_id AND e.case_id = c.id "
                "LEFT JOIN users u ON u.id = e.author_id "
                "WHERE c.reference = :r AND e.kind = 'submitted'"
            ),
            {"r": reference},
        ).one()


def register_form(agent, read_csrf, url: str = KIL_SYNPUNKTER) -> dict:
    page = agent.get(url)
    assert page.status_code == 200, page.text
    key = re.search(r'name="registrering" value="([^"]+)"', page.text).group(1)
    return {"csrf_token": read_csrf(page.text), "registrering": key}


# -- finding a case ------------------------------------------------------------------------


def test_the_agent_finds_cases_of_arvika_and_eda_without_answers_or_notes(
    app, client, read_csrf, agent
):
    arvika = submit(client, "arvika", {**ANONYMOUS, "message": SECRET_ANSWER})
    eda = submit(client, "eda", ANONYMOUS)
    worker = signed_in(app, read_csrf, "anna@arvika.example", "arvika", "case_worker")
    case_page = worker.get(f"/arvika/staff/arenden/{arvika}")
    token = read_csrf(case_page.text)
    url = f"/arvika/staff/arenden/{arvika}"
    worker.post(url + "/anteckning", data={"csrf_token": token, "note": INTERNAL_NOTE})
    worker.post(
        url + "/status",
        data={"csrf_token": token, "status": "in_progress", "message": TO_CITIZEN},
    )

    found = search(agent, read_csrf, arvika.lower() + " ")  # as typed, in lower case
    assert found.status_code == 200
    assert f"Ärende {arvika}" in found.text
    assert "Arvika kommun" in found.text and "Synpunkter och klagomål" in found.text
    assert "Under handläggning" in found.text and TO_CITIZEN in found.text
    assert SECRET_ANSWER not in found.text and INTERNAL_NOTE not in found.text
    assert "Ringde" not in found.text

    other = search(agent, read_csrf, eda)
    assert other.status_code == 200 and "Eda kommun" in other.text and "Mottaget" in other.text


def test_each_search_is_logged_by_the_hub_and_by_the_member(app, client, read_csrf, agent):
    reference = submit(client, "arvika", ANONYMOUS)
    search(agent, read_csrf, reference)
    assert audit(app, "contact.case_found", "karlstad") == [(reference, "kc@karlstad.example")]
    assert audit(app, "contact.case_found", "arvika") == [(reference, "kc@karlstad.example")]
    assert audit(app, "contact.case_found", "eda") == []

    # Arvika's administrators see in their own log that the contact centre looked.
    admin = signed_in(app, read_csrf, "admin@arvika.example", "arvika", "tenant_admin")
    log = admin.get("/arvika/admin/logg")
    assert "Kontaktcenter: sökte ärende" in log.text and "kc@karlstad.example" in log.text


def test_unknown_references_get_one_answer_and_are_logged(app, client, read_csrf, agent):
    submit(client, "arvika", ANONYMOUS)
    year = swedish_today().year
    for reference in (f"XYZ-{year}-000001", f"ARV-{year}-999999", f"KIL-{year}-000001"):
        response = search(agent, read_csrf, reference)
        assert response.status_code == 200
        assert "Inget ärende med den referensen" in response.text
        assert "Mottaget" not in response.text
    logged = [ref for ref, _ in audit(app, "contact.case_found", "karlstad")]
    assert logged == [f"XYZ-{year}-000001", f"ARV-{year}-999999", f"KIL-{year}-000001"]
    assert [ref for ref, _ in audit(app, "contact.case_found", "arvika")] == [f"ARV-{year}-999999"]


@pytest.mark.parametrize("typed", ["", "ARV-2026-1", "ARV2026000001", "ARV-2026-000001-1"])
def test_a_malformed_reference_gets_a_clear_message_and_no_lookup(app, read_csrf, agent, typed):
    response = search(agent, read_csrf, typed)
    assert response.status_code == 422
    assert 'class="error-summary"' in response.text and 'href="#referens"' in response.text
    expected = "Skriv ärendets referens." if not typed else "ska se ut som ARV-2026-000001"
    assert expected in response.text
    assert logged_count(app) == 0


def test_searches_are_throttled_per_agent(app, read_csrf, agent):
    token = read_csrf(agent.get(SEARCH).text)
    answers = [
        agent.post(SEARCH, data={"csrf_token": token, "referens": "fel"}).status_code
        for _ in range(61)
    ]
    assert answers[:60] == [422] * 60
    assert answers[60] == 429
    # Another agent has their own allowance.
    colleague = signed_in(app, read_csrf, "kc2@karlstad.example", "karlstad", "contact_centre")
    token = read_csrf(colleague.get(SEARCH).text)
    assert colleague.post(SEARCH, data={"csrf_token": token, "referens": "fel"}).status_code == 422


# -- registering for a caller -----------------------------------------------------------------


def test_an_assisted_submission_for_kil_continues_kils_series(app, client, read_csrf, agent):
    first = submit(client, "kil", ANONYMOUS)  # a citizen's, before the call
    form = register_form(agent, read_csrf)
    response = agent.post(KIL_SYNPUNKTER, data={**form, **WITH_REPLY})
    assert response.status_code == 303, response.text
    page = agent.get(response.headers["Location"])
    reference = re.search(r'class="reference">([A-Z]{3}-\d{4}-\d{6})<', page.text).group(1)
    year = swedish_today().year
    assert first == f"KIL-{year}-000001" and reference == f"KIL-{year}-000002"
    assert "/kil/arende/" in page.text  # the status link to read to the caller
    assert "Ett kvitto med referensen och länken skickas till anna@exempel.se" in page.text

    row = case_row(app, reference)
    assert (row.channel, row.slug, row.number) == ("assisted", "kil", 2)
    assert row.message == "Registrerat av kontaktcenter för den som ringde."
    assert row.author == "kc@karlstad.example"
    with app.app_context(), maintenance_session() as session:
        mails = session.execute(
            sa.text("SELECT recipient, subject FROM outbox_messages WHERE event_key = :k"),
            {"k": f"case:{reference}:received"},
        ).all()
    assert mails == [("anna@exempel.se", f"Vi har tagit emot ditt ärende {reference}")]
    registered = [(reference, "kc@karlstad.example")]
    assert audit(app, "contact.submission_registered", "karlstad") == registered
    assert audit(app, "contact.submission_registered", "kil") == registered

    # Kil's case workers see where it came from; the page is shown once.
    worker = signed_in(app, read_csrf, "bo@kil.example", "kil", "case_worker")
    assert "via kontaktcenter" in worker.get(f"/kil/staff/arenden/{reference}").text
    assert agent.get("/hub/kontaktcenter/registrerat").status_code == 303


def test_the_agent_is_not_told_a_receipt_goes_when_its_limit_held_it(
    app, read_csrf, agent, monkeypatch
):
    """The caller must not be promised a mail that is not coming."""
    monkeypatch.setitem(app.config, "RECEIPTS_PER_RECIPIENT", "0 per hour")
    form = register_form(agent, read_csrf)
    response = agent.post(KIL_SYNPUNKTER, data={**form, **WITH_REPLY})
    page = agent.get(response.headers["Location"]).text
    assert "Inget kvitto skickas till anna@exempel.se den här gången" in page
    assert "skickas till anna@exempel.se." not in page
    assert count_all(app, "outbox_messages") == 0


def test_without_an_address_no_receipt_is_queued(app, read_csrf, agent):
    form = register_form(agent, read_csrf)
    response = agent.post(KIL_SYNPUNKTER, data={**form, **ANONYMOUS})
    assert response.status_code == 303
    assert "inget kvitto skickas" in agent.get(response.headers["Location"]).text
    assert count_all(app, "cases") == 1 and count_all(app, "outbox_messages") == 0


def test_a_double_click_registers_one_case(app, read_csrf, agent):
    form = register_form(agent, read_csrf)
    first = agent.post(KIL_SYNPUNKTER, data={**form, **ANONYMOUS})
    again = agent.post(KIL_SYNPUNKTER, data={**form, **ANONYMOUS})
    assert first.status_code == again.status_code == 303
    assert count_all(app, "cases") == 1
    changed = agent.post(KIL_SYNPUNKTER, data={**form, **ANONYMOUS, "message": "Annat"})
    assert changed.status_code == 409 and "redan skickats in med andra svar" in changed.text
    assert count_all(app, "cases") == 1


def test_wrong_answers_are_named_field_by_field(app, read_csrf, agent):
    form = register_form(agent, read_csrf)
    empty = agent.post(KIL_SYNPUNKTER, data=form)
    assert empty.status_code == 422
    assert 'href="#f-kind-1"' in empty.text and 'href="#f-message"' in empty.text
    assert "Välj ett av alternativen." in empty.text
    assert 'id="f-message-error"' in empty.text

    # The condition is checked as the API checks it: a reply needs an address.
    wants_reply = {**ANONYMOUS, "want_reply": "yes", "email": "inte en adress"}
    bad = agent.post(KIL_SYNPUNKTER, data={**form, **wants_reply})
    assert bad.status_code == 422 and 'id="f-email-error"' in bad.text
    assert 'value="inte en adress"' in bad.text  # what was typed stays
    assert count_all(app, "cases") == 0


def test_files_cannot_be_taken_by_phone(app, read_csrf, agent):
    choose = agent.get(f"{REGISTER}?medlem=kil")
    assert "Kan inte registreras per telefon" in choose.text
    assert (
        "Ansökan om parkeringstillstånd" in choose.text.split("Kan inte registreras per telefon")[1]
    )
    refused = agent.get(f"{REGISTER}?medlem=kil&etjanst=parkeringstillstand")
    assert refused.status_code == 422 and "kräver en bifogad fil" in refused.text

    # Optional files are left out of the form, and the page says so.
    fault = agent.get(f"{REGISTER}?medlem=kil&etjanst=felanmalan")
    assert fault.status_code == 200 and 'type="file"' not in fault.text
    assert "kan inte ta emot filer per telefon" in fault.text


def test_an_e_service_that_needs_e_id_cannot_be_registered_by_phone(app, read_csrf, agent):
    """A register extract in someone's name needs their e-ID: a caller's typed personnummer
    would stand where the e-ID's vouched-for one should (the API refuses it too)."""
    choose = agent.get(f"{REGISTER}?medlem=kil")
    refused_part = choose.text.split("Kan inte registreras per telefon")[1]
    assert "Begäran om registerutdrag" in refused_part
    assert "kräver inloggning med e-legitimation" in refused_part
    refused = agent.get(f"{REGISTER}?medlem=kil&etjanst=registerutdrag")
    assert refused.status_code == 422 and "kräver inloggning med e-legitimation" in refused.text
    assert 'name="personnummer"' not in refused.text
    forced = agent.post(
        f"{REGISTER}?medlem=kil&etjanst=registerutdrag",
        data={
            "csrf_token": read_csrf(choose.text),
            "personnummer": "19121212-1212",
            "name": "Tolvan Tolvansson",
        },
    )
    assert forced.status_code == 422
    assert count_all(app, "cases") == 0


def test_a_file_the_answers_make_necessary_is_refused_with_a_reason(app, read_csrf, agent):
    url = f"{REGISTER}?medlem=kil&etjanst=skolskjuts"
    form = register_form(agent, read_csrf, url)
    response = agent.post(url, data={**form, "reason": "funktionsnedsattning"})
    assert response.status_code == 422
    assert 'href="#filer"' in response.text
    assert "Intyg om funktionsnedsättning – Kontaktcenter kan inte ta emot filer" in response.text


def test_unknown_members_and_services_are_refused_by_name(app, read_csrf, agent):
    opened = agent.get(REGISTER)  # as it opens: nothing chosen, so nothing is wrong yet
    assert opened.status_code == 200
    assert "error-summary" not in opened.text and "aria-invalid" not in opened.text
    unknown = agent.get(f"{REGISTER}?medlem=oslo")
    assert unknown.status_code == 422 and "Välj en av medlemmarna i listan." in unknown.text
    service = agent.get(f"{REGISTER}?medlem=kil&etjanst=hundskatt")
    assert service.status_code == 422 and "inte den e-tjänsten påslagen" in service.text


# -- who may use the contact centre ---------------------------------------------------------


def test_hub_administrators_may_use_it_too(app, read_csrf):
    admin = signed_in(app, read_csrf, "navet@karlstad.example", "karlstad", "hub_admin")
    page = admin.get(SEARCH)
    assert page.status_code == 200 and 'href="/hub/kontaktcenter"' in page.text


@pytest.mark.parametrize("role", ["case_worker", "tenant_admin"])
@pytest.mark.parametrize("member", ["arvika", "karlstad"])
def test_a_members_staff_get_404(app, client, read_csrf, role, member):
    reference = submit(client, "arvika", ANONYMOUS)
    staff = signed_in(app, read_csrf, f"{role}@{member}.example", member, role)
    token = read_csrf(staff.get(f"/{member}/staff/").text)
    for url in (SEARCH, REGISTER, KIL_SYNPUNKTER, "/hub/kontaktcenter/registrerat"):
        assert staff.get(url).status_code == 404, url
    posted = staff.post(SEARCH, data={"csrf_token": token, "referens": reference})
    assert posted.status_code == 404
    assert logged_count(app) == 0


def test_anonymous_visitors_are_sent_to_the_hubs_sign_in(app, client, read_csrf):
    token = read_csrf(client.get("/arvika/staff/logga-in").text)
    for url in (SEARCH, KIL_SYNPUNKTER):
        for response in (client.get(url), client.post(url, data={"csrf_token": token})):
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/karlstad/staff/logga-in")
    assert logged_count(app) == 0
