"""The denial matrix: every route (HTML and API) against municipality A's objects, tried
by six kinds of visitor. Staff of municipality B get 404 everywhere and change nothing;
visitors who are not signed in are sent to sign in (or get 401 from the API); A's own
case worker is kept out of A's administration pages with 403 (and its API with 404).

The routes come from app.url_map, so a new route is in the matrix the day it is added;
a route with a URL part this file has no value for fails until one is given below.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from api_support import FELANMALAN, as_upload, tiny_png

from samverkan.accounts import operations as accounts
from samverkan.accounts import tokens
from samverkan.accounts.models import CASE_WORKER, TENANT_ADMIN, Invitation, User
from samverkan.database_roles import maintenance_session
from samverkan.db import Base
from samverkan.tenancy.models import Tenant

PASSWORD = "matris-lösenord-2026"
ACTORS = ("anonymous", "citizen", "worker_a", "admin_a", "worker_b", "admin_b")
FROM_B = ("worker_b", "admin_b")
# URL parts that name one of A's objects (the e-service and step names are shared).
A_OBJECTS = {"reference", "attachment_id", "user_id", "token_id", "token", "invitation_id"}
# What a form or JSON body carries: enough that a request that got through would change
# something (status, notes, assignment, profile, switches, staff, tokens).
PAYLOAD = {
    "status": "closed",
    "message": "Ändrat av fel kommun",
    "note": "Anteckning från fel kommun",
    "assignee": "me",
    "action": "enable",
    "code": "000000",
    "enabled": "0",
    "name": "Fel Kommun",
    "short_name": "Fel",
    "email": "intrang@example.se",
    "role": "tenant_admin",
    "label": "intrång",
    "phone": "000",
    "primary_colour": "#000000",
    "accent_colour": "#000000",
    "password": PASSWORD,
    "password_again": PASSWORD,
}


@pytest.fixture
def world(app, client):
    """Arvika (A) and Eda (B): a case worker and an administrator each, a case of A's with
    an attachment, a status link, and an API token for each person."""
    people = {}
    with app.app_context(), maintenance_session() as session:
        ids = dict(session.execute(sa.select(Tenant.slug, Tenant.id)).all())
        for key, slug, role in (
            ("worker_a", "arvika", CASE_WORKER),
            ("admin_a", "arvika", TENANT_ADMIN),
            ("worker_b", "eda", CASE_WORKER),
            ("admin_b", "eda", TENANT_ADMIN),
        ):
            user = accounts.create_user(session, f"{key}@matris.example", key, PASSWORD)
            accounts.grant_membership(session, user, ids[slug], role)
            people[key] = user.id
        session.commit()
    answers = {
        **FELANMALAN,
        "want_contact": "yes",
        "name": "Anna Berg",
        "email": "anna@exempel.se",
        "photo": as_upload("lampa.png", tiny_png()),
    }
    case = client.post("/api/v1/tenants/arvika/services/felanmalan/submissions", json=answers)
    assert case.status_code == 201, case.get_json()
    case = case.get_json()
    with app.app_context(), maintenance_session() as session:
        attachment_id = session.execute(sa.text("SELECT id FROM attachments")).scalar_one()
        tokens = {key: _api_token(session, user_id, key) for key, user_id in people.items()}
        # A second token of A's administrator, for the revoke route (not the one they use;
        # A's case worker may not revoke it, but is told so with 403, not 404).
        _api_token(session, people["admin_a"], "reserv")
        spare_id = session.execute(
            sa.text("SELECT id FROM api_tokens WHERE label = 'matris reserv'")
        ).scalar_one()
        # A pending invitation of A's (the withdraw route).
        invitation = Invitation(
            tenant_id=ids["arvika"],
            email="inbjuden@matris.example",
            name="Inbjuden",
            role=CASE_WORKER,
            token_hash="0" * 64,
            invited_by_id=people["admin_a"],
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
        session.add(invitation)
        session.flush()
        invitation_id = invitation.id
        session.commit()
    return {
        "ids": ids,
        "people": people,
        "tokens": tokens,
        "values": {
            "tenant": "arvika",
            "reference": case["reference"],
            "token": case["status_url"].rsplit("/", 1)[-1],
            "attachment_id": attachment_id,
            "service": "felanmalan",
            "step_id": "fel",
            "user_id": people["worker_a"],
            "token_id": spare_id,
            "invitation_id": invitation_id,
            "member": "arvika",  # the hub's pages about one member
            "period": "2026",  # the hub's cost pages and allocations API
            "pool_id": 1,
            "run_id": 1,
            "lang": "en",  # the language switch
        },
        "citizen": client,  # the browser that submitted the case
    }


def _api_token(session, user_id: int, key: str) -> str:
    user = session.get(User, user_id)
    member = session.execute(
        sa.text("SELECT tenant_id FROM memberships WHERE user_id = :u"), {"u": user_id}
    ).scalar_one()
    _, secret = tokens.create(session, member, user, f"matris {key}", actor="test")
    return secret


def _signed_in(app, read_csrf, key: str):
    browser = app.test_client()
    slug = "arvika" if key.endswith("_a") else "eda"
    page = browser.get(f"/{slug}/staff/logga-in")
    response = browser.post(
        f"/{slug}/staff/logga-in",
        data={
            "csrf_token": read_csrf(page.text),
            "email": f"{key}@matris.example",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303, key
    return browser, read_csrf(browser.get(f"/{slug}/staff/").text)


def _fingerprint(app) -> str:
    """Every row of every member's table, the members and the accounts, as one digest."""
    names = sorted(
        t.name for t in Base.metadata.tables.values() if "tenant_id" in t.c or t.name == "users"
    ) + ["tenants"]
    digest = hashlib.sha256()
    with app.app_context(), maintenance_session() as session:
        for name in names:
            rows = session.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1")).all()  # noqa: S608
            digest.update(json.dumps([list(r) for r in rows], default=str).encode())
    return digest.hexdigest()


def _routes(app):
    """(rule, method, access) for every route but the static files, sign-out last."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, getattr(view, "access", None)))
    return sorted(found, key=lambda item: (item[0].endpoint == "accounts.logout", item[0].rule))


def _url(rule, values) -> str:
    missing = [arg for arg in rule.arguments if arg not in values]
    assert not missing, f"{rule.rule}: give the matrix a value of A's for {missing}"
    path = rule.rule
    for arg in rule.arguments:
        for converter in ("slug", "token", "reference", "int", "string", "path"):
            path = path.replace(f"<{converter}:{arg}>", str(values[arg]))
        path = path.replace(f"<{arg}>", str(values[arg]))
    return path


def _request(browser, method, url, csrf, bearer):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer and url.startswith("/api/") else {}
    if method == "GET":
        return browser.get(url, headers=headers)
    if url.startswith("/api/"):
        return browser.open(url, method=method, json=PAYLOAD, headers=headers)
    return browser.open(url, method=method, data={"csrf_token": csrf, **PAYLOAD}, headers=headers)


@pytest.mark.parametrize("actor", ACTORS)
def test_every_route_against_municipality_a(app, read_csrf, world, actor):
    csrf, bearer = "", world["tokens"].get(actor)
    if actor in ("anonymous", "citizen"):
        # A valid CSRF token from a public page, so the access check itself is what answers.
        browser = app.test_client() if actor == "anonymous" else world["citizen"]
        csrf = read_csrf(browser.get("/arvika/staff/logga-in").text)
    else:
        browser, csrf = _signed_in(app, read_csrf, actor)
    before = _fingerprint(app)
    wrong = []
    checked = 0
    for rule, method, access in _routes(app):
        assert access, f"{rule.rule} declares no access"
        if access == "public":
            continue  # anyone's: citizens' pages and the public API, tested on their own
        checked += 1
        url = _url(rule, world["values"])
        response = _request(browser, method, url, csrf, bearer)
        status = response.status_code
        api = url.startswith("/api/")
        admin_only = _admin_only(access)
        if access == "citizen":
            # Mina ärenden: only a citizen signed in with e-ID, which no actor here is
            # (staff accounts are not e-ID sessions): to the citizens' sign-in, all of them.
            location = response.headers.get("Location", "")
            expected_ok = status == 302 and location.startswith("/logga-in?")
        elif actor in FROM_B:
            expected_ok = status == 404
        elif actor in ("anonymous", "citizen"):
            expected_ok = (
                status == 401
                if api
                else (status == 302 and "/staff/logga-in" in response.headers.get("Location", ""))
            )
        elif actor == "worker_a" and admin_only and not api:
            expected_ok = status == 403  # told "not allowed", not "no such page"
        elif (actor == "worker_a" and admin_only) or access.startswith("hub"):
            expected_ok = status == 404  # the hub's pages are the hub's staff's alone
        else:  # A's own people are let in (they may still get 4xx for this odd payload)
            expected_ok = status not in (401, 404) and not (
                status == 302 and "/logga-in" in response.headers.get("Location", "")
            )
        if not expected_ok:
            wrong.append(f"{method} {url} ({access}) -> {status}")
        response.close()
    assert checked >= 8, "the matrix found too few staff routes to mean anything"
    assert not wrong, f"{actor}:\n" + "\n".join(wrong)
    if actor in FROM_B:
        assert _fingerprint(app) == before, f"{actor} changed something of A's"


def _admin_only(access: str) -> bool:
    """A route only a member's administrator may use: the roles it names ("staff:tenant_admin";
    "any" is every member role) leave out the case worker."""
    roles = set(access.partition(":")[2].split(","))
    return "tenant_admin" in roles and not {"case_worker", "any"} & roles


@pytest.mark.parametrize("actor", FROM_B)
def test_bs_own_addresses_with_as_ids_find_nothing(app, read_csrf, world, actor):
    """B's staff put A's case reference, attachment, colleague or token id into B's own
    URLs: 404 every time (403 for B's case worker at B's own administration pages, which
    it may not use whatever the id), and nothing changes anywhere."""
    browser, csrf = _signed_in(app, read_csrf, actor)
    values = {**world["values"], "tenant": "eda"}
    before = _fingerprint(app)
    wrong, checked = [], 0
    for rule, method, access in _routes(app):
        if access == "public" or not set(rule.arguments) & A_OBJECTS:
            continue  # B's own pages (and the shared e-services) are B's to use
        checked += 1
        url = _url(rule, values)
        response = _request(browser, method, url, csrf, world["tokens"][actor])
        admin_page = _admin_only(access) and not url.startswith("/api/")
        refused = 403 if actor == "worker_b" and admin_page else 404
        if response.status_code != refused:
            wrong.append(f"{method} {url} -> {response.status_code}")
        response.close()
    assert checked >= 8
    assert not wrong, "\n".join(wrong)
    assert _fingerprint(app) == before


@pytest.mark.parametrize("actor", FROM_B)
def test_on_public_pages_bs_staff_are_anyone(app, read_csrf, world, actor):
    """The public pages of A answer B's staff exactly as they answer a stranger: being
    signed in elsewhere opens nothing more."""
    browser, _ = _signed_in(app, read_csrf, actor)
    stranger = app.test_client()
    differ = []
    for rule, method, access in _routes(app):
        if access != "public" or method != "GET":
            continue
        url = _url(rule, world["values"])
        theirs, anyones = browser.get(url), stranger.get(url)
        if theirs.status_code != anyones.status_code:
            differ.append(f"GET {url}: {theirs.status_code} for {actor}, {anyones.status_code}")
        theirs.close()
        anyones.close()
    assert not differ, "\n".join(differ)
