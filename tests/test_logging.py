"""Logs: one JSON object per line with the request id and the member, and never a
personnummer, a password or a token."""

import json
import logging
import re
import sys

import pytest
import sqlalchemy as sa
from api_support import FORSKOLEPLATS, submissions
from hypothesis import given, settings
from hypothesis import strategies as st
from test_accounts import PASSWORD, create, sign_in
from test_staff_api import bearer, token_of

from samverkan import observability
from samverkan.database_roles import maintenance_session
from samverkan.extensions import db
from samverkan.observability import (
    REDACTED,
    SECRET_WORDS,
    RedactingJsonFormatter,
    _redact_all,
    fold,
    redact,
)


def log_lines(captured: str) -> list[dict]:
    lines = [line for line in captured.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line must be one JSON object


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "samverkan.request"]


def test_each_request_is_one_json_line_with_its_id_route_and_member(client, capsys):
    capsys.readouterr()
    response = client.get("/arvika/")
    assert response.status_code == 200
    (line,) = request_lines(log_lines(capsys.readouterr().err))
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert len(line["request_id"]) == 32
    assert line["tenant"] == "arvika"
    assert line["route"] == "/<slug:tenant>/"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["timestamp"]


def test_a_proxys_request_id_is_kept_and_anything_else_replaced(client, capsys):
    kept = client.get("/arvika/", headers={"X-Request-ID": "lb-4f2a9c81d0e7"})
    assert kept.headers["X-Request-ID"] == "lb-4f2a9c81d0e7"
    for offered in ('x"} {"level": "ERROR"', "short", "a" * 65, "åäö-12345678"):
        replaced = client.get("/arvika/", headers={"X-Request-ID": offered})
        assert replaced.headers["X-Request-ID"] != offered
        assert len(replaced.headers["X-Request-ID"]) == 32
    lines = request_lines(log_lines(capsys.readouterr().err))
    assert [line["request_id"] for line in lines][0] == "lb-4f2a9c81d0e7"
    assert all(line["tenant"] == "arvika" for line in lines)


REQUEST_LINE = {
    "method": "GET",
    "route": "/<slug:tenant>/e/<slug:service>/steg/<slug:step_id>",
    "endpoint": "citizen.step",
    "status": 200,
    "duration_ms": 0.4,
}


@pytest.mark.parametrize(
    ("fields", "request_id", "tenant"),
    [
        (REQUEST_LINE, "lb-4f2a9c81d0e7", "arvika"),
        ({**REQUEST_LINE, "route": None, "endpoint": None, "status": 404}, "a" * 32, None),
        ({**REQUEST_LINE, "duration_ms": None}, None, "eda"),
    ],
)
def test_the_request_line_is_made_as_the_general_path_makes_it(fields, request_id, tenant):
    """The line every request writes is made directly (observability.request_line): byte
    for byte what python-json-logger's general path makes of the same record."""
    record = logging.makeLogRecord(
        {
            "name": "samverkan.request",
            "msg": "request",
            "levelname": "INFO",
            **fields,
            "request_id": request_id,
            "tenant": tenant,
        }
    )
    general = RedactingJsonFormatter().format(record)
    assert observability.request_line(fields, request_id, tenant, record.created) == general


@pytest.fixture
def only_our_handler():
    """The request logger as in production: our JSON handler its only one (here on the
    logger itself). Call it in the test: pytest adds its capture handlers to a logger that
    does not propagate when the test starts, after the fixtures."""
    request_log = logging.getLogger("samverkan.request")
    saved = request_log.handlers[:]
    ours = observability.log_handler()

    def isolate() -> logging.Logger:
        request_log.handlers[:] = [ours]
        request_log.propagate = False
        return request_log

    yield isolate
    request_log.propagate = True
    request_log.handlers[:] = saved


def test_with_only_our_handler_the_line_goes_straight_to_it(only_our_handler, capsys, monkeypatch):
    request_log = only_our_handler()
    assert observability._sole_json_handler(request_log) is request_log.handlers[0]
    general = []
    monkeypatch.setattr(request_log, "info", lambda *a, **k: general.append(a))
    capsys.readouterr()
    observability.write_request_line(REQUEST_LINE, "lb-4f2a9c81d0e7", "arvika")
    (line,) = log_lines(capsys.readouterr().err)
    assert general == []
    assert line == {
        "level": "INFO",
        "logger": "samverkan.request",
        "message": "request",
        **REQUEST_LINE,
        "request_id": "lb-4f2a9c81d0e7",
        "tenant": "arvika",
        "timestamp": line["timestamp"],
    }
    # Any text that looks like a secret takes the general path, which masks it: a
    # client's method, or a status link's rule that names its token.
    observability.write_request_line({**REQUEST_LINE, "method": "token=abc"}, "x" * 16, None)
    assert len(general) == 1
    status_route = {**REQUEST_LINE, "route": "/<slug:tenant>/arende/<token:token>"}
    observability.write_request_line(status_route, "x" * 16, "arvika")
    assert len(general) == 2
    # A route found clean before still takes it when the request id looks like one.
    observability.write_request_line(REQUEST_LINE, "19811228-9874", "arvika")
    assert len(general) == 3
    assert capsys.readouterr().err == ""
    # An id as the app makes them never does, even when it starts with six digits.
    observability.write_request_line(REQUEST_LINE, "198112" + "a" * 26, "arvika")
    assert len(general) == 3
    assert log_lines(capsys.readouterr().err)[0]["request_id"] == "198112" + "a" * 26


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
def test_no_masking_pattern_matches_a_request_id_the_app_makes(request_id):
    assert observability.redact(request_id) == request_id


def test_any_other_handler_or_filter_takes_the_general_path(only_our_handler):
    request_log = only_our_handler()
    ours = request_log.handlers[0]
    another = logging.StreamHandler()
    request_log.addHandler(another)
    assert observability._sole_json_handler(request_log) is None
    request_log.removeHandler(another)
    ours.addFilter(lambda record: True)
    assert observability._sole_json_handler(request_log) is None
    ours.filters.pop()
    ours.setLevel(logging.WARNING)
    assert observability._sole_json_handler(request_log) is None
    ours.setLevel(logging.NOTSET)
    assert observability._sole_json_handler(request_log) is ours
    # Under pytest the root holds its capture handler too: the general path.
    assert observability._sole_json_handler(logging.getLogger("samverkan.x")) is None


def test_a_request_line_whose_client_texts_look_secret_is_masked(client, capsys):
    capsys.readouterr()
    shaped = client.get("/arvika/", headers={"X-Request-ID": "19811228-9874"})
    assert shaped.headers["X-Request-ID"] == "19811228-9874"  # the proxy's own, kept
    (line,) = request_lines(log_lines(capsys.readouterr().err))
    assert line["request_id"] == REDACTED and line["tenant"] == "arvika"


def test_requests_outside_a_member_log_no_member(client, capsys):
    capsys.readouterr()
    client.get("/healthz")
    client.get("/finns-inte/")
    lines = request_lines(log_lines(capsys.readouterr().err))
    assert [(line["status"], line["tenant"]) for line in lines] == [(200, None), (404, None)]


def test_no_personnummer_password_or_token_reaches_the_log(app, client, read_csrf, capsys, caplog):
    """A whole working day's requests, logged at DEBUG, then searched for every secret."""
    caplog.set_level(logging.DEBUG)
    capsys.readouterr()
    email = "logg@arvika.example"
    assert create(app, email).exit_code == 0

    submitted = client.post(submissions("arvika", "forskoleplats"), json=FORSKOLEPLATS)
    assert submitted.status_code == 201, submitted.get_json()
    status_url = submitted.get_json()["status_url"]
    status_token = status_url.rstrip("/").rsplit("/", 1)[-1]
    assert client.get(status_url).status_code == 200
    assert client.get(f"/api/v1/tenants/arvika/status/{status_token}").status_code == 200

    staff = app.test_client()
    refused = staff.post(
        "/arvika/staff/logga-in",
        data={
            "csrf_token": read_csrf(staff.get("/arvika/staff/logga-in").text),
            "email": email,
            "password": "fel-lösenord-8112289874",
        },
    )
    assert refused.status_code in (200, 401, 422)
    sign_in(staff, read_csrf, email)
    session_cookie = staff.get_cookie("session").value
    secret = token_of(app, email)
    assert staff.get("/arvika/staff/").status_code == 200
    api = client.get("/api/v1/tenants/arvika/cases", headers=bearer(secret))
    assert api.status_code == 200
    wrong = client.get("/api/v1/tenants/arvika/cases", headers=bearer(secret + "x"))
    assert wrong.status_code == 404  # an unknown token learns nothing (issue 3)

    logged = capsys.readouterr().err
    lines = log_lines(logged)
    assert len(request_lines(lines)) >= 8
    secrets_and_identities = [
        "20230115-0005",
        "202301150005",
        "230115-0005",
        "8112289874",
        "811228-9874",
        PASSWORD,
        "fel-lösenord",
        status_token,
        secret,
        session_cookie,
    ]
    for needle in secrets_and_identities:
        assert needle not in logged, f"{needle!r} was logged"
    # What was sent is still useful: the routes are there, by their rules.
    routes = {line["route"] for line in request_lines(lines)}
    assert "/api/v1/tenants/<slug:tenant>/status/<token:token>" in routes
    assert "/<slug:tenant>/staff/logga-in" in routes


def test_database_errors_do_not_quote_their_parameters(app):
    with app.app_context(), pytest.raises(sa.exc.DBAPIError) as raised:
        db.session.execute(
            sa.text("SELECT * FROM no_such_table WHERE x = :pnr"), {"pnr": "19811228-9874"}
        )
    assert "19811228-9874" not in str(raised.value)
    assert "hide_parameters" in str(raised.value)


def test_the_owners_database_errors_do_not_quote_their_parameters_either(app):
    """The owner's engine (maintenance_session: the CLI, the hub, the contact centre
    registering a caller's answers) is a second engine on PostgreSQL."""
    with (
        app.app_context(),
        maintenance_session() as session,
        pytest.raises(sa.exc.DBAPIError) as raised,
    ):
        session.execute(
            sa.text("SELECT * FROM no_such_table WHERE x = :address"),
            {"address": "Anna Andersson, Storgatan 1"},
        )
    assert "Storgatan" not in str(raised.value)
    assert "hide_parameters" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pnr 19811228-9874 saknas", f"pnr {REDACTED} saknas"),
        ("pnr 198112289874.", f"pnr {REDACTED}."),
        ("811228-9874 och 811228+9874", f"{REDACTED} och {REDACTED}"),
        ('{"password": "hemligt ord"}', f'{{"password": {REDACTED}}}'),
        ("lösenord=abc123&x=1", f"lösenord={REDACTED}&x=1"),
        ("Authorization: Bearer smv_abc.DEF-123", f"Authorization: {REDACTED}"),
        ("sent Bearer smv_abc.DEF-123 along", f"sent Bearer {REDACTED} along"),
        ("token=abcdefabcdef", f"token={REDACTED}"),
    ],
)
def test_redaction_masks_identities_and_secrets(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ARV-2026-000042",
        "request 4f2a9c8112289874d0e7aa5511223344",
        "2026-11-23T14:58:05.816601+00:00",
        "status 404 in 12.5 ms",
        "route /<slug:tenant>/status/<token:token>",
    ],
)
def test_redaction_leaves_references_ids_and_times_alone(text):
    assert redact(text) == text


def test_an_error_is_logged_by_its_route_never_its_path(app, capsys):
    token = "hemligStatusToken0123456789abcdefghijklmnopq"
    capsys.readouterr()
    with app.test_request_context(f"/arvika/arende/{token}"):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            app.log_exception(sys.exc_info())
    logged = capsys.readouterr().err
    assert token not in logged
    (line,) = [line for line in log_lines(logged) if line["level"] == "ERROR"]
    assert line["message"] == "Exception on /<slug:tenant>/arende/<token:token> [GET]"
    assert "RuntimeError: boom" in line["exc_info"]


def test_every_letter_the_patterns_ignore_the_case_of_folds_as_the_quick_check_expects():
    """redact() skips the patterns when no secret word is in the folded text: that is only
    right if each character re.IGNORECASE takes for a letter folds to that letter."""
    letters = sorted(set("".join(SECRET_WORDS)))
    candidates = re.compile("[" + re.escape("".join(letters)) + "]", re.IGNORECASE)
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    found = {match.group() for match in candidates.finditer(everything)}
    assert {"ſ", "K", "İ", "ı"} <= found  # long s, kelvin sign, Turkish I: not plain ASCII
    for char in found:
        for letter in letters:
            if re.fullmatch(re.escape(letter), char, re.IGNORECASE):
                assert fold(char) == letter, (char, letter)


PIECES = [
    "pnr ", "19811228", "-", "+", "9874", " ", "Password", "PASSWD", "LÖSENORD", "paſſword",
    "TOKEN", "AUTHORİZATİON", "sessıon", "Bearer ", "smv_abc", "=", ": ", '"', "x", "4f2a",
    ".", "\n", "/status/", "å",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_the_quick_check_never_lets_through_what_the_patterns_mask(text):
    assert redact(text) == _redact_all(text)
    line = RedactingJsonFormatter().process_log_record({"message": text, "status": 200})
    assert line["message"] == _redact_all(text)


@pytest.mark.parametrize(
    ("setting", "chosen"), [(None, "json"), (" JSON", "json"), ("Text", "text")]
)
def test_the_log_format_is_read_in_any_case(setting, chosen):
    assert observability.log_format(setting) == chosen


def test_a_log_format_that_is_neither_stops_the_start_with_its_name(app, monkeypatch):
    """A typo must not turn the JSON lines, or their masking, off unnoticed."""
    from samverkan import create_app

    names = ("SECRET_KEY", "INSTANCE_PATH", "UPLOAD_ROOT", "SQLALCHEMY_DATABASE_URI")
    monkeypatch.setenv("LOG_FORMAT", "jsn")
    with pytest.raises(RuntimeError, match="LOG_FORMAT is 'json' or 'text', not 'jsn'"):
        create_app({"TESTING": True, **{name: app.config[name] for name in names}})


def test_plain_text_lines_are_masked_and_name_the_request(monkeypatch):
    """LOG_FORMAT=text: the handler gunicorn and the app use writes plain lines, and masks
    them as the JSON ones (it used to leave Flask's own, unmasked, and only warnings)."""
    monkeypatch.setenv("LOG_FORMAT", "text")
    handler = observability.log_handler()
    secret = logging.makeLogRecord(
        {"name": "samverkan.x", "levelname": "INFO", "msg": "pnr 19811228-9874 password=hunter2"}
    )
    line = handler.format(secret)
    assert "19811228-9874" not in line and "hunter2" not in line and REDACTED in line
    fields = {"method": "GET", "route": "/<slug:tenant>/", "status": 200, "duration_ms": 1.5}
    request = logging.makeLogRecord(
        {"name": "samverkan.request", "msg": "request", "tenant": "arvika", "request_id": "a1"}
        | fields
    )
    assert handler.format(request).endswith("request GET /<slug:tenant>/ 200 1.5 ms [arvika a1]")
    assert not line.startswith("{")


@pytest.mark.parametrize("setting", ["info", "INFO", " Warning ", "debug"])
def test_the_log_level_is_read_in_any_case_as_gunicorn_reads_it(setting):
    assert observability.log_level(setting) == setting.strip().upper()


def test_a_log_level_setting_that_is_no_level_stops_the_start_with_its_name(app, monkeypatch):
    """config/gunicorn.conf.py reads LOG_LEVEL too and takes `info`; so does the app, where
    logging itself took only `INFO` and every worker failed to boot with "Unknown level"."""
    from samverkan import create_app

    names = ("SECRET_KEY", "INSTANCE_PATH", "UPLOAD_ROOT", "SQLALCHEMY_DATABASE_URI")
    config = {"TESTING": True, **{name: app.config[name] for name in names}}
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(RuntimeError, match=r"LOG_LEVEL is not a log level \(.*\): 'loud'"):
        create_app(config)
    monkeypatch.setenv("LOG_LEVEL", "info")  # gunicorn's own spelling
    create_app(config)
    assert logging.getLogger().level == logging.INFO
