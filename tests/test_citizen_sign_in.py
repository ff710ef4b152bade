"""Citizens' e-ID sign-in over OpenID Connect against the development provider, and the
pages that need it: Mina ärenden, e-services that require sign-in, signing out."""

import base64
import logging
import re
import zlib
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from conftest import csrf_token
from identity_support import (
    PNR_CLAIM,
    SAM,
    TOLVAN,
    approve_at_provider,
    local,
    register_person,
    sign_in,
)
from test_languages import html_lang

from samverkan import create_app
from samverkan.audit.models import AuditEntry
from samverkan.cases.models import Case
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.identity.models import CitizenSession


def session_payload(client) -> str:
    """What the browser's session cookie says, decoded (it is signed, not encrypted)."""
    cookie = client.get_cookie("session")
    if cookie is None:
        return ""
    compressed = cookie.value.startswith(".")
    data = cookie.value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def sessions(app) -> list[CitizenSession]:
    with app.app_context(), maintenance_session() as session:
        return session.scalars(sa.select(CitizenSession)).all()


def cases(app) -> list[Case]:
    with app.app_context(), maintenance_session() as session:
        return session.scalars(sa.select(Case).order_by(Case.id)).all()


def post_page(client, path: str, data: dict):
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code, page.text[:300])
    return client.post(path, data={"csrf_token": csrf_token(page.text), **data})


def send_felanmalan(client, member: str) -> str:
    """Report a fault in `member` as whoever `client` is; returns the receipt's path."""
    base = f"/{member}/e/felanmalan"
    first = post_page(
        client,
        f"{base}/steg/fel",
        {"kind": "gata", "description": "Ett djupt hål i asfalten.", "location": "Storgatan 1"},
    )
    assert first.status_code == 303, first.text[:2000]
    second = post_page(client, first.headers["Location"], {"want_contact": "no"})
    assert second.status_code == 303, second.text[:2000]
    check = client.get(second.headers["Location"])
    assert check.status_code == 200
    sent = client.post(base, data={"csrf_token": csrf_token(check.text)})
    assert sent.status_code == 303, sent.text[:500]
    return sent.headers["Location"]


def send_registerutdrag(client, member: str, *, tampered_pnr: str | None = None) -> str:
    base = f"/{member}/e/registerutdrag"
    mine = {"personnummer": tampered_pnr} if tampered_pnr else {}
    first = post_page(client, f"{base}/steg/du", mine)
    assert first.status_code == 303, first.text[:2000]
    second = post_page(client, first.headers["Location"], {"areas": ["alla"]})
    assert second.status_code == 303, second.text[:2000]
    third = post_page(client, second.headers["Location"], {"delivery": "post"})
    assert third.status_code == 303, third.text[:2000]
    check = client.get(third.headers["Location"])
    assert check.status_code == 200
    sent = client.post(base, data={"csrf_token": csrf_token(check.text)})
    assert sent.status_code == 303, sent.text[:500]
    return sent.headers["Location"]


def test_a_citizen_signs_in_and_sees_mina_arenden(app, client, e_id_provider, caplog):
    caplog.set_level(logging.INFO)
    done = sign_in(client, e_id_provider, "tolvan", TOLVAN)
    assert done.headers["Location"].endswith("/mina-arenden")
    page = client.get("/mina-arenden")
    assert page.status_code == 200
    assert "Tolvan Tolvansson" in page.text
    assert "Du har inga ärenden här ännu" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    # The personnummer stays on the server: not in the cookie, our log or any address.
    assert "121212" not in session_payload(client)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("samverkan")]
    assert ours and not [line for line in ours if "121212" in line]
    assert [(row.identifier_kind, row.identifier) for row in sessions(app)] == [
        ("personnummer", "19121212-1212")
    ]


def test_mina_arenden_sends_someone_not_signed_in_to_sign_in_first(client):
    page = client.get("/mina-arenden")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/logga-in?next=/mina-arenden")


def test_sign_in_goes_to_the_provider_with_pkce_state_and_nonce(client):
    start = client.get("/logga-in", query_string={"next": "/kil/"})
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0] and query["state"][0] and query["nonce"][0]
    assert query["client_id"] == ["samverkan-test"]


def test_a_callback_with_another_state_signs_nobody_in(app, client, e_id_provider):
    register_person(e_id_provider, "tolvan", TOLVAN)
    start = client.get("/logga-in")
    back = approve_at_provider(start.headers["Location"], "tolvan")
    forged = local(back).replace("state=", "state=x")
    refused = client.get(forged)
    assert refused.status_code == 400
    assert "Inloggningen gick inte att slutföra" in refused.text
    assert sessions(app) == []


def test_a_code_used_twice_signs_in_once(app, client, e_id_provider):
    register_person(e_id_provider, "tolvan", TOLVAN)
    start = client.get("/logga-in")
    back = local(approve_at_provider(start.headers["Location"], "tolvan"))
    assert client.get(back).status_code == 303
    other = app.test_client()  # someone who saw the address replays it
    assert other.get(back).status_code == 400
    assert len(sessions(app)) == 1


def test_cancelling_at_the_provider_says_so(app, client, e_id_provider):
    start = client.get("/logga-in", query_string={"next": "/kil/"})
    back = approve_at_provider(start.headers["Location"], "", deny=True)
    answer = client.get(local(back))
    assert answer.status_code == 303 and answer.headers["Location"] == "/logga-in/avbruten"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200
    assert "Inloggningen avbröts" in page.text
    assert sessions(app) == []
    # Its language switch comes back to it (the provider's redirect answers only once).
    switched = client.get("/sprak/en", query_string={"next": "/logga-in/avbruten"})
    english = client.get(switched.headers["Location"])
    assert english.status_code == 200 and html_lang(english) == "en"
    assert "/sprak/sv?next=/logga-in/avbruten" in english.text


def test_an_invalid_personnummer_from_the_provider_is_refused(app, client, e_id_provider):
    register_person(e_id_provider, "trasig", {**TOLVAN, PNR_CLAIM: "191212121213"})
    start = client.get("/logga-in")
    page = client.get(local(approve_at_provider(start.headers["Location"], "trasig")))
    assert page.status_code == 400
    assert "Din e-legitimation talade inte om vem du är" in page.text
    assert sessions(app) == []


def test_a_foreign_e_id_user_is_known_by_the_providers_identifier(app, client, e_id_provider):
    sign_in(client, e_id_provider, "eidas-DE-4711", {"name": "Erika Mustermann"})
    assert [(row.identifier_kind, row.identifier) for row in sessions(app)] == [
        ("foreign", "eidas-DE-4711")
    ]
    assert client.get("/mina-arenden").status_code == 200
    # An e-service that takes the personnummer from the e-ID cannot be used with one that
    # has none: a number typed in would look like one the e-ID vouched for.
    page = client.get("/kil/e/registerutdrag/steg/du")
    assert page.status_code == 403
    assert "behöver ditt svenska personnummer från e-legitimationen" in page.text
    assert client.post("/kil/e/registerutdrag", data={}).status_code in (400, 403)
    # Other e-services work as for anyone, and the case is theirs.
    send_felanmalan(client, "kil")
    assert cases(app)[0].person_key == sessions(app)[0].person_key


def test_the_next_address_after_sign_in_is_always_on_this_site(client, e_id_provider):
    done = sign_in(client, e_id_provider, "tolvan", TOLVAN, next_path="https://evil.example/")
    assert urlsplit(done.headers["Location"]).netloc in ("", "localhost")


def test_an_e_service_that_needs_e_id_sends_to_sign_in_and_prefills(app, client, e_id_provider):
    start = client.get("/kil/e/registerutdrag")
    assert "Logga in och starta e-tjänsten" in start.text
    step = client.get("/kil/e/registerutdrag/steg/du")
    assert step.status_code == 303
    assert step.headers["Location"].endswith("/logga-in?next=/kil/e/registerutdrag/steg/du")
    done = sign_in(
        client, e_id_provider, "tolvan", TOLVAN, next_path="/kil/e/registerutdrag/steg/du"
    )
    assert done.headers["Location"].endswith("/kil/e/registerutdrag/steg/du")
    page = client.get("/kil/e/registerutdrag/steg/du")
    assert 'value="19121212-1212" readonly' in page.text
    assert 'value="Tolvan Tolvansson" maxlength="200" readonly' in page.text
    assert "Från din e-legitimation" in page.text
    # How to type a number is no help in a field that cannot be typed in.
    assert re.search(r'id="f-personnummer"[^>]*aria-describedby="f-personnummer-eid"', page.text)
    assert 'id="f-personnummer-hint"' not in page.text
    # A browser that sends another personnummer does not get it into the case.
    receipt = send_registerutdrag(client, "kil", tampered_pnr="197010632391")
    assert receipt.endswith("/kvitto")
    (case,) = cases(app)
    assert case.answers["personnummer"] == "19121212-1212"
    assert case.answers["name"] == "Tolvan Tolvansson"
    assert case.person_key == sessions(app)[0].person_key


def test_the_api_refuses_an_e_service_that_needs_e_id(client):
    response = client.post(
        "/api/v1/tenants/kil/services/registerutdrag/submissions",
        json={"personnummer": "19121212-1212", "name": "Tolvan", "areas": ["alla"]},
    )
    assert response.status_code == 403
    assert "e-legitimation" in response.get_json()["message"]


def test_mina_arenden_lists_own_cases_in_every_member_and_nobody_elses(app, e_id_provider):
    tolvan, sam = app.test_client(), app.test_client()
    sign_in(tolvan, e_id_provider, "tolvan", TOLVAN)
    sign_in(sam, e_id_provider, "sam", SAM)
    send_felanmalan(tolvan, "kil")
    send_registerutdrag(tolvan, "arvika")
    send_felanmalan(sam, "kil")
    anonymous = app.test_client()
    send_felanmalan(anonymous, "kil")

    kil_1, arvika_1, kil_2, kil_3 = cases(app)
    assert (kil_1.reference, arvika_1.reference) == (kil_1.reference, arvika_1.reference)
    assert kil_3.person_key is None  # sent without signing in: in nobody's Mina ärenden

    page = tolvan.get("/mina-arenden").text
    assert kil_1.reference in page and arvika_1.reference in page
    assert kil_2.reference not in page and kil_3.reference not in page
    assert "Kils kommun" in page and "Arvika kommun" in page
    assert "Begäran om registerutdrag" in page and "Mottaget" in page
    # Each line opens the case's status page at its member.
    assert f"/arvika/arende/{arvika_1.status_token}" in page
    other = sam.get("/mina-arenden").text
    assert kil_2.reference in other
    assert kil_1.reference not in other and arvika_1.reference not in other

    # Each member whose cases were shown has it in its own audit log.
    with app.app_context(), maintenance_session() as session:
        logged = session.execute(
            sa.select(AuditEntry.tenant_id, AuditEntry.detail, AuditEntry.actor).where(
                AuditEntry.action == "citizen.own_cases"
            )
        ).all()
        # Nothing of the person key (which links cases to a personnummer) is kept in the
        # append-only log: the entry names the sign-in, whose row is deleted when it ends.
        keys = set(session.scalars(sa.select(Case.person_key).where(Case.person_key.is_not(None))))
        refs = set(
            session.scalars(
                sa.select(AuditEntry.object_ref).where(AuditEntry.action == "citizen.own_cases")
            )
        )
        assert keys and not any(key[:8] in ref for key in keys for ref in refs)
        assert {
            object_type
            for object_type in session.scalars(
                sa.select(AuditEntry.object_type).where(AuditEntry.action == "citizen.own_cases")
            )
        } == {"sign_in"}
    shown = sorted(ref for _, detail, _ in logged for ref in detail["cases"])
    assert shown == sorted([kil_1.reference, arvika_1.reference, kil_2.reference])
    assert {actor for *_, actor in logged} == {"den sökande (e-legitimation)"}
    assert {tenant_id for tenant_id, *_ in logged} == {kil_1.tenant_id, arvika_1.tenant_id}


def test_the_person_who_sent_a_case_sees_its_answers_from_any_browser(app, e_id_provider):
    first = app.test_client()
    sign_in(first, e_id_provider, "tolvan", TOLVAN)
    receipt = send_felanmalan(first, "kil")
    again = app.test_client()  # another browser, signed in as the same person
    sign_in(again, e_id_provider, "tolvan", TOLVAN)
    assert "Ett djupt hål i asfalten." in again.get(receipt).text
    # From Mina ärenden: the status page, which leads to the answers for the sender only.
    status = receipt.removesuffix("/kvitto")
    assert f'href="{status}"' in again.get("/mina-arenden").text
    assert f'<a href="{receipt}">Se dina svar och kvittot</a>' in again.get(status).text
    stranger = app.test_client()
    sign_in(stranger, e_id_provider, "sam", SAM)
    assert "Ett djupt hål i asfalten." not in stranger.get(receipt).text
    assert "Se dina svar" not in stranger.get(status).text


def test_signing_out_ends_the_session_here_and_at_the_provider(app, client, e_id_provider):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    page = client.get("/mina-arenden")
    stolen = client.get_cookie("session").value
    out = client.post("/logga-ut", data={"csrf_token": csrf_token(page.text)})
    assert out.status_code == 302
    end = urlsplit(out.headers["Location"])
    assert f"{end.scheme}://{end.netloc}" == e_id_provider
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/utloggad"]
    assert query["client_id"] == ["samverkan-test"]
    # The ID token would carry the personnummer in the address: it is not sent.
    assert "id_token_hint" not in query and "121212" not in out.headers["Location"]
    assert sessions(app) == []
    # The old cookie, replayed, opens nothing: the session ended on the server.
    replay = app.test_client()
    replay.set_cookie("session", stolen, domain="localhost")
    assert replay.get("/mina-arenden").status_code == 302
    assert "Du är utloggad" in client.get("/utloggad").text


def test_sign_out_needs_the_forms_csrf_token(client, e_id_provider):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    assert client.post("/logga-ut").status_code == 400
    assert client.get("/mina-arenden").status_code == 200


def test_an_idle_session_expires(app, client, e_id_provider):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(CitizenSession).values(expires_at=sa.func.current_timestamp()))
        session.commit()
    assert client.get("/mina-arenden").status_code == 302


def test_before_an_idle_sign_in_ends_the_citizen_can_go_on(app, client, e_id_provider):
    """WCAG 2.2.1: their own pages carry how long the sign-in has left (samverkan.js warns
    two minutes before, tests/browser/test_pages.py), and "Fortsätt vara inloggad" starts
    the idle time again, by script (JSON) or by the form alone."""
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    page = client.get("/mina-arenden").text
    left = int(re.search(r'id="session-warning"[^>]*data-seconds-left="(\d+)"', page).group(1))
    assert 29 * 60 < left <= 30 * 60
    assert 'role="alertdialog"' in page and "Fortsätt vara inloggad" in page
    assert "session-warning" not in app.test_client().get("/arvika/").text  # nobody signed in
    with app.app_context(), maintenance_session() as session:
        ago = datetime.now(UTC) - timedelta(minutes=28)
        session.execute(
            sa.update(CitizenSession).values(
                last_seen_at=ago, expires_at=ago + timedelta(minutes=30)
            )
        )
        session.commit()
    page = client.get("/mina-arenden").text
    left = int(re.search(r'data-seconds-left="(\d+)"', page).group(1))
    assert left <= 120
    kept = client.post(
        "/fortsatt-inloggad",
        data={"csrf_token": csrf_token(page)},
        headers={"Accept": "application/json"},
    )
    assert kept.status_code == 200 and 29 * 60 < kept.get_json()["seconds_left"] <= 30 * 60
    plain = client.post(
        "/fortsatt-inloggad", data={"csrf_token": csrf_token(page), "next": "/mina-arenden"}
    )
    assert plain.status_code == 303 and plain.location == "/mina-arenden"
    elsewhere = client.post(
        "/fortsatt-inloggad", data={"csrf_token": csrf_token(page), "next": "https://evil.example/"}
    )
    assert urlsplit(elsewhere.location).netloc in ("", "localhost")
    stranger = app.test_client()
    token = csrf_token(stranger.get("/arvika/e/synpunkter/steg/synpunkt").text)
    gone = stranger.post(
        "/fortsatt-inloggad", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert gone.status_code == 401 and gone.get_json() == {"seconds_left": 0}


def test_ended_sign_ins_are_removed_with_the_expired_drafts(app, client, e_id_provider):
    """A sign-in's row holds a personnummer and a name; an ended one went only when
    someone signed in again, which may be never."""
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    other = app.test_client()
    sign_in(other, e_id_provider, "sam", SAM)
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(CitizenSession)
            .where(CitizenSession.name == TOLVAN["name"])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        session.commit()
    cli = app.test_cli_runner()
    dry = cli.invoke(args=["drafts", "expire", "--dry-run"])
    assert "e-ID sign-ins: would delete 1 that had ended" in dry.output
    assert len(sessions(app)) == 2
    done = cli.invoke(args=["drafts", "expire"])
    assert done.exit_code == 0 and "e-ID sign-ins: deleted 1 that had ended" in done.output
    assert [s.name for s in sessions(app)] == [SAM["name"]]


@contextmanager
def other_app(app, database_url, issuer: str):
    """A second app on the suite's database and instance folder (one instance folder per
    process: memo.py's change signal is the process's), with another e-ID provider; its
    connections are closed afterwards."""
    second = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "INSTANCE_PATH": app.instance_path,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CITIZEN_OIDC_ISSUER": issuer,
            "CITIZEN_OIDC_CLIENT_ID": "x",
        }
    )
    try:
        yield second
    finally:
        with second.app_context():
            db.engine.dispose()


def test_an_unreachable_provider_gives_a_clear_503(app, database_url):
    with other_app(app, database_url, "http://127.0.0.1:9") as lonely:  # nobody listens there
        page = lonely.test_client().get("/logga-in")
    assert page.status_code == 503
    assert "Inloggning med e-legitimation fungerar inte just nu" in page.text


def test_a_provider_whose_metadata_names_another_issuer_is_not_trusted(app, database_url):
    """OpenID Connect Discovery: the metadata must name the issuer it was fetched for, or
    a server could pass another provider's keys and endpoints off as its own."""
    import json
    import threading

    from werkzeug.serving import make_server

    def impostor(environ, start_response):
        body = json.dumps({"issuer": "https://another-provider.example", "jwks_uri": "x"})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    server = make_server("127.0.0.1", 0, impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with other_app(app, database_url, f"http://127.0.0.1:{server.server_port}") as trusting:
            page = trusting.test_client().get("/logga-in")
    finally:
        server.shutdown()
    assert page.status_code == 503
    assert "Inloggning med e-legitimation fungerar inte just nu" in page.text


def test_production_needs_a_person_key_secret_when_sign_in_is_on(monkeypatch, tmp_path):
    from samverkan.settings import load_settings

    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.delenv("PERSON_KEY_SECRET", raising=False)
    base = {"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(RuntimeError, match="PERSON_KEY_SECRET"):
        load_settings({**base, "CITIZEN_OIDC_ISSUER": "https://idp.example.se"})
    monkeypatch.setenv("PERSON_KEY_SECRET", "p" * 40)
    assert load_settings(base)["PERSON_KEY_SECRET"] == "p" * 40


def test_the_register_extract_says_whether_the_case_is_linked_to_an_e_id(app, e_id_provider):
    signed_in, anonymous = app.test_client(), app.test_client()
    sign_in(signed_in, e_id_provider, "tolvan", TOLVAN)
    for client, linked in ((signed_in, True), (anonymous, False)):
        receipt = send_felanmalan(client, "kil")
        extract = client.get(receipt.replace("/kvitto", "/registerutdrag.json")).get_json()
        assert extract["case"]["linked_to_e_id"] is linked
        page = client.get(receipt.replace("/kvitto", "/registerutdrag")).text
        assert ("syns under deras Mina ärenden" in page) is linked


def test_someone_else_signing_in_in_the_same_browser_finds_nothing_of_the_first(
    app, client, e_id_provider
):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    first = post_page(client, "/kil/e/registerutdrag/steg/du", {})
    second = post_page(client, first.headers["Location"], {"areas": ["alla"], "details": "Hemligt"})
    assert second.status_code == 303
    sign_in(client, e_id_provider, "sam", SAM)  # without signing out first
    check = client.get("/kil/e/registerutdrag/kontrollera")
    assert check.status_code == 302  # no draft here any more: back to the first step
    page = client.get("/kil/e/registerutdrag/steg/omfattning", follow_redirects=True).text
    assert "Hemligt" not in page and "19121212-1212" not in page
    assert "19701063-2391" in page  # Sam's own
    assert len(sessions(app)) == 1  # Tolvan's sign-in ended with it


def test_the_same_person_signing_in_again_keeps_their_draft(app, client, e_id_provider):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    first = post_page(client, "/kil/e/registerutdrag/steg/du", {})
    assert first.status_code == 303
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    assert client.get(first.headers["Location"]).status_code == 200  # the step after
    assert len(sessions(app)) == 1


def test_an_ended_sign_in_takes_the_drafts_made_under_it_along(app, client, e_id_provider):
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    first = post_page(client, "/kil/e/felanmalan/steg/fel", {"kind": "gata"})
    assert first.status_code == 422  # kept as a draft with what was valid
    assert "drafts" in session_payload(client)
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.delete(CitizenSession))
        session.commit()
    page = client.get("/kil/e/felanmalan")
    assert "drafts" not in session_payload(client)
    # Said, not done without a word: the answers went with the sign-in.
    assert "Din inloggning med e-legitimation har gått ut" in page.text
    assert "har gått ut" not in client.get("/kil/e/felanmalan").text  # once


def test_abandoned_sign_ins_do_not_grow_the_cookie(client):
    for _ in range(20):
        client.get("/logga-in")
    assert session_payload(client).count("_state_eid_") == 1


def test_a_members_own_host_name_gets_its_own_callback_and_status_links(
    app, client, e_id_provider, monkeypatch
):
    monkeypatch.setitem(app.config, "TENANT_HOSTS", {"e-tjanster.kil.se": "kil"})
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["localhost", "e-tjanster.kil.se"])
    start = client.get("/logga-in", base_url="http://e-tjanster.kil.se")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    # Back to the host whose cookie holds the sign-in's state.
    assert query["redirect_uri"] == ["http://e-tjanster.kil.se/logga-in/tillbaka"]
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    send_felanmalan(client, "kil")
    send_felanmalan(client, "eda")
    page = client.get("/mina-arenden").text
    kil, eda = cases(app)
    assert f'href="http://e-tjanster.kil.se/kil/arende/{kil.status_token}"' in page
    assert f'href="/eda/arende/{eda.status_token}"' in page


def test_a_signed_in_citizen_sees_who_is_signed_in_and_can_sign_out_on_every_own_page(
    app, client, e_id_provider, read_csrf
):
    """Not only on Mina ärenden: on a shared computer the sign-in would otherwise stay
    open unseen. Never on a page the same for everyone (a shared cache may keep it)."""
    sign_in(client, e_id_provider, "tolvan", TOLVAN)
    for path in ("/arvika/e/synpunkter", "/arvika/e/synpunkter/steg/synpunkt", "/mina-arenden"):
        page = client.get(path).text
        header = page.split("</header>")[0]
        assert "Inloggad som Tolvan Tolvansson" in header, path
        assert 'action="/logga-ut"' in header, path
    home = client.get("/arvika/")
    assert "Tolvan" not in home.text and 'action="/logga-ut"' not in home.text
    # A stranger at the same first step is given no one's name from a kept page.
    stranger = app.test_client().get("/arvika/e/synpunkter/steg/synpunkt").text
    assert "Tolvan" not in stranger and "Inloggad som" not in stranger
    page = client.get("/arvika/e/synpunkter").text
    out = client.post("/logga-ut", data={"csrf_token": read_csrf(page)})
    assert out.status_code in (302, 303)
    assert "Inloggad som" not in client.get("/arvika/e/synpunkter").text


def test_the_check_page_offers_no_change_of_what_the_e_id_filled_in(client, e_id_provider):
    """The step shows those fields read-only: a 'Change' link to them would lead nowhere."""
    sign_in(client, e_id_provider, "tolvan", TOLVAN, next_path="/kil/e/registerutdrag/steg/du")
    base = "/kil/e/registerutdrag"
    first = post_page(client, f"{base}/steg/du", {})
    second = post_page(client, first.headers["Location"], {"areas": ["alla"]})
    third = post_page(client, second.headers["Location"], {"delivery": "post"})
    check = client.get(third.headers["Location"]).text
    assert "#f-personnummer" not in check and "#f-name" not in check
    assert check.count("Från din e-legitimation") == 2
    assert "#f-areas" in check  # what the citizen answered can be changed


def test_the_headers_sign_in_key_is_the_one_the_sign_in_keeps():
    from samverkan import templating
    from samverkan.identity import current

    assert templating.CITIZEN_SESSION_KEY == current.SESSION_KEY


def test_without_e_id_sign_in_an_e_service_that_needs_it_says_so_and_offers_none(
    app, client, monkeypatch
):
    """Production with no e-ID provider set: the start page offered to sign in, and the
    link answered 503 'try again in a while', for good."""
    monkeypatch.setitem(app.config, "CITIZEN_OIDC_ISSUER", "")
    start = client.get("/kil/e/registerutdrag")
    assert start.status_code == 200
    assert "det går inte att logga in med e-legitimation här ännu" in start.text
    assert "Logga in och starta e-tjänsten" not in start.text
    assert 'href="/kil/e/registerutdrag/steg/du"' not in start.text
    step = client.get("/kil/e/registerutdrag/steg/du")
    assert step.status_code == 303 and step.headers["Location"] == "/kil/e/registerutdrag"
