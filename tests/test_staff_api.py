"""The staff JSON API: per-user tokens that work at one member only, the inbox with filters
and a cursor, a case with its answers and history, and moving it on in the workflow."""

import hashlib
import json
import re

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, WITH_REPLY, as_upload, tenant_id, tiny_png
from conftest import count_all
from marshmallow import ValidationError
from test_accounts import create, sign_in

from samverkan.accounts import tokens
from samverkan.accounts.models import User
from samverkan.casework import operations, queries
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.tenancy.scoping import bind_tenant

ANONYMOUS = {"kind": "fraga", "area": "annat", "message": "En fråga", "want_reply": "no"}
ANNA = "anna@arvika.example"
BO = "bo@arvika.example"
EVA = "eva@eda.example"


def submit(client, member="arvika", service="synpunkter", answers=ANONYMOUS) -> dict:
    response = client.post(f"/api/v1/tenants/{member}/services/{service}/submissions", json=answers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_token(app, email, tenant="arvika", label="Diariet"):
    return app.test_cli_runner().invoke(
        args=["users", "token", "--tenant", tenant, "--label", label, email]
    )


def token_of(app, email, tenant="arvika") -> str:
    result = make_token(app, email, tenant)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def cases_url(member="arvika") -> str:
    return f"/api/v1/tenants/{member}/cases"


def execute(app, sql: str, **params):
    """Run one statement as the owner (across members) and commit."""
    with app.app_context(), maintenance_session() as session:
        result = session.execute(sa.text(sql), params)
        rows = result.all() if result.returns_rows else None
        session.commit()
        return rows


def user_id(app, email: str) -> int:
    return execute(app, "SELECT id FROM users WHERE email = :e", e=email)[0][0]


def as_member(app, member: str, change) -> None:
    """Do something at a member outside any request (what a colleague did on the web)."""
    with app.app_context():
        bind_tenant(db.session, tenant_id(member))
        change(db.session)
        db.session.commit()
        db.session.remove()


def staff_accounts(app) -> None:
    """Anna and Bo work at Arvika, Eva at Eda."""
    assert create(app, ANNA).exit_code == 0
    assert create(app, BO).exit_code == 0
    assert create(app, EVA, tenant="eda").exit_code == 0


@pytest.fixture
def staff(app):
    staff_accounts(app)


@pytest.fixture
def anna(app, staff) -> dict:
    """Headers with a token of Anna's at Arvika."""
    return bearer(token_of(app, ANNA))


# -- tokens --------------------------------------------------------------------------------


def test_the_cli_makes_a_token_shown_once_and_stores_only_its_digest(app, staff):
    result = make_token(app, ANNA, label="Diariet")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"sv_[A-Za-z0-9_-]{43}", secret)
    [(label, digest, owner)] = execute(app, "SELECT label, token_hash, user_id FROM api_tokens")
    assert (label, owner) == ("Diariet", user_id(app, ANNA))
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    [(actor, detail)] = execute(
        app, "SELECT actor, detail FROM audit_log WHERE action = 'token.created'"
    )
    assert actor == "cli" and secret not in str(detail)
    assert token_of(app, ANNA) != secret  # each one new


def test_the_cli_refuses_a_token_where_the_user_does_not_work(app, staff):
    elsewhere = make_token(app, EVA, tenant="arvika")
    assert elsewhere.exit_code != 0 and "arbetar inte hos" in elsewhere.output
    unknown = make_token(app, "ingen@arvika.example")
    assert unknown.exit_code != 0 and "no active account" in unknown.output
    nowhere = make_token(app, ANNA, tenant="gotland")
    assert nowhere.exit_code != 0 and "no member 'gotland'" in nowhere.output
    too_long = make_token(app, ANNA, label="x" * 81)
    assert too_long.exit_code != 0 and "--label" in too_long.output
    assert count_all(app, "api_tokens") == 0


def test_without_a_token_the_api_answers_401_and_asks_for_one(client, read_csrf, staff):
    reference = submit(client)["reference"]
    for response in (
        client.get(cases_url()),
        client.get(f"{cases_url()}/{reference}"),
        client.post(f"{cases_url()}/{reference}/transitions", json={"status": "closed"}),
        client.get(cases_url(), headers={"Authorization": "Basic YW5uYTpodW5kMg=="}),
        client.get(cases_url(), headers={"Authorization": "Bearer "}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["message"].startswith("Skicka din API-nyckel")
    # A signed-in browser session is not a token: a forged cross-site call gets nowhere.
    assert sign_in(client, read_csrf, ANNA).status_code == 303
    assert client.get(cases_url()).status_code == 401


def test_a_token_answers_only_at_its_own_member_and_others_learn_nothing(app, client, staff):
    reference = submit(client, answers=WITH_REPLY)["reference"]
    submit(client, member="eda")
    eva = bearer(token_of(app, EVA, tenant="eda"))
    anna = bearer(token_of(app, ANNA))
    unknown_case = client.get(f"{cases_url()}/ARV-2020-000999", headers=anna)
    assert unknown_case.status_code == 404
    before = {t: count_all(app, t) for t in ("case_events", "audit_log", "outbox_messages")}

    attempts = (
        client.get(cases_url(), headers=eva),
        client.get(f"{cases_url()}?status=received", headers=eva),
        client.get(f"{cases_url()}/{reference}", headers=eva),
        client.post(
            f"{cases_url()}/{reference}/transitions",
            json={"status": "closed", "message": "Stängt av Eda"},
            headers=eva,
        ),
    )
    for response in attempts:
        assert response.status_code == 404
        assert response.get_json() == unknown_case.get_json()  # the same as a missing case
    assert {t: count_all(app, t) for t in before} == before
    assert execute(app, "SELECT status FROM cases WHERE reference = :r", r=reference) == [
        ("received",)
    ]
    # The same token does work where it was made, and Anna's works at Arvika.
    assert len(client.get(cases_url("eda"), headers=eva).get_json()["cases"]) == 1
    assert client.get(f"{cases_url()}/{reference}", headers=anna).status_code == 200


def test_a_token_made_at_one_member_does_not_work_at_another_of_the_users(app, client, staff):
    assert create(app, ANNA, tenant="eda").exit_code == 0  # Anna works at Eda too
    submit(client)
    at_eda = bearer(token_of(app, ANNA, tenant="eda"))
    assert client.get(cases_url(), headers=at_eda).status_code == 404
    assert client.get(cases_url("eda"), headers=at_eda).status_code == 200


def test_a_revoked_token_a_deactivated_user_or_a_removed_membership_gets_404(app, client, staff):
    submit(client)
    revoked, deactivated, removed = (token_of(app, email) for email in (ANNA, BO, ANNA))
    for secret in (revoked, deactivated, removed):
        assert client.get(cases_url(), headers=bearer(secret)).status_code == 200

    anna_id, bo_id = user_id(app, ANNA), user_id(app, BO)
    [(revoked_id,)] = execute(
        app, "SELECT id FROM api_tokens WHERE token_hash = :h", h=tokens.digest(revoked)
    )

    def revoke(session):
        assert tokens.revoke(session, revoked_id, session.get(User, anna_id)) is not None

    as_member(app, "arvika", revoke)
    assert client.get(cases_url(), headers=bearer(revoked)).status_code == 404
    assert client.get(cases_url(), headers=bearer(removed)).status_code == 200

    execute(app, "UPDATE users SET active = :no WHERE id = :id", no=False, id=bo_id)
    assert client.get(cases_url(), headers=bearer(deactivated)).status_code == 404

    def remove_anna(session):
        assert tokens.delete_for_membership(session, tenant_id("arvika"), anna_id) == 2
        session.execute(sa.text("DELETE FROM memberships WHERE user_id = :id"), {"id": anna_id})

    as_member(app, "arvika", remove_anna)
    assert client.get(cases_url(), headers=bearer(removed)).status_code == 404
    for nonsense in ("sv_" + "A" * 43, "ghp_abc", "sv_" + "ä" * 20, "sv_" + "x" * 200):
        assert client.get(cases_url(), headers=bearer(nonsense)).status_code == 404


def test_using_a_token_records_when_it_was_last_used(app, client, anna):
    assert execute(app, "SELECT last_used_at FROM api_tokens") == [(None,)]
    assert client.get(cases_url(), headers=anna).status_code == 200
    [(used,)] = execute(app, "SELECT last_used_at FROM api_tokens")
    assert used is not None


# -- the token page ------------------------------------------------------------------------


def test_a_case_worker_makes_a_token_on_the_page_sees_it_once_and_revokes_it(
    app, client, read_csrf, staff
):
    assert client.get("/arvika/staff/api-nycklar").status_code == 302  # not signed in
    assert sign_in(client, read_csrf, ANNA).status_code == 303
    page = client.get("/arvika/staff/api-nycklar")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Du har inga API-nycklar här." in page.text

    empty = client.post(
        "/arvika/staff/api-nycklar", data={"csrf_token": read_csrf(page.text), "label": ""}
    )
    assert empty.status_code == 422
    assert 'class="error-summary"' in empty.text and 'href="#label"' in empty.text
    assert 'aria-describedby="label-hint label-error"' in empty.text

    made = client.post(
        "/arvika/staff/api-nycklar", data={"csrf_token": read_csrf(page.text), "label": "Diariet"}
    )
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(sv_[A-Za-z0-9_-]+)"', made.text).group(1)
    assert client.get(cases_url(), headers=bearer(secret)).status_code == 200

    again = client.get("/arvika/staff/api-nycklar")
    assert secret not in again.text and "Diariet" in again.text
    [(token_id,)] = execute(app, "SELECT id FROM api_tokens")
    revoke_url = f"/arvika/staff/api-nycklar/{token_id}/aterkalla"
    assert revoke_url in again.text
    gone = client.post(revoke_url, data={"csrf_token": read_csrf(again.text)})
    assert gone.status_code == 303
    assert client.get(cases_url(), headers=bearer(secret)).status_code == 404
    assert "Återkallad" in client.get("/arvika/staff/api-nycklar").text
    actions = [
        row[0]
        for row in execute(
            app, "SELECT action FROM audit_log WHERE action <> 'staff.role_granted' ORDER BY id"
        )
    ]
    assert actions == ["token.created", "token.revoked"]


def test_nobody_revokes_someone_elses_token(app, client, read_csrf, staff):
    bo = token_of(app, BO)
    [(token_id,)] = execute(app, "SELECT id FROM api_tokens")
    assert sign_in(client, read_csrf, ANNA).status_code == 303
    page = client.get("/arvika/staff/api-nycklar")
    refused = client.post(
        f"/arvika/staff/api-nycklar/{token_id}/aterkalla",
        data={"csrf_token": read_csrf(page.text)},
    )
    assert refused.status_code == 403
    assert "bara återkalla dina egna" in refused.text
    assert "Diariet" not in page.text  # Bo's token is not on Anna's page
    missing = client.post(
        f"/arvika/staff/api-nycklar/{token_id + 100}/aterkalla",
        data={"csrf_token": read_csrf(page.text)},
    )
    assert missing.status_code == 404
    assert client.get(cases_url(), headers=bearer(bo)).status_code == 200


def test_the_token_page_in_english_for_staff_who_chose_english(app, client, read_csrf, staff):
    bo = token_of(app, BO)
    [(bos_token,)] = execute(app, "SELECT id FROM api_tokens")
    client.get("/sprak/en?next=/arvika/staff/logga-in")
    assert sign_in(client, read_csrf, ANNA).status_code == 303
    page = client.get("/arvika/staff/api-nycklar")
    assert "<h1>API keys</h1>" in page.text and "You have no API keys here." in page.text
    assert "Send it in the header <code>Authorization: Bearer &lt;key&gt;</code> to <code>" in (
        page.text
    )
    empty = client.post(
        "/arvika/staff/api-nycklar", data={"csrf_token": read_csrf(page.text), "label": ""}
    )
    assert empty.status_code == 422
    assert "Write a name, for example" in empty.text and "Benämning" not in empty.text
    made = client.post(
        "/arvika/staff/api-nycklar",
        data={"csrf_token": read_csrf(page.text), "label": "Registry"},
    )
    assert "Your new API key" in made.text and "Never" in made.text
    refused = client.post(
        f"/arvika/staff/api-nycklar/{bos_token}/aterkalla",
        data={"csrf_token": read_csrf(page.text)},
    )
    assert refused.status_code == 403 and "You can only revoke your own API keys." in refused.text
    assert client.get(cases_url(), headers=bearer(bo)).status_code == 200
    # The CLI keeps the Swedish words, from the same schema.
    with pytest.raises(ValidationError, match="Skriv en benämning, till exempel"):
        tokens.NewTokenSchema().load({"label": ""})


# -- the inbox -----------------------------------------------------------------------------


def test_the_list_pages_newest_first_with_a_cursor_and_no_gaps(client, anna):
    made = [submit(client)["reference"] for _ in range(23)]
    submit(client, member="eda")
    seen, url, pages = [], cases_url() + "?limit=10", 0
    while url:
        response = client.get(url, headers=anna)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_json()
        seen += [case["reference"] for case in body["cases"]]
        pages += 1
        url = body["next_cursor"] and f"{cases_url()}?limit=10&cursor={body['next_cursor']}"
    assert seen == list(reversed(made)) and pages == 3  # none twice, none missing, no Eda


def test_a_listed_case_has_its_status_service_and_assignee(app, client, anna):
    reference = submit(client)["reference"]
    anna_id = user_id(app, ANNA)

    def assign(session):
        case = queries.find_by_reference(session, reference)
        operations.assign(session, case, anna_id, by=session.get(User, anna_id))

    as_member(app, "arvika", assign)
    [listed] = client.get(cases_url(), headers=anna).get_json()["cases"]
    assert listed["reference"] == reference
    assert listed["service"] == "synpunkter"
    assert (listed["status"], listed["status_label"]) == ("received", "Mottaget")
    assert listed["assigned_to"] == {"id": anna_id, "name": "Anna Handläggare"}
    assert listed["submitted_at"].endswith("+00:00")


def test_the_list_filters_by_status_service_date_and_assignee(app, client, anna):
    question = submit(client)["reference"]
    fault = submit(client, service="felanmalan", answers=FELANMALAN)["reference"]
    moved = client.post(
        f"{cases_url()}/{question}/transitions", json={"status": "in_progress"}, headers=anna
    )
    assert moved.status_code == 200
    anna_id = user_id(app, ANNA)

    def assign(session):
        case = queries.find_by_reference(session, question)
        operations.assign(session, case, anna_id, by=session.get(User, anna_id))

    as_member(app, "arvika", assign)

    def listed(query: str) -> list[str]:
        response = client.get(f"{cases_url()}?{query}", headers=anna)
        assert response.status_code == 200, response.get_json()
        return [case["reference"] for case in response.get_json()["cases"]]

    assert listed("status=in_progress") == [question]
    assert listed("status=received") == [fault]
    assert listed("service=felanmalan") == [fault]
    # An e-service the member never had is a typo, not an empty list.
    typo = client.get(f"{cases_url()}?service=synpunktr", headers=anna)
    assert typo.status_code == 422
    assert typo.get_json()["errors"] == {"service": ["Okänd e-tjänst: välj en av dem i listan."]}
    assert listed("assigned=me") == [question]
    assert listed("assigned=nobody") == [fault]
    assert listed("submitted_to=2020-01-01") == []
    assert listed("submitted_from=2020-01-01") == [fault, question]
    assert listed("status=in_progress&service=felanmalan") == []
    assert listed("status=&service=") == [fault, question]  # empty means no filter


def test_bad_filters_are_explained_per_name(client, anna):
    response = client.get(
        f"{cases_url()}?status=borta&submitted_from=igår&cursor=xyz&limit=0&stauts=closed",
        headers=anna,
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Några filter behöver rättas."
    errors = body["errors"]
    assert set(errors) == {"status", "submitted_from", "cursor", "limit", "stauts"}
    assert errors["status"] == ["Okänd status: välj en i listan."]
    assert errors["submitted_from"] == ["Skriv datumet som ÅÅÅÅ-MM-DD."]
    assert errors["cursor"] == ["Ogiltig sidmarkör: börja om från första sidan."]
    assert errors["stauts"][0].startswith("Okänd parameter")
    backwards = client.get(
        f"{cases_url()}?submitted_from=2026-05-02&submitted_to=2026-05-01", headers=anna
    )
    assert backwards.get_json()["errors"] == {
        "submitted_to": ["Slutdatumet ligger före startdatumet."]
    }
    far = client.get(f"{cases_url()}?submitted_to=9999-12-31", headers=anna)
    assert far.status_code == 422
    assert far.get_json()["errors"] == {
        "submitted_to": ["Välj ett datum mellan 2000-01-01 och 2100-12-31."]
    }


# -- a case ----------------------------------------------------------------------------------


def test_a_case_shows_the_answers_as_given_attachments_and_the_whole_history(app, client, anna):
    answers = {**FELANMALAN, "photo": as_upload("lampan.png", tiny_png())}
    reference = submit(client, service="felanmalan", answers=answers)["reference"]
    anna_id = user_id(app, ANNA)

    def note(session):
        case = queries.find_by_reference(session, reference)
        operations.add_note(session, case, "Ring gatuenheten.", by=session.get(User, anna_id))

    as_member(app, "arvika", note)
    response = client.get(f"{cases_url()}/{reference}", headers=anna)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    case = response.get_json()
    assert case["reference"] == reference and case["service"] == "felanmalan"
    assert case["status"] == "received" and case["channel"] == "api"
    for name, value in FELANMALAN.items():
        assert case["answers"][name] == value
    photo = case["answers"]["photo"]
    [attachment] = case["attachments"]
    assert photo == {
        "attachment_id": attachment["id"],
        "filename": "lampan.png",
        "content_type": "image/png",
        "size": len(tiny_png()),
        "sha256": hashlib.sha256(tiny_png()).hexdigest(),
    }
    assert attachment["field"] == "photo" and "storage_name" not in str(case)
    rows = {row["name"]: row["value"] for step in case["summary"] for row in step["rows"]}
    assert rows["description"] == "Gatlampan lyser inte."
    kinds = [(e["kind"], e["visible_to_citizen"], e["message"]) for e in case["history"]]
    assert kinds[-1] == ("note", False, "Ring gatuenheten.")  # internal notes too, for staff
    assert case["history"][-1]["author"] == {"id": anna_id, "name": "Anna Handläggare"}
    assert [s["status"] for s in case["allowed_next"]] == [
        "in_progress",
        "waiting_for_citizen",
        "decided",
        "closed",
    ]
    [(actor, detail)] = execute(
        app, "SELECT actor, detail FROM audit_log WHERE action = 'case.viewed'"
    )
    assert actor == ANNA  # the token's user, not "system"
    assert client.get(f"{cases_url()}/ARV-2020-000001", headers=anna).status_code == 404


def test_a_records_system_takes_a_cases_files_through_the_api(app, client, staff):
    """The case listed its files' names and checksums, but an integration could not fetch
    them: only a person on the case page could."""
    answers = {**FELANMALAN, "photo": as_upload("lampan.png", tiny_png())}
    reference = submit(client, service="felanmalan", answers=answers)["reference"]
    anna = bearer(token_of(app, ANNA))
    [listed] = client.get(f"{cases_url()}/{reference}", headers=anna).get_json()["attachments"]
    url = f"{cases_url()}/{reference}/attachments/{listed['id']}"
    response = client.get(url, headers=anna)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "lampan.png" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert hashlib.sha256(response.data).hexdigest() == listed["sha256"]
    response.close()
    [(actor, detail)] = execute(
        app, "SELECT actor, detail FROM audit_log WHERE action = 'attachment.downloaded'"
    )
    detail = detail if isinstance(detail, dict) else json.loads(detail)
    assert actor == ANNA and detail["via"] == "api" and detail["attachment"] == listed["id"]
    # Another member's token, another case, no token, an id the case has not: all 404/401.
    eva = bearer(token_of(app, EVA, tenant="eda"))
    other = submit(client)["reference"]
    assert client.get(url, headers=eva).status_code == 404
    assert client.get(url.replace("/arvika/", "/eda/"), headers=eva).status_code == 404
    moved = f"{cases_url()}/{other}/attachments/{listed['id']}"
    assert client.get(moved, headers=anna).status_code == 404
    assert client.get(url + "0", headers=anna).status_code == 404
    assert client.get(url).status_code == 401
    assert len(execute(app, "SELECT id FROM audit_log WHERE action = 'attachment.downloaded'")) == 1


# -- moving a case on ------------------------------------------------------------------------


def test_a_transition_with_a_message_reaches_the_citizens_status_page_and_inbox(app, client, anna):
    created = submit(client, answers=WITH_REPLY)
    reference, status_token = created["reference"], created["status_url"].rsplit("/", 1)[1]
    mails = count_all(app, "outbox_messages")
    response = client.post(
        f"{cases_url()}/{reference}/transitions",
        json={"status": "waiting_for_citizen", "message": "Skicka en bild på platsen."},
        headers=anna,
    )
    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["status"] == "waiting_for_citizen"
    assert case["history"][-1]["message"] == "Skicka en bild på platsen."
    assert case["history"][-1]["visible_to_citizen"] is True
    assert [s["status"] for s in case["allowed_next"]] == ["in_progress", "decided", "closed"]
    assert case["status_label"] == "Väntar på komplettering"  # the case worker's words
    status_page = client.get(f"/arvika/arende/{status_token}")
    assert "Skicka en bild på platsen." in status_page.text
    assert "Väntar på komplettering från dig" in status_page.text  # the citizen's
    assert count_all(app, "outbox_messages") == mails + 1  # WITH_REPLY left an address
    [(actor, detail)] = execute(
        app, "SELECT actor, detail FROM audit_log WHERE action = 'case.transitioned'"
    )
    assert actor == ANNA and detail in (
        {"from": "received", "to": "waiting_for_citizen", "message_sent": True},
        '{"from": "received", "to": "waiting_for_citizen", "message_sent": true}',
    )


def history_rows(app) -> int:
    return count_all(app, "case_events")


def test_a_transition_the_workflow_refuses_gets_422_and_changes_nothing(app, client, anna):
    reference = submit(client)["reference"]
    url = f"{cases_url()}/{reference}/transitions"
    before = history_rows(app)

    def refused(body=None, **kwargs) -> dict:
        response = client.post(url, json=body, headers=anna, **kwargs)
        assert response.status_code == 422, response.get_json()
        return response.get_json()["errors"]

    assert "message" in refused({"status": "waiting_for_citizen"})
    assert "message" in refused({"status": "waiting_for_citizen", "message": "   "})
    assert refused({"status": "borta"})["status"][0].startswith("Okänd status")
    assert refused({})["status"] == ["Ange den nya statusen."]
    assert refused({"status": None})["status"] == ["Ange den nya statusen."]
    assert refused({"status": 3})["status"] == ["Statusen ska vara text."]
    assert refused({"status": "closed", "message": "x" * 5001})["message"] == [
        "Meddelandet får vara högst 5000 tecken."
    ]
    assert refused({"status": "closed", "assignee": 1})["assignee"] == [
        "Okänt fält: skicka bara status och message."
    ]
    # Its own status is a message without a move: only with the message.
    assert refused({"status": "received"})["message"] == [
        "Skriv meddelandet till den sökande, eller välj en ny status."
    ]
    assert history_rows(app) == before

    not_json = client.post(url, data="status=closed", headers=anna)
    assert not_json.status_code == 415
    broken = client.post(url, data="{", content_type="application/json", headers=anna)
    assert broken.status_code == 400 and "inte giltig JSON" in broken.get_json()["message"]
    listed = client.post(url, json=["closed"], headers=anna)
    assert listed.status_code == 400
    assert history_rows(app) == before

    assert client.post(url, json={"status": "closed"}, headers=anna).status_code == 200
    closed = refused({"status": "in_progress"})["status"][0]
    assert closed.endswith("det är avslutat.")
    assert history_rows(app) == before + 1
    assert execute(app, "SELECT status FROM cases") == [("closed",)]


def test_an_administrator_sees_and_revokes_a_colleagues_token(app, client, read_csrf, staff):
    assert create(app, "admin@arvika.example", role="tenant_admin").exit_code == 0
    bo = token_of(app, BO)
    token_of(app, EVA, tenant="eda")  # Eda's: never on Arvika's page
    [(token_id,)] = execute(
        app, "SELECT id FROM api_tokens WHERE token_hash = :h", h=tokens.digest(bo)
    )
    assert sign_in(client, read_csrf, "admin@arvika.example").status_code == 303
    page = client.get("/arvika/staff/api-nycklar")
    assert "Kollegornas nycklar" in page.text
    assert page.text.count("/aterkalla") == 1  # Bo's, not Eva's at Eda
    gone = client.post(
        f"/arvika/staff/api-nycklar/{token_id}/aterkalla",
        data={"csrf_token": read_csrf(page.text)},
    )
    assert gone.status_code == 303
    assert client.get(cases_url(), headers=bearer(bo)).status_code == 404
    [(actor, detail)] = execute(
        app, "SELECT actor, detail FROM audit_log WHERE action = 'token.revoked'"
    )
    assert actor == "admin@arvika.example" and BO in str(detail)


# -- reads that write, at once -------------------------------------------------------------


def test_reading_cases_while_others_read_and_submit_never_fails(app, anna):
    """Each read of a case writes its audit entry: on SQLite such a read takes the write
    lock up front, or two at once fail with 'database is locked' (a 503)."""
    import threading

    reference = submit(app.test_client())["reference"]
    codes: list[int] = []

    def read():
        client = app.test_client()
        for _ in range(10):
            codes.append(client.get(f"{cases_url()}/{reference}", headers=anna).status_code)

    def send():
        client = app.test_client()
        for _ in range(5):
            codes.append(submit(client) and 201)

    threads = [threading.Thread(target=read) for _ in range(3)] + [threading.Thread(target=send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(codes)) == [200, 201] and len(codes) == 35


def test_every_page_said_to_write_when_read_exists(app):
    from samverkan.tenancy.resolve import WRITES_WHEN_READ, WRITES_WHEN_READ_BLUEPRINTS

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints >= WRITES_WHEN_READ
    assert set(app.blueprints) >= WRITES_WHEN_READ_BLUEPRINTS


@pytest.mark.parametrize(
    "position",
    [
        ["0001-01-01T00:00:00+05:00", 1],
        ["2026-12-05T00:00:00+00:00", 9223372036854775808],
        ["2026-12-05T00:00:00+00:00", 2147483648],
        ["2026-12-05T00:00:00+00:00", -1],
    ],
)
def test_a_forged_cursor_is_refused_on_its_field_not_a_500(client, anna, position):
    import base64
    import json

    cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
    response = client.get(f"{cases_url()}?cursor={cursor}", headers=anna)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "cursor": ["Ogiltig sidmarkör: börja om från första sidan."]
    }


@pytest.mark.parametrize("message", ["a\u0000b", "a\u001b[31mb"])
def test_a_message_with_control_characters_is_refused_on_its_field(client, anna, message):
    """A NUL is no text to PostgreSQL (it was a 500 there); an escape sequence would go to
    the citizen's page and e-mail."""
    reference = submit(client)["reference"]
    response = client.post(
        f"{cases_url()}/{reference}/transitions",
        json={"status": "in_progress", "message": message},
        headers=anna,
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"message": ["Texten innehåller otillåtna tecken."]}


@pytest.mark.parametrize("limit", ["abc", "1.5"])
def test_a_page_size_that_is_no_number_is_explained_in_swedish(client, anna, limit):
    response = client.get(f"{cases_url()}?limit={limit}", headers=anna)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"limit": ["Välj mellan 1 och 100 per sida."]}


def test_a_filter_date_is_taken_only_as_written_yyyy_mm_dd(client, anna):
    response = client.get(f"{cases_url()}?submitted_to=20261205", headers=anna)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"submitted_to": ["Skriv datumet som ÅÅÅÅ-MM-DD."]}
