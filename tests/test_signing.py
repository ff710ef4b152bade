"""Session cookies and CSRF tokens signed with kept serializers (signing.py) are the ones
Flask and Flask-WTF make and check, under each app's own keys."""

import time

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf
from itsdangerous import BadSignature
from wtforms import ValidationError

from samverkan import signing


def small_app(secret: str, fallbacks: list[str] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret, SECRET_KEY_FALLBACKS=fallbacks or [])
    CSRFProtect(app)
    signing.init_app(app)
    return app


def cookie_of(app: Flask, data: dict) -> str:
    return app.session_interface.get_signing_serializer(app).dumps(data)


def test_a_session_cookie_reads_the_same_with_flasks_own_serializer():
    app = small_app("kept-secret")
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    kept = app.session_interface.get_signing_serializer(app)
    data = {"drafts": {"1:synpunkter": 42}, "csrf_token": "a" * 40}
    assert flasks.loads(cookie_of(app, data)) == data
    assert kept.loads(flasks.dumps(data)) == data


def test_each_apps_cookies_are_its_own_and_old_keys_still_open_them():
    first, second = small_app("first-secret"), small_app("second-secret")
    cookie = cookie_of(first, {"x": 1})
    with pytest.raises(BadSignature):
        second.session_interface.get_signing_serializer(second).loads(cookie)
    rotated = small_app("third-secret", fallbacks=["first-secret"])
    assert rotated.session_interface.get_signing_serializer(rotated).loads(cookie) == {"x": 1}
    new_cookie = cookie_of(rotated, {"x": 2})  # signed with the current key, not the old one
    with pytest.raises(BadSignature):
        first.session_interface.get_signing_serializer(first).loads(new_cookie)


def test_a_csrf_token_is_checked_by_flask_wtf_and_is_one_per_request():
    app = small_app("csrf-secret")
    with app.test_request_context():
        token = signing.csrf_token()
        assert signing.csrf_token() == token
        assert len(session["csrf_token"]) == 40
        validate_csrf(token)  # raises if Flask-WTF does not take it
    with app.test_request_context():
        session["csrf_token"] = "b" * 40  # another visitor's session
        with pytest.raises(ValidationError, match="do not match"):  # not this session's
            validate_csrf(token)
    other = small_app("other-secret")
    with other.test_request_context():
        signing.csrf_token()
        with pytest.raises(ValidationError, match="invalid"):  # another key signed it
            validate_csrf(token)


def test_a_form_posted_with_the_pages_token_passes_and_without_it_is_refused():
    app = small_app("form-secret")

    @app.route("/form", methods=["GET", "POST"])
    def form():
        from flask import render_template_string

        return render_template_string("{{ csrf_token() }}")

    client = app.test_client()
    token = client.get("/form").text
    assert client.post("/form", data={"csrf_token": token}).status_code == 200
    assert client.post("/form", data={"csrf_token": "wrong"}).status_code == 400


def _refusal(check, token) -> str | None:
    try:
        check(token)
    except ValidationError as error:
        return error.args[0]
    return None


def test_the_kept_check_refuses_what_flask_wtf_refuses_with_its_words(monkeypatch):
    app = small_app("check-secret")
    with app.test_request_context():
        token = signing.csrf_token()
        other = signing._serializer(("check-secret",), signing.CSRF_SALT, None, ()).dumps("b" * 40)
        cases = {"right": token, "none": None, "garbled": "x.y.z", "another's": other}
        for case, given in cases.items():
            expected = _refusal(validate_csrf, given)
            assert _refusal(signing.check_csrf_token, given) == expected, case
        assert _refusal(signing.check_csrf_token, token) is None
        assert _refusal(signing.check_csrf_token, other) == "The CSRF tokens do not match."
        session.pop("csrf_token")
        assert _refusal(signing.check_csrf_token, token) == _refusal(validate_csrf, token)
    with app.test_request_context():
        app.config["WTF_CSRF_TIME_LIMIT"] = 60
        token = signing.csrf_token()
        # Decades later by itsdangerous's clock (its module's `time`).
        monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 2_000_000_000.0)
        assert _refusal(signing.check_csrf_token, token) == "The CSRF token has expired."
        assert _refusal(validate_csrf, token) == "The CSRF token has expired."


def test_over_https_a_form_must_come_from_this_host():
    """Flask-WTF's strict referrer check, kept in samverkan's own CSRF hook."""
    from samverkan.extensions import _CSRFProtect

    app = Flask(__name__)
    app.config.update(SECRET_KEY="https-secret")
    _CSRFProtect(app)
    signing.init_app(app)
    app.register_error_handler(CSRFError, lambda error: (error.description, 400))

    @app.route("/form", methods=["GET", "POST"])
    def form():
        return signing.csrf_token()

    client = app.test_client()
    token = client.get("/form", base_url="https://localhost").text

    def post(**headers):
        answer = client.post(
            "/form", data={"csrf_token": token}, base_url="https://localhost", headers=headers
        )
        return answer.status_code, (answer.text if answer.status_code == 400 else None)

    assert post() == (400, "The referrer header is missing.")
    assert post(Referer="https://elsewhere.example/form") == (
        400,
        "The referrer does not match the host.",
    )
    assert post(Referer="https://localhost/form") == (200, None)
    app.config["WTF_CSRF_SSL_STRICT"] = False
    assert post() == (200, None)
    refused = client.post("/form", data={"csrf_token": "wrong"})
    assert (refused.status_code, refused.text) == (400, "The CSRF token is invalid.")


def test_a_view_exempted_from_csrf_takes_a_post_without_a_token():
    from samverkan.extensions import _CSRFProtect

    app = Flask(__name__)
    app.config.update(SECRET_KEY="exempt-secret")
    protect = _CSRFProtect(app)
    signing.init_app(app)

    @app.post("/hook")
    @protect.exempt
    def hook():
        return "taken"

    @app.post("/form")
    def form():
        return "taken"

    client = app.test_client()
    assert client.post("/hook").status_code == 200
    assert client.post("/form").status_code == 400


def test_the_session_is_written_byte_for_byte_as_flask_writes_it():
    import uuid
    from datetime import UTC, datetime

    from flask.json.tag import TaggedJSONSerializer
    from markupsafe import Markup

    flasks, ours = TaggedJSONSerializer(), signing.KeptSessionInterface.serializer
    values = [
        {"drafts": {"1:synpunkter": "abc"}, "receipts": ["t1", "t2"], "n": 3, "ok": True},
        {"nested": [{"a": None, "b": 1.5}, [1, [2, "x"]]], "empty": {}, "list": []},
        {" t": ["looks like a tag"]},  # a one-key dict whose key is a tag: tagged as such
        {"markup": Markup("<b>x</b>"), "tuple": (1, "a"), "bytes": b"\x00\xff"},
        {"when": datetime(2026, 12, 4, 21, 0, tzinfo=UTC), "id": uuid.UUID(int=7)},
        ["top", "level", {"k": (1,)}],
    ]
    for value in values:
        assert ours.dumps(value) == flasks.dumps(value)
        assert ours.loads(ours.dumps(value)) == flasks.loads(flasks.dumps(value))


def opened(app: Flask, cookie: str | None, interface=None):
    """The session `interface` (the app's own by default) opens from `cookie`."""
    interface = interface or app.session_interface
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    with app.test_request_context(headers=headers) as context:
        return interface.open_session(app, context.request)


def tampered(cookie: str) -> str:
    """The cookie with its signature's first character changed. Not the last: that
    character carries base64 padding bits, and some changes to it decode to the same
    signature (a flaky test in CI found that)."""
    payload, signature = cookie.rsplit(".", 1)
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def test_a_session_opened_again_from_memory_is_what_flask_opens(monkeypatch):
    """A cookie opened before is opened from the worker's memory: the same session as
    Flask's own interface opens, each time a copy of its own, and refused alike once
    the session's lifetime is over, or when not signed with this app's keys."""
    app = small_app("memory-secret")
    flasks = SecureCookieSessionInterface()
    data = {"drafts": {"1:synpunkter": 42}, "receipts": ["t1"], "csrf_token": "c" * 40}
    cookie = cookie_of(app, data)
    first = opened(app, cookie)
    assert first == data == opened(app, cookie, flasks)
    first["receipts"].append("t2")  # a view changing what it was given, in place
    first["drafts"]["2:felanmalan"] = 7
    assert opened(app, cookie) == data  # the next request's is as the cookie says
    assert opened(app, tampered(cookie)) == {}
    assert opened(app, tampered(cookie), flasks) == {}
    assert opened(small_app("another-secret"), cookie) == {}
    assert opened(app, None) == {}
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    serializer = app.session_interface.get_signing_serializer(app)
    signed = serializer.loads(cookie, return_timestamp=True)[1].timestamp()
    for later, open_still in ((lifetime, True), (lifetime + 1, False), (-1, False)):
        monkeypatch.setattr(time, "time", lambda later=later: signed + later + 0.5)
        assert bool(opened(app, cookie)) is open_still, later
        assert bool(opened(app, cookie, flasks)) is open_still, later


def test_a_sessions_token_is_signed_once_while_young_and_each_session_has_its_own(monkeypatch):
    app = small_app("token-memory-secret")
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # ours: a token lives as long as its session

    def page_token(raw: str) -> str:
        with app.test_request_context():
            session["csrf_token"] = raw
            token = signing.csrf_token()
            validate_csrf(token)  # Flask-WTF takes it
            return token

    first = page_token("a" * 40)
    assert page_token("a" * 40) == first
    assert page_token("b" * 40) != first
    app.config["WTF_CSRF_TIME_LIMIT"] = 60
    young = page_token("c" * 40)
    signed_at = time.time()
    monkeypatch.setattr(time, "time", lambda: signed_at + 5)  # within a tenth of the limit
    assert page_token("c" * 40) == young
    monkeypatch.setattr(time, "time", lambda: signed_at + 7)
    assert page_token("c" * 40) != young


@pytest.mark.parametrize(
    "change",
    ["read", "write", "clear", "untouched", "permanent", "empty-read"],
)
@pytest.mark.parametrize("vary", [None, "Accept", "accept, COOKIE", '"Cookie"'])
def test_the_session_is_saved_with_the_headers_flask_saves_it_with(monkeypatch, change, vary):
    """Set-Cookie and Vary as Flask's own save_session writes them, for each way a
    request may have used its session and any Vary a view set already."""
    from flask.sessions import SecureCookieSession

    app = small_app("saving-secret")
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.5)  # one timestamp for both
    flasks = SecureCookieSessionInterface()
    flasks.serializer = signing.KeptSessionInterface.serializer  # the same bytes (tested above)

    def saved(interface) -> list:
        session = SecureCookieSession({} if change == "empty-read" else {"csrf_token": "a" * 40})
        if change == "read":
            session.get("csrf_token")
        elif change == "write":
            session["drafts"] = {"1:synpunkter": "d"}
        elif change == "clear":
            session.clear()
        elif change == "permanent":
            session.permanent = True
        elif change == "empty-read":
            session.get("x")
        response = app.response_class("page")
        if vary:
            response.headers["Vary"] = vary
        with app.test_request_context():
            interface.save_session(app, session, response)
        return sorted(map(opened_cookie, response.headers.items()))

    def opened_cookie(header: tuple[str, str]) -> tuple:
        """A Set-Cookie header with its value as Flask reads it: a small session's
        cookie is ours uncompressed (see the test below), the same data."""
        name, value = header
        if name != "Set-Cookie":
            return header
        cookie, _, attributes = value.partition(";")
        cookie_name, _, signed = cookie.partition("=")
        serializer = flasks.get_signing_serializer(app)
        return name, cookie_name, signed and serializer.loads(signed), attributes

    assert saved(app.session_interface) == saved(flasks)


def test_a_small_session_is_not_compressed_and_a_large_one_as_itsdangerous_does_it(monkeypatch):
    """Setting up zlib for a small cookie cost more than it saved (signing.py): under a
    kilobyte of JSON the cookie is written as it is, and Flask's own serializer reads it;
    a larger one is compressed as itsdangerous compresses it, byte for byte."""
    app = small_app("compress-secret")
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.5)  # one timestamp for both
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    small = {"drafts": {"1:synpunkter": "d" * 32}, "csrf_token": "a" * 40}
    large = {"drafts": {f"{n}:synpunkter": "d" * 32 for n in range(40)}, "csrf_token": "a" * 40}
    assert flasks.dumps(small).startswith(".")  # itsdangerous compresses even this one
    assert not cookie_of(app, small).startswith(".")
    assert flasks.loads(cookie_of(app, small)) == small
    assert cookie_of(app, large).startswith(".")
    assert cookie_of(app, large) == flasks.dumps(large)
    assert flasks.loads(cookie_of(app, large)) == large
    barely = {"x": "y" * (signing._WORTH_COMPRESSING - len('{"x":""}'))}  # exactly the size
    assert cookie_of(app, barely) == flasks.dumps(barely)


def test_the_session_serializer_is_built_once_per_set_of_keys():
    app = small_app("kept-once-secret")
    interface = app.session_interface
    assert interface.get_signing_serializer(app) is interface.get_signing_serializer(app)
    assert (
        type(interface).get_signing_serializer
        is not SecureCookieSessionInterface.get_signing_serializer
    )
