"""Save and continue later: a citizen saves a draft on any step, gets a private link (and,
if they ask, an e-mail with it), and continues in another browser. A draft is not a case;
drafts expire after the member's own number of days and are then deleted with their files."""

import hashlib
import io
import logging
import re
import shutil
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, as_upload, submissions, tiny_png
from click.testing import CliRunner
from conftest import count_all
from test_admin import admin, profile_form  # noqa: F401  (admin: a fixture)

from samverkan.cases.expiry import expire_drafts
from samverkan.cases.models import Draft
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.outbox.models import OutboxMessage

STEP = "/arvika/e/synpunkter/steg/synpunkt"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def save_on_first_step(client, data: dict) -> str:
    """'Spara och fortsätt senare' on Synpunkter's first step; the saved page's HTML."""
    page = client.get(STEP)
    response = client.post(STEP, data={"csrf_token": csrf(page.text), "action": "spara", **data})
    assert response.status_code == 303, response.text
    assert response.location == "/arvika/e/synpunkter/sparat"
    saved = client.get(response.location)
    assert saved.status_code == 200
    return saved.text


def resume_link(html: str) -> str:
    link = re.search(r'id="resume-link" href="([^"]+)"', html).group(1)
    assert re.fullmatch(r"http://localhost/arvika/e/synpunkter/fortsatt/[A-Za-z0-9_-]{43}", link)
    return link.replace("http://localhost", "")


def take_up(client, link: str):
    """Another browser continues from the link: the page that asks first, then its POST."""
    asked = client.get(link)
    assert asked.status_code == 200, asked.status_code
    assert "<h1>Fortsätt med sparade svar</h1>" in asked.text
    return client.post(link, data={"csrf_token": csrf(asked.text)})


def drafts(app) -> list:
    with app.app_context(), maintenance_session() as session:
        return session.execute(sa.select(Draft.__table__)).all()


def counters(app) -> list:
    with app.app_context(), maintenance_session() as session:
        return session.execute(sa.text("SELECT * FROM reference_counters")).all()


def test_a_saved_draft_continues_in_another_browser_with_its_answers(app, read_csrf):
    first = app.test_client()
    # Only part of the page: the kind and the message, not the required area.
    html = save_on_first_step(
        first, {"kind": "klagomal", "message": "Gatlyktan vid torget är trasig."}
    )
    assert "Dina svar är sparade" in html
    assert "Alla som har länken kan se dina svar" in html
    link = resume_link(html)

    other = app.test_client()  # a fresh browser, without the first one's session
    opened = take_up(other, link)
    assert opened.status_code == 303
    assert opened.location == STEP  # the step is not complete: it is where to go on
    assert opened.headers["Cache-Control"] == "no-store"
    step = other.get(STEP)
    assert "Gatlyktan vid torget är trasig." in step.text
    assert re.search(r'value="klagomal" checked', step.text)
    # From here on the other browser works on the same draft and can submit it.
    done = other.post(
        STEP,
        data={
            "csrf_token": read_csrf(step.text),
            "kind": "klagomal",
            "area": "gata_park",
            "message": "Gatlyktan vid torget är trasig.",
        },
    )
    assert done.status_code == 303
    assert len(drafts(app)) == 1


def fill_without_an_address(client) -> None:
    """Synpunkter answered to check answers, asking for no reply (no e-mail address: a
    browser that takes the draft up is asked for that again)."""
    from test_citizen_flow import post_step

    first = post_step(
        client,
        STEP,
        {"kind": "klagomal", "area": "gata_park", "message": "Gatlyktan vid torget är trasig."},
        csrf,
    )
    second = post_step(client, first.location, {"want_reply": "no"}, csrf)
    assert second.location.endswith("/kontrollera")


def test_a_complete_draft_resumes_at_check_answers_and_saving_again_keeps_the_link(app):
    first = app.test_client()
    fill_without_an_address(first)
    check = first.get("/arvika/e/synpunkter/kontrollera")
    assert "Spara och fortsätt senare" in check.text
    saved = first.post("/arvika/e/synpunkter/spara", data={"csrf_token": csrf(check.text)})
    assert saved.status_code == 303
    link = resume_link(first.get(saved.location).text)
    # The same browser saving again gets the same link (an e-mailed one keeps working).
    assert resume_link(first.get("/arvika/e/synpunkter/sparat").text) == link
    other = app.test_client()
    assert take_up(other, link).location == "/arvika/e/synpunkter/kontrollera"
    check = other.get("/arvika/e/synpunkter/kontrollera")
    assert "Gatlyktan vid torget är trasig." in check.text


def test_a_draft_is_not_a_case_and_its_token_is_stored_only_as_a_digest(app, client):
    before = counters(app)
    link = resume_link(save_on_first_step(client, {"message": "Hej"}))
    token = link.rsplit("/", 1)[1]
    assert count_all(app, "cases") == 0
    assert counters(app) == before
    (draft,) = drafts(app)
    assert draft.resume_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(tuple(draft))
    assert token != draft.id
    assert "ARV-" not in client.get("/arvika/e/synpunkter/sparat").text


def test_the_link_is_sent_by_email_in_the_pages_language(app, client):
    html = save_on_first_step(client, {"message": "Hej"})
    link = resume_link(html)
    sent = client.post(
        "/arvika/e/synpunkter/sparat",
        data={"csrf_token": csrf(html), "email": " anna@exempel.se "},
    )
    # Post, redirect, get: reloading the page that says so sends no second mail.
    assert sent.status_code == 303 and sent.headers["Location"] == "/arvika/e/synpunkter/sparat"
    shown = client.get(sent.headers["Location"])
    assert "Vi har skickat länken till anna@exempel.se." in shown.text
    assert "Vi har skickat länken" not in client.get(sent.headers["Location"]).text
    with app.app_context(), maintenance_session() as session:
        (message,) = session.scalars(sa.select(OutboxMessage)).all()
        assert message.recipient == "anna@exempel.se"
        assert "http://localhost" + link in message.body
        # The e-service's title as its name, as written.
        assert (
            message.subject == "Din länk för att fortsätta i e-tjänsten ”Synpunkter och klagomål”"
        )
        assert "i e-tjänsten ”Synpunkter och klagomål” hos Arvika kommun" in message.body
        assert "Alla som har länken kan se dina svar" in message.body
        assert message.language == "sv"
    # In English when the citizen reads the pages in English.
    client.get("/sprak/en?next=/arvika/e/synpunkter/sparat")
    page = client.get("/arvika/e/synpunkter/sparat")
    assert "Your answers are saved" in page.text
    client.post(
        "/arvika/e/synpunkter/sparat", data={"csrf_token": csrf(page.text), "email": "b@exempel.se"}
    )
    with app.app_context(), maintenance_session() as session:
        english = session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.recipient == "b@exempel.se")
        )
        assert english.subject == "Your link to continue in the e-service “Comments and complaints”"
        assert english.language == "en"
    # Its link opens the answers in English in the browser the mail is read in, too.
    english_link = re.search(r"http://localhost(/sprak/en\?next=\S+)", english.body).group(1)
    assert english_link == "/sprak/en?next=" + link
    elsewhere = app.test_client()
    opened = elsewhere.get(english_link, follow_redirects=True)
    assert '<html lang="en">' in opened.text and "Continue with saved answers" in opened.text


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Fyll i din e-postadress."),
        ("anna.exempel.se", "Skriv e-postadressen som namn@exempel.se."),
        ("a@" + "b" * 260 + ".se", "E-postadressen får vara högst 254 tecken."),
    ],
)
def test_a_bad_address_is_refused_on_its_field(app, client, address, message):
    html = save_on_first_step(client, {"message": "Hej"})
    response = client.post(
        "/arvika/e/synpunkter/sparat", data={"csrf_token": csrf(html), "email": address}
    )
    assert response.status_code == 422
    assert response.text.count(message) == 2  # the summary and the field
    assert 'href="#f-email"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert count_all(app, "outbox_messages") == 0


def test_the_email_form_needs_its_csrf_token(app, client):
    save_on_first_step(client, {"message": "Hej"})
    response = client.post("/arvika/e/synpunkter/sparat", data={"email": "a@exempel.se"})
    assert response.status_code == 400
    assert count_all(app, "outbox_messages") == 0


def test_emails_are_limited_per_recipient(app, client):
    html = save_on_first_step(client, {"message": "Hej"})
    codes = [
        client.post(
            "/arvika/e/synpunkter/sparat",
            data={"csrf_token": csrf(html), "email": "anna@exempel.se"},
        ).status_code
        for _ in range(6)
    ]
    assert codes == [303] * 5 + [429]
    assert count_all(app, "outbox_messages") == 5
    other = client.post(
        "/arvika/e/synpunkter/sparat", data={"csrf_token": csrf(html), "email": "b@exempel.se"}
    )
    assert other.status_code == 303


def test_an_unknown_link_is_a_404_page_that_offers_to_start_again(client):
    response = client.get("/arvika/e/synpunkter/fortsatt/" + "x" * 43)
    assert response.status_code == 404
    assert "Utkastet finns inte" in response.text
    assert 'href="/arvika/e/synpunkter"' in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_an_expired_link_is_refused_with_410(app, client):
    link = resume_link(save_on_first_step(client, {"message": "Hej"}))
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Draft).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        session.commit()
    response = app.test_client().get(link)
    assert response.status_code == 410
    assert "<title>Länken har slutat gälla – " in response.text  # the title says it too
    assert "<h1>Länken har slutat gälla</h1>" in response.text
    assert 'href="/arvika/e/synpunkter"' in response.text


def test_a_link_opens_only_its_own_members_draft(app, client):
    link = resume_link(save_on_first_step(client, {"message": "Hej"}))
    assert app.test_client().get(link.replace("/arvika/", "/karlstad/")).status_code == 404


def test_new_drafts_last_the_members_draft_days(app, client, resync):
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.text("UPDATE tenants SET draft_days = 7 WHERE slug = 'arvika'"))
        session.commit()
    before = datetime.now(UTC)
    html = save_on_first_step(client, {"message": "Hej"})
    (draft,) = drafts(app)
    expires = draft.expires_at if draft.expires_at.tzinfo else draft.expires_at.replace(tzinfo=UTC)
    assert timedelta(days=7) <= expires - before < timedelta(days=7, minutes=1)
    # The page says until when, in Swedish time.
    day = (expires + timedelta(hours=1)).day
    assert re.search(rf"fram till {day} \w+ \d{{4}} kl\. \d\d\.\d\d", html)
    # The privacy notice says so too.
    assert "raderas 7 dagar efter att du började fylla i" in client.get("/arvika/integritet").text


def test_the_profile_sets_draft_days_with_a_field_error_outside_1_to_365(
    app,
    client,
    admin,  # noqa: F811
    read_csrf,
    resync,
):
    for value, message in (
        ("0", "Sparade svar kan finnas kvar i 1–365 dagar."),
        ("366", "Sparade svar kan finnas kvar i 1–365 dagar."),
        ("två veckor", "Skriv ett helt antal dagar, till exempel 30."),
        ("", "Fyll i hur många dagar sparade svar finns kvar."),
    ):
        page = client.get("/arvika/admin/profil")
        form = {**profile_form(app), "draft_days": value, "csrf_token": read_csrf(page.text)}
        response = client.post("/arvika/admin/profil", data=form)
        assert response.status_code == 422, value
        assert message in response.text
        assert 'href="#f-draft_days"' in response.text
    page = client.get("/arvika/admin/profil")
    assert 'name="draft_days" type="text" value="30"' in page.text
    form = {**profile_form(app), "draft_days": "14", "csrf_token": read_csrf(page.text)}
    assert client.post("/arvika/admin/profil", data=form).status_code == 303
    with app.app_context(), maintenance_session() as session:
        days = session.scalar(sa.text("SELECT draft_days FROM tenants WHERE slug = 'arvika'"))
    assert days == 14


def test_the_tenant_loader_refuses_draft_days_outside_its_bounds():
    from samverkan.tenancy.loader import TenantFileSchema

    base = Path(__file__).parent.parent / "tenants" / "arvika.toml"
    content = tomllib.loads(base.read_text())
    assert TenantFileSchema().load(content)["draft_days"] == 30
    for bad in (0, 366, "30"):
        errors = TenantFileSchema().validate({**content, "draft_days": bad})
        assert "draft_days" in errors
    assert TenantFileSchema().load({**content, "draft_days": 90})["draft_days"] == 90


def upload_on_felanmalan(client) -> None:
    page = client.get("/arvika/e/felanmalan/steg/fel")
    response = client.post(
        "/arvika/e/felanmalan/steg/fel",
        data={
            "csrf_token": csrf(page.text),
            "action": "spara",
            "description": "Lampan lyser inte.",
            "photo": (io.BytesIO(tiny_png()), "lampa.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.text


def files_on_disk(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def expire_all(app) -> None:
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.update(Draft).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()


def test_expiry_deletes_expired_drafts_and_their_files_but_never_cases(
    app, client, read_csrf, upload_root
):
    from test_citizen_flow import fill_synpunkter

    # A submitted case (its draft is gone), an expired draft with a photo, a live draft.
    check = client.get(fill_synpunkter(client, read_csrf))
    client.post("/arvika/e/synpunkter", data={"csrf_token": csrf(check.text)})
    before = files_on_disk(upload_root)
    expiring = app.test_client()
    upload_on_felanmalan(expiring)
    photo = files_on_disk(upload_root) - before
    assert len(photo) == 1
    expire_all(app)
    save_on_first_step(app.test_client(), {"message": "Kvar"})  # not expired
    runner = CliRunner()
    with app.app_context():
        dry = runner.invoke(app.cli, ["drafts", "expire", "--dry-run"], catch_exceptions=False)
    assert "arvika  would delete 1 draft(s), 1 file(s)" in dry.output
    assert len(drafts(app)) == 2 and photo <= files_on_disk(upload_root)
    with app.app_context():
        run = runner.invoke(app.cli, ["drafts", "expire"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "arvika  deleted 1 draft(s), 1 file(s)" in run.output
    assert "drafts: deleted 1 expired draft(s) and 1 file(s)" in run.output
    assert [d.answers for d in drafts(app)] == [{"message": "Kvar"}]
    assert not photo & files_on_disk(upload_root)
    assert count_all(app, "cases") == 1
    # Again: nothing more to do.
    with app.app_context():
        again = runner.invoke(app.cli, ["drafts", "expire"], catch_exceptions=False)
    assert "drafts: deleted 0 expired draft(s) and 0 file(s)" in again.output
    assert count_all(app, "cases") == 1


def test_expiry_keeps_a_file_a_case_attachment_names(app, client, upload_root):
    # A case with a photo, sent through the API; then an expired draft naming the same file.
    answers = {**FELANMALAN, "photo": as_upload("lampa.png", tiny_png())}
    assert client.post(submissions("arvika", "felanmalan"), json=answers).status_code == 201
    with app.app_context(), maintenance_session() as session:
        attachment = session.execute(sa.text("SELECT * FROM attachments")).one()
    save_on_first_step(client, {"message": "Hej"})
    stored = {
        "filename": "lampa.png",
        "storage_name": attachment.storage_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(Draft).values(answers={"photo": {"file": stored}}))
        session.commit()
    expire_all(app)
    with app.app_context():
        outcomes = expire_drafts(db.engine, upload_root, now=datetime.now(UTC), dry_run=False)
    arvika = next(o for o in outcomes if o.slug == "arvika")
    assert (arvika.deleted, arvika.files) == (1, 0)
    assert any(p.name == attachment.storage_name for p in files_on_disk(upload_root))
    assert drafts(app) == []


def test_expiry_for_one_member_leaves_the_others(app, upload_root):
    save_on_first_step(app.test_client(), {"message": "Arvika"})
    karlstad = app.test_client()
    page = karlstad.get("/karlstad/e/synpunkter/steg/synpunkt")
    karlstad.post(
        "/karlstad/e/synpunkter/steg/synpunkt",
        data={"csrf_token": csrf(page.text), "action": "spara", "message": "Karlstad"},
    )
    expire_all(app)
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(app.cli, ["drafts", "expire", "--member", "karlstad"])
        unknown = runner.invoke(app.cli, ["drafts", "expire", "--member", "nowhere"])
    assert "karlstad  deleted 1 draft(s)" in result.output
    assert [d.answers for d in drafts(app)] == [{"message": "Arvika"}]
    assert unknown.exit_code != 0 and "no member 'nowhere'" in unknown.output


def test_the_resume_link_never_reaches_the_log(app, client, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    html = save_on_first_step(client, {"message": "Hej"})
    link = resume_link(html)
    client.post(
        "/arvika/e/synpunkter/sparat", data={"csrf_token": csrf(html), "email": "a@exempel.se"}
    )
    assert take_up(app.test_client(), link).status_code == 303
    logged = capsys.readouterr().err
    token = link.rsplit("/", 1)[1]
    assert token not in logged
    assert token not in caplog.text
    assert '"route": "/<slug:tenant>/e/<slug:service>/fortsatt/<token:token>"' in logged


def test_the_sync_writes_draft_days_from_the_member_file(app, tmp_path, resync):
    from samverkan.settings import PROJECT_ROOT
    from samverkan.sync import sync

    tenants = tmp_path / "tenants"
    shutil.copytree(PROJECT_ROOT / "tenants", tenants)
    arvika = tenants / "arvika.toml"
    arvika.write_text(arvika.read_text().replace("draft_days = 30", "draft_days = 45"))
    with app.app_context(), maintenance_session() as session:
        sync(session, tenants, PROJECT_ROOT / "services")
        session.commit()
        days = session.scalar(sa.text("SELECT draft_days FROM tenants WHERE slug = 'arvika'"))
    assert days == 45


def saved_at_check_answers(app):
    """A browser that filled in Synpunkter and saved it on check answers: (that browser,
    its check page's CSRF token, the resume link)."""
    first = app.test_client()
    fill_without_an_address(first)
    check = first.get("/arvika/e/synpunkter/kontrollera")
    saved = first.post("/arvika/e/synpunkter/spara", data={"csrf_token": csrf(check.text)})
    return first, csrf(check.text), resume_link(first.get(saved.location).text)


def test_a_browser_that_took_the_draft_up_alone_sends_it_and_gets_its_receipt(app):
    """The browser it was saved in no longer reaches the draft once another took it up
    from its link: its "Skicka" is sent to the e-service's page, never to the receipt of
    the case the other browser sent (whose status link is that case's private key)."""
    first, first_token, link = saved_at_check_answers(app)
    other = app.test_client()
    take_up(other, link)
    late = first.post("/arvika/e/synpunkter", data={"csrf_token": first_token})
    assert late.status_code == 303 and late.location == "/arvika/e/synpunkter"
    assert count_all(app, "cases") == 0
    token = csrf(other.get("/arvika/e/synpunkter/kontrollera").text)
    sent = other.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert "/kvitto" in sent.location
    again = other.post("/arvika/e/synpunkter", data={"csrf_token": token})
    assert again.location == sent.location  # the sender's second click: the same receipt
    theirs = first.post("/arvika/e/synpunkter", data={"csrf_token": first_token})
    assert theirs.status_code == 303 and theirs.location == "/arvika/e/synpunkter"


def test_a_planted_link_gives_whoever_planted_it_nothing_of_what_the_victim_writes(app):
    """Someone saves a draft and gets another person to continue from its link. From the
    moment they take it up, the one who planted it neither reads their answers (the link
    and the planting browser's own draft are gone) nor gets the case's receipt."""
    from test_citizen_flow import post_step

    planter = app.test_client()
    # The planter answers the reply step with their own address: a receipt (with the
    # case's private status link) would go to them.
    first = post_step(planter, STEP, {"kind": "fraga", "area": "annat", "message": "Hej"}, csrf)
    post_step(planter, first.location, {"want_reply": "yes", "email": "planter@example.org"}, csrf)
    link = resume_link(save_on_first_step(planter, {"message": "Hej"}))
    victim = app.test_client()
    # On at the reply step: its e-mail answer is asked again.
    assert take_up(victim, link).location == "/arvika/e/synpunkter/steg/svar"
    step = victim.get(STEP)
    answered = {"kind": "klagomal", "area": "gata_park", "message": "Jag bor på Hemliga vägen 3."}
    first = victim.post(STEP, data={"csrf_token": csrf(step.text), **answered})
    reply = victim.get(first.location)
    assert "planter@example.org" not in reply.text  # e-mail answers are asked again
    victim.post(first.location, data={"csrf_token": csrf(reply.text), "want_reply": "no"})
    assert planter.get(link).status_code == 404
    assert "Hemliga vägen" not in planter.get(STEP).text
    assert "Fortsätt där du var" not in planter.get("/arvika/e/synpunkter").text
    check = victim.get("/arvika/e/synpunkter/kontrollera")
    assert "Hemliga vägen 3" in check.text
    receipt = victim.post("/arvika/e/synpunkter", data={"csrf_token": csrf(check.text)})
    assert "/kvitto" in receipt.location
    grab = planter.post("/arvika/e/synpunkter", data={"csrf_token": csrf(planter.get(STEP).text)})
    assert grab.location == "/arvika/e/synpunkter"
    assert "Hemliga vägen" not in planter.get(grab.location).text


def test_opening_the_link_takes_nothing_up_until_asked(app):
    """A mail program's link checker opens every link it is sent: that must not move the
    answers away from the citizen. The browser that holds the draft goes straight on."""
    first, _, link = saved_at_check_answers(app)
    checker = app.test_client()
    for _ in range(2):
        assert checker.get(link).status_code == 200
    own = first.get(link)
    assert own.status_code == 303 and own.location == "/arvika/e/synpunkter/kontrollera"
    assert "Gatlyktan vid torget är trasig." in first.get(own.location).text
    assert take_up(app.test_client(), link).status_code == 303  # the link still works


def test_a_used_link_in_the_browser_that_took_the_draft_up_leads_on_there(app):
    _, _, link = saved_at_check_answers(app)
    other = app.test_client()
    take_up(other, link)
    again = other.get(link)
    assert again.status_code == 404
    assert "i en annan webbläsare: svaren finns då där" in again.text
    assert 'href="/arvika/e/synpunkter/kontrollera">Fortsätt där du var</a>' in again.text
    # Its saved page gives the new link, which this browser opens straight.
    new_link = resume_link(other.get("/arvika/e/synpunkter/sparat").text)
    assert new_link != link
    assert other.get(new_link).location == "/arvika/e/synpunkter/kontrollera"


def test_expiry_for_a_member_that_does_not_exist_stops_with_the_option_named(app):
    unknown = app.test_cli_runner().invoke(args=["drafts", "expire", "--member", "atlantis"])
    assert unknown.exit_code != 0
    assert "--member: there is no member 'atlantis'" in unknown.output


def test_saving_for_later_a_change_that_asks_more_of_a_later_step_reopens_it(tmp_path):
    """As when continuing (save_step): the citizen changes step 1 so that step 2 asks for
    something new and saves for later; the link must not lead to check answers with the
    new question unanswered (and a refusal on sending)."""
    from test_form_engine import TRANSPORT, field, make_form

    from samverkan.cases.models import Draft
    from samverkan.cases.operations import save_for_later, save_step

    form = make_form(
        [field("transport", "choice", options=TRANSPORT)],
        [field("taxi_reason", "text", show_if={"field": "transport", "equals": "taxi"})],
    )
    draft = Draft(answers={}, completed_steps=[], tenant_id=1)
    save_step(draft, form, "steg-1", {"transport": "buss"}, tmp_path)
    save_step(draft, form, "steg-2", {}, tmp_path)
    assert draft.completed_steps == ["steg-1", "steg-2"]
    save_for_later(draft, form, "steg-1", {"transport": "taxi"}, {}, tmp_path)
    assert draft.completed_steps == ["steg-1"]


def test_a_second_click_on_take_up_goes_on_with_the_same_draft(app):
    """Both clicks are sent with the asking page's cookie: the second found the link gone
    and, with its answer's cookie, left the browser holding no draft at all."""
    _, _, link = saved_at_check_answers(app)
    other = app.test_client()
    asked = other.get(link)
    page_cookie = other.get_cookie("session").value
    first = other.post(link, data={"csrf_token": csrf(asked.text)})
    other.set_cookie("session", page_cookie)  # the second click: the page's cookie again
    second = other.post(link, data={"csrf_token": csrf(asked.text)})
    assert first.status_code == second.status_code == 303
    assert second.location == first.location == "/arvika/e/synpunkter/kontrollera"
    assert "Gatlyktan vid torget är trasig." in other.get(second.location).text
    assert len(drafts(app)) == 1
