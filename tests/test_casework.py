"""A case worker's day: the inbox with filters and a cursor, the case page, assignment,
the workflow with messages to the citizen, internal notes, attachments and CSV export."""

import csv
import io
import re

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, WITH_REPLY, as_upload, tiny_png
from conftest import count_all
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from test_accounts import create, sign_in
from test_public_cache import statements

from samverkan.audit.models import AuditEntry
from samverkan.catalogue.models import TenantService
from samverkan.database_roles import maintenance_session
from samverkan.templating import html_text
from samverkan.tenancy.models import Tenant

ANONYMOUS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}


def submit(client, member="arvika", service="synpunkter", answers=ANONYMOUS, **kwargs):
    response = client.post(
        f"/api/v1/tenants/{member}/services/{service}/submissions", json=answers, **kwargs
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def anna(app):
    assert create(app, "anna@arvika.example").exit_code == 0
    assert create(app, "bo@arvika.example").exit_code == 0
    return "anna@arvika.example"


@pytest.fixture
def worker(client, read_csrf, anna):
    """A client signed in as Anna, case worker at Arvika."""
    assert sign_in(client, read_csrf, anna).status_code == 303
    return client


def references(html: str) -> list[str]:
    return re.findall(r">([A-Z]{3}-\d{4}-\d{6})<", html)


def user_id(app, email: str) -> int:
    with app.app_context(), maintenance_session() as session:
        return session.execute(
            sa.text("SELECT id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()


def case_url(reference: str, member="arvika") -> str:
    return f"/{member}/staff/arenden/{reference}"


# -- the inbox ---------------------------------------------------------------------------


def test_the_inbox_pages_newest_first_with_a_cursor_and_no_gaps(app, client, worker):
    made = [submit(client)["reference"] for _ in range(57)]
    submit(client, member="eda")
    seen, url = [], "/arvika/staff/?limit=25"
    while url:
        page = worker.get(url)
        assert page.status_code == 200
        seen += references(page.text)
        older = re.search(r'href="([^"]*cursor=[^"]*)"[^>]*>Äldre ärenden', page.text)
        url = older and older.group(1).replace("&amp;", "&")
    assert seen == list(reversed(made))  # all 57, newest first, none twice, none of Eda's


def test_a_case_is_found_by_its_reference_as_it_is_read_out(client, worker):
    """A citizen on the phone reads out ARV-2026-000017: the inbox had no search, only
    paging and the address bar."""
    reference = submit(client)["reference"]
    year, number = reference.split("-")[1], int(reference.split("-")[2])
    inbox = worker.get("/arvika/staff/").text
    assert 'id="find-reference"' in inbox and 'role="search"' in inbox
    assert "eller bara 2026-17." in inbox  # the short form is said
    for typed in (reference, reference.lower(), f" {year}-{number} ", f"arv - {year} - {number}"):
        found = worker.get("/arvika/staff/sok", query_string={"referens": typed})
        assert found.status_code == 303, typed
        assert found.location.endswith(f"/arvika/staff/arenden/{reference}")
    missing = worker.get("/arvika/staff/sok", query_string={"referens": f"{year}-999999"})
    assert missing.status_code == 404
    assert f"Arvika kommun har inget ärende ARV-{year}-999999." in missing.text
    assert 'aria-invalid="true"' in missing.text and "<title>Fel:" in missing.text
    garbled = worker.get("/arvika/staff/sok", query_string={"referens": "hål i gatan"})
    assert garbled.status_code == 422
    assert "Skriv ärendenumret som ARV-" in garbled.text
    assert "Skriv ett ärendenummer</h2>" in garbled.text  # nothing was searched for
    assert "Ärendet hittades inte</h2>" in missing.text
    # Another member's reference is no way into its cases.
    eda = submit(client, member="eda")["reference"]
    assert worker.get("/arvika/staff/sok", query_string={"referens": eda}).status_code == 404


def test_each_inbox_row_links_to_its_case_and_names_its_e_service(client, worker):
    question = submit(client)["reference"]
    fault = submit(client, service="felanmalan", answers=FELANMALAN)["reference"]
    page = worker.get("/arvika/staff/").text
    rows = re.findall(
        r'<td><a href="([^"]+)">([A-Z]{3}-\d{4}-\d{6})</a></td>\s*<td>([^<]+)</td>', page
    )
    assert [(href, ref) for href, ref, _ in rows] == [
        (case_url(fault), fault),
        (case_url(question), question),
    ]
    assert [title for *_, title in rows] == [
        "Felanmälan gata, park och belysning",
        "Synpunkter och klagomål",
    ]
    assert worker.get(rows[0][0]).status_code == 200


def test_the_inbox_filters_by_status_service_date_and_assignee(app, client, worker, read_csrf):
    first = submit(client)["reference"]
    fault = submit(client, service="felanmalan", answers=FELANMALAN)["reference"]
    page = worker.get(case_url(first))
    worker.post(
        case_url(first) + "/status",
        data={"csrf_token": read_csrf(page.text), "status": "in_progress"},
    )
    worker.post(
        case_url(first) + "/tilldela",
        data={"csrf_token": read_csrf(page.text), "assignee": "me"},
    )
    assert references(worker.get("/arvika/staff/?status=in_progress").text) == [first]
    assert references(worker.get("/arvika/staff/?status=received").text) == [fault]
    assert references(worker.get("/arvika/staff/?service=felanmalan").text) == [fault]
    assert references(worker.get("/arvika/staff/?assigned=me").text) == [first]
    assert references(worker.get("/arvika/staff/?assigned=nobody").text) == [fault]
    assert references(worker.get("/arvika/staff/?submitted_to=2020-01-01").text) == []
    today = worker.get("/arvika/staff/?submitted_from=2020-01-01")
    assert sorted(references(today.text)) == sorted([first, fault])


def test_bad_filters_are_explained_per_field(worker):
    page = worker.get("/arvika/staff/?status=borta&submitted_from=igår&cursor=xyz")
    assert page.status_code == 422
    assert "Okänd status" in page.text
    assert "Skriv datumet som ÅÅÅÅ-MM-DD." in page.text
    assert "Ogiltig sidmarkör" in page.text
    # The cursor is the paging link's, no field on the page: its message links nowhere
    # (it led to the status filter).
    assert re.search(r"<li>[^<]*Ogiltig sidmarkör[^<]*</li>", page.text)
    backwards = worker.get("/arvika/staff/?submitted_from=2026-05-02&submitted_to=2026-05-01")
    assert (
        backwards.status_code == 422 and "Slutdatumet ligger före startdatumet." in backwards.text
    )


@pytest.mark.parametrize("query", ["submitted_to=9999-12-31", "submitted_from=0001-01-01"])
def test_a_day_beyond_any_case_is_explained_not_a_crash(worker, query):
    """The day after 9999-12-31, or year 1 in Swedish time, is no datetime a database
    takes: a 500 on the inbox, and an export cut off after its first bytes."""
    page = worker.get(f"/arvika/staff/?{query}")
    assert page.status_code == 422
    assert "Välj ett datum mellan 2000-01-01 och 2100-12-31." in page.text
    export = worker.get(f"/arvika/staff/export.csv?{query}")  # back to the inbox that says why
    assert export.status_code == 303 and export.headers["Location"] == f"/arvika/staff/?{query}"


def test_bad_filters_are_explained_in_the_pages_language(worker):
    """The messages are the API's Swedish words (queries.py); an English inbox shows them
    in English."""
    worker.get("/sprak/en?next=/arvika/staff/")
    page = worker.get("/arvika/staff/?status=borta&submitted_from=igår&cursor=xyz")
    assert page.status_code == 422 and "Inbox" in page.text
    for english in (
        "Unknown status: choose one from the list.",
        "Write the date as YYYY-MM-DD.",
        "Invalid page marker: start again from the first page.",
    ):
        assert english in page.text
    assert "Okänd status" not in page.text and "ÅÅÅÅ-MM-DD" not in page.text
    backwards = worker.get("/arvika/staff/?submitted_from=2026-05-02&submitted_to=2026-05-01")
    assert "The end date is before the start date." in backwards.text
    others = worker.get("/arvika/staff/?service=Fel!&assigned=alla")
    assert "Unknown e-service." in others.text
    assert "Choose my cases or not assigned." in others.text


# -- the case page and its workflow -----------------------------------------------------------


def test_the_case_page_shows_the_answers_as_given_and_the_history(client, worker):
    reference = submit(client, answers={**WITH_REPLY, "message": 'Snöröjningen "uteblev" & mer'})[
        "reference"
    ]
    page = worker.get(case_url(reference))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Snöröjningen &#34;uteblev&#34; &amp; mer" in page.text  # as given, and escaped
    assert "Anna Berg" in page.text and "anna@exempel.se" in page.text
    assert "Ärendet har tagits emot och registrerats." in page.text
    assert worker.get(case_url("ARV-2026-999999")).status_code == 404


def test_a_transition_with_a_message_reaches_the_citizen_by_page_and_e_mail(
    app, client, worker, read_csrf
):
    created = submit(client, answers=WITH_REPLY)
    reference = created["reference"]
    page = worker.get(case_url(reference))
    response = worker.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": read_csrf(page.text),
            "status": "waiting_for_citizen",
            "message": "Skicka gärna en bild på platsen.",
        },
    )
    assert response.status_code == 303
    status_page = client.get(created["status_url"])
    assert "Skicka gärna en bild på platsen." in status_page.text
    assert "Väntar på komplettering från dig" in status_page.text
    # The case worker reads the status in words of their own: "from you" is the citizen's.
    for staff_page in (worker.get(case_url(reference)), worker.get("/arvika/staff/")):
        assert "Väntar på komplettering" in staff_page.text
        assert "från dig" not in staff_page.text
    worker.get("/sprak/en?next=/arvika/staff/")
    assert "Waiting for the applicant" in worker.get("/arvika/staff/").text
    assert "Waiting for the applicant" in worker.get(case_url(reference)).text
    with app.app_context(), maintenance_session() as session:
        mail = session.execute(
            sa.text(
                "SELECT recipient, subject, body FROM outbox_messages "
                "WHERE event_key LIKE :key || ':event:%'"
            ),
            {"key": f"case:{reference}"},
        ).one()
    assert mail.recipient == "anna@exempel.se"
    assert reference in mail.subject
    assert "Skicka gärna en bild på platsen." in mail.body
    assert created["status_url"].rsplit("/", 1)[-1] in mail.body


def test_a_messages_lines_and_the_staffs_words_are_kept_where_it_is_read(
    app, client, worker, read_csrf
):
    """The citizen read a numbered list on one line; the export gave the citizen's
    wording of the status; a tampered status answered in English on a Swedish page."""
    created = submit(client)
    reference = created["reference"]
    page = worker.get(case_url(reference))
    sent = worker.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": read_csrf(page.text),
            "status": "waiting_for_citizen",
            "message": "Vi behöver:\n1. En bild\n2. Adressen",
        },
    )
    assert sent.status_code == 303
    token = created["status_url"].rsplit("/", 1)[-1]
    status_page = client.get(f"/arvika/arende/{token}").text
    assert re.search(
        r'<p class="message"[^>]*>Vi behöver:\n1\. En bild\n2\. Adressen</p>', status_page
    )
    rows = list(
        csv.reader(
            io.StringIO(worker.get("/arvika/staff/export.csv").data.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert rows[1][2] == "Väntar på komplettering"
    tampered = worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": read_csrf(page.text), "status": "x" * 31},
    )
    assert tampered.status_code == 422 and "Välj en ny status i listan." in tampered.text
    assert "Longer than" not in tampered.text


def test_no_address_means_no_e_mail_but_the_status_page_still_shows_it(
    app, client, worker, read_csrf
):
    created = submit(client)
    page = worker.get(case_url(created["reference"]))
    worker.post(
        case_url(created["reference"]) + "/status",
        data={"csrf_token": read_csrf(page.text), "status": "decided", "message": "Klart."},
    )
    assert "Klart." in client.get(created["status_url"]).text
    assert count_all(app, "outbox_messages") == 0


def test_the_workflow_refuses_what_it_does_not_allow(app, client, worker, read_csrf):
    reference = submit(client)["reference"]
    page = worker.get(case_url(reference))
    token = read_csrf(page.text)
    waiting = worker.post(
        case_url(reference) + "/status", data={"csrf_token": token, "status": "waiting_for_citizen"}
    )
    assert waiting.status_code == 422
    assert "Skriv vad den sökande behöver komplettera med" in waiting.text
    unknown = worker.post(
        case_url(reference) + "/status", data={"csrf_token": token, "status": "x"}
    )
    assert unknown.status_code == 422 and "kan inte få den statusen" in unknown.text
    asked = worker.post(
        case_url(reference) + "/status", data={"csrf_token": token, "status": "closed"}
    )
    assert asked.status_code == 200 and "Ja, avsluta ärendet" in asked.text  # asked first
    closed = worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": token, "status": "closed", "bekrafta": "ja"},
    )
    assert closed.status_code == 303
    again = worker.post(
        case_url(reference) + "/status", data={"csrf_token": token, "status": "in_progress"}
    )
    assert again.status_code == 422 and "det är avslutat" in again.text
    assert count_all(app, "case_events") == 2  # submitted, closed: nothing from the refusals


def test_internal_notes_are_never_shown_to_the_citizen(client, worker, read_csrf):
    created = submit(client)
    page = worker.get(case_url(created["reference"]))
    saved = worker.post(
        case_url(created["reference"]) + "/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "Ring fastighetsägaren först."},
    )
    assert saved.status_code == 303
    assert "Ring fastighetsägaren först." in worker.get(case_url(created["reference"])).text
    assert "Ring fastighetsägaren" not in client.get(created["status_url"]).text
    token = created["status_url"].rsplit("/", 1)[-1]
    api_status = client.get(f"/api/v1/tenants/arvika/status/{token}")
    assert "Ring fastighetsägaren" not in api_status.text
    empty = worker.post(
        case_url(created["reference"]) + "/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "  "},
    )
    assert empty.status_code == 422 and "Skriv anteckningen." in empty.text
    assert ">Anteckning: Skriv anteckningen.</a>" in empty.text
    escape = worker.post(
        case_url(created["reference"]) + "/anteckning",
        data={"csrf_token": read_csrf(page.text), "note": "Ring\x00 först"},
    )
    assert escape.status_code == 422 and "Texten innehåller otillåtna tecken." in escape.text


def test_assigning_to_self_a_colleague_or_nobody(app, client, worker, read_csrf):
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    url = case_url(reference) + "/tilldela"
    assert worker.post(url, data={"csrf_token": token, "assignee": "me"}).status_code == 303
    assert "Anna Handläggare (jag)" in worker.get(case_url(reference)).text
    bo = user_id(app, "bo@arvika.example")
    assert worker.post(url, data={"csrf_token": token, "assignee": str(bo)}).status_code == 303
    assert worker.post(url, data={"csrf_token": token, "assignee": ""}).status_code == 303
    assert "Ingen tilldelad" in worker.get(case_url(reference)).text


def assign(worker, read_csrf, reference: str, assignee: int):
    token = read_csrf(worker.get(case_url(reference)).text)
    return worker.post(
        case_url(reference) + "/tilldela", data={"csrf_token": token, "assignee": str(assignee)}
    )


def test_a_deactivated_case_workers_cases_go_back_to_nobody(app, client, worker, read_csrf):
    """They stayed with the account: not under 'Ej tilldelade', and the case page's list
    (active colleagues only) showed 'Ingen' while the facts said who had it."""
    reference, done = submit(client)["reference"], submit(client)["reference"]
    for case in (reference, done):
        token = read_csrf(worker.get(case_url(case)).text)
        taken = worker.post(
            case_url(case) + "/tilldela", data={"csrf_token": token, "ta_sjalv": "1"}
        )
        assert taken.status_code == 303
    closing = {"csrf_token": token, "status": "closed", "bekrafta": "ja"}
    assert worker.post(case_url(done) + "/status", data=closing).status_code == 303
    off = app.test_cli_runner().invoke(args=["users", "deactivate", "anna@arvika.example"])
    assert (
        off.exit_code == 0 and "1 case(s) assigned to them are assigned to nobody now" in off.output
    )
    bo = app.test_client()
    assert sign_in(bo, read_csrf, "bo@arvika.example").status_code == 303
    assert reference in references(bo.get("/arvika/staff/?assigned=nobody").text)
    with app.app_context(), maintenance_session() as session:
        logged = session.execute(
            sa.text(
                "SELECT actor, detail FROM audit_log WHERE action = 'case.assigned' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert logged.actor == "cli" and "deactivated" in str(logged.detail)
    with app.app_context(), maintenance_session() as session:
        kept = session.execute(
            sa.text("SELECT assigned_to_id FROM cases WHERE reference = :r"), {"r": done}
        ).scalar_one()
    assert kept is not None  # a closed case is history: left as it was


def test_taking_the_case_oneself_works_as_the_browser_sends_it(client, worker, read_csrf):
    """The button goes with the form's list, which still shows 'Ingen': the browser sends
    both, and the list's empty value used to win, so the button did nothing."""
    reference = submit(client)["reference"]
    page = worker.get(case_url(reference)).text
    assert 'name="ta_sjalv"' in page
    taken = worker.post(
        case_url(reference) + "/tilldela",
        data={"csrf_token": read_csrf(page), "assignee": "", "ta_sjalv": "1"},
    )
    assert taken.status_code == 303
    assert "Anna Handläggare (jag)" in worker.get(case_url(reference)).text


def test_a_change_from_a_page_another_has_overtaken_is_refused(app, client, worker, read_csrf):
    """Two case workers on one case: the second, on the page as it was, took the case from
    the first and put the decision back to 'in progress', and the citizen was mailed both."""
    reference = submit(client, answers=WITH_REPLY)["reference"]
    bo = app.test_client()
    assert sign_in(bo, read_csrf, "bo@arvika.example").status_code == 303
    stale = bo.get(case_url(reference)).text
    assert 'name="seen_status" value="received"' in stale
    assert 'name="seen_assignee" value=""' in stale
    token = read_csrf(worker.get(case_url(reference)).text)
    worker.post(case_url(reference) + "/tilldela", data={"csrf_token": token, "ta_sjalv": "1"})
    decided = worker.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": token,
            "status": "decided",
            "message": "Beviljat.",
            "seen_status": "received",
        },
    )
    assert decided.status_code == 303
    taken = bo.post(
        case_url(reference) + "/tilldela",
        data={"csrf_token": read_csrf(stale), "ta_sjalv": "1", "seen_assignee": ""},
    )
    assert taken.status_code == 422
    assert "Ärendet har fått en annan handläggare sedan du öppnade sidan." in taken.text
    undone = bo.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": read_csrf(stale),
            "status": "in_progress",
            "message": "Vi tittar på det.",
            "seen_status": "received",
        },
    )
    assert undone.status_code == 422
    assert "Ärendet har ändrats av någon annan sedan du öppnade sidan." in undone.text
    assert "Vi tittar på det." in undone.text  # what was typed is kept
    assert 'name="seen_status" value="decided"' in undone.text  # the page is now current
    assert " checked" not in undone.text  # what was chosen meant something else then
    with app.app_context(), maintenance_session() as session:
        row = session.execute(
            sa.text("SELECT status, assigned_to_id FROM cases WHERE reference = :r"),
            {"r": reference},
        ).one()
        mails = session.execute(sa.text("SELECT count(*) FROM outbox_messages")).scalar_one()
    assert row == ("decided", user_id(app, "anna@arvika.example"))
    assert mails == 2  # the receipt and the decision


def test_a_decision_from_a_page_that_missed_the_citizens_answer_is_refused(
    app, client, worker, read_csrf
):
    """The status went on and came back (in progress, waiting, the citizen's answer, in
    progress again): a page opened before passed the status check and decided without
    the answer having been seen."""
    created = submit(client, answers=WITH_REPLY)
    reference = created["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    change = {"csrf_token": token, "status": "in_progress", "seen_status": "received"}
    assert worker.post(case_url(reference) + "/status", data=change).status_code == 303
    bo = app.test_client()
    assert sign_in(bo, read_csrf, "bo@arvika.example").status_code == 303
    stale = bo.get(case_url(reference)).text
    seen_news = re.search(r'name="seen_news" value="(\d+)"', stale).group(1)
    asked = {**change, "status": "waiting_for_citizen", "message": "Vilken gata?"}
    assert (
        worker.post(
            case_url(reference) + "/status", data={**asked, "seen_status": "in_progress"}
        ).status_code
        == 303
    )
    status_url = "/arvika/arende/" + created["status_url"].rsplit("/", 1)[-1]
    citizen = app.test_client()
    page = citizen.get(status_url).text
    answered = citizen.post(
        status_url + "/komplettering",
        data={"csrf_token": read_csrf(page), "completion": "Storgatan"},
    )
    assert answered.status_code == 303  # in progress again
    decided = bo.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": read_csrf(stale),
            "status": "decided",
            "message": "Avslag.",
            "seen_status": "in_progress",
            "seen_news": seen_news,
        },
    )
    assert decided.status_code == 422
    assert "Ärendet har ändrats av någon annan sedan du öppnade sidan." in decided.text
    assert "Storgatan" in decided.text  # the page now shows the answer


def test_a_double_click_saves_a_status_or_a_note_once(app, client, worker, read_csrf):
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    change = {
        "csrf_token": token,
        "status": "in_progress",
        "message": "",
        "seen_status": "received",
    }
    first = worker.post(case_url(reference) + "/status", data=change)
    second = worker.post(case_url(reference) + "/status", data=change, follow_redirects=True)
    assert first.status_code == 303 and second.status_code == 200
    assert "Statusen är sparad." in second.text
    note = {"csrf_token": token, "note": "Ringt upp."}
    for _ in range(2):
        assert worker.post(case_url(reference) + "/anteckning", data=note).status_code == 303
    with app.app_context(), maintenance_session() as session:
        kinds = session.execute(sa.text("SELECT kind FROM case_events ORDER BY id")).scalars().all()
        logged = (
            session.execute(
                sa.text("SELECT action FROM audit_log WHERE action LIKE 'case.%' ORDER BY id")
            )
            .scalars()
            .all()
        )
    assert kinds == ["submitted", "status_changed", "note"]
    assert logged.count("case.transitioned") == 1 and logged.count("case.noted") == 1
    # A message without a status change, twice: the citizen gets it once.
    word = {
        "csrf_token": token,
        "status": "in_progress",
        "seen_status": "in_progress",
        "message": "Vi hör av oss.",
    }
    for _ in range(2):
        assert worker.post(case_url(reference) + "/status", data=word).status_code == 303
    assert count_all(app, "case_events") == 4  # submitted, status_changed, note, message


def test_a_message_to_the_citizen_without_moving_the_case(app, client, worker, read_csrf):
    """A reminder while waiting for the applicant, a word while it is in progress: each
    forced a change of status."""
    created = submit(client, answers=WITH_REPLY)
    reference = created["reference"]
    page = worker.get(case_url(reference)).text
    assert 'value="received"' in page and "Oförändrad (Mottaget): bara meddelandet" in page
    keep = {"csrf_token": read_csrf(page), "status": "received", "seen_status": "received"}
    empty = worker.post(case_url(reference) + "/status", data=keep)
    assert empty.status_code == 422
    assert "Skriv meddelandet till den sökande, eller välj en ny status." in empty.text
    sent = worker.post(
        case_url(reference) + "/status",
        data={**keep, "message": "Vi hör av oss i veckan."},
        follow_redirects=True,
    )
    assert "Meddelandet till den sökande är skickat." in sent.text
    token = created["status_url"].rsplit("/", 1)[-1]
    status_page = client.get(f"/arvika/arende/{token}").text
    assert "Vi hör av oss i veckan." in status_page
    staff_page = worker.get(case_url(reference)).text
    assert "Meddelande till den sökande" in staff_page
    with app.app_context(), maintenance_session() as session:
        state = session.execute(
            sa.text("SELECT status FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()
        mails = session.execute(sa.text("SELECT subject, body FROM outbox_messages")).all()
    assert state == "received"
    [(subject, body)] = [m for m in mails if "Vi hör av oss i veckan." in m.body]
    # Nothing moved, and the mail does not say it did.
    assert subject == f"Ditt ärende {reference}: nytt meddelande"
    assert body.startswith(
        f"Hej!\n\nDu har fått ett nytt meddelande om ditt ärende {reference}. Ärendets status "
        "är fortfarande: Mottaget."
    )
    assert "har nu status" not in body
    with app.app_context(), maintenance_session() as session:
        actions = session.execute(sa.text("SELECT action FROM audit_log")).scalars().all()
    assert "case.messaged" in actions


def test_a_change_refused_because_the_case_was_closed_keeps_the_message(
    app, client, worker, read_csrf
):
    reference = submit(client)["reference"]
    bo = app.test_client()
    assert sign_in(bo, read_csrf, "bo@arvika.example").status_code == 303
    stale = bo.get(case_url(reference)).text
    token = read_csrf(worker.get(case_url(reference)).text)
    closed = worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": token, "status": "closed", "bekrafta": "ja"},
    )
    assert closed.status_code == 303
    late = bo.post(
        case_url(reference) + "/status",
        data={
            "csrf_token": read_csrf(stale),
            "status": "in_progress",
            "message": "Ett långt svar som inte får försvinna.",
            "seen_status": "received",
        },
    )
    assert late.status_code == 422
    assert (
        "Ärendet har avslutats sedan du öppnade sidan. Ditt meddelande skickades inte." in late.text
    )
    assert 'href="#unsent-message"' in late.text  # the summary leads to what was kept
    assert re.search(
        r'<textarea id="unsent-message"[^>]*readonly>Ett långt svar som inte får försvinna.<',
        late.text,
    )


def test_the_citizen_answers_a_request_for_more_from_the_status_page(
    app, client, worker, read_csrf
):
    """'Väntar på komplettering' asked for more in a mail that cannot be answered, and the
    status page had no way to send it."""
    created = submit(client, answers=WITH_REPLY)
    reference = created["reference"]
    status_url = "/arvika/arende/" + created["status_url"].rsplit("/", 1)[-1]
    citizen = app.test_client()
    assert "f-completion" not in citizen.get(status_url).text  # nothing asked yet
    token = read_csrf(worker.get(case_url(reference)).text)
    asked = worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": token, "status": "waiting_for_citizen", "message": "Vilken gata?"},
    )
    assert asked.status_code == 303
    with app.app_context(), maintenance_session() as session:
        body = session.execute(
            sa.text("SELECT body FROM outbox_messages WHERE subject LIKE '%komplettering%'")
        ).scalar_one()
    assert "Skicka kompletteringen på ärendets sida:" in body
    page = citizen.get(status_url).text
    assert 'id="f-completion"' in page
    empty = citizen.post(
        status_url + "/komplettering", data={"csrf_token": read_csrf(page), "completion": "  "}
    )
    assert empty.status_code == 422
    assert empty.text.count("Skriv din komplettering eller bifoga en fil.") == 2  # summary, field
    assert "<title>Fel:" in empty.text
    answer = {"csrf_token": read_csrf(page), "completion": "Storgatan 1,\nvid busshållplatsen."}
    sent = citizen.post(status_url + "/komplettering", data=answer)
    assert sent.status_code == 303
    again = citizen.post(status_url + "/komplettering", data=answer, follow_redirects=True)
    assert "Tack! Din komplettering är skickad till handläggaren." in again.text
    assert "Under handläggning" in again.text and 'id="f-completion"' not in again.text
    assert "Storgatan 1,\nvid busshållplatsen." in again.text
    staff_page = worker.get(case_url(reference)).text
    assert "Komplettering från den sökande" in staff_page
    assert "Storgatan 1,\nvid busshållplatsen." in staff_page
    with app.app_context(), maintenance_session() as session:
        kinds = session.execute(sa.text("SELECT kind FROM case_events ORDER BY id")).scalars().all()
        logged = (
            session.execute(sa.text("SELECT actor FROM audit_log WHERE action = 'case.completed'"))
            .scalars()
            .all()
        )
    assert kinds == ["submitted", "status_changed", "completion"]  # once, for two clicks
    assert logged == ["den sökande (statuslänken)"]
    # Sent after the case moved on (a page open from before): not stored, and not lost.
    late = citizen.post(status_url + "/komplettering", data={**answer, "completion": "Något mer."})
    assert late.status_code == 409
    assert "Din komplettering skickades inte" in late.text
    assert re.search(r'<textarea[^>]*id="unsent-completion"[^>]*readonly>Något mer\.<', late.text)
    assert "Något mer." not in worker.get(case_url(reference)).text
    # The citizen's words are theirs on an English page, not marked Swedish.
    citizen.get("/sprak/en")
    english = citizen.get(status_url).text
    assert "Your answer" in english
    assert '<p class="message">Storgatan 1,\nvid busshållplatsen.</p>' in english


def test_closing_is_asked_once_more_with_what_would_be_sent(app, client, worker, read_csrf):
    """'Avslutat' was one radio button beside the others, and closing is for good: one
    misclick ended the case and started its retention."""
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    choice = {
        "csrf_token": token,
        "status": "closed",
        "message": "Klart.",
        "seen_status": "received",
    }
    asked = worker.post(case_url(reference) + "/status", data=choice)
    assert asked.status_code == 200
    assert f"Avsluta ärende {reference}?" in asked.text
    assert "kan inte öppnas igen" in asked.text and "Klart." in asked.text
    assert 'name="bekrafta" value="ja"' in asked.text
    assert 'name="seen_status" value="received"' in asked.text
    with app.app_context(), maintenance_session() as session:
        state = session.execute(
            sa.text("SELECT status FROM cases WHERE reference = :r"), {"r": reference}
        ).scalar_one()
    assert state == "received" and count_all(app, "case_events") == 1  # nothing written
    confirmed = worker.post(case_url(reference) + "/status", data={**choice, "bekrafta": "ja"})
    assert confirmed.status_code == 303
    assert "Ärendet är avslutat." in worker.get(case_url(reference)).text


def test_each_change_to_a_case_says_it_is_done(client, worker, read_csrf):
    """A status message a screen reader announces, as the administration pages give."""
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    for path, data, said in (
        ("/tilldela", {"assignee": "me"}, "Handläggaren är ändrad."),
        ("/anteckning", {"note": "Ring först."}, "Anteckningen är sparad."),
        ("/status", {"status": "in_progress"}, "Statusen är sparad."),
    ):
        done = worker.post(case_url(reference) + path, data={"csrf_token": token, **data})
        assert done.status_code == 303, path
        assert f'<p class="notice" role="status">{said}</p>' in worker.get(done.location).text


def test_a_refused_status_leads_to_its_first_choice_and_says_error_in_the_title(
    client, worker, read_csrf
):
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    refused = worker.post(case_url(reference) + "/status", data={"csrf_token": token})
    assert refused.status_code == 422
    assert f"<title>Fel: {reference}" in refused.text
    assert 'href="#status-in_progress"' in refused.text  # a legend takes no focus
    assert 'id="status-in_progress" name="status" value="in_progress" aria-invalid="true"' in (
        refused.text
    )
    bad_filter = worker.get("/arvika/staff/?submitted_from=2026-13-45")
    assert bad_filter.status_code == 422 and "<title>Fel: Inkorg" in bad_filter.text


def test_an_english_case_page_shows_the_questions_in_english(client, worker, read_csrf):
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    worker.post(case_url(reference) + "/tilldela", data={"csrf_token": token, "assignee": "me"})
    worker.post(case_url(reference) + "/tilldela", data={"csrf_token": token, "assignee": ""})
    worker.get(f"/sprak/en?next={case_url(reference)}")
    page = worker.get(case_url(reference)).text
    assert "What would you like to tell us?" in page and "Vad vill du berätta?" not in page
    # The history the platform writes, in the page's language too.
    assert "Assigned to Anna Handläggare." in page and "No case worker assigned." in page
    assert "Tilldelat" not in page


def test_a_case_cannot_be_assigned_to_a_deactivated_colleague(app, client, worker, read_csrf):
    """They could not open it; and the history would say nobody had it."""
    assert (
        app.test_cli_runner().invoke(args=["users", "deactivate", "bo@arvika.example"]).exit_code
        == 0
    )
    reference = submit(client)["reference"]
    refused = assign(worker, read_csrf, reference, user_id(app, "bo@arvika.example"))
    assert refused.status_code == 422
    assert "Kontot är avstängt: välj en annan handläggare." in refused.text
    assert "Ingen tilldelad" in worker.get(case_url(reference)).text


def test_a_case_cannot_be_assigned_to_someone_of_another_member(app, client, worker, read_csrf):
    assert create(app, "eva@eda.example", tenant="eda").exit_code == 0
    reference = submit(client)["reference"]
    refused = assign(worker, read_csrf, reference, user_id(app, "eva@eda.example"))
    assert refused.status_code == 422
    assert "Välj en handläggare som arbetar här." in refused.text
    assert "Eva" not in refused.text


# -- attachments ---------------------------------------------------------------------------


def test_attachments_download_only_as_files_through_the_case(app, client, worker):
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    reference = submit(client, service="felanmalan", answers=answers)["reference"]
    page = worker.get(case_url(reference))
    link = re.search(r'href="(/arvika/staff/arenden/[^"]+/bilagor/\d+)"', page.text)
    assert link, page.text
    download = worker.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.data == tiny_png()
    download.close()
    other = submit(client)["reference"]  # the same attachment id under another case: no
    attachment_id = link.group(1).rsplit("/", 1)[-1]
    assert worker.get(f"{case_url(other)}/bilagor/{attachment_id}").status_code == 404


# -- export --------------------------------------------------------------------------------


def test_the_csv_export_follows_the_filter_and_neutralises_formulas(app, client, worker):
    submit(client, answers={**ANONYMOUS, "message": '=HYPERLINK("http://evil")'})
    submit(client, service="felanmalan", answers={**FELANMALAN, "description": "+1-2"})
    response = worker.get("/arvika/staff/export.csv?service=synpunkter")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Ärende" and len(rows) == 2
    answers = rows[1][-1]
    assert "Ditt meddelande: =HYPERLINK" in answers  # inside the cell, not at its start
    everything = worker.get("/arvika/staff/export.csv").data.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(everything), delimiter=";") for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    with app.app_context(), maintenance_session() as session:
        exported = session.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'case.exported'")
        ).scalar_one()
    assert exported == 2


def test_the_log_says_which_cases_an_export_held(app, client, worker):
    """Filters replayed later find another set (statuses and case workers change): after
    a leak the member must be able to say whose case went out."""
    synpunkt = submit(client)["reference"]
    fault = submit(client, service="felanmalan", answers=FELANMALAN)["reference"]
    assert synpunkt in worker.get("/arvika/staff/export.csv?service=synpunkter").text
    assert fault in worker.get("/arvika/staff/export.csv").text
    with app.app_context(), maintenance_session() as session:
        sent = session.scalars(
            sa.select(AuditEntry.detail)
            .where(AuditEntry.action == "case.export_sent")
            .order_by(AuditEntry.id)
        ).all()
    assert sent == [
        {"cases": 1, "references": [synpunkt]},
        {"cases": 2, "references": [fault, synpunkt]},
    ]


def test_a_cell_that_starts_like_a_formula_gets_an_apostrophe():
    from samverkan.casework.export import neutralise

    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-2") == "'-2"
    assert neutralise("+46 70") == "'+46 70"
    assert neutralise("Arvika") == "Arvika"
    assert neutralise(None) == ""


# -- isolation --------------------------------------------------------------------------------


def test_staff_of_another_member_learn_nothing_of_arvikas_cases(app, client, read_csrf):
    reference = submit(client, answers=WITH_REPLY)["reference"]
    assert create(app, "eva@eda.example", tenant="eda").exit_code == 0
    assert sign_in(client, read_csrf, "eva@eda.example", tenant="eda").status_code == 303
    assert client.get(case_url(reference)).status_code == 404
    assert client.get(case_url(reference, member="eda")).status_code == 404
    token = read_csrf(client.get("/eda/staff/").text)
    for action, data in (
        ("status", {"status": "closed"}),
        ("tilldela", {"assignee": "me"}),
        ("anteckning", {"note": "x"}),
    ):
        for member in ("arvika", "eda"):
            url = f"{case_url(reference, member)}/{action}"
            assert client.post(url, data={"csrf_token": token, **data}).status_code == 404
    assert count_all(app, "case_events") == 1
    assert reference not in client.get("/eda/staff/export.csv").data.decode("utf-8-sig")


def test_the_inbox_needs_a_sign_in(client):
    reference = submit(client)["reference"]
    assert client.get(case_url(reference)).status_code == 302
    assert client.get("/arvika/staff/export.csv").status_code == 302


def test_odd_form_values_are_refused_with_a_message_not_an_error(app, client, worker, read_csrf):
    reference = submit(client)["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    for value in ("99999999999999999999", "anna", "-1"):
        refused = worker.post(
            case_url(reference) + "/tilldela", data={"csrf_token": token, "assignee": value}
        )
        assert refused.status_code == 422 and "Välj en handläggare i listan." in refused.text
    missing = worker.post(case_url(reference) + "/status", data={"csrf_token": token})
    assert missing.status_code == 422 and "Välj en ny status." in missing.text
    # The summary names the field, as the administration's pages do.
    assert ">Ny status: Välj en ny status.</a>" in missing.text
    too_long = worker.post(
        case_url(reference) + "/anteckning", data={"csrf_token": token, "note": "x" * 5001}
    )
    assert too_long.status_code == 422 and "högst 5000 tecken" in too_long.text
    assert count_all(app, "case_events") == 1


def test_unknown_query_parameters_never_reach_links(client, worker):
    submit(client)
    page = worker.get("/arvika/staff/?endpoint=x&_method=POST&tenant=eda&service=synpunkter")
    assert page.status_code == 200
    export = re.search(r'href="([^"]*export\.csv[^"]*)"', page.text).group(1)
    assert export == "/arvika/staff/export.csv?service=synpunkter"


def test_an_attachment_gone_from_disk_is_404_and_not_logged_as_read(
    app, client, worker, upload_root
):
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    reference = submit(client, service="felanmalan", answers=answers)["reference"]
    link = re.search(
        r'href="(/arvika/staff/arenden/[^"]+/bilagor/\d+)"', worker.get(case_url(reference)).text
    )
    downloaded = worker.get(link.group(1))
    assert downloaded.status_code == 200
    downloaded.close()
    with app.app_context(), maintenance_session() as session:
        detail = session.execute(
            sa.text("SELECT detail FROM audit_log WHERE action = 'attachment.downloaded'")
        ).scalar_one()
    assert "lampa.png" not in str(detail)  # the file's name stays out of the lasting log
    for stored in upload_root.rglob("*.png"):
        stored.unlink()
    assert worker.get(link.group(1)).status_code == 404
    with app.app_context(), maintenance_session() as session:
        downloads = session.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE action = 'attachment.downloaded'")
        ).scalar_one()
    assert downloads == 1  # the one that was there; the missing file is not logged


def test_e_mailed_links_use_the_public_address_when_one_is_set(app, client, worker, read_csrf):
    app.config["PUBLIC_URL"] = "https://e-tjanster.example.se"
    try:
        created = submit(client, answers=WITH_REPLY)
        page = worker.get(case_url(created["reference"]))
        worker.post(
            case_url(created["reference"]) + "/status",
            data={"csrf_token": read_csrf(page.text), "status": "decided", "message": "Klart."},
        )
    finally:
        app.config["PUBLIC_URL"] = None
    with app.app_context(), maintenance_session() as session:
        bodies = session.execute(sa.text("SELECT body FROM outbox_messages")).scalars().all()
    assert len(bodies) == 2  # the receipt and the decision
    assert all("https://e-tjanster.example.se/arvika/arende/" in body for body in bodies)
    assert not any("localhost" in body for body in bodies)


def test_the_inbox_names_each_cases_case_worker(app, client, worker, read_csrf):
    mine = submit(client)["reference"]
    nobodys = submit(client)["reference"]
    page = worker.get(case_url(mine))
    worker.post(
        case_url(mine) + "/tilldela", data={"csrf_token": read_csrf(page.text), "assignee": "me"}
    )
    rows = dict(
        re.findall(
            r">([A-Z]{3}-\d{4}-\d{6})</a></td>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>",
            worker.get("/arvika/staff/").text,
        )
    )
    assert rows[mine] == "Anna Handläggare"
    assert rows[nobodys] == "–"


def test_the_inbox_rows_escape_what_people_and_members_typed(app, client, worker, read_csrf):
    """The rows are escaped in the view, not by the template's autoescape."""
    reference = submit(client)["reference"]
    page = worker.get(case_url(reference))
    worker.post(
        case_url(reference) + "/tilldela",
        data={"csrf_token": read_csrf(page.text), "assignee": "me"},
    )
    hostile = "<script>alert('x')</script> & \"Bo\""
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text("UPDATE users SET name = :name WHERE email = 'anna@arvika.example'"),
            {"name": hostile},
        )
        session.commit()
    inbox = worker.get("/arvika/staff/").text
    assert "<script>alert" not in inbox
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;Bo&#34;" in inbox


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_text_writes_what_autoescape_writes(text):
    assert html_text(text) == str(escape(text))


def test_the_inbox_reads_who_is_signed_in_and_their_role_in_one_statement(app, worker):
    with statements(app) as seen:
        assert worker.get("/arvika/staff/").status_code == 200
    about_the_user = [s for s in seen if "FROM users" in s or "memberships" in s]
    assert len(about_the_user) == 1 and "memberships" in about_the_user[0]


def current_in_staff_menu(html: str) -> list[str]:
    nav = re.search(r'<nav class="staff-nav".*?</nav>', html, re.S).group(0)
    return re.findall(r'aria-current="page">([^<]+)<', nav)


def test_the_staff_menu_marks_the_section_of_the_page(client, worker):
    reference = submit(client)["reference"]
    assert current_in_staff_menu(worker.get("/arvika/staff/").text) == ["Inkorg"]
    assert current_in_staff_menu(worker.get(case_url(reference)).text) == ["Inkorg"]
    keys = worker.get("/arvika/staff/api-nycklar").text
    assert current_in_staff_menu(keys) == ["API-nycklar"]
    two_factor = worker.get("/arvika/staff/tvastegsverifiering").text
    assert current_in_staff_menu(two_factor) == ["Tvåstegsverifiering"]


def service_options(html: str) -> set[str]:
    select = re.search(r'<select[^>]*name="service".*?</select>', html, re.S).group(0)
    return set(re.findall(r'<option value="([a-z]+)"', select))


def selected_options(html: str) -> dict[str, list[str]]:
    """Each filter's chosen value(s), by the select's name."""
    return {
        name: re.findall(r'<option value="([^"]*)" selected>', body)
        for name, body in re.findall(r'<select[^>]*name="([a-z]+)"[^>]*>(.*?)</select>', html, re.S)
    }


def test_the_inbox_filters_show_what_was_chosen_and_only_that(worker):
    assert selected_options(worker.get("/arvika/staff/").text) == {
        "status": [],
        "service": [],
        "assigned": [],
        "news": [],
    }
    chosen = worker.get("/arvika/staff/?status=waiting_for_citizen&service=felanmalan").text
    assert selected_options(chosen) == {
        "status": ["waiting_for_citizen"],
        "service": ["felanmalan"],
        "assigned": [],
        "news": [],
    }
    # Back to none chosen: the worker's memory of the choices holds no selection.
    assert selected_options(worker.get("/arvika/staff/").text)["status"] == []


def test_select_options_escape_values_and_texts():
    from samverkan.templating import select_options

    made = select_options((('a"b', "<i>x</i>"), ("c", "Ärende & co")), "c")
    assert str(made) == (
        '<option value="a&#34;b">&lt;i&gt;x&lt;/i&gt;</option>'
        '<option value="c" selected>Ärende &amp; co</option>'
    )


def test_the_inbox_offers_the_members_own_e_services_and_sees_a_new_one_at_once(
    app, client, worker, read_csrf
):
    """The e-services to filter by are each member's own, kept by the worker (memo.py)
    until a change to a member's e-services forgets them."""
    assert "registerutdrag" in service_options(worker.get("/arvika/staff/").text)
    assert create(app, "eva@eda.example", tenant="eda").exit_code == 0
    eda = app.test_client()
    assert sign_in(eda, read_csrf, "eva@eda.example", tenant="eda").status_code == 303
    assert "registerutdrag" not in service_options(eda.get("/eda/staff/").text)
    with app.app_context(), maintenance_session() as session:
        eda_id = session.scalar(sa.select(Tenant.id).where(Tenant.slug == "eda"))
        definition = session.scalar(
            sa.select(TenantService.definition_id).where(
                TenantService.service_slug == "registerutdrag"
            )
        )
        session.add(
            TenantService(
                tenant_id=eda_id,
                service_slug="registerutdrag",
                definition_id=definition,
                enabled=False,
            )
        )
        session.commit()
    try:
        assert "registerutdrag" in service_options(eda.get("/eda/staff/").text)
    finally:
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.delete(TenantService).where(
                    TenantService.tenant_id == eda_id,
                    TenantService.service_slug == "registerutdrag",
                )
            )
            session.commit()


def test_a_refused_change_is_explained_in_the_pages_language(app, client, worker, read_csrf):
    """The workflow's and the forms' words are the API's Swedish ones, marked for the
    catalogue; an English case page shows them in English."""
    reference = submit(client)["reference"]
    worker.get(f"/sprak/en?next={case_url(reference)}")
    page = worker.get(case_url(reference))
    token = read_csrf(page.text)
    # When it came in is not a status: "Submitted", not the status "Received" again.
    assert "<dt>Submitted</dt>" in page.text and "<dd>Received</dd>" in page.text

    def refused(path: str, **data) -> str:
        answer = worker.post(case_url(reference) + path, data={"csrf_token": token, **data})
        assert answer.status_code == 422
        return answer.text

    assert "Choose a case worker from the list." in refused("/tilldela", assignee="anna")
    assert "Choose a case worker who works here." in refused("/tilldela", assignee="999999")
    assert "Choose a new status." in refused("/status")
    assert "Write what the applicant needs to add" in refused(
        "/status", status="waiting_for_citizen"
    )
    assert "The case cannot have that status now" in refused("/status", status="x")
    long_message = refused("/status", status="in_progress", message="x" * 5001)
    assert "The message may be at most 5000 characters." in long_message
    assert "Write the note." in refused("/anteckning", note=" ")
    assert "The note may be at most 5000 characters." in refused("/anteckning", note="x" * 5001)
    assert "Meddelandet får vara högst" not in long_message
    worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": token, "status": "closed", "bekrafta": "ja"},
    )
    assert "The case is closed and cannot have a new status." in refused(
        "/status", status="in_progress"
    )
    assert count_all(app, "case_events") == 2  # submitted, closed


def test_the_length_limits_words_name_the_limit():
    from samverkan.casework import operations

    for text in (operations.MESSAGE_TOO_LONG, operations.NOTE_TOO_LONG):
        assert f"högst {operations.MESSAGE_MAX} tecken" in text


def test_the_skip_link_of_a_staff_page_goes_past_the_staff_menu(worker):
    page = worker.get("/arvika/staff/").text
    assert '<a class="skip-link" href="#innehall">' in page
    assert page.index('aria-label="Personal"') < page.index('id="innehall"')


def test_a_case_workers_own_words_are_marked_swedish_on_english_pages(
    app, client, worker, read_csrf
):
    """WCAG 3.1.2: a message is read out as the Swedish it was written in, on the case
    page, the citizen's status page and the register extract; the platform's own history
    texts are translated instead, and not marked."""
    created = submit(client)
    reference = created["reference"]
    token = read_csrf(worker.get(case_url(reference)).text)
    said = "Vi har tagit emot din synpunkt och återkommer."
    worker.post(
        case_url(reference) + "/status",
        data={"csrf_token": token, "status": "in_progress", "message": said},
    )
    worker.get(f"/sprak/en?next={case_url(reference)}")
    staff_page = worker.get(case_url(reference)).text
    assert f'<p class="message" lang="sv">{said}</p>' in staff_page
    assert '<p class="message">The case has been received and registered.</p>' in staff_page
    citizen = app.test_client()
    citizen.get("/sprak/en?next=/arvika/")
    status_url = "/arvika/arende/" + created["status_url"].rsplit("/", 1)[-1]
    status_page = citizen.get(status_url).text
    assert f'<p class="message" lang="sv">{said}</p>' in status_page
    assert '<p class="message">The case has been received and registered.</p>' in status_page
    extract = citizen.get(status_url + "/registerutdrag").text
    assert f'<p class="message" lang="sv">{said}</p>' in extract
    # On a Swedish page nothing is marked: it is the page's own language.
    worker.get(f"/sprak/sv?next={case_url(reference)}")
    assert f'<p class="message">{said}</p>' in worker.get(case_url(reference)).text
