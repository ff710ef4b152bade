"""A citizen's whole path through the pages: find the member, fill in, check, submit,
get a receipt, follow the case."""

import re

import pytest
import sqlalchemy as sa
from conftest import count_all
from sqlalchemy import event, orm

from samverkan.cases.models import Case
from samverkan.catalogue.models import ServiceDefinition, TenantService
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.tenancy.models import Tenant
from samverkan.tenancy.scoping import bind_tenant


def post_step(client, path, data, read_csrf):
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": read_csrf(page.text), **data})


def fill_synpunkter(client, read_csrf, member="arvika"):
    base = f"/{member}/e/synpunkter"
    first = post_step(
        client,
        f"{base}/steg/synpunkt",
        {"kind": "klagomal", "area": "gata_park", "message": "Gatlyktan vid torget är trasig."},
        read_csrf,
    )
    assert first.status_code == 303, first.text
    second = post_step(
        client, first.headers["Location"], {"want_reply": "yes", "email": "a@exempel.se"}, read_csrf
    )
    assert second.status_code == 303, second.text
    assert second.headers["Location"].endswith(f"{base}/kontrollera")
    return second.headers["Location"]


def test_front_page_lists_all_sixteen_members(client):
    page = client.get("/")
    assert page.status_code == 200
    links = re.findall(r'<a href="/([a-z]+)/">([^<]+)</a>', page.text)
    assert len(links) == 16
    assert ("arvika", "Arvika kommun") in links
    assert ("saffle", "Säffle kommun") in links


def test_member_home_shows_name_colours_contact_and_services_by_category(client):
    page = client.get("/arvika/")
    assert page.status_code == 200
    assert "E-tjänster hos Arvika kommun" in page.text
    assert "https://www.arvika.se" in page.text
    assert 'href="/arvika/theme.css"' in page.text
    for category in ("Förskola och skola", "Gator, trafik och parker"):
        assert category in page.text
    assert page.text.index("Förskola och skola") < page.text.index("Ansökan om förskoleplats")
    theme = client.get("/arvika/theme.css")
    assert theme.mimetype == "text/css"
    assert "--brand: #" in theme.text


def test_member_home_lists_only_switched_on_services(app, client, resync):
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="eda"))
        bind_tenant(db.session, tenant.id)
        db.session.scalar(
            sa.select(TenantService).filter_by(service_slug="varmepump")
        ).enabled = False
        db.session.commit()
    assert "värmepump" not in client.get("/eda/").text.lower()
    assert client.get("/eda/e/varmepump").status_code == 404
    assert "värmepump" in client.get("/arvika/").text.lower()


def test_unknown_member_and_unknown_service_give_a_404_page(client):
    page = client.get("/gotland/")
    assert page.status_code == 404
    assert "Sidan finns inte" in page.text
    assert client.get("/arvika/e/bygglov").status_code == 404
    assert client.get("/arvika/e/felanmalan/steg/finns-inte").status_code == 404


def test_an_e_service_switched_off_mid_form_says_so(app, client, read_csrf, resync):
    """A citizen half-way through when the member switches the e-service off is told it
    takes no cases just now, not that the address is misspelt."""
    check = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check).text)
    with app.app_context():
        bind_tenant(db.session, db.session.scalar(sa.select(Tenant.id).filter_by(slug="arvika")))
        db.session.scalar(
            sa.select(TenantService).filter_by(service_slug="synpunkter")
        ).enabled = False
        db.session.commit()
    refused = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert refused.status_code == 404
    assert "tar inte emot ärenden hos Arvika kommun just nu" in refused.text
    assert "felstavad" not in refused.text
    assert "tar inte emot ärenden" in client.get("/arvika/e/synpunkter").text
    assert "felstavad" in client.get("/arvika/e/bygglov").text  # never had: as before
    assert count_all(app, "cases") == 0


def test_answers_that_can_no_longer_be_sent_are_not_dropped_without_a_word(app, client, read_csrf):
    """The draft is gone when the citizen sends it (here: deleted, as by expiry): the start
    page says why it starts over. (A new version of the e-service carries the answers
    over instead: tests/test_hub_members.py.)"""
    check = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check).text)
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text("DELETE FROM drafts"))
        session.commit()
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert sent.headers["Location"].endswith("/arvika/e/synpunkter")
    assert "Dina svar kunde inte skickas in" in client.get(sent.headers["Location"]).text
    assert count_all(app, "cases") == 0


def test_a_citizen_completes_synpunkter_and_follows_the_case(app, client, read_csrf):
    check_url = fill_synpunkter(client, read_csrf)
    check = client.get(check_url)
    assert "Kontrollera dina svar" in check.text
    assert "Gatlyktan vid torget är trasig." in check.text
    assert "Klagomål" in check.text
    assert check.text.count(">Ändra<") >= 4
    submitted = client.post("/arvika/e/synpunkter", data={"csrf_token": read_csrf(check.text)})
    assert submitted.status_code == 303
    receipt = client.get(submitted.headers["Location"])
    reference = re.search(r"ARV-\d{4}-\d{6}", receipt.text).group(0)
    assert reference.endswith("-000001")
    assert "Vad händer nu?" in receipt.text
    assert receipt.headers["Cache-Control"] == "no-store"
    status_url = re.search(r'class="status-link" href="([^"]+)"', receipt.text).group(1)
    status = client.get(status_url.replace("http://localhost", ""))
    assert status.status_code == 200
    assert reference in status.text
    assert "Mottaget" in status.text
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="arvika"))
        bind_tenant(db.session, tenant.id)
        case = db.session.scalar(sa.select(Case).filter_by(reference=reference))
        assert case.answers["message"] == "Gatlyktan vid torget är trasig."
        assert case.answers["email"] == "a@exempel.se"
        assert case.channel == "web"
        assert case.definition.version == 1


def test_a_mistake_shows_the_same_page_with_an_error_summary_and_answers_kept(client, read_csrf):
    response = post_step(
        client,
        "/arvika/e/forskoleplats/steg/barn",
        {"child_personnummer": "201501011235", "child_name": "Elsa <b>Test</b>"},
        read_csrf,
    )
    assert response.status_code == 422
    html = response.text
    assert "<title>Fel:" in html
    summary = html[html.index('class="error-summary"') : html.index("</ul>")]
    assert 'href="#f-child_personnummer"' in summary
    assert 'href="#f-child_name"' in summary
    assert "Ange ett giltigt personnummer" in html
    assert 'aria-describedby="f-child_personnummer-hint f-child_personnummer-error"' in html
    assert 'value="201501011235"' in html  # the answer is kept as typed
    assert "&lt;b&gt;Test&lt;/b&gt;" in html  # ...and never echoed as markup
    assert "<b>Test</b>" not in html


def test_steps_cannot_be_skipped(client):
    response = client.get("/arvika/e/forskoleplats/steg/onskemal")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/arvika/e/forskoleplats/steg/barn")
    check = client.get("/arvika/e/forskoleplats/kontrollera")
    assert check.headers["Location"].endswith("/arvika/e/forskoleplats/steg/barn")


def test_changing_an_answer_from_check_answers_returns_to_check_answers(client, read_csrf):
    check_url = fill_synpunkter(client, read_csrf)
    change = post_step(
        client,
        "/arvika/e/synpunkter/steg/svar?andra=1",
        {"want_reply": "no"},
        read_csrf,
    )
    assert change.status_code == 303
    assert change.headers["Location"].endswith("/kontrollera")
    check = client.get(check_url)
    assert "a@exempel.se" not in check.text  # hidden by the new answer, so dropped


def test_double_submit_gives_one_case(app, client, read_csrf):
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    first = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    second = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_all(app, "cases") == 1


def test_a_second_click_answered_last_still_leaves_the_receipt_with_the_answers(
    app, client, read_csrf
):
    """Two clicks race: the first registers the case, the second (sent with the cookie
    as it was before) finds it; whichever answer sets the cookie last, this browser's
    receipt shows what it sent."""
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    before = client.get_cookie("session").value
    first = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    client.set_cookie("session", before)  # the second request carried the old cookie
    second = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert second.headers["Location"] == first.headers["Location"]
    receipt = client.get(second.headers["Location"]).text
    assert "Det här skickade du" in receipt and "Gatlyktan vid torget är trasig." in receipt


def test_form_posts_without_csrf_token_are_refused(client):
    client.get("/arvika/e/synpunkter/steg/synpunkt")
    response = client.post(
        "/arvika/e/synpunkter/steg/synpunkt",
        data={"kind": "fraga", "area": "annat", "message": "Hej"},
    )
    assert response.status_code == 400
    assert "Formuläret hade gått ut" in response.text


def test_status_page_of_another_member_is_not_found(client, read_csrf):
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    receipt_url = client.post("/arvika/e/synpunkter", data={"csrf_token": token}).headers[
        "Location"
    ]
    assert client.get(receipt_url).status_code == 200
    assert client.get(receipt_url.replace("/arvika/", "/eda/")).status_code == 404
    assert client.get("/arvika/arende/not-a-token").status_code == 404


@pytest.mark.parametrize("member", ["arvika", "munkfors"])
def test_references_follow_each_members_own_series(client, read_csrf, member):
    prefix = {"arvika": "ARV", "munkfors": "MUN"}[member]
    check_url = fill_synpunkter(client, read_csrf, member)
    token = read_csrf(client.get(check_url).text)
    receipt = client.get(
        client.post(f"/{member}/e/synpunkter", data={"csrf_token": token}).headers["Location"]
    )
    assert re.search(rf"{prefix}-\d{{4}}-000001", receipt.text)


def walk(client, read_csrf, path, data):
    """Post one step the way a browser would (GET for the token, then POST)."""
    response = post_step(client, path, data, read_csrf)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


SKOLSKJUTS_PUPIL = {
    "pupil_personnummer": "20150303-1237",
    "pupil_name": "Lilla Berg",
    "school": "Centralskolan",
    "grade": "4",
}
SKOLSKJUTS_ADDRESS = {"street_address": "Skogsvägen 4", "postal_code": "67191", "city": "Arvika"}


def test_a_field_that_depends_on_an_earlier_step_is_shown_only_when_it_applies(client, read_csrf):
    base = "/arvika/e/skolskjuts/steg"
    walk(client, read_csrf, f"{base}/elev", SKOLSKJUTS_PUPIL)
    walk(client, read_csrf, f"{base}/skal", {"reason": "avstand"})
    address_page = client.get(f"{base}/adress").text
    assert 'name="other_address"' not in address_page  # reason was distance
    assert 'name="street_address"' in address_page
    walk(client, read_csrf, f"{base}/skal?andra=1", {"reason": "vaxelvis_boende"})
    address_page = client.get(f"{base}/adress").text
    assert 'name="other_address"' in address_page  # now it applies
    assert "Besvaras bara om" not in address_page  # decided already, no note needed


def test_changing_an_answer_that_asks_for_more_leads_to_the_new_question(client, read_csrf):
    base = "/arvika/e/skolskjuts/steg"
    walk(client, read_csrf, f"{base}/elev", SKOLSKJUTS_PUPIL)
    walk(client, read_csrf, f"{base}/skal", {"reason": "avstand"})
    walk(client, read_csrf, f"{base}/adress", SKOLSKJUTS_ADDRESS)
    walk(
        client,
        read_csrf,
        f"{base}/vardnadshavare",
        {"guardian_name": "Anna Berg", "email": "anna@exempel.se", "phone": "070-123 45 67"},
    )
    assert walk(client, read_csrf, f"{base}/bekrafta", {"confirm": "ja"}).endswith("/kontrollera")
    # Back from check answers, the reason changes to one that needs the other address.
    after_change = walk(client, read_csrf, f"{base}/skal?andra=1", {"reason": "vaxelvis_boende"})
    assert after_change.endswith(f"{base}/adress")
    assert (
        client.get("/arvika/e/skolskjuts/kontrollera")
        .headers["Location"]
        .endswith(f"{base}/adress")
    )


def test_an_answer_that_is_no_longer_valid_at_submit_is_shown_with_its_message(
    app, client, read_csrf
):
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    with app.app_context(), maintenance_session() as session:  # the answer changes under it
        session.execute(
            sa.text("UPDATE drafts SET answers = :answers"),
            {
                "answers": '{"kind": "klagomal", "area": "gata_park", "message": "<b>x</b>",'
                ' "want_reply": "no"}'
            },
        )
        session.commit()
    response = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Texten får inte innehålla HTML-kod" in response.text
    assert count_all(app, "cases") == 0


def test_only_the_browser_that_submitted_sees_the_answers_on_the_receipt(app, client, read_csrf):
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    receipt_url = client.post("/arvika/e/synpunkter", data={"csrf_token": token}).headers[
        "Location"
    ]
    assert "a@exempel.se" in client.get(receipt_url).text
    someone_else = app.test_client().get(receipt_url)
    assert someone_else.status_code == 200
    assert re.search(r"ARV-\d{4}-000001", someone_else.text)
    assert "a@exempel.se" not in someone_else.text
    assert someone_else.headers["Referrer-Policy"] == "same-origin"


def test_a_submission_leaves_the_cookie_as_it_was(client, read_csrf):
    """The browser's session already holds the draft's id, which is what shows it the
    receipt's answers: the submission does not sign and send the cookie again."""
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert sent.status_code == 303 and "/kvitto" in sent.headers["Location"]
    assert "Set-Cookie" not in sent.headers
    assert "Gatlyktan vid torget är trasig." in client.get(sent.headers["Location"]).text


def send_synpunkter(client, read_csrf) -> str:
    check_url = fill_synpunkter(client, read_csrf)
    token = read_csrf(client.get(check_url).text)
    return client.post("/arvika/e/synpunkter", data={"csrf_token": token}).headers["Location"]


def test_a_receipt_keeps_its_answers_after_the_browser_sends_the_e_service_again(client, read_csrf):
    """A second case of the same e-service gives the browser another draft: the first
    receipt still shows what was sent in it, and each shows its own answers only."""
    first = send_synpunkter(client, read_csrf)
    second = send_synpunkter(client, read_csrf)
    assert first != second
    for receipt in (first, second):
        page = client.get(receipt).text
        assert "Det här skickade du" in page and "Gatlyktan vid torget är trasig." in page


def test_a_receipt_keeps_its_answers_after_the_browser_starts_over(client, read_csrf):
    receipt = send_synpunkter(client, read_csrf)
    start = client.get("/arvika/e/synpunkter/steg/synpunkt")  # a new draft's first page
    over = client.post("/arvika/e/synpunkter/borja-om", data={"csrf_token": read_csrf(start.text)})
    assert over.status_code == 303
    assert "Gatlyktan vid torget är trasig." in client.get(receipt).text


def test_a_receipt_shows_no_answers_to_a_browser_holding_another_draft(app, client, read_csrf):
    """Holding a draft of the same e-service is not enough: only the sent draft's id."""
    receipt = send_synpunkter(client, read_csrf)
    other = app.test_client()
    fill_synpunkter(other, read_csrf)
    page = other.get(receipt)
    assert page.status_code == 200 and "Gatlyktan vid torget är trasig." not in page.text


def test_a_members_fee_is_shown_before_the_citizen_starts(app, client, resync):
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).filter_by(slug="grums"))
        bind_tenant(db.session, tenant.id)
        service = db.session.scalar(sa.select(TenantService).filter_by(service_slug="varmepump"))
        service.settings = {**service.settings, "fee": 123450}
        db.session.commit()
    assert "Avgift: <strong>1\xa0234,50\xa0kr</strong>" in client.get("/grums/e/varmepump").text
    client.get("/sprak/en?next=/")
    assert "Fee: <strong>SEK1,234.50</strong>" in client.get("/grums/e/varmepump").text
    client.get("/sprak/sv?next=/")
    assert "Avgift" not in client.get("/arvika/e/varmepump").text  # not set: not invented


def test_fields_about_the_person_say_their_purpose_for_autofill(client, read_csrf):
    base = "/arvika/e/parkeringstillstand/steg"
    page = client.get(f"{base}/sokande").text
    assert re.search(r'name="applicant_name"[^>]*autocomplete="name"', page)
    assert re.search(r'name="street_address"[^>]*autocomplete="street-address"', page)
    assert re.search(r'name="city"[^>]*autocomplete="address-level2"', page)
    assert re.search(r'name="postal_code"[^>]*autocomplete="postal-code"', page)
    # The heat pump's owner, when it is the applicant (WCAG 1.3.5): from version 2 on
    # (members on version 1 move when the hub moves them).
    with client.application.app_context(), maintenance_session() as session:
        latest = session.scalars(
            sa.select(ServiceDefinition.content)
            .where(ServiceDefinition.slug == "varmepump")
            .order_by(ServiceDefinition.version.desc())
        ).first()
    fields = [f for step in latest["steps"] for f in step["fields"]]
    assert [f.get("autocomplete") for f in fields if f["name"] == "owner_name"] == ["name"]


def sessions_begun_while(action) -> tuple:
    """What `action` returns, and the ORM sessions' transactions begun meanwhile."""
    begun = []

    def note(session, transaction, connection):
        begun.append(transaction)

    event.listen(orm.Session, "after_begin", note)
    try:
        return action(), begun
    finally:
        event.remove(orm.Session, "after_begin", note)


@pytest.fixture
def on_postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the member's own transaction is PostgreSQL's (request_session.py)")


def test_a_web_submission_commits_in_the_members_own_transaction(
    app, client, read_csrf, on_postgresql
):
    """On PostgreSQL the claim, the case with its history and receipt, and the commit run
    on a connection of their own (scoping.member_transaction); the request's session
    begins no transaction."""
    token = read_csrf(client.get(fill_synpunkter(client, read_csrf)).text)
    submitted, begun = sessions_begun_while(
        lambda: client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    )
    assert submitted.status_code == 303 and "/arende/" in submitted.headers["Location"]
    assert begun == []
    assert [count_all(app, t) for t in ("cases", "case_events", "outbox_messages")] == [1, 1, 1]
    assert count_all(app, "drafts") == 0


def test_a_web_submission_after_the_session_began_stays_in_the_sessions_transaction(
    app, client, read_csrf, on_postgresql, monkeypatch
):
    """A request whose session has begun (here: the member read afresh, not remembered)
    keeps to that one transaction."""
    from samverkan.tenancy import resolve

    token = read_csrf(client.get(fill_synpunkter(client, read_csrf)).text)
    monkeypatch.setattr(resolve.snapshot, "memory_will_do", lambda: False)
    submitted, begun = sessions_begun_while(
        lambda: client.post("/arvika/e/synpunkter", data={"csrf_token": token})
    )
    assert submitted.status_code == 303 and "/arende/" in submitted.headers["Location"]
    assert len(begun) == 1
    assert count_all(app, "cases") == 1 and count_all(app, "drafts") == 0


def test_continuing_leads_to_where_the_citizen_stopped(client, read_csrf):
    """Not back to the first step: to the first step not done, or to the answers to check."""
    start = "/arvika/e/synpunkter"
    first = post_step(
        client,
        f"{start}/steg/synpunkt",
        {"kind": "klagomal", "area": "gata_park", "message": "Gatlyktan vid torget är trasig."},
        read_csrf,
    )
    assert first.status_code == 303
    page = client.get(start).text
    assert f'<a class="button" href="{start}/steg/svar">Fortsätt där du var</a>' in page
    fill_synpunkter(client, read_csrf)
    page = client.get(start).text
    assert f'<a class="button" href="{start}/kontrollera">Fortsätt där du var</a>' in page
    fresh = client.application.test_client().get(start).text
    assert f'<a class="button" href="{start}/steg/synpunkt">Starta e-tjänsten</a>' in fresh


def test_the_preschool_receipt_promises_no_mina_arenden_to_a_sender_without_e_id(client, read_csrf):
    """Only cases sent signed in are under Mina ärenden; this e-service needs no sign-in,
    so its receipt leads to the status link alone."""
    from samverkan.catalogue.loader import load_definitions
    from samverkan.settings import PROJECT_ROOT

    _, definitions, errors = load_definitions(PROJECT_ROOT / "services")
    assert not errors
    next_steps = definitions["forskoleplats"].content["next_steps"]
    assert "Mina ärenden" not in next_steps["sv"] and "My cases" not in next_steps["en"]


def test_a_region_is_listed_as_the_region_and_its_pages_name_it(client, region_varmland):
    """A review found Region Värmland under 'Välj din kommun', and its pages telling
    citizens what 'a municipality' may do and to 'contact the municipality'."""
    page = client.get("/").text
    municipalities, region = page.split("<h2>Regionen</h2>")
    assert len(re.findall(r'<li><a href="/[a-z]+/">', municipalities)) == 16
    assert '<a href="/region-varmland/">Region Värmland</a>' in region
    assert "region-varmland" not in municipalities
    privacy = client.get("/region-varmland/integritet").text.split("<footer")[0]
    assert "Region Värmland får bara ta bort uppgifter i allmänna handlingar" in privacy
    assert "en kommun får" not in privacy and "för kommunerna" not in privacy
