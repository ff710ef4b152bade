"""A case keeps the language it was sent in: the receipt and every later mail to the
citizen about it are in that language, whatever the case worker reads the pages in; the
case worker sees which language it is. Through the API the client says it with
Content-Language."""

import html
import re

import pytest
import sqlalchemy as sa
from api_support import WITH_REPLY
from test_accounts import create, sign_in
from test_register_extract import submitted_on_the_web
from test_staff_api import bearer, cases_url, token_of

from samverkan.database_roles import maintenance_session

ANNA = "anna@arvika.example"


def submit(client, headers=None):
    return client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=WITH_REPLY, headers=headers
    )


def stored_language(app, reference: str) -> str | None:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text("SELECT language FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()


def mails_about(app, reference: str) -> list:
    """(subject, body, language) of every mail about the case, the receipt first."""
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text(
                "SELECT subject, body, language FROM outbox_messages"
                " WHERE event_key LIKE :key ORDER BY id"
            ),
            {"key": f"case:{reference}:%"},
        ).all()


def change_status(worker, read_csrf, reference: str, status: str, message: str = ""):
    url = f"/arvika/staff/arenden/{reference}"
    token = read_csrf(worker.get(url).text)
    data = {"csrf_token": token, "status": status, "message": message}
    if status == "closed":
        data["bekrafta"] = "ja"
    response = worker.post(url + "/status", data=data)
    assert response.status_code == 303, response.text


@pytest.fixture
def worker(app, client, read_csrf):
    """A second browser, signed in as Anna (case worker at Arvika), on Swedish pages."""
    assert create(app, ANNA).exit_code == 0
    browser = app.test_client()
    assert sign_in(browser, read_csrf, ANNA).status_code == 303
    return browser


def test_an_english_web_case_gets_english_mail_from_a_swedish_case_worker(
    app, client, worker, read_csrf
):
    client.get("/sprak/en?next=/")
    reference, _ = submitted_on_the_web(client, read_csrf)
    assert stored_language(app, reference) == "en"
    change_status(
        worker, read_csrf, reference, "waiting_for_citizen", "Skicka gärna en bild på platsen."
    )
    receipt, asking = mails_about(app, reference)
    assert receipt.subject == f"We have received your case {reference}"
    assert asking.subject == f"Your case {reference}: waiting for you"
    assert receipt.language == asking.language == "en"  # sent as their Content-Language
    assert asking.body.startswith(f"Hello,\n\nYour case {reference} now has the status: Waiting")
    # The case worker's words go as written, under an English heading.
    assert "Message from the case worker:\n\nSkicka gärna en bild på platsen." in asking.body
    assert "Send your answer on the case's page:\nhttp" in asking.body
    assert "Kind regards\nArvika kommun" in asking.body
    assert "Hej" not in asking.body and "Med vänlig hälsning" not in asking.body
    # The case worker is told, so that they can write in English.
    page = worker.get(f"/arvika/staff/arenden/{reference}").text
    assert "Den sökandes språk</dt><dd>engelska. E-post om ärendet går på engelska" in page


def test_a_swedish_case_gets_swedish_mail_from_a_case_worker_on_english_pages(
    app, client, worker, read_csrf
):
    reference, _ = submitted_on_the_web(client, read_csrf)
    assert stored_language(app, reference) == "sv"
    worker.get("/sprak/en?next=/arvika/staff/")
    change_status(worker, read_csrf, reference, "in_progress", "Vi tittar på det.")
    receipt, moved = mails_about(app, reference)
    assert moved.subject == f"Ditt ärende {reference}: under handläggning"
    assert receipt.language == moved.language == "sv"
    assert moved.body.startswith(f"Hej!\n\nDitt ärende {reference} har nu status: Under")
    assert "Meddelande från handläggaren:\n\nVi tittar på det." in moved.body
    assert "Här kan du följa ärendet:\nhttp" in moved.body
    assert "Med vänlig hälsning\nArvika kommun" in moved.body
    page = worker.get(f"/arvika/staff/arenden/{reference}").text
    assert "The applicant's language</dt><dd>Swedish</dd>" in page


def test_a_case_from_before_the_language_was_recorded_gets_swedish_mail(
    app, client, worker, read_csrf
):
    reference = submit(client, {"Content-Language": "en"}).get_json()["reference"]
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text("UPDATE cases SET language = NULL WHERE reference = :r"), {"r": reference}
        )
        session.commit()
    change_status(worker, read_csrf, reference, "decided")
    _, decided = mails_about(app, reference)
    assert decided.subject == f"Ditt ärende {reference}: beslut fattat"
    page = worker.get(f"/arvika/staff/arenden/{reference}").text
    assert "Den sökandes språk</dt><dd>svenska</dd>" in page


@pytest.mark.parametrize("tag", ["en", "en-GB", "EN-gb"])
def test_an_api_client_says_the_citizens_language_with_content_language(app, client, tag):
    created = submit(client, {"Content-Language": tag})
    assert created.status_code == 201, created.get_json()
    reference = created.get_json()["reference"]
    assert stored_language(app, reference) == "en"
    [(subject, body, language)] = mails_about(app, reference)
    assert subject == f"We have received your case {reference}"
    assert "You can follow the case here:" in body
    assert language == "en"


def test_without_content_language_an_api_case_is_swedish(app, client):
    reference = submit(client).get_json()["reference"]
    assert stored_language(app, reference) == "sv"
    [(subject, _, language)] = mails_about(app, reference)
    assert language == "sv"
    assert subject == f"Vi har tagit emot ditt ärende {reference}"


@pytest.mark.parametrize("tag", ["de", "sv, en", "english", "en-", ""])
def test_a_language_not_offered_is_refused_by_name_and_nothing_is_registered(app, client, tag):
    refused = submit(client, {"Content-Language": tag})
    assert refused.status_code == 400
    assert refused.get_json()["message"].startswith("Content-Language ska vara sv eller en")
    with app.app_context(), maintenance_session() as session:
        assert session.execute(sa.text("SELECT count(*) FROM cases")).scalar_one() == 0


def test_the_staff_api_and_the_register_extract_give_the_language(app, client):
    reference = submit(client, {"Content-Language": "en"}).get_json()["reference"]
    assert create(app, ANNA).exit_code == 0
    headers = bearer(token_of(app, ANNA))
    case = client.get(f"{cases_url()}/{reference}", headers=headers).get_json()
    assert case["language"] == "en"
    with app.app_context(), maintenance_session() as session:
        token = session.execute(
            sa.text("SELECT status_token FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()
    extract = client.get(f"/arvika/arende/{token}/registerutdrag.json").get_json()
    assert extract["case"]["language"] == "en"
    page = client.get(f"/arvika/arende/{token}/registerutdrag").text
    assert "Language of e-mail about the case</dt><dd>English</dd>" in page
    client.get("/sprak/sv?next=/")
    page = client.get(f"/arvika/arende/{token}/registerutdrag").text
    assert "Språk för e-post om ärendet</dt><dd>engelska</dd>" in page


def test_a_status_link_opens_in_the_cases_language_unless_the_visitor_chose(app, client):
    """The link in an English receipt, opened on a phone that never chose a language."""
    english = submit(client, {"Content-Language": "en"}).get_json()["status_url"]
    swedish = submit(client).get_json()["status_url"]
    with app.app_context(), maintenance_session() as session:
        tokens = session.execute(
            sa.text("SELECT language, status_token FROM cases ORDER BY id")
        ).all()
    assert [lang for lang, _ in tokens] == ["en", "sv"]
    fresh = app.test_client()
    page = fresh.get(f"/arvika/arende/{tokens[0].status_token}")
    assert '<html lang="en">' in page.text and "Received" in page.text
    extract = fresh.get(f"/arvika/arende/{tokens[0].status_token}/registerutdrag")
    assert '<html lang="en">' in extract.text
    assert '<html lang="sv">' in fresh.get(f"/arvika/arende/{tokens[1].status_token}").text
    # The visitor's own choice wins, either way.
    fresh.get("/sprak/sv?next=/")
    assert '<html lang="sv">' in fresh.get(f"/arvika/arende/{tokens[0].status_token}").text
    fresh.get("/sprak/en?next=/")
    assert '<html lang="en">' in fresh.get(f"/arvika/arende/{tokens[1].status_token}").text
    assert english.endswith(tokens[0].status_token) and swedish.endswith(tokens[1].status_token)


def test_the_language_switch_on_a_refused_answer_goes_back_to_the_status_page(
    app, client, worker, read_csrf
):
    """The page of a refused POST has a path that only takes POSTs: the switch went there
    and got 405."""
    created = submit(client).get_json()
    change_status(worker, read_csrf, created["reference"], "waiting_for_citizen", "Vilken adress?")
    status_url = "/arvika/arende/" + created["status_url"].rsplit("/", 1)[1]
    page = client.get(status_url)
    refused = client.post(
        status_url + "/komplettering",
        data={"csrf_token": read_csrf(page.text), "completion": ""},
        headers={"Referer": "http://localhost" + status_url},
    )
    assert refused.status_code == 422
    switch = re.search(r'<a href="(/sprak/en\?next=[^"]+)"', refused.text).group(1)
    back = client.get(html.unescape(switch))
    assert back.status_code == 303 and back.headers["Location"] == status_url
    assert client.get(back.headers["Location"]).status_code == 200
    # Sent again from the refused page (its Referer the POST's own path), or from a
    # browser that sends no Referer: the page above, not a 405.
    for referer in ({"Referer": "http://localhost" + status_url + "/komplettering"}, {}):
        again = client.post(
            status_url + "/komplettering",
            data={"csrf_token": read_csrf(page.text), "completion": ""},
            headers=referer,
        )
        switch = re.search(r'<a href="(/sprak/[a-z]{2}\?next=[^"]+)"', again.text).group(1)
        assert client.get(html.unescape(switch)).headers["Location"] == status_url


def test_an_internal_note_is_marked_swedish_on_an_english_case(app, client, worker, read_csrf):
    """Notes are the staff's own, never the citizen's language."""
    reference = submit(client, {"Content-Language": "en"}).get_json()["reference"]
    url = f"/arvika/staff/arenden/{reference}"
    noted = worker.post(
        url + "/anteckning",
        data={"csrf_token": read_csrf(worker.get(url).text), "note": "Ring upp på måndag."},
    )
    assert noted.status_code == 303
    worker.get(f"/sprak/en?next={url}")
    assert '<p class="message" lang="sv">Ring upp på måndag.</p>' in worker.get(url).text
    extract = worker.get(url + "/registerutdrag").text
    assert '<p class="message" lang="sv">Ring upp på måndag.</p>' in extract


def test_words_are_marked_with_the_cases_language_where_the_page_is_in_another(
    app, client, worker, read_csrf
):
    """WCAG 3.1.2: a case worker answering an English case in English, as the case page
    asks: read out as English on the Swedish staff page, unmarked on the English pages;
    the platform's own history texts are translated, never marked."""
    client.get("/sprak/en?next=/")
    reference, token = submitted_on_the_web(client, read_csrf)
    said = "Which lamp post is it? Please give the nearest address."
    change_status(worker, read_csrf, reference, "waiting_for_citizen", said)
    staff_page = worker.get(f"/arvika/staff/arenden/{reference}").text
    assert f'<p class="message" lang="en">{said}</p>' in staff_page
    assert '<p class="message">Ärendet har tagits emot och registrerats.</p>' in staff_page
    for path in (f"/arvika/arende/{token}", f"/arvika/arende/{token}/registerutdrag"):
        page = client.get(path).text
        assert f'<p class="message">{said}</p>' in page
        assert '<p class="message">The case has been received and registered.</p>' in page
    client.get("/sprak/sv?next=/")
    extract = client.get(f"/arvika/arende/{token}/registerutdrag").text
    assert f'<p class="message" lang="en">{said}</p>' in extract
    assert '<p class="message">Ärendet har tagits emot och registrerats.</p>' in extract
