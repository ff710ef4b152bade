"""Headers every response carries, and the health endpoints."""

import re
import time

import pytest
import sqlalchemy as sa

from samverkan.extensions import db
from samverkan.settings import PROJECT_ROOT

PAGES = ["/", "/arvika/", "/arvika/e/synpunkter", "/arvika/staff/logga-in", "/api/v1/tenants"]


@pytest.mark.parametrize("path", PAGES)
def test_every_response_has_a_strict_content_security_policy(client, path):
    response = client.get(path, follow_redirects=True)
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http: not promised


def test_hsts_is_sent_over_tls(client):
    response = client.get("/arvika/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_template_has_inline_script_style_or_handlers():
    """The policy forbids them; a template that used one would break in the browser."""
    offenders = []
    for template in (PROJECT_ROOT / "platform" / "samverkan").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", text):
            offenders.append(str(template.relative_to(PROJECT_ROOT)))
    assert offenders == []


def test_healthz_and_readyz_answer(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("probe", ["/healthz", "/readyz"])
def test_a_load_balancer_probes_by_the_backends_address(app, client, monkeypatch, probe):
    """The probes answer whatever the Host; every page still refuses a host not trusted."""
    assert client.get(probe, headers={"Host": "10.0.0.5:8000"}).status_code == 200
    assert client.get("/arvika/", headers={"Host": "10.0.0.5:8000"}).status_code == 400
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["e-tjanster.example.se"])
    assert client.get(probe, headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/arvika/", headers={"Host": "127.0.0.1:8000"}).status_code == 400


def test_a_host_name_is_the_same_in_any_case(app, client, monkeypatch):
    """RFC 3986: a browser or proxy that sends the host in capitals is the same site."""
    assert client.get("/arvika/", headers={"Host": "LOCALHOST"}).status_code == 200
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["localhost", "e-tjanster.arvika.se"])
    monkeypatch.setitem(app.config, "TENANT_HOSTS", {"e-tjanster.arvika.se": "arvika"})
    home = client.get("/", headers={"Host": "E-tjanster.Arvika.SE"})
    assert home.status_code == 302 and home.headers["Location"] == "/arvika/"
    assert client.get("/arvika/", headers={"Host": "EVIL.example"}).status_code == 400


def test_readyz_is_503_while_the_database_does_not_answer(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert client.get("/healthz").status_code == 200  # alive, only not ready


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch, tmp_path):
    from samverkan.settings import load_settings

    monkeypatch.setenv("SAMVERKAN_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="needs SECRET_KEY"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("SECRET_KEY", "dev")
    with pytest.raises(RuntimeError, match="too short"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    assert load_settings({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"] == "x" * 64
    assert not (tmp_path / "secret_key").exists()  # nothing generated in production


ANSWERS = {"kind": "fraga", "area": "annat", "message": "Hej", "want_reply": "no"}


@pytest.fixture
def low_limits(app):
    saved = app.config["SUBMISSIONS_PER_ADDRESS"], app.config["SUBMISSIONS_PER_MEMBER"]
    app.config["SUBMISSIONS_PER_ADDRESS"] = "3 per minute"
    app.config["SUBMISSIONS_PER_MEMBER"] = "5 per minute"
    yield
    app.config["SUBMISSIONS_PER_ADDRESS"], app.config["SUBMISSIONS_PER_MEMBER"] = saved


def submit(client, member="arvika", address="192.0.2.1"):
    return client.post(
        f"/api/v1/tenants/{member}/services/synpunkter/submissions",
        json=ANSWERS,
        environ_base={"REMOTE_ADDR": address},
    )


def test_submissions_are_limited_per_address_with_a_clear_429(client, low_limits):
    assert [submit(client).status_code for _ in range(3)] == [201] * 3
    refused = submit(client)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "För många försök"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # How long, as the limit says (a minute here), not a guess.
    assert refused.get_json()["message"] == (
        "Du har försökt för många gånger på kort tid. Försök igen om 1 minut."
    )
    assert submit(client, address="192.0.2.2").status_code == 201  # another caller goes on


def test_an_ipv6_client_is_counted_by_its_slash_64(client, low_limits):
    """Any host in an IPv6 subscriber's /64 can take a new address at will: counted by
    the full address, it walked past every limit per client address."""
    addresses = [f"2001:db8:1:2::{n:x}" for n in range(1, 4)]
    assert [submit(client, address=a).status_code for a in addresses] == [201] * 3
    assert submit(client, address="2001:db8:1:2:ffff::9").status_code == 429  # same /64
    assert submit(client, address="2001:db8:1:3::1").status_code == 201  # the next /64
    # An IPv4 address seen through IPv6 is that IPv4 address (another member: Arvika's
    # own limit is nearly used up here).
    assert submit(client, "kil", address="::ffff:192.0.2.77").status_code == 201
    assert [submit(client, "kil", address="192.0.2.77").status_code for _ in range(2)] == [201] * 2
    assert submit(client, "kil", address="::ffff:192.0.2.77").status_code == 429


def test_a_limited_answer_says_how_many_are_left_and_a_page_with_no_limit_says_nothing(
    client, low_limits
):
    """Flask-Limiter's headers come from its after-request hook, which runs only for a
    request that checked a limit (extensions._Limiter)."""
    first, second = submit(client, address="192.0.2.40"), submit(client, address="192.0.2.40")
    assert first.headers["X-RateLimit-Limit"] == second.headers["X-RateLimit-Limit"]
    assert int(first.headers["X-RateLimit-Remaining"]) > int(
        second.headers["X-RateLimit-Remaining"]
    )
    assert "X-RateLimit-Reset" in first.headers
    home = client.get("/arvika/")
    assert home.status_code == 200 and "X-RateLimit-Limit" not in home.headers


def test_a_refused_address_does_not_use_up_its_members_allowance(client, low_limits):
    """The address is counted first: one client hammering is refused before its
    submissions count against the member, whose other citizens still get through."""
    hammering = [submit(client, address="192.0.2.60").status_code for _ in range(6)]
    assert hammering == [201] * 3 + [429] * 3
    others = [submit(client, address=f"192.0.2.{n}").status_code for n in range(61, 64)]
    assert others == [201, 201, 429]  # the member's five: three from the first, two more


def test_only_a_refused_submission_is_told_when_to_come_back(client, low_limits):
    taken = submit(client, address="192.0.2.70")
    assert taken.status_code == 201 and "Retry-After" not in taken.headers
    assert taken.headers["X-RateLimit-Limit"] == "3"  # the address's: the client's own
    for _ in range(2):
        submit(client, address="192.0.2.70")
    refused = submit(client, address="192.0.2.70")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_every_limit_in_a_setting_counts(app, client, low_limits):
    app.config["SUBMISSIONS_PER_ADDRESS"] = "5 per minute; 2 per hour"
    codes = [submit(client, address="192.0.2.90").status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_web_and_api_submissions_count_together(client, low_limits, read_csrf):
    """One client is one client, whichever way it sends (the test client's address is
    127.0.0.1 for the web form's pages too)."""
    from test_citizen_flow import fill_synpunkter

    assert [submit(client, address="127.0.0.1").status_code for _ in range(2)] == [201, 201]
    check = client.get(fill_synpunkter(client, read_csrf))
    sent = client.post("/arvika/e/synpunkter", data={"csrf_token": read_csrf(check.text)})
    assert sent.status_code == 303
    assert submit(client, address="127.0.0.1").status_code == 429


def test_a_web_form_is_told_its_allowance_only_when_refused(client, low_limits, read_csrf):
    """No browser reads X-RateLimit-*: a web submission let through goes without them (an
    API client's answer has them, above); a refused one has them, with Retry-After."""
    from test_citizen_flow import fill_synpunkter

    def send():
        check = client.get(fill_synpunkter(client, read_csrf))
        return client.post("/arvika/e/synpunkter", data={"csrf_token": read_csrf(check.text)})

    sent = [send() for _ in range(3)]
    assert [answer.status_code for answer in sent] == [303] * 3
    assert not any(name.startswith("X-RateLimit") for a in sent for name, _ in a.headers)
    refused = send()
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "3"  # the address's
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_reset_header_is_when_the_window_ends(client, low_limits):
    before = time.time()
    taken = submit(client, address="192.0.2.91")
    assert before < int(taken.headers["X-RateLimit-Reset"]) <= before + 61


def test_the_app_does_not_start_with_a_limit_that_is_no_limit(tmp_path, monkeypatch):
    """Flask-Limiter would skip such a limit with a line in the log."""
    from samverkan.settings import load_settings

    monkeypatch.setenv("DRAFT_MAILS_PER_RECIPIENT", "5 every hour")
    with pytest.raises(RuntimeError, match="DRAFT_MAILS_PER_RECIPIENT .*'5 every hour'"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


def test_a_limit_setting_changed_into_no_limit_is_named(app, client):
    saved = app.config["SUBMISSIONS_PER_MEMBER"]
    app.config["SUBMISSIONS_PER_MEMBER"] = "many per minute"
    try:  # a testing app lets the error through
        with pytest.raises(RuntimeError, match="SUBMISSIONS_PER_MEMBER .*'many per minute'"):
            submit(client, address="192.0.2.80")
    finally:
        app.config["SUBMISSIONS_PER_MEMBER"] = saved


def test_an_app_with_limits_switched_off_starts_and_takes_submissions(app, monkeypatch):
    from samverkan import create_app
    from samverkan.extensions import db, limiter

    # Flask-Limiter's switch is the shared limiter's own: put it back for the other apps.
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    config = {k: app.config[k] for k in ("SECRET_KEY", "INSTANCE_PATH", "UPLOAD_ROOT")}
    unlimited = create_app(
        {
            **config,
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SERVER_NAME": "localhost",
            "RATELIMIT_ENABLED": False,
        }
    )
    try:
        client = unlimited.test_client()
        answers = [submit(client, address="192.0.2.50") for _ in range(2)]
    finally:
        with unlimited.app_context():
            db.engine.dispose()  # its own pool: no connection left for the collector
    assert [a.status_code for a in answers] == [201, 201]
    assert "X-RateLimit-Limit" not in answers[0].headers


def test_submissions_are_limited_per_member_whoever_sends_them(client, low_limits):
    codes = [submit(client, address=f"192.0.2.{n}").status_code for n in range(10, 16)]
    assert codes == [201] * 5 + [429]
    assert submit(client, member="eda", address="192.0.2.99").status_code == 201  # others go on


def test_a_limit_for_every_page_is_still_checked_before_the_view(client, monkeypatch):
    """Pages with no limit of their own skip Flask-Limiter's pass before the view
    (extensions._Limiter) only while no limit could apply there: a default limit, as
    RATELIMIT_DEFAULT would configure, still counts every page."""
    from flask_limiter import Limit
    from flask_limiter.util import get_remote_address

    from samverkan.extensions import limiter

    home = "/arvika/"
    assert [client.get(home).status_code for _ in range(3)] == [200] * 3
    default = Limit("2 per minute", key_function=get_remote_address).bind(limiter)
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [default])
    assert [client.get(home).status_code for _ in range(3)] == [200, 200, 429]
    monkeypatch.setattr(limiter.limit_manager, "_default_limits", [])
    monkeypatch.setattr(limiter.limit_manager, "_blueprint_limits", {})
    from samverkan.citizen.views import bp

    limiter.limit("1 per minute")(bp)
    assert client.get("/eda/").status_code == 200
    assert client.get("/eda/").status_code == 429
