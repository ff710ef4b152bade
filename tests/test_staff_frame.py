"""Staff pages made with the worker's frame (staff_frame.py) are the pages Jinja makes
whole: for each staff page, each role, both languages and two members; and nothing of one
request (who, the CSRF token, the page's own link) stays in the frame for the next."""

import re

import pytest
import sqlalchemy as sa
from test_accounts import create, sign_in
from test_casework import case_url, submit

from samverkan import memo
from samverkan.accounts.models import User
from samverkan.database_roles import maintenance_session

CSRF = re.compile(r'(name="csrf_token" value=")[^"]+(")')
# The second factor's set-up page offers a new secret (and its QR code) on every visit.
NEW_SECRET = re.compile(r'(<code class="secret">|<figure class="qr">).*?(</code>|</figure>)', re.S)


def whole_and_framed(app, client, path: str) -> tuple[str, str]:
    """The page made whole (KEYED_CACHE_SECONDS 0), then with the frame (twice: the
    second from the worker's memory), the CSRF tokens set aside (each request signs its
    own); the framed pages must be the same."""
    saved = app.config["KEYED_CACHE_SECONDS"]
    app.config["KEYED_CACHE_SECONDS"] = 0
    memo.forget_all()  # nor any part kept from an earlier page (the inbox's filters)
    try:
        whole = client.get(path)
    finally:
        app.config["KEYED_CACHE_SECONDS"] = saved
    framed = [client.get(path) for _ in range(2)]
    assert whole.status_code == framed[0].status_code == framed[1].status_code
    texts = [NEW_SECRET.sub("", CSRF.sub(r"\1…\2", page.text)) for page in (whole, *framed)]
    assert texts[1] == texts[2]
    return texts[0], texts[1]


def staff_paths(reference: str, member: str = "arvika") -> list[str]:
    return [
        f"/{member}/staff/",
        f"/{member}/staff/?status=received&assigned=me",
        f"/{member}/staff/?submitted_from=igår",  # refused: the error summary, 422
        case_url(reference, member),
        f"/{member}/staff/api-nycklar",
        f"/{member}/staff/tvastegsverifiering",
    ]


ADMIN_PATHS = [
    "/arvika/admin/",
    "/arvika/admin/profil",
    "/arvika/admin/e-tjanster",
    "/arvika/admin/personal",
    "/arvika/admin/logg",
]


@pytest.fixture
def signed_in(app, client, read_csrf):
    assert create(app, "anna@arvika.example").exit_code == 0
    assert create(app, "chef@arvika.example", role="tenant_admin").exit_code == 0
    assert create(app, "eva@eda.example", tenant="eda").exit_code == 0

    def as_(email: str, member: str = "arvika"):
        browser = app.test_client()
        assert sign_in(browser, read_csrf, email, tenant=member).status_code == 303
        return browser

    return as_


def test_every_staff_page_is_the_page_jinja_makes_whole(app, client, signed_in):
    """In Swedish, then in English with the worker's Swedish frames still kept."""
    reference = submit(client)["reference"]
    eda_reference = submit(client, member="eda")["reference"]
    anna, chef, eva = (
        signed_in("anna@arvika.example"),
        signed_in("chef@arvika.example"),
        signed_in("eva@eda.example", "eda"),
    )
    visits = [(anna, p) for p in staff_paths(reference)]
    visits += [(chef, p) for p in [*staff_paths(reference), *ADMIN_PATHS]]
    visits += [(eva, p) for p in staff_paths(eda_reference, "eda")]
    for lang in ("sv", "en"):
        for browser in (anna, chef, eva):
            browser.get(f"/sprak/{lang}?next=/")
        for browser, path in visits:
            whole, framed = whole_and_framed(app, browser, path)
            assert framed == whole, (lang, path)
            assert f'<html lang="{lang}">' in framed


def signed_in_as(page: str) -> str:
    return re.search(r"<span>([^<]*) \(", page.split('class="signed-in"')[1]).group(1)


def test_each_request_writes_its_own_user_token_and_link(app, client, signed_in):
    """The frame kept from one request holds none of its values: another person, at
    another page of the same section, gets their own."""
    reference = submit(client)["reference"]
    anna = signed_in("anna@arvika.example")
    with app.app_context(), maintenance_session() as session:
        session.scalar(
            sa.select(User).filter_by(email="anna@arvika.example")
        ).name = "<b>Anna</b> & co"
        session.commit()
    assert create(app, "bo@arvika.example").exit_code == 0
    bo = signed_in("bo@arvika.example")
    first = anna.get("/arvika/staff/").text
    second = bo.get(case_url(reference)).text
    assert signed_in_as(first) == "&lt;b&gt;Anna&lt;/b&gt; &amp; co"
    assert signed_in_as(second) == "Anna Handläggare"  # the name create() gives Bo
    tokens = [CSRF.search(page).group(0) for page in (first, second)]
    assert tokens[0] != tokens[1]
    assert "next=/arvika/staff/arenden/" in second and "next=/arvika/staff/arenden" not in first


def test_a_profile_change_shows_in_the_frame_at_once(app, client, signed_in, resync):
    from samverkan.tenancy.models import Tenant

    chef = signed_in("chef@arvika.example")
    assert "Arvika kommun" in chef.get("/arvika/staff/").text
    with app.app_context(), maintenance_session() as session:
        session.scalar(sa.select(Tenant).filter_by(slug="arvika")).name = "Arvika ny"
        session.commit()
    page = chef.get("/arvika/staff/").text
    assert "Arvika ny" in page and "Arvika kommun" not in page


def test_a_flashed_message_is_shown_once(app, signed_in, read_csrf, resync):
    chef = signed_in("chef@arvika.example")
    page = chef.get("/arvika/admin/e-tjanster")
    done = chef.post(
        "/arvika/admin/e-tjanster/synpunkter/vaxla",
        data={"csrf_token": read_csrf(page.text), "enabled": "off"},
        follow_redirects=True,
    )
    notices = re.findall(r'<p class="notice" role="status">([^<]+)</p>', done.text)
    assert len(notices) == 1 and "avslagen" in notices[0]
    assert 'class="notice"' not in chef.get("/arvika/admin/e-tjanster").text


def test_a_refused_filter_is_shown_with_its_messages_and_never_kept(signed_in):
    anna = signed_in("anna@arvika.example")
    for _ in range(2):
        refused = anna.get("/arvika/staff/?status=nej&submitted_from=igår")
        assert refused.status_code == 422
        assert refused.text.count('aria-invalid="true"') == 2
    for path in ("/arvika/staff/", "/arvika/staff/?status=received"):
        assert "aria-invalid" not in anna.get(path).text


def made_whole(app, browser, path: str) -> str:
    saved = app.config["KEYED_CACHE_SECONDS"]
    app.config["KEYED_CACHE_SECONDS"] = 0
    try:
        return browser.get(path).text
    finally:
        app.config["KEYED_CACHE_SECONDS"] = saved


def older_link(page: str) -> str:
    found = re.search(r'href="([^"]*cursor=[^"]*)"[^>]*>(Äldre ärenden|Older cases)', page)
    return found.group(1).replace("&amp;", "&")


def test_the_inbox_kept_with_its_holes_is_the_page_jinja_makes_whole(
    app, client, signed_in, read_csrf
):
    """The inbox keeps its own part too, per choice of filters, with this request's rows
    and links written in: a first page with older cases after it, an older page, a filter
    that matches nothing, a case assigned to someone."""
    references = [submit(client)["reference"] for _ in range(12)]
    anna = signed_in("anna@arvika.example")
    page = anna.get(case_url(references[-1]))
    assert (
        anna.post(
            case_url(references[-1]) + "/tilldela",
            data={"csrf_token": read_csrf(page.text), "assignee": "me"},
        ).status_code
        == 303
    )
    first = "/arvika/staff/?limit=5"
    second = older_link(anna.get(first).text)
    third = older_link(anna.get(second).text)
    paths = (
        first,
        second,
        third,
        "/arvika/staff/?status=closed",
        "/arvika/staff/",
        "/arvika/staff/?service=synpunkter",  # as the one before it but its choice (export)
    )
    for lang in ("sv", "en"):
        anna.get(f"/sprak/{lang}?next=/")
        for path in paths:
            whole, framed = whole_and_framed(app, anna, path)
            assert framed == whole, (lang, path)
        # Each made from what the pages before it left kept: its own rows and links.
        wholes = [made_whole(app, anna, path) for path in paths]
        for path, whole in zip(paths, wholes, strict=True):
            assert CSRF.sub("", anna.get(path).text) == CSRF.sub("", whole), (lang, path)
    assert references[0] in wholes[2] and references[0] not in wholes[1]  # 12 cases, 5 a page
    assert "Anna Handläggare" in anna.get("/arvika/staff/").text
