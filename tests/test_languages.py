"""Swedish first, English second: who gets which language, the switch on every page, and
a catalogue that is complete and up to date with the templates and code."""

import html
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from api_support import FORSKOLEPLATS
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import g
from flask import request as flask_request
from flask_babel import force_locale
from hypothesis import given, settings
from hypothesis import strategies as st
from test_accounts import create, sign_in
from test_admin import ADMIN, ADMIN_PAGES, post_form, profile_form
from test_citizen_flow import post_step
from test_register_extract import submitted_on_the_web

from samverkan import memo
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.settings import PROJECT_ROOT
from samverkan.templating import local_datetime

CATALOGUE = PROJECT_ROOT / "platform/samverkan/translations/en/LC_MESSAGES/messages.po"
FELANMALAN = "/arvika/e/felanmalan"


def html_lang(page) -> str:
    match = re.search(r'<html lang="([a-z]+)"', page.text)
    assert match, "the page has no <html lang>"
    return match.group(1)


def switch_link(page, lang: str) -> str:
    """The href of the page's link to the other language."""
    match = re.search(rf'<a href="([^"]+)" lang="{lang}" hreflang="{lang}">', page.text)
    assert match, f"the page has no switch to {lang}"
    return html.unescape(match.group(1))


def set_default_language(app, slug: str, lang: str) -> None:
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text("UPDATE tenants SET default_language = :lang WHERE slug = :slug"),
            {"lang": lang, "slug": slug},
        )
        session.commit()
    memo.forget_all()  # the workers' copies of the member (plain SQL: they cannot see it)


@pytest.fixture
def arvika_in_english(app, resync):
    set_default_language(app, "arvika", "en")
    yield
    memo.forget_all()


def test_pages_are_swedish_by_default_with_a_switch_to_english(client):
    page = client.get("/arvika/")
    assert html_lang(page) == "sv"
    assert "E-tjänster hos Arvika kommun" in page.text
    assert "Hoppa till innehållet" in page.text
    assert switch_link(page, "en").startswith("/sprak/en?next=")
    assert 'lang="sv" hreflang="sv"' not in page.text  # no link to the language shown
    assert "Cookie" in page.headers["Vary"]  # a shared cache keeps one copy per language


def test_a_member_with_english_as_default_gets_english_pages_and_texts(client, arvika_in_english):
    home = client.get("/arvika/")
    assert html_lang(home) == "en"
    assert "E-services at Arvika kommun" in home.text
    assert "Report a fault: streets, parks and lighting" in home.text  # from the definition
    assert "Skip to content" in home.text and "Hoppa till innehållet" not in home.text
    assert switch_link(home, "sv")
    step = client.get(f"{FELANMALAN}/steg/fel")
    assert "What is the fault about?" in step.text and "Street lighting" in step.text
    assert "Step 1 of " in step.text and "Continue" in step.text
    # Other members keep their own default.
    assert html_lang(client.get("/eda/")) == "sv"


def test_a_members_administrator_sets_the_default_language(app, client, read_csrf, resync):
    assert create(app, ADMIN, role="tenant_admin").exit_code == 0
    admin = app.test_client()
    assert sign_in(admin, read_csrf, ADMIN).status_code == 303
    assert html_lang(client.get("/arvika/")) == "sv"  # and remembered by the page cache
    url = "/arvika/admin/profil"
    refused = post_form(admin, read_csrf, url, profile_form(app, default_language="de"))
    assert refused.status_code == 422 and "Välj svenska eller engelska." in refused.text
    saved = post_form(admin, read_csrf, url, profile_form(app, default_language="en"))
    assert saved.status_code == 303
    memo.forget_all()  # another worker's copy of the member lives a few seconds at most
    home = app.test_client().get("/arvika/")
    assert html_lang(home) == "en" and "E-services at Arvika kommun" in home.text


def test_a_members_own_swedish_text_is_marked_as_swedish_on_an_english_page(app, client, resync):
    with app.app_context(), maintenance_session() as session:
        session.execute(
            sa.text(
                "UPDATE tenants SET privacy_notice = 'Vi sparar det du skickar.' "
                "WHERE slug = 'arvika'"
            )
        )
        session.commit()
    memo.forget_all()
    client.get("/sprak/en?next=/")
    page = client.get("/arvika/integritet")
    assert "<h1>Privacy notice</h1>" in page.text
    assert '<div class="member-text" lang="sv">' in page.text


def test_the_citizens_own_choice_wins_over_the_members_default(client, arvika_in_english):
    client.get("/sprak/sv?next=/arvika/")
    page = client.get("/arvika/")
    assert html_lang(page) == "sv" and "E-tjänster hos Arvika kommun" in page.text


def test_the_browsers_accept_language_does_not_override_the_member_default(client):
    page = client.get("/arvika/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert html_lang(page) == "sv"


def test_the_switch_keeps_the_citizen_on_the_same_step_with_their_answers(client, read_csrf):
    answers = {"kind": "belysning", "description": "Lampan är trasig.", "location": "Storgatan 1"}
    first = post_step(client, f"{FELANMALAN}/steg/fel", answers, read_csrf)
    assert first.status_code == 303
    second_step = first.headers["Location"]
    page = client.get(second_step)
    link = switch_link(page, "en")
    assert parse_qs(urlsplit(link).query)["next"] == [urlsplit(second_step).path]

    switched = client.get(link)
    assert switched.status_code == 303
    cookie = switched.headers["Set-Cookie"]
    assert cookie.startswith("samverkan_lang=en;") and "HttpOnly" in cookie and "Lax" in cookie
    assert switched.headers["Location"] == urlsplit(second_step).path
    english = client.get(switched.headers["Location"])
    assert html_lang(english) == "en" and "Step 2 of " in english.text
    # Back on the first step, in English, the answers are still there.
    back = client.get(f"{FELANMALAN}/steg/fel")
    assert "Describe the fault" in back.text
    assert "Lampan är trasig." in back.text and "Storgatan 1" in back.text
    assert re.search(r'value="belysning" checked', back.text)


def test_the_switch_on_a_changing_step_keeps_the_change_mode(client, read_csrf):
    post_step(client, f"{FELANMALAN}/steg/fel", {"kind": "park"}, read_csrf)  # 422 is fine
    page = client.get(f"{FELANMALAN}/steg/fel?andra=1&x=<junk>")
    link = switch_link(page, "en")
    assert parse_qs(urlsplit(link).query)["next"] == [f"{FELANMALAN}/steg/fel?andra=1"]


def test_check_answers_and_errors_in_english(client, read_csrf):
    client.get("/sprak/en?next=/arvika/")
    refused = post_step(client, f"{FELANMALAN}/steg/fel", {"kind": "park"}, read_csrf)
    assert refused.status_code == 422
    assert "There are 2 errors to correct" in refused.text
    assert "You must fill in this field." in refused.text
    done = post_step(
        client,
        f"{FELANMALAN}/steg/fel",
        {"kind": "park", "description": "En trasig bänk.", "location": "Stadsparken"},
        read_csrf,
    )
    last = post_step(client, done.headers["Location"], {"want_contact": "no"}, read_csrf)
    check = client.get(last.headers["Location"])
    assert "Check your answers before you send" in check.text
    assert "Park or green space" in check.text and "En trasig bänk." in check.text
    assert "Would you like us to contact you about your report?" in check.text
    # A label is read out as it is written after "Change", not lower-cased.
    assert '<span class="visually-hidden"> Would you like us to contact you' in check.text
    # A field answered only on a condition says so with English quotation marks.
    contact = client.get(done.headers["Location"]).text
    assert "“Yes”" in contact and "”Yes”" not in contact
    receipt = client.get(
        client.post(FELANMALAN, data={"csrf_token": read_csrf(check.text)}).headers["Location"]
    )
    assert "We received your case in the e-service <strong>Report a fault" in receipt.text


def test_a_form_kept_by_the_worker_still_answers_each_visitor_in_their_language(app, read_csrf):
    english, swedish = app.test_client(), app.test_client()
    english.get("/sprak/en?next=/")
    first = post_step(english, f"{FELANMALAN}/steg/fel", {"kind": "park"}, read_csrf)
    assert "You must fill in this field." in first.text
    second = post_step(swedish, f"{FELANMALAN}/steg/fel", {"kind": "park"}, read_csrf)
    assert "Du måste fylla i det här fältet." in second.text
    assert "You must fill in" not in second.text


def test_the_statement_and_notice_are_in_english_too(client):
    client.get("/sprak/en?next=/")
    statement = client.get("/arvika/tillganglighet")
    assert "<h1>Accessibility statement</h1>" in statement.text
    assert "Known shortcomings" in statement.text
    notice = client.get("/arvika/integritet")
    assert "Who is responsible?" in notice.text and "Your rights" in notice.text


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/arvika/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_the_switch_never_sends_the_visitor_to_another_site(client, target):
    response = client.get("/sprak/en", query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_an_unknown_language_is_not_found(client):
    assert client.get("/sprak/de?next=/arvika/").status_code == 404


def test_an_english_page_is_never_served_from_the_cache_to_a_swedish_visitor(app):
    english, swedish = app.test_client(), app.test_client()
    english.get("/sprak/en?next=/")
    for path in ("/arvika/", f"{FELANMALAN}/steg/fel"):
        assert html_lang(english.get(path)) == "en"  # rendered and remembered first
        page = swedish.get(path)
        assert html_lang(page) == "sv"
        assert "What is the fault about?" not in page.text
        assert html_lang(english.get(path)) == "en"  # and the other way round


def test_error_pages_follow_the_language(client):
    client.get("/sprak/en?next=/")
    page = client.get("/arvika/no-such-page")
    assert page.status_code == 404
    assert html_lang(page) == "en" and "Page not found" in page.text


def test_the_receipt_status_page_and_receipt_mail_are_in_the_language_the_citizen_used(
    app, client, read_csrf
):
    client.get("/sprak/en?next=/")
    reference, token = submitted_on_the_web(client, read_csrf)
    receipt = client.get(f"/arvika/arende/{token}/kvitto")
    assert "Your case has been received" in receipt.text
    assert re.search(r"on \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d\.", receipt.text)
    status = client.get(f"/arvika/arende/{token}")
    assert f"Case {reference}" in status.text and "Received" in status.text
    with app.app_context(), maintenance_session() as session:
        subject, body = session.execute(sa.text("SELECT subject, body FROM outbox_messages")).one()
    assert subject == f"We have received your case {reference}"
    assert "You can follow the case here:" in body and "Kind regards" in body


def test_the_receipt_mail_stays_swedish_for_a_swedish_citizen(app, client, read_csrf):
    reference, _ = submitted_on_the_web(client, read_csrf)
    with app.app_context(), maintenance_session() as session:
        subject = session.execute(sa.text("SELECT subject FROM outbox_messages")).scalar_one()
    assert subject == f"Vi har tagit emot ditt ärende {reference}"


def test_the_429_page_is_in_english_for_an_english_visitor(app, client, read_csrf, monkeypatch):
    monkeypatch.setitem(app.config, "EXTRACTS_PER_ADDRESS", "1 per minute")
    client.get("/sprak/en?next=/")
    _, token = submitted_on_the_web(client, read_csrf)
    url = f"/arvika/arende/{token}/registerutdrag"
    extract = client.get(url).text
    assert "Register extract for case" in extract and "You have the right to ask" in extract
    assert "You gave the data in the e-service on the web." in extract
    refused = client.get(url)
    assert refused.status_code == 429
    assert html_lang(refused) == "en" and "Too many attempts" in refused.text
    assert "Try again in 1 minute." in refused.text


def test_the_503_page_is_in_english_for_an_english_visitor(client, monkeypatch):
    client.get("/sprak/en?next=/")

    def lost(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection lost"))

    for name in ("execute", "scalar", "scalars", "get"):
        monkeypatch.setattr(db.session, name, lost)
    response = client.get("/arvika/e/synpunkter")
    assert response.status_code == 503
    assert html_lang(response) == "en"
    assert "The service is temporarily unavailable" in response.text


def test_staff_who_chose_english_sign_in_and_work_in_english(app, client, read_csrf):
    create(app, "anna@arvika.example")
    client.get("/sprak/en?next=/arvika/staff/logga-in")
    page = client.get("/arvika/staff/logga-in")
    assert "Sign in for staff" in page.text
    assert sign_in(client, read_csrf, "anna@arvika.example").status_code == 303
    inbox = client.get("/arvika/staff/")
    assert html_lang(inbox) == "en"
    assert "<h1>Inbox</h1>" in inbox.text and "Sign out" in inbox.text
    # The filters' choices too: statuses and e-services by their English names.
    assert ">In progress</option>" in inbox.text and ">Under handläggning<" not in inbox.text
    assert ">Comments and complaints</option>" in inbox.text
    signed_out = client.post("/arvika/staff/logga-ut", data={"csrf_token": read_csrf(inbox.text)})
    assert html_lang(client.get(signed_out.headers["Location"])) == "en"  # still chosen


# Words of Swedish running text: none is English, and the pages' own texts use them all.
SWEDISH_WORDS = re.compile(
    r"\b(och|är|för|inte|till|eller|som|av|med|gallring\w*|spara\w*)\b", re.I
)


def _interface_text(page) -> str:
    """The page's words less what the member wrote (form values: their privacy notice,
    their address) and what the catalogue names in Swedish only."""
    text = re.sub(r"<textarea[^>]*>.*?</textarea>", " ", page.text, flags=re.S)
    text = re.sub(r'value="[^"]*"', " ", text)
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_an_administrator_who_chose_english_administers_in_english(app, client, read_csrf):
    assert create(app, ADMIN, role="tenant_admin").exit_code == 0
    client.get("/sprak/en?next=/arvika/staff/logga-in")
    assert sign_in(client, read_csrf, ADMIN).status_code == 303
    for url in ADMIN_PAGES:
        page = client.get(url)
        assert page.status_code == 200 and html_lang(page) == "en", url
        left = SWEDISH_WORDS.findall(_interface_text(page))
        assert not left, f"{url} still says {left}"
    overview = client.get("/arvika/admin/").text
    assert "<h1>Administration</h1>" in overview and "1 person works here." in overview
    assert "(Administrator)" in overview  # the staff menu's role

    refused = post_form(
        client,
        read_csrf,
        "/arvika/admin/profil",
        profile_form(app, name="", primary_colour="#ffff00", draft_days="2 weeks"),
    )
    assert refused.status_code == 422
    assert "Fill in the name." in refused.text
    assert "The contrast against white text is 1.0:1; it must be at least 4.5:1." in refused.text
    assert "Write a whole number of days, for example 30." in refused.text
    saved = post_form(client, read_csrf, "/arvika/admin/profil", profile_form(app))
    assert "Nothing in the profile changed." in client.get(saved.headers["Location"]).text

    retention = post_form(
        client,
        read_csrf,
        "/arvika/admin/e-tjanster/forskoleplats/installningar",
        {"retention_months": "2 år"},
        action="/arvika/admin/e-tjanster/forskoleplats/gallring",
    )
    assert "Write the retention period as a whole number of months" in retention.text
    invite = post_form(
        client,
        read_csrf,
        "/arvika/admin/personal",
        {"name": "B", "email": "x", "role": "boss"},
        action="/arvika/admin/personal/inbjudan",
    )
    assert invite.status_code == 422
    assert "The name must be 2–120 characters." in invite.text
    assert "Write the email address as name@municipality.se." in invite.text
    assert "Choose administrator or case worker." in invite.text
    log = client.get("/arvika/admin/logg").text
    assert ">Log<" in log and "All events" in log  # the filter, in English
    entries = log.split("</form>")[-1]  # what was logged, after the filter's choices
    assert "Changed the profile" not in entries  # nothing changed, so nothing logged
    assert "Viewed" not in entries


def test_the_administration_stays_swedish_for_a_swedish_administrator(app, client, read_csrf):
    assert create(app, ADMIN, role="tenant_admin").exit_code == 0
    assert sign_in(client, read_csrf, ADMIN).status_code == 303
    refused = post_form(client, read_csrf, "/arvika/admin/profil", profile_form(app, name=""))
    assert "Fyll i namnet." in refused.text and "(Administratör)" in refused.text
    assert "Spara profilen" in refused.text


def test_dates_are_written_as_each_language_writes_them():
    moment = datetime(2026, 11, 23, 13, 5, tzinfo=UTC)
    assert local_datetime(moment, "sv") == "23 november 2026 kl. 14.05"
    assert local_datetime(moment, "en") == "23 November 2026 at 14:05"


def test_the_api_answers_in_swedish_whatever_the_visitor_chose(client):
    client.get("/sprak/en?next=/")
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Sidan finns inte"


# -- the catalogue --------------------------------------------------------------------


def read_catalogue(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def test_every_text_in_the_english_catalogue_is_translated():
    catalogue = read_catalogue(CATALOGUE)
    untranslated = [
        m.id
        for m in catalogue
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert untranslated == [], "translate these in messages.po (make translations)"
    assert fuzzy == [], "check these fuzzy translations and remove the flag"


def test_the_catalogue_is_up_to_date_with_the_templates_and_code(tmp_path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(PROJECT_ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(pot),
            str(PROJECT_ROOT / "platform"),
        ]
    )
    wanted = {m.id for m in read_catalogue(pot) if m.id}
    have = {m.id for m in read_catalogue(CATALOGUE) if m.id}
    assert sorted(map(str, wanted - have)) == [], "new texts: run `make translations`"
    assert sorted(map(str, have - wanted)) == [], "texts no longer used: `make translations`"


def test_the_compiled_catalogue_is_as_new_as_its_source():
    compiled = CATALOGUE.with_suffix(".mo")
    assert compiled.exists(), "messages.mo is missing: `make install` compiles it"
    assert compiled.stat().st_mtime >= CATALOGUE.stat().st_mtime, "run `make install`"


def test_a_templates_texts_follow_the_language_of_the_moment_and_escape_their_values(app):
    """Templates translate with the catalogue looked up once per language (i18n.py), as
    Jinja's own gettext would: a forced locale's block in its language and back after it,
    the values escaped, "%%" written as "%"."""
    page = app.jinja_env.from_string(
        "{{ _('Inkorg') }}|{{ _('Ärenden hos %(name)s, nyast först', name=who) }}"
        "|{% trans %}Inkorg{% endtrans %}|{{ gettext('100%% klart') }}"
    )
    with app.test_request_context("/arvika/"):
        g.lang = "en"
        assert page.render(who="<b>") == "Inbox|Cases at &lt;b&gt;, newest first|Inbox|100% klart"
        with force_locale("sv"):
            assert page.render(who="Eda").startswith("Inkorg|Ärenden hos Eda, nyast först|Inkorg")
        assert page.render(who="Eda").startswith("Inbox|Cases at Eda")


@settings(max_examples=200, deadline=None)
@given(path=st.text(min_size=0, max_size=40), changing=st.booleans())
def test_the_switch_link_is_the_one_url_for_writes(app, path, changing):
    """i18n.switch_url writes its query itself (the link without it is kept per worker):
    the same link Flask's url_for writes, for any path."""
    from urllib.parse import quote

    from flask import Flask

    from samverkan.i18n import switch_url

    query = {"andra": "1"} if changing else {}
    # Every character quoted ("/" too): a path starting "//" would be read as a host.
    with app.test_request_context("/" + quote(path, safe=""), query_string=query):
        here = flask_request.path + ("?andra=1" if changing else "")
        for lang in ("sv", "en"):
            assert switch_url(lang) == Flask.url_for(app, "i18n.switch", lang=lang, next=here)


def test_the_history_the_platform_writes_is_in_the_readers_language(client, read_csrf):
    """The first event is stored in Swedish (the record) and read in English on English
    pages: the status page, the register extract and its JSON."""
    client.get("/sprak/en?next=/")
    _, token = submitted_on_the_web(client, read_csrf)
    english = "The case has been received and registered."
    for url in (f"/arvika/arende/{token}", f"/arvika/arende/{token}/registerutdrag"):
        page = client.get(url).text
        assert english in page and "Ärendet har tagits emot" not in page
    extract = client.get(f"/arvika/arende/{token}/registerutdrag.json").get_json()
    assert english in str(extract) and "Ärendet har tagits emot" not in str(extract)
    client.get("/sprak/sv?next=/")
    assert "Ärendet har tagits emot och registrerats." in client.get(f"/arvika/arende/{token}").text


def test_choices_a_member_wrote_are_marked_swedish_on_an_english_page(client, read_csrf):
    """WCAG 3.1.2: a member's preschool areas are Swedish text on an English page."""
    client.get("/sprak/en?next=/arvika/")
    answers = {k: v for k, v in FORSKOLEPLATS.items() if not isinstance(v, (list, bool))}
    step = "/arvika/e/forskoleplats/steg/barn"
    while not step.endswith("/onskemal"):
        step = post_step(client, step, answers, read_csrf).location
    page = client.get(step).text
    assert re.search(r'<label for="f-preschool_wishes-1" lang="sv">[^<]+</label>', page)
    assert '<label for="f-preschool_wishes-1">' not in page
    client.get("/sprak/sv?next=/arvika/")
    swedish = client.get("/arvika/e/forskoleplats/steg/onskemal").text
    assert '<label for="f-preschool_wishes-1">' in swedish
