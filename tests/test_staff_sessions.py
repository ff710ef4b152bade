"""Staff sessions: the optional second factor (TOTP) and the idle and absolute time-outs."""

import re
import time

import pyotp
import pytest
import sqlalchemy as sa
from conftest import logged_count
from test_accounts import PASSWORD, create, sign_in

from samverkan.accounts.models import User
from samverkan.database_roles import maintenance_session

ANNA = "anna@arvika.example"


@pytest.fixture
def anna(app):
    assert create(app, ANNA).exit_code == 0
    return ANNA


def secret_on_page(html: str) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7]+)</code>', html)
    assert match, "the setup page shows no key"
    return match.group(1)


def turn_on_second_factor(client, read_csrf) -> str:
    page = client.get("/arvika/staff/tvastegsverifiering")
    assert page.status_code == 200 and "<svg" in page.text  # the QR code
    secret = secret_on_page(page.text)
    response = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={
            "csrf_token": read_csrf(page.text),
            "action": "enable",
            "code": pyotp.TOTP(secret).now(),
        },
    )
    assert response.status_code == 303
    return secret


def stored_secret(app) -> str | None:
    with app.app_context(), maintenance_session() as session:
        return session.scalar(sa.select(User.totp_secret).filter_by(email=ANNA))


def previous_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() - 30)


def test_turning_the_second_factor_on_needs_a_right_code(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    page = client.get("/arvika/staff/tvastegsverifiering")
    wrong = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={"csrf_token": read_csrf(page.text), "action": "enable", "code": "000000"},
    )
    assert wrong.status_code == 422 and "Koden stämmer inte." in wrong.text
    assert stored_secret(app) is None
    secret = turn_on_second_factor(client, read_csrf)
    assert stored_secret(app) == secret
    assert logged_count(app) == 1


def test_reloading_the_setup_page_keeps_the_key_that_was_scanned(app, client, read_csrf, anna):
    """A new key on every load made the scanned one wrong after a reload or in a second
    tab: 'Koden stämmer inte' for a right code."""
    sign_in(client, read_csrf, anna)
    first = client.get("/arvika/staff/tvastegsverifiering").text
    again = client.get("/arvika/staff/tvastegsverifiering").text
    assert secret_on_page(again) == secret_on_page(first)
    done = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={
            "csrf_token": read_csrf(again),
            "action": "enable",
            "code": pyotp.TOTP(secret_on_page(first)).now(),
        },
    )
    assert done.status_code == 303 and stored_secret(app) == secret_on_page(first)


def test_guessing_the_code_to_turn_the_second_factor_off_is_limited(app, client, read_csrf, anna):
    """An open session left unattended is no way to guess the second factor off: as many
    wrong codes as at sign-in, then 429, and the factor stays on."""
    sign_in(client, read_csrf, anna)
    secret = turn_on_second_factor(client, read_csrf)
    token = read_csrf(client.get("/arvika/staff/tvastegsverifiering").text)
    old_code = pyotp.TOTP(secret).at(time.time() - 3000)

    def guess(code):
        return client.post(
            "/arvika/staff/tvastegsverifiering",
            data={"csrf_token": token, "action": "disable", "code": code},
        ).status_code

    assert [guess(old_code) for _ in range(5)] == [422] * 5
    assert guess(pyotp.TOTP(secret).now()) == 429  # even the right one, for now
    assert stored_secret(app) == secret


def test_the_second_factor_settings_and_their_refusals_are_in_the_pages_language(
    app, client, read_csrf, anna
):
    sign_in(client, read_csrf, anna)
    client.get("/sprak/en?next=/arvika/staff/tvastegsverifiering")
    page = client.get("/arvika/staff/tvastegsverifiering")
    assert "<h1>Two-step verification</h1>" in page.text and "Turn on" in page.text
    assert "Tvåstegsverifiering" not in page.text and "Slå på" not in page.text
    wrong = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={"csrf_token": read_csrf(page.text), "action": "enable", "code": "000000"},
    )
    assert wrong.status_code == 422
    assert "The code is not right. Check that the app has the right key" in wrong.text
    turn_on_second_factor(client, read_csrf)
    done = client.get("/arvika/staff/tvastegsverifiering?klart=enable")
    assert "Two-step verification is on. Next time you sign in" in done.text
    assert "Turn off" in done.text


def test_with_a_second_factor_the_password_alone_does_not_sign_in(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    secret = turn_on_second_factor(client, read_csrf)
    fresh = app.test_client()
    step_one = sign_in(fresh, read_csrf, anna)
    assert step_one.headers["Location"] == "/arvika/staff/logga-in/kod"
    assert fresh.get("/arvika/staff/").status_code == 302  # not signed in yet
    page = fresh.get("/arvika/staff/logga-in/kod")
    wrong = fresh.post(
        "/arvika/staff/logga-in/kod", data={"csrf_token": read_csrf(page.text), "code": "123456"}
    )
    assert wrong.status_code == 401 and "Koden stämmer inte." in wrong.text
    # Turning it on used up the current step: an earlier code is refused as used.
    stale = fresh.post(
        "/arvika/staff/logga-in/kod",
        data={"csrf_token": read_csrf(page.text), "code": previous_code(secret)},
    )
    assert stale.status_code == 401 and "redan använts" in stale.text
    with app.app_context(), maintenance_session() as session:  # a new step for the test
        session.execute(sa.update(User).values(totp_last_step=None))
        session.commit()
    right = fresh.post(
        "/arvika/staff/logga-in/kod",
        data={"csrf_token": read_csrf(page.text), "code": pyotp.TOTP(secret).now()},
    )
    assert right.status_code == 303 and right.headers["Location"] == "/arvika/staff/"
    assert fresh.get("/arvika/staff/").status_code == 200


def test_a_code_is_accepted_only_once(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    secret = turn_on_second_factor(client, read_csrf)
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(User).values(totp_last_step=None))
        session.commit()
    code = pyotp.TOTP(secret).now()
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        sign_in(browser, read_csrf, anna)
    page = first.get("/arvika/staff/logga-in/kod")
    ok = first.post(
        "/arvika/staff/logga-in/kod", data={"csrf_token": read_csrf(page.text), "code": code}
    )
    assert ok.status_code == 303
    page = second.get("/arvika/staff/logga-in/kod")
    replay = second.post(
        "/arvika/staff/logga-in/kod", data={"csrf_token": read_csrf(page.text), "code": code}
    )
    assert replay.status_code == 401 and "redan använts" in replay.text


def test_code_guessing_is_throttled(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    turn_on_second_factor(client, read_csrf)
    fresh = app.test_client()
    sign_in(fresh, read_csrf, anna)
    page = fresh.get("/arvika/staff/logga-in/kod")
    token = read_csrf(page.text)
    codes = [fresh.post("/arvika/staff/logga-in/kod", data={"csrf_token": token, "code": "111111"})]
    codes += [
        fresh.post("/arvika/staff/logga-in/kod", data={"csrf_token": token, "code": "111111"})
        for _ in range(5)
    ]
    assert [r.status_code for r in codes] == [401] * 5 + [429]


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(client):
    response = client.get("/arvika/staff/logga-in/kod")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/arvika/staff/logga-in")


def test_turning_it_off_needs_a_code(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    secret = turn_on_second_factor(client, read_csrf)
    page = client.get("/arvika/staff/tvastegsverifiering")
    assert "Slå av" in page.text
    refused = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={"csrf_token": read_csrf(page.text), "action": "disable", "code": "000000"},
    )
    assert refused.status_code == 422 and stored_secret(app) == secret
    with app.app_context(), maintenance_session() as session:
        session.execute(sa.update(User).values(totp_last_step=None))
        session.commit()
    off = client.post(
        "/arvika/staff/tvastegsverifiering",
        data={
            "csrf_token": read_csrf(page.text),
            "action": "disable",
            "code": pyotp.TOTP(secret).now(),
        },
    )
    assert off.status_code == 303 and stored_secret(app) is None


# -- time-outs -----------------------------------------------------------------------------


def shift_clock(client, **seconds_ago):
    with client.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[key] = int(time.time()) - ago


def test_before_an_idle_session_ends_staff_can_go_on(app, client, read_csrf, anna):
    """WCAG 2.2.1: every staff page carries when the warning comes (samverkan.js shows it
    two minutes before the idle time is up: tests/browser/test_pages.py), and 'Fortsätt
    vara inloggad' starts the idle time again, by script (JSON) or by the form alone."""
    sign_in(client, read_csrf, anna)
    for path in ("/arvika/staff/", "/arvika/staff/api-nycklar"):
        page = client.get(path).text
        assert 'id="session-warning"' in page and 'data-seconds-left="1740"' in page, path
    token = read_csrf(page)
    kept = client.post(
        "/personal/fortsatt-inloggad",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert kept.status_code == 200 and kept.get_json() == {"seconds_left": 1800}
    plain = client.post(
        "/personal/fortsatt-inloggad",
        data={"csrf_token": token},
        headers={"Referer": "http://localhost/arvika/staff/api-nycklar"},
    )
    assert plain.status_code == 303 and plain.location == "/arvika/staff/api-nycklar"
    elsewhere = client.post(
        "/personal/fortsatt-inloggad",
        data={"csrf_token": token},
        headers={"Referer": "https://evil.example/arvika/staff/"},
    )
    assert elsewhere.location == "/"
    stranger = app.test_client()
    their_token = read_csrf(stranger.get("/arvika/staff/logga-in").text)
    gone = stranger.post(
        "/personal/fortsatt-inloggad",
        data={"csrf_token": their_token},
        headers={"Accept": "application/json"},
    )
    assert gone.status_code == 401 and gone.get_json() == {"seconds_left": 0}
    assert "session-warning" not in stranger.get("/arvika/staff/logga-in").text


def test_an_idle_session_ends(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    assert client.get("/arvika/staff/").status_code == 200
    idle = app.config["STAFF_IDLE_MINUTES"] * 60
    shift_clock(client, last_seen=idle - 30)
    assert client.get("/arvika/staff/").status_code == 200  # still within the limit
    shift_clock(client, last_seen=idle + 1)
    response = client.get("/arvika/staff/")
    assert response.status_code == 302
    assert "utloggad=tid" in response.headers["Location"]
    assert "har loggats ut" in client.get(response.headers["Location"]).text
    assert client.get("/arvika/staff/").status_code == 302  # and it stays ended


def test_a_busy_session_still_ends_after_the_absolute_limit(app, client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    shift_clock(client, signed_in_at=app.config["STAFF_SESSION_HOURS"] * 3600 + 1, last_seen=5)
    assert client.get("/arvika/staff/").status_code == 302


def test_a_session_without_its_clock_is_not_trusted(client, read_csrf, anna):
    sign_in(client, read_csrf, anna)
    with client.session_transaction() as session:
        del session["signed_in_at"]
    assert client.get("/arvika/staff/").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site(client, read_csrf, anna):
    response = sign_in(client, read_csrf, anna)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert PASSWORD not in cookie


def test_turning_it_on_ends_the_other_sessions_signed_in_with_the_password_alone(
    app, client, read_csrf, anna
):
    other = app.test_client()
    sign_in(other, read_csrf, anna)
    sign_in(client, read_csrf, anna)
    turn_on_second_factor(client, read_csrf)
    assert client.get("/arvika/staff/").status_code == 200  # the one that turned it on
    assert other.get("/arvika/staff/").status_code == 302


def test_who_is_signed_in_is_read_once_and_cannot_be_changed_through(app, client, read_csrf, anna):
    """A staff page's current_user is a plain value (accounts/session.py): changing the
    account goes through the account itself, so a change through it fails loudly instead
    of being lost."""
    import dataclasses

    from flask import request_finished
    from flask_login import current_user

    from samverkan.accounts.session import SignedInUser, account_of

    assert sign_in(client, read_csrf, anna).status_code == 303
    seen = {}

    def keep(sender, response, **extra):
        seen["user"] = current_user._get_current_object()
        seen["account"] = account_of(current_user)

    with request_finished.connected_to(keep, app):
        assert client.get("/arvika/staff/").status_code == 200
    user, account = seen["user"], seen["account"]
    assert isinstance(user, SignedInUser) and isinstance(account, User)
    assert (user.id, user.email, user.name, user.get_id()) == (
        account.id,
        account.email,
        account.name,
        account.get_id(),
    )
    assert user == account  # Flask-Login's equality: the same id and session version
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.session_version += 1


def test_a_second_staff_page_reads_neither_the_user_nor_the_role_again(
    app, client, read_csrf, anna
):
    """Who is signed in and their role are remembered by the worker (accounts/session.py)."""
    from test_public_cache import statements

    sign_in(client, read_csrf, anna)
    assert client.get("/arvika/staff/").status_code == 200
    with statements(app) as seen:
        assert client.get("/arvika/staff/").status_code == 200
    assert not [s for s in seen if "FROM users" in s or "memberships" in s]


@pytest.fixture
def short_signed_in_memory(app):
    saved = app.config["SIGNED_IN_CACHE_SECONDS"]
    app.config["SIGNED_IN_CACHE_SECONDS"] = 0.3
    yield 0.3
    app.config["SIGNED_IN_CACHE_SECONDS"] = saved


def set_role(app, email: str, role: str, *, plain_sql: bool = False) -> None:
    from samverkan.accounts.models import Membership

    with app.app_context(), maintenance_session() as session:
        user_id = session.scalar(sa.select(User.id).filter_by(email=email))
        if plain_sql:  # around the app: no commit hook sees it
            session.execute(
                sa.text("UPDATE memberships SET role = :role WHERE user_id = :id"),
                {"role": role, "id": user_id},
            )
        else:
            session.scalar(sa.select(Membership).filter_by(user_id=user_id)).role = role
        session.commit()


def test_a_role_changed_through_the_app_applies_to_the_next_request(app, client, read_csrf):
    assert create(app, "chef@arvika.example", role="tenant_admin").exit_code == 0
    sign_in(client, read_csrf, "chef@arvika.example")
    assert client.get("/arvika/admin/").status_code == 200
    set_role(app, "chef@arvika.example", "case_worker")
    assert client.get("/arvika/admin/").status_code == 403  # not for this role
    assert client.get("/arvika/staff/").status_code == 200


def test_a_role_changed_around_the_app_applies_within_the_time_to_live(
    app, client, read_csrf, short_signed_in_memory
):
    assert create(app, "chef@arvika.example", role="tenant_admin").exit_code == 0
    sign_in(client, read_csrf, "chef@arvika.example")
    assert client.get("/arvika/admin/").status_code == 200
    set_role(app, "chef@arvika.example", "case_worker", plain_sql=True)
    time.sleep(short_signed_in_memory + 0.1)
    assert client.get("/arvika/admin/").status_code == 403  # not for this role


def test_with_no_time_to_live_the_role_is_read_on_every_request(app, client, read_csrf):
    app.config["SIGNED_IN_CACHE_SECONDS"] = 0
    try:
        assert create(app, "chef@arvika.example", role="tenant_admin").exit_code == 0
        sign_in(client, read_csrf, "chef@arvika.example")
        assert client.get("/arvika/admin/").status_code == 200
        set_role(app, "chef@arvika.example", "case_worker", plain_sql=True)
        assert client.get("/arvika/admin/").status_code == 403  # not for this role
    finally:
        app.config["SIGNED_IN_CACHE_SECONDS"] = 30.0
