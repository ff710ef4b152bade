"""API v1: submitting answers, conditional fields and idempotency."""

import hashlib
import json
import re
from datetime import datetime

import pytest
import sqlalchemy as sa
from api_support import (
    ANONYMOUS,
    FELANMALAN,
    FORSKOLEPLATS,
    SKOLSKJUTS,
    SYNPUNKTER,
    VARMEPUMP,
    WITH_REPLY,
    as_upload,
    count_rows,
    nothing_stored,
    stored_cases,
    submissions,
    tenant_id,
    this_year,
    tiny_png,
)

from samverkan import memo
from samverkan.cases.models import Attachment, Case, CaseEvent
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.tenancy.scoping import bind_tenant

# -- submitting ----------------------------------------------------------------------------


def test_submitting_synpunkter_registers_a_case_with_the_members_reference(app, client):
    response = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS)
    assert response.status_code == 201
    body = response.get_json()
    assert body["reference"] == f"ARV-{this_year()}-000001"
    assert re.fullmatch(r"ARV-\d{4}-\d{6}", body["reference"])
    assert body["status"] == "received"
    assert body["status_url"].startswith("http://localhost/api/v1/tenants/arvika/status/")
    assert response.headers["Location"] == body["status_url"]
    assert response.headers["Cache-Control"] == "no-store"  # the link is the case's key
    assert "Idempotent-Replayed" not in response.headers
    [case] = stored_cases(app, "arvika")
    assert case["reference"] == body["reference"]
    assert case["service"] == "synpunkter"
    assert case["answers"] == ANONYMOUS
    assert case["channel"] == "api"
    assert case["status"] == "received"
    assert count_rows(app, "case_events") == 1


def test_each_member_numbers_its_own_series(app, client):
    year = this_year()
    references = [
        client.post(submissions(member, "synpunkter"), json=ANONYMOUS).get_json()["reference"]
        for member in ("arvika", "kil", "arvika", "arvika", "kil")
    ]
    assert references == [
        f"ARV-{year}-000001",
        f"KIL-{year}-000001",
        f"ARV-{year}-000002",
        f"ARV-{year}-000003",
        f"KIL-{year}-000002",
    ]


def test_status_url_shows_the_status_and_history(client):
    created = client.post(submissions("eda", "synpunkter"), json=ANONYMOUS).get_json()
    response = client.get(created["status_url"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    status = response.get_json()
    assert status["reference"] == created["reference"]
    assert status["service"] == "synpunkter"
    assert status["service_version"] == 1
    assert status["status"] == "received"
    assert status["status_label"] == "Mottaget"
    assert datetime.fromisoformat(status["submitted_at"]).tzinfo is not None
    [event] = status["history"]
    assert event["kind"] == "submitted"
    assert event["status"] == "received"
    assert event["message"] == "Ärendet har tagits emot och registrerats."
    assert datetime.fromisoformat(event["at"]) == datetime.fromisoformat(status["submitted_at"])


def test_history_leaves_out_events_not_meant_for_the_citizen(app, client):
    created = client.post(submissions("eda", "synpunkter"), json=ANONYMOUS).get_json()
    with app.app_context():
        bind_tenant(db.session, tenant_id("eda"))
        case = db.session.scalar(sa.select(Case))
        db.session.add(
            CaseEvent(
                case_id=case.id,
                kind="note",
                status="received",
                message="Intern anteckning: ring byggnadsnämnden.",
                visible_to_citizen=False,
            )
        )
        db.session.commit()
        db.session.remove()
    status = client.get(created["status_url"])
    assert [e["kind"] for e in status.get_json()["history"]] == ["submitted"]
    assert "Intern anteckning" not in status.text


def test_status_of_an_unknown_token_is_404_json(client):
    response = client.get("/api/v1/tenants/arvika/status/" + "x" * 43)
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "Sidan finns inte",
        "message": "Det finns inget ärende med den länken.",
    }


def test_status_token_does_not_work_under_another_member(client):
    created = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS).get_json()
    token = created["status_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/tenants/arvika/status/{token}").status_code == 200
    response = client.get(f"/api/v1/tenants/kil/status/{token}")
    assert response.status_code == 404
    assert created["reference"] not in response.text


def test_felanmalan_with_a_photo_stores_it_under_a_server_made_name(app, client, upload_root):
    data = tiny_png()
    answers = {**FELANMALAN, "photo": as_upload("../../etc/lampa.png", data)}
    response = client.post(submissions("arvika", "felanmalan"), json=answers)
    assert response.status_code == 201, response.text
    [case] = stored_cases(app, "arvika")
    with app.app_context():
        arvika = tenant_id("arvika")
        bind_tenant(db.session, arvika)
        attachment = db.session.scalar(sa.select(Attachment))
        db.session.remove()
    assert attachment.field_name == "photo"
    assert attachment.filename == "lampa.png"
    assert attachment.content_type == "image/png"
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}\.png", attachment.storage_name)
    stored = upload_root / str(arvika) / attachment.storage_name
    assert stored.read_bytes() == data
    assert not any(path.name == "lampa.png" for path in upload_root.rglob("*"))
    assert case["answers"]["photo"]["file"]["sha256"] == attachment.sha256
    assert "content_base64" not in json.dumps(case["answers"])


def test_a_png_named_pdf_is_kept_as_the_png_it_is(app, client):
    answers = {**FELANMALAN, "photo": as_upload("karta.pdf", tiny_png())}
    assert client.post(submissions("arvika", "felanmalan"), json=answers).status_code == 201
    with app.app_context():
        bind_tenant(db.session, tenant_id("arvika"))
        attachment = db.session.scalar(sa.select(Attachment))
        db.session.remove()
    assert attachment.content_type == "image/png"
    assert attachment.storage_name.endswith(".png")


def test_swedish_numbers_are_stored_in_their_standard_form(app, client):
    assert (
        client.post(submissions("arvika", "forskoleplats"), json=FORSKOLEPLATS).status_code == 201
    )
    assert client.post(submissions("arvika", "varmepump"), json=VARMEPUMP).status_code == 201
    forskoleplats, varmepump = stored_cases(app, "arvika")
    assert forskoleplats["answers"]["guardian_personnummer"] == "19811228-9874"
    assert forskoleplats["answers"]["postal_code"] == "671 31"
    assert forskoleplats["answers"]["preschool_wishes"] == ["Förskoleområde norr"]
    assert forskoleplats["answers"]["confirm"] is True
    assert varmepump["answers"]["owner_orgnr"] == "212000-1850"


def test_a_number_sent_as_digits_in_a_string_is_stored_as_a_number(app, client):
    answers = {**FORSKOLEPLATS, "hours_per_week": "25"}
    assert client.post(submissions("arvika", "forskoleplats"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"]["hours_per_week"] == 25


def test_a_less_than_sign_that_is_not_markup_is_accepted(app, client):
    answers = {**ANONYMOUS, "message": "Hastigheten är < 30 km/h men skylten säger 50 <3"}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"]["message"] == answers["message"]


# -- conditional fields --------------------------------------------------------------------


def test_a_field_hidden_by_its_condition_is_not_required(app, client):
    """want_reply=no hides email, which is otherwise required."""
    response = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS)
    assert response.status_code == 201
    assert "email" not in stored_cases(app, "arvika")[0]["answers"]


def test_a_field_shown_by_its_condition_is_required(app, client):
    answers = {**SYNPUNKTER, "want_reply": "yes"}
    response = client.post(submissions("arvika", "synpunkter"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"email": ["Du måste fylla i det här fältet."]}
    assert client.post(submissions("arvika", "synpunkter"), json=WITH_REPLY).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == WITH_REPLY


def test_the_value_of_a_hidden_field_is_dropped_not_stored(app, client):
    answers = {**ANONYMOUS, "name": "Anna Berg", "email": "anna@exempel.se"}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == ANONYMOUS


def test_a_hidden_field_is_not_validated(app, client):
    answers = {**ANONYMOUS, "email": "inte en adress", "name": ["fel", "typ"]}
    assert client.post(submissions("arvika", "synpunkter"), json=answers).status_code == 201
    assert stored_cases(app, "arvika")[0]["answers"] == ANONYMOUS


def test_a_hidden_file_is_dropped_and_never_written_to_disk(app, client, upload_root):
    """skolskjuts asks for a certificate only when the reason is a disability."""
    definition = client.get("/api/v1/tenants/arvika/services/skolskjuts").get_json()
    certificate = next(
        f for step in definition["steps"] for f in step["fields"] if f["name"] == "certificate"
    )
    assert certificate["required"] is True
    assert certificate["condition"] == {"field": "reason", "equals": "funktionsnedsattning"}
    before = sorted(upload_root.rglob("*")) if upload_root.exists() else []
    answers = {**SKOLSKJUTS, "certificate": as_upload("intyg.png", tiny_png())}
    response = client.post(submissions("arvika", "skolskjuts"), json=answers)
    assert response.status_code == 201, response.text
    assert stored_cases(app, "arvika")[0]["answers"] == {**SKOLSKJUTS, "postal_code": "671 91"}
    assert count_rows(app, "attachments") == 0
    assert (sorted(upload_root.rglob("*")) if upload_root.exists() else []) == before


def test_a_required_file_shown_by_its_condition_must_be_sent(app, client):
    answers = {**SKOLSKJUTS, "reason": "funktionsnedsattning"}
    response = client.post(submissions("arvika", "skolskjuts"), json=answers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"certificate": ["Välj en fil att ladda upp."]}
    assert nothing_stored(app)


# -- idempotency ---------------------------------------------------------------------------


def test_same_idempotency_key_twice_gives_one_case(app, client):
    url = submissions("arvika", "synpunkter")
    first = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "retry-1"})
    again = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    [case] = stored_cases(app, "arvika")
    assert case["idempotency_key"] == "api:retry-1"
    assert count_rows(app, "case_events") == 1


def test_a_replay_with_the_same_answers_written_differently_is_still_a_replay(app, client):
    url = submissions("arvika", "forskoleplats")
    headers = {"Idempotency-Key": "form-7"}
    first = client.post(url, json=FORSKOLEPLATS, headers=headers)
    rewritten = {**FORSKOLEPLATS, "guardian_personnummer": "19811228-9874", "hours_per_week": "30"}
    again = client.post(url, json=rewritten, headers=headers)
    assert again.status_code == 201
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert len(stored_cases(app, "arvika")) == 1


def test_same_idempotency_key_with_different_answers_is_409(app, client):
    url = submissions("arvika", "synpunkter")
    headers = {"Idempotency-Key": "retry-2"}
    first = client.post(url, json=ANONYMOUS, headers=headers)
    response = client.post(url, json={**ANONYMOUS, "message": "Något annat"}, headers=headers)
    assert response.status_code == 409
    assert response.get_json() == {
        "error": "Konflikt",
        "message": "Samma Idempotency-Key har redan använts med andra svar. Använd en ny nyckel.",
    }
    [case] = stored_cases(app, "arvika")
    assert case["reference"] == first.get_json()["reference"]
    assert case["answers"]["message"] == ANONYMOUS["message"]


def change_arvikas_switch(app, service: str, assignment: str, **values) -> None:
    """Arvika's switch of `service` changed around the app (as the hub or an administrator
    would), and the workers' memories of it forgotten (`resync` puts it back)."""
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text(
                f"UPDATE tenant_services SET {assignment} WHERE service_slug = :service "  # noqa: S608
                "AND tenant_id = (SELECT id FROM tenants WHERE slug = 'arvika')"
            ),
            {"service": service, **values},
        )
        session.commit()
    memo.forget_all()


def test_a_retry_is_answered_with_its_case_after_the_e_service_has_changed(app, client, resync):
    """A client that got no answer retries with its key: it got 422 (a new version's
    required field) or 404 (switched off), and a client that then "fixed" its body or gave
    up sent the case again under a new key."""
    url = submissions("arvika", "synpunkter")
    headers = {"Idempotency-Key": "retry-after-change"}
    first = client.post(url, json=ANONYMOUS, headers=headers)
    assert first.status_code == 201
    change_arvikas_switch(app, "synpunkter", "enabled = false")
    again = client.post(url, json=ANONYMOUS, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    other = client.post(url, json={**ANONYMOUS, "message": "Något annat"}, headers=headers)
    assert other.status_code == 409
    elsewhere = client.post(submissions("arvika", "felanmalan"), json=ANONYMOUS, headers=headers)
    assert elsewhere.status_code == 409  # the key named a case of another e-service
    assert client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "new"}).status_code == 404
    assert len(stored_cases(app, "arvika")) == 1


def test_a_retry_is_answered_with_its_case_after_the_members_list_changed(app, client, resync):
    """The first body chose a preschool area the member has renamed since: the retry was
    refused as 'other answers' (409)."""
    url = submissions("arvika", "forskoleplats")
    headers = {"Idempotency-Key": "retry-after-rename"}
    first = client.post(url, json=FORSKOLEPLATS, headers=headers)
    assert first.status_code == 201
    renamed = json.dumps({"preschools": ["Ett nytt område"]})
    change_arvikas_switch(app, "forskoleplats", "settings = :s", s=renamed)
    again = client.post(url, json=FORSKOLEPLATS, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    other = {**FORSKOLEPLATS, "preschool_wishes": ["Ett nytt område"]}
    assert client.post(url, json=other, headers=headers).status_code == 409


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"kind": "fraga", "kind": "berom"}', 'fältet "kind" finns två gånger'),
        (b'{"n": ' + b"9" * 5000 + b"}", "ett tal med för många siffror"),
    ],
)
def test_a_body_python_would_read_against_the_json_is_refused_in_words(client, body, said):
    """A repeated field was read last-wins; a 5 000-digit number answered with Python's
    own message about sys.set_int_max_str_digits."""
    response = client.post(
        submissions("arvika", "synpunkter"), data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert said in response.get_json()["message"]
    assert "sys." not in response.get_json()["message"]


def test_same_photo_key_with_another_photo_is_409(app, client):
    url = submissions("arvika", "felanmalan")
    headers = {"Idempotency-Key": "photo-1"}
    png = tiny_png()
    first = {**FELANMALAN, "photo": as_upload("a.png", png)}
    other = {**FELANMALAN, "photo": as_upload("a.png", png + b"trailing")}
    assert client.post(url, json=first, headers=headers).status_code == 201
    assert client.post(url, json=other, headers=headers).status_code == 409
    assert count_rows(app, "attachments") == 1


def test_a_replayed_photo_is_not_written_again(app, client, upload_root):
    url = submissions("arvika", "felanmalan")
    headers = {"Idempotency-Key": "photo-2"}
    answers = {**FELANMALAN, "photo": as_upload("a.png", tiny_png())}
    first = client.post(url, json=answers, headers=headers)
    files = sorted(path for path in upload_root.rglob("*") if path.is_file())
    again = client.post(url, json=answers, headers=headers)
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert sorted(path for path in upload_root.rglob("*") if path.is_file()) == files
    assert count_rows(app, "attachments") == 1


def test_different_idempotency_keys_give_two_cases(app, client):
    url = submissions("arvika", "synpunkter")
    one = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "a"}).get_json()
    two = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": "b"}).get_json()
    assert one["reference"] != two["reference"]
    assert len(stored_cases(app, "arvika")) == 2


def test_no_idempotency_key_gives_a_new_case_each_time(app, client):
    url = submissions("arvika", "synpunkter")
    for _ in range(2):
        assert client.post(url, json=ANONYMOUS).status_code == 201
    assert len(stored_cases(app, "arvika")) == 2


def test_one_key_at_two_members_gives_each_member_its_own_case(app, client):
    headers = {"Idempotency-Key": "shared-key"}
    arvika = client.post(submissions("arvika", "synpunkter"), json=ANONYMOUS, headers=headers)
    kil = client.post(submissions("kil", "synpunkter"), json=ANONYMOUS, headers=headers)
    assert arvika.status_code == kil.status_code == 201
    assert arvika.get_json()["reference"].startswith("ARV-")
    assert kil.get_json()["reference"].startswith("KIL-")
    assert "Idempotent-Replayed" not in kil.headers


def test_a_refused_submission_does_not_use_up_its_key(app, client):
    url = submissions("arvika", "synpunkter")
    headers = {"Idempotency-Key": "fix-and-retry"}
    assert client.post(url, json=SYNPUNKTER, headers=headers).status_code == 422
    response = client.post(url, json=ANONYMOUS, headers=headers)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize("key", ["", "tab\there", "x" * 201], ids=["empty", "control", "too-long"])
def test_a_malformed_idempotency_key_is_400(app, client, key):
    response = client.post(
        submissions("arvika", "synpunkter"), json=ANONYMOUS, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == "Idempotency-Key ska vara 1–200 skrivbara tecken."
    assert nothing_stored(app)


def test_an_idempotency_key_of_the_documented_maximum_length_works(app, client):
    key = "k" * 200
    url = submissions("arvika", "synpunkter")
    first = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    again = client.post(url, json=ANONYMOUS, headers={"Idempotency-Key": key})
    assert again.get_json()["reference"] == first.get_json()["reference"]
    assert len(stored_cases(app, "arvika")) == 1


def test_a_space_in_the_answer_that_opens_a_required_question_does_not_skip_it(client):
    """Stored as "yes", so the reply address "yes" asks for is required: without it a
    citizen who asked for a reply could never be given one."""
    response = client.post(
        "/api/v1/tenants/arvika/services/synpunkter/submissions",
        json={"kind": "klagomal", "area": "annat", "message": "Svara mig", "want_reply": " yes"},
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"email": ["Du måste fylla i det här fältet."]}


@pytest.mark.parametrize("filename", [None, "", "  ", 42])
def test_a_file_without_a_name_as_text_is_refused_on_its_field(client, filename):
    photo = {**as_upload("x.png", tiny_png()), "filename": filename}
    response = client.post(submissions("arvika", "felanmalan"), json={**FELANMALAN, "photo": photo})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"photo": ["Skicka filens namn som text."]}
