"""Files with a completion: a case waiting for the citizen often waits for a document (a
certificate, a photo), and the status page took text only: its hint told the citizen to
write that they had a file, and to wait for the case worker to answer."""

import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from api_support import WITH_REPLY, tenant_id, tiny_png
from test_accounts import create, sign_in
from test_form_engine import pdf_minimal
from test_retention import close, run
from test_staff_api import bearer, token_of
from test_uploads import EICAR, clamd, scanned  # noqa: F401  (clamd, scanned: fixtures)
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from samverkan.cases.models import Case
from samverkan.casework.schemas import COMPLETION_FILE_MB, COMPLETION_FILES_MAX, TOO_MANY_FILES
from samverkan.catalogue.scanning import INFECTED, UNAVAILABLE
from samverkan.database_roles import maintenance_session

KINDS = "PDF, JPEG eller PNG"
ANNA = "anna@arvika.example"
TAG = '<strong class="tag">Ny komplettering</strong>'  # an inbox row's mark


@pytest.fixture
def waiting(app, client, read_csrf):
    """A case at Arvika waiting for the citizen: (status page URL, reference, case worker)."""
    created = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=WITH_REPLY
    ).get_json()
    assert create(app, ANNA).exit_code == 0
    worker = app.test_client()
    assert sign_in(worker, read_csrf, ANNA).status_code == 303
    case_url = f"/arvika/staff/arenden/{created['reference']}"
    asked = worker.post(
        case_url + "/status",
        data={
            "csrf_token": read_csrf(worker.get(case_url).text),
            "status": "waiting_for_citizen",
            "message": "Skicka intyget från läkaren.",
        },
    )
    assert asked.status_code == 303
    status_url = "/arvika/arende/" + created["status_url"].rsplit("/", 1)[-1]
    return status_url, created["reference"], worker


def send(citizen, read_csrf, status_url, text="", files=()):
    page = citizen.get(status_url).text
    return post(citizen, status_url, read_csrf(page), text, files)


def post(citizen, status_url, token, text, files):
    """The form as a browser sends it, encoded here in memory: the test client would spool
    a large body to a temporary file that nothing closes."""
    fields = MultiDict([("csrf_token", token), ("completion", text)])
    for name, content in files:
        fields.add("completion_files", FileStorage(io.BytesIO(content), name))
    boundary, body = encode_multipart(fields)
    return citizen.post(
        status_url + "/komplettering",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def rows(app) -> list[dict]:
    with app.app_context(), maintenance_session() as session:
        return [
            dict(row._mapping)
            for row in session.execute(
                sa.text(
                    "SELECT a.field_name, a.filename, a.storage_name, a.event_id, e.kind "
                    "FROM attachments a LEFT JOIN case_events e ON e.id = a.event_id "
                    "ORDER BY a.id"
                )
            )
        ]


def one_value(app, sql: str, **params):
    """One value, read as the owner (across members)."""
    with app.app_context(), maintenance_session() as session:
        return session.execute(sa.text(sql), params).scalar_one()


def of_case(app, reference: str, column: str):
    return one_value(app, f"SELECT {column} FROM cases WHERE reference = :r", r=reference)


def case_status(app, reference: str) -> str:
    return of_case(app, reference, "status")


def move_on(worker, read_csrf, reference: str) -> None:
    """The case worker takes the case back in progress: it no longer waits for an answer."""
    case_url = f"/arvika/staff/arenden/{reference}"
    moved = worker.post(
        case_url + "/status",
        data={"csrf_token": read_csrf(worker.get(case_url).text), "status": "in_progress"},
    )
    assert moved.status_code == 303


def files_on_disk(upload_root) -> set[str]:
    return {path.name for path in upload_root.rglob("*") if path.is_file()}


def test_a_citizen_sends_a_certificate_and_a_photo_with_their_answer(
    app, client, read_csrf, waiting, upload_root
):
    status_url, reference, worker = waiting
    citizen = app.test_client()
    form = citizen.get(status_url).text
    assert 'enctype="multipart/form-data"' in form
    assert re.search(
        r'<input type="file" id="f-completion-files" name="completion_files" multiple', form
    )
    assert f"upp till {COMPLETION_FILES_MAX} filer: {KINDS}, högst {COMPLETION_FILE_MB} MB" in form
    before = files_on_disk(upload_root)
    sent = send(
        citizen,
        read_csrf,
        status_url,
        "Här är intyget och ett foto.",
        [("intyg.pdf", pdf_minimal()), ("foto.png", tiny_png())],
    )
    assert sent.status_code == 303
    assert case_status(app, reference) == "in_progress"  # the case worker's turn again
    stored = rows(app)
    assert [(r["field_name"], r["filename"], r["kind"]) for r in stored] == [
        ("completion", "intyg.pdf", "completion"),
        ("completion", "foto.png", "completion"),
    ]
    assert files_on_disk(upload_root) - before == {r["storage_name"] for r in stored}
    status_page = citizen.get(status_url).text
    # Names, like the answers, only for the browser that sent the case (the extract's rule):
    # this link may have been passed on. The number of files is theirs to see.
    assert "2 filer skickades med." in status_page and "intyg.pdf" not in status_page
    sender = app.test_client()  # the browser the case was sent from
    with sender.session_transaction() as session:
        session["receipts"] = [
            hashlib.sha256(status_url.rsplit("/", 1)[1].encode()).hexdigest()[:32]
        ]
    their_page = sender.get(status_url).text
    assert "intyg.pdf (1 kB)" in their_page and "foto.png (1 kB)" in their_page
    case_page = worker.get(f"/arvika/staff/arenden/{reference}").text
    links = re.findall(
        r'href="(/arvika/staff/arenden/[^"]+/bilagor/\d+)" download>([^<]+)<', case_page
    )
    assert [name for _, name in links] == ["intyg.pdf", "foto.png"]
    download = worker.get(links[1][0])
    assert download.status_code == 200 and download.data == tiny_png()
    assert download.headers["Content-Type"] == "application/octet-stream"
    download.close()
    logged = one_value(app, "SELECT detail FROM audit_log WHERE action = 'case.completed'")
    assert (logged if isinstance(logged, dict) else json.loads(logged)) == {"files": 2}


def test_files_alone_are_an_answer_and_nothing_at_all_is_not(app, read_csrf, waiting):
    status_url, reference, _ = waiting
    citizen = app.test_client()
    empty = send(citizen, read_csrf, status_url, "  ")
    assert empty.status_code == 422
    assert empty.text.count("Skriv din komplettering eller bifoga en fil.") == 2
    assert case_status(app, reference) == "waiting_for_citizen"
    alone = send(citizen, read_csrf, status_url, files=[("intyg.pdf", pdf_minimal())])
    assert alone.status_code == 303
    page = citizen.get(status_url).text
    assert "1 fil skickades med." in page
    assert '<p class="message"></p>' not in page  # no empty message under it


def test_a_file_that_is_not_allowed_is_named_and_nothing_is_kept(
    app, read_csrf, waiting, upload_root
):
    status_url, reference, _ = waiting
    citizen = app.test_client()
    before = files_on_disk(upload_root)
    refused = send(
        citizen,
        read_csrf,
        status_url,
        "Intyget och ett foto.",
        [("intyg.pdf", pdf_minimal()), ("foto.heic", b"\x00\x00\x00\x18ftypheic" + b"\0" * 64)],
    )
    assert refused.status_code == 422
    message = f"foto.heic: Filen måste vara av typen {KINDS}."
    assert refused.text.count(message) == 2  # the summary and the field
    assert 'href="#f-completion-files"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    # The good file was not kept either, and the browser has forgotten it: say so.
    assert "Inga filer skickades: välj alla igen." in refused.text
    assert ">Intyget och ett foto.</textarea>" in refused.text  # what they wrote is kept
    assert rows(app) == [] and files_on_disk(upload_root) == before
    assert case_status(app, reference) == "waiting_for_citizen"


def test_too_many_files_are_refused_before_any_is_read(app, read_csrf, waiting, upload_root):
    assert str(COMPLETION_FILES_MAX) in TOO_MANY_FILES
    status_url, reference, _ = waiting
    citizen = app.test_client()
    before = files_on_disk(upload_root)
    many = [(f"sida-{n}.png", tiny_png()) for n in range(COMPLETION_FILES_MAX + 1)]
    refused = send(citizen, read_csrf, status_url, "Alla sidor.", many)
    assert refused.status_code == 422
    assert f"Filer – {TOO_MANY_FILES}</a>" in refused.text  # the summary
    assert f"</span>{TOO_MANY_FILES}</p>" in refused.text  # the field
    assert rows(app) == [] and files_on_disk(upload_root) == before
    enough = send(citizen, read_csrf, status_url, "Alla sidor.", many[:COMPLETION_FILES_MAX])
    assert enough.status_code == 303
    assert len(rows(app)) == COMPLETION_FILES_MAX


def test_a_file_over_its_limit_is_named(app, read_csrf, waiting, upload_root):
    status_url, _, _ = waiting
    citizen = app.test_client()
    big = pdf_minimal() + b"\0" * (COMPLETION_FILE_MB * 1024 * 1024)
    refused = send(citizen, read_csrf, status_url, "", [("stort-intyg.pdf", big)])
    assert refused.status_code == 422
    assert (
        f"stort-intyg.pdf: Filen är för stor. Den får vara högst {COMPLETION_FILE_MB} MB."
        in refused.text
    )
    assert rows(app) == []


def test_files_over_the_requests_limit_come_back_to_the_form_with_the_reason(
    app, read_csrf, waiting, monkeypatch
):
    """Refused before the body is read (413): the status page says so, and that the text
    was lost with the files, rather than an error page."""
    status_url, reference, _ = waiting
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    citizen = app.test_client()
    refused = send(citizen, read_csrf, status_url, "Text", [("intyg.pdf", b"%PDF" + b"0" * 70000)])
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith(status_url + "?fil=for-stor#komplettera")
    page = citizen.get(refused.headers["Location"])
    assert "Det du skrev skickades inte heller: skriv det igen." in page.text
    assert 'id="f-completion-files-error"' in page.text
    assert case_status(app, reference) == "waiting_for_citizen"


def test_a_double_click_keeps_the_files_once(app, read_csrf, waiting, upload_root):
    status_url, _, _ = waiting
    citizen = app.test_client()
    before = files_on_disk(upload_root)
    token = read_csrf(citizen.get(status_url).text)
    for _ in range(2):
        sent = post(citizen, status_url, token, "Intyget.", [("intyg.pdf", pdf_minimal())])
        assert sent.status_code == 303
    assert [r["filename"] for r in rows(app)] == ["intyg.pdf"]
    assert len(files_on_disk(upload_root) - before) == 1  # the second request's is not left


def test_files_sent_after_the_case_moved_on_are_named_as_not_sent(
    app, read_csrf, waiting, upload_root
):
    status_url, reference, worker = waiting
    citizen = app.test_client()
    page = citizen.get(status_url).text
    move_on(worker, read_csrf, reference)
    before = files_on_disk(upload_root)
    late = post(citizen, status_url, read_csrf(page), "Intyget.", [("intyg.pdf", pdf_minimal())])
    assert late.status_code == 409
    assert "Filerna du valde: intyg.pdf." in late.text
    assert "handläggaren har ändrat det sedan du öppnade sidan" in late.text
    assert rows(app) == [] and files_on_disk(upload_root) == before


def test_the_extract_the_staff_api_and_the_answers_tell_the_files_apart(
    app, client, read_csrf, waiting
):
    """A completion's files are the citizen's data too (the extract lists them), and are
    not taken for the answer to a form field of the same name."""
    status_url, reference, worker = waiting
    citizen = app.test_client()
    assert (
        send(citizen, read_csrf, status_url, "", [("intyg.pdf", pdf_minimal())]).status_code == 303
    )
    extract = citizen.get(status_url + "/registerutdrag.json")
    assert extract.status_code == 200, extract.text
    listed = extract.get_json()["attachments"]
    assert [(a["field"], a["label"]) for a in listed] == [
        ("completion", "Skickad med din komplettering")
    ]
    page = citizen.get(status_url + "/registerutdrag").text
    assert "<td>Skickad med din komplettering</td>" in page
    staff_api = client.get(
        f"/api/v1/tenants/arvika/cases/{reference}", headers=bearer(token_of(app, ANNA))
    )
    assert staff_api.status_code == 200
    case = staff_api.get_json()
    [attachment] = case["attachments"]
    assert attachment["field"] == "completion" and attachment["filename"] == "intyg.pdf"
    completion = next(e for e in case["history"] if e["kind"] == "completion")
    assert attachment["received_at"] == completion["at"]
    assert "completion" not in case["answers"]
    assert "Bifogade filer" in worker.get(f"/arvika/staff/arenden/{reference}").text


def test_thinning_removes_the_completions_files_with_the_rest(
    app, read_csrf, waiting, upload_root, retention_a_year
):
    status_url, reference, _ = waiting
    citizen = app.test_client()
    assert (
        send(citizen, read_csrf, status_url, "", [("intyg.pdf", pdf_minimal())]).status_code == 303
    )
    [stored] = rows(app)
    assert stored["storage_name"] in files_on_disk(upload_root)
    now = datetime.now(UTC)
    close(app, reference, now - timedelta(days=400))
    with app.app_context(), maintenance_session() as session:
        # Its mails are out (a mail still queued holds the case back, test_retention.py).
        session.execute(sa.text("UPDATE outbox_messages SET status = 'sent'"))
        session.commit()
    run(app, now=now)
    assert rows(app) == [] and stored["storage_name"] not in files_on_disk(upload_root)
    with app.app_context(), maintenance_session() as session:
        kinds = session.execute(sa.text("SELECT kind, message FROM case_events")).all()
    assert ("completion", None) in [tuple(k) for k in kinds]  # the entry stays, without text


@pytest.fixture
def retention_a_year(app):
    def set_months(months):
        with app.app_context(), maintenance_session() as session:
            session.execute(
                sa.text("UPDATE tenants SET retention_months = :m WHERE slug = 'arvika'"),
                {"m": months},
            )
            session.commit()

    set_months(12)
    yield
    set_months(None)


def test_a_scanned_file_is_refused_when_infected_and_503_when_it_cannot_be_scanned(
    app,
    read_csrf,
    waiting,
    scanned,  # noqa: F811
    upload_root,
):
    status_url, reference, _ = waiting
    citizen = app.test_client()
    before = files_on_disk(upload_root)
    infected = send(citizen, read_csrf, status_url, "", [("intyg.pdf", pdf_minimal() + EICAR)])
    assert infected.status_code == 422
    assert f"intyg.pdf: {INFECTED}" in infected.text
    scanned.mode = "garbled"
    unscanned = send(citizen, read_csrf, status_url, "Text", [("intyg.pdf", pdf_minimal())])
    assert unscanned.status_code == 503  # the scanner's fault, not theirs: try again later
    assert f"intyg.pdf: {UNAVAILABLE}" in unscanned.text
    assert rows(app) == [] and files_on_disk(upload_root) == before
    assert case_status(app, reference) == "waiting_for_citizen"
    scanned.mode = "verdict"
    assert (
        send(citizen, read_csrf, status_url, "", [("intyg.pdf", pdf_minimal())]).status_code == 303
    )
    assert pdf_minimal() in scanned.streams


def test_a_refused_file_on_a_case_that_moved_on_says_it_was_not_sent(app, read_csrf, waiting):
    """No form to correct the file in any more: the page says nothing was sent."""
    status_url, reference, worker = waiting
    citizen = app.test_client()
    page = citizen.get(status_url).text
    move_on(worker, read_csrf, reference)
    late = post(citizen, status_url, read_csrf(page), "Text", [("foto.gif", b"GIF89a" + bytes(40))])
    assert late.status_code == 409
    assert "Filerna du valde: foto.gif." in late.text
    assert 'id="unsent-completion"' in late.text  # the text, to keep
    assert "Filen måste vara av typen" not in late.text


def test_the_inbox_marks_a_case_the_citizen_has_answered_until_it_is_opened(
    app, read_csrf, waiting
):
    """Back in progress after a completion, the case looked like every other case in
    progress: nothing in the inbox said that the citizen had answered."""
    status_url, reference, worker = waiting
    other = worker.get("/arvika/staff/").text
    assert TAG not in other
    citizen = app.test_client()
    assert send(citizen, read_csrf, status_url, "Intyget kommer.").status_code == 303
    changed = of_case(app, reference, "updated_at")
    row = re.search(
        rf"<tr>\s*<td><a [^>]*>{reference}</a>.*?</tr>", worker.get("/arvika/staff/").text, re.S
    )
    assert row and 'Under handläggning <strong class="tag">Ny komplettering</strong>' in row.group(
        0
    )
    token = bearer(token_of(app, ANNA))
    [listed] = (
        app.test_client().get("/api/v1/tenants/arvika/cases", headers=token).get_json()["cases"]
    )
    assert listed["unread_completion_at"] is not None  # an integration sees it too
    english = app.test_client()
    assert sign_in(english, read_csrf, ANNA).status_code == 303
    english.get("/sprak/en")
    assert "New answer" in english.get("/arvika/staff/").text
    # Read through the API: still news for the people at the inbox.
    case = app.test_client().get(f"/api/v1/tenants/arvika/cases/{reference}", headers=token)
    assert case.get_json()["unread_completion_at"] == listed["unread_completion_at"]
    # Opened by a case worker: read, and not a change to the case the citizen would see.
    worker.get(f"/arvika/staff/arenden/{reference}")
    assert TAG not in worker.get("/arvika/staff/").text
    assert of_case(app, reference, "updated_at") == changed


def test_a_case_moved_on_without_being_opened_is_no_longer_marked(app, read_csrf, waiting):
    """Through the staff API, say: a case worker has acted on it."""
    status_url, reference, _ = waiting
    assert send(app.test_client(), read_csrf, status_url, "Svar.").status_code == 303
    response = app.test_client().post(
        f"/api/v1/tenants/arvika/cases/{reference}/transitions",
        json={"status": "decided", "message": "Beviljat."},
        headers=bearer(token_of(app, ANNA)),
    )
    assert response.status_code == 200, response.get_json()
    assert of_case(app, reference, "unread_completion_at") is None


def test_the_inbox_lists_only_the_answered_cases_when_asked(app, client, read_csrf, waiting):
    """Marked rows help only on the first page: an old case answered today is pages down."""
    status_url, reference, worker = waiting
    for _ in range(3):  # newer cases, without news
        client.post("/api/v1/tenants/arvika/services/synpunkter/submissions", json=WITH_REPLY)
    assert send(app.test_client(), read_csrf, status_url, "Svar.").status_code == 303
    page = worker.get("/arvika/staff/?news=completion")
    assert page.status_code == 200
    assert re.findall(r">([A-Z]{3}-\d{4}-\d{6})<", page.text) == [reference]
    assert '<option value="completion" selected>Ny komplettering</option>' in page.text
    token = bearer(token_of(app, ANNA))
    listed = client.get("/api/v1/tenants/arvika/cases?news=completion", headers=token)
    assert [c["reference"] for c in listed.get_json()["cases"]] == [reference]
    refused = worker.get("/arvika/staff/?news=ja")
    assert refused.status_code == 422
    assert "Välj ny komplettering eller alla." in refused.text
    worker.get(f"/arvika/staff/arenden/{reference}")  # opened: no longer news
    assert (
        re.findall(r">([A-Z]{3}-\d{4}-\d{6})<", worker.get("/arvika/staff/?news=completion").text)
        == []
    )


def test_a_second_answer_after_the_first_is_not_taken_for_a_double_click(
    app, read_csrf, waiting, upload_root
):
    """Files only, twice within the minute, with a file forgotten the first time: the
    second was dropped as a double click while the page said thank you."""
    status_url, _, _ = waiting
    citizen = app.test_client()
    token = read_csrf(citizen.get(status_url).text)
    assert post(citizen, status_url, token, "", [("intyg.pdf", pdf_minimal())]).status_code == 303
    before = files_on_disk(upload_root)
    again = post(citizen, status_url, token, "", [("glomde-den-har.png", tiny_png())])
    assert again.status_code == 409
    assert (
        "Du har redan skickat en komplettering, och ärendet är nu hos handläggaren." in again.text
    )
    assert "Filerna du valde: glomde-den-har.png." in again.text
    assert 'id="unsent-completion"' not in again.text  # no text was written: none to keep
    assert "handläggaren har ändrat det" not in again.text  # it was their own answer
    assert [r["filename"] for r in rows(app)] == ["intyg.pdf"]
    assert files_on_disk(upload_root) == before
    # The very same answer again is a double click, as before: no 409, nothing more.
    same = post(citizen, status_url, token, "", [("intyg.pdf", pdf_minimal())])
    assert same.status_code == 303


def test_files_too_large_for_a_case_no_longer_waiting_are_said_not_sent(
    app, read_csrf, waiting, monkeypatch
):
    status_url, reference, worker = waiting
    citizen = app.test_client()
    page = citizen.get(status_url).text
    move_on(worker, read_csrf, reference)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    refused = post(citizen, status_url, read_csrf(page), "", [("stor.pdf", b"%PDF" + bytes(70000))])
    shown = citizen.get(refused.headers["Location"])
    assert "Din komplettering skickades inte" in shown.text
    assert "var för stort för att tas emot, och ärendet väntar inte längre" in shown.text


def test_a_silent_scanner_costs_a_request_its_timeout_once_not_once_per_file(
    app,
    read_csrf,
    waiting,
    scanned,  # noqa: F811
    monkeypatch,
):
    """Each file had the whole CLAMD_TIMEOUT: five files outlasted gunicorn's 30 s and the
    worker was killed (a 500, the text lost). One deadline for the request, and no asking
    again once clamd has failed it."""
    status_url, _, _ = waiting
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT", 0.3)
    scanned.mode = "silent"
    files = [(f"sida-{n}.pdf", pdf_minimal()) for n in range(3)]
    refused = send(app.test_client(), read_csrf, status_url, "Tre sidor.", files)
    assert refused.status_code == 503
    assert len(scanned.streams) == 1  # the first file's; the others were not sent to clamd
    for name, _ in files:
        assert f"{name}: {UNAVAILABLE}" in refused.text
    assert ">Tre sidor.</textarea>" in refused.text


def test_a_file_is_downloaded_under_the_ending_its_content_has(app, read_csrf, waiting):
    status_url, reference, worker = waiting
    sent = send(app.test_client(), read_csrf, status_url, "", [("beslut.hta", pdf_minimal())])
    assert sent.status_code == 303
    page = worker.get(f"/arvika/staff/arenden/{reference}").text
    assert ">beslut.hta</a>" in page  # shown as they named it
    link = re.search(r'href="(/arvika/staff/arenden/[^"]+/bilagor/\d+)"', page).group(1)
    download = worker.get(link)
    assert download.headers["Content-Disposition"] == "attachment; filename=beslut.pdf"
    download.close()


def test_an_attachment_cannot_name_another_cases_history_entry(app, client, read_csrf, waiting):
    """The key is (member, case, entry): a file of one case cannot be filed under another
    case's completion, not even by the owner's own SQL."""
    status_url, reference, _ = waiting
    assert (
        send(app.test_client(), read_csrf, status_url, "", [("a.pdf", pdf_minimal())]).status_code
        == 303
    )
    other = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions", json=WITH_REPLY
    ).get_json()["reference"]
    with app.app_context(), maintenance_session() as session:
        moved = sa.text(
            "UPDATE attachments SET case_id = (SELECT id FROM cases WHERE reference = :r)"
        )
        with pytest.raises(sa.exc.IntegrityError):
            session.execute(moved, {"r": other})
            session.flush()
        session.rollback()


def test_the_reason_a_late_answer_was_not_sent_comes_from_the_history(app, read_csrf, waiting):
    """It said the case worker had changed the case when one had only opened it: the
    marker a case worker's opening clears is not what the citizen is told."""
    status_url, reference, worker = waiting
    citizen = app.test_client()
    token = read_csrf(citizen.get(status_url).text)
    assert post(citizen, status_url, token, "Första svaret.", []).status_code == 303
    worker.get(f"/arvika/staff/arenden/{reference}")  # only looked
    late = post(citizen, status_url, token, "Ett andra svar.", [])
    assert late.status_code == 409
    assert "Du har redan skickat en komplettering" in late.text
    assert "handläggaren har ändrat det" not in late.text


def test_a_head_request_reads_nothing_and_clears_nothing(app, read_csrf, waiting):
    status_url, reference, worker = waiting
    sent = send(app.test_client(), read_csrf, status_url, "", [("a.pdf", pdf_minimal())])
    assert sent.status_code == 303
    case_url = f"/arvika/staff/arenden/{reference}"
    views_before = _count(app, "case.viewed")  # (the fixture's case worker opened it)
    assert worker.head(case_url).status_code == 200
    assert of_case(app, reference, "unread_completion_at") is not None
    assert _count(app, "case.viewed") == views_before
    [attachment_id] = _attachment_ids(app)
    head = worker.head(f"{case_url}/bilagor/{attachment_id}")
    assert head.status_code == 200
    head.close()
    assert _count(app, "attachment.downloaded") == 0


def _count(app, action: str) -> int:
    return one_value(app, "SELECT count(*) FROM audit_log WHERE action = :a", a=action)


def _attachment_ids(app) -> list[int]:
    with app.app_context(), maintenance_session() as session:
        return list(session.execute(sa.text("SELECT id FROM attachments")).scalars())


def test_opening_clears_only_the_answer_the_page_showed(app, read_csrf, waiting):
    """A case worker's page made before a newer answer came must not mark that one read."""
    from samverkan.casework import operations
    from samverkan.extensions import db
    from samverkan.tenancy.scoping import bind_tenant

    status_url, reference, _ = waiting
    assert send(app.test_client(), read_csrf, status_url, "Svar.").status_code == 303
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        case = db.session.scalar(sa.select(Case).where(Case.reference == reference))
        shown = case.unread_completion_at  # what the page loaded
        db.session.expunge(case)  # as loaded; the read's transaction ends (SQLite's lock)
        db.session.rollback()
        with maintenance_session() as other:  # meanwhile, a newer answer
            other.execute(
                sa.text("UPDATE cases SET unread_completion_at = :at WHERE reference = :r"),
                {"at": shown + timedelta(seconds=5), "r": reference},
            )
            other.commit()
        operations.completion_read(db.session, case)
        db.session.commit()
        db.session.remove()
    assert of_case(app, reference, "unread_completion_at") is not None


def test_no_form_field_may_be_called_as_the_completions_files_are():
    from test_form_engine import definition_errors, raw_definition

    from samverkan.cases.models import COMPLETION_FILES
    from samverkan.catalogue.definition_schema import RESERVED_FIELD_NAMES

    assert COMPLETION_FILES in RESERVED_FIELD_NAMES
    field = {"name": "completion", "type": "text", "label": {"sv": "K", "en": "C"}}
    errors = definition_errors(raw_definition([field]))
    assert any("reserved" in message for _, message in errors), errors


def test_a_refused_news_filter_links_to_its_field(waiting):
    _, _, worker = waiting
    page = worker.get("/arvika/staff/?news=x")
    assert page.status_code == 422
    assert '<a href="#filter-news">Välj ny komplettering eller alla.</a>' in page.text
