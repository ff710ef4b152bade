"""Logs: one JSON object per line, each carrying the request id and the member.

What a log line may hold is decided here, not at each call: a request is logged by its
route's rule (`/<member>/status/<token>`), never by its path or query string, because
status links, invitations and drafts carry private tokens in the URL. A last filter masks
anything shaped like a personnummer, a password or a token that a message or an
exception (a database error quotes the statement's parameters) might still carry.
"""

import json
import logging
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_LOGGER = "samverkan.request"
# A proxy's id is kept when it looks like one (so lines can be matched across hops);
# anything else a client sends is replaced, so it cannot smuggle text into the log.
_ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

# Personnummer and samordningsnummer, 10 or 12 digits, with or without - or +.
# Bounded by non-word characters, so a hexadecimal request id is never mistaken for one.
_IDENTITY_NUMBER = re.compile(r"(?<!\w)(?<!\d\.)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\w|\.\d)")
# key=value, key: value and "key": "value" for keys that name a secret.
_SECRET_PAIR = re.compile(
    r"""(?ix)
    (["']?(?<!<)\b(?:password|passwd|lösenord|secret|token|api[_-]?key|authorization|cookie|
    csrf_token|totp|code|session)\b["']?\s*[:=]\s*)
    (bearer\s+)?("[^"]*"|'[^']*'|[^\s,;&)}\]]+)
    """
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
REDACTED = "[borttaget]"

LOG_FIELDS = ("timestamp", "level", "logger", "message", "request_id", "tenant")


# Every text the three patterns above can match holds one of these words, once folded
# (fold(): re.IGNORECASE takes no character for a letter that fold() does not turn into
# that letter; a test checks them all), or six digits after a non-word character or the
# start. Most log lines hold none: two cheap checks instead of three patterns per value.
SECRET_WORDS = (
    "password", "passwd", "lösenord", "secret", "token", "api", "authorization", "cookie",
    "totp", "code", "session", "bearer",
)  # fmt: skip
_SIX_DIGITS = re.compile(r"(?<!\w)\d{6}")
# One search over a text, not one per word.
_ANY_SECRET_WORD = re.compile("|".join(map(re.escape, SECRET_WORDS)))


# The two the case folding leaves apart: dotless ı, and the dot İ folds into (i + U+0307).
_TURKISH_I = str.maketrans({"ı": "i", "\u0307": None})


def fold(text: str) -> str:
    folded = text.casefold()
    # Translating looks every character up; most texts hold neither of the two.
    return folded.translate(_TURKISH_I) if "ı" in folded or "\u0307" in folded else folded


def may_hold_secret(text: str) -> bool:
    return _ANY_SECRET_WORD.search(fold(text)) is not None or _SIX_DIGITS.search(text) is not None


def redact(text: str) -> str:
    return _redact_all(text) if may_hold_secret(text) else text


def _redact_all(text: str) -> str:
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    return _IDENTITY_NUMBER.sub(REDACTED, text)


class RequestContextFilter(logging.Filter):
    """Adds the request id and the member's slug to every record made during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
            record.tenant = g.get("member_slug")
        else:
            record.request_id = getattr(record, "request_id", None)
            record.tenant = getattr(record, "tenant", None)
        return True


class RedactingJsonFormatter(JsonFormatter):
    """The JSON line, with secrets and identity numbers masked wherever they appear."""

    def __init__(self) -> None:
        super().__init__(
            " ".join(f"%({name})s" for name in ("levelname", "name", "message")),
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )

    def process_log_record(self, log_data: dict) -> dict:
        # Masked value by value, before serialising: the line stays valid JSON. A line of
        # plain values none of which may hold a secret (one search over them all, joined by
        # a non-word character) is left as it is.
        values = log_data.values()
        if not any(isinstance(value, dict | list | tuple) for value in values):
            texts = "\n".join(value for value in values if isinstance(value, str))
            if not may_hold_secret(texts):
                return log_data
        return {key: _redacted(value) for key, value in log_data.items()}


class RedactingTextFormatter(logging.Formatter):
    """LOG_FORMAT=text, for development: one plain line per record, a request's with its
    method, route, status and time, masked as the JSON lines are."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if hasattr(record, "route"):
            line += (
                f" {record.method} {record.route} {record.status} {record.duration_ms} ms"
                f" [{record.tenant or '-'} {record.request_id}]"
            )
        return redact(line)


def request_line(fields: dict, request_id: str | None, tenant: str | None, created: float) -> str:
    """The line a request writes, made directly (write_request_line): the same JSON, byte for
    byte, as the general path makes of a record with these fields (a test compares them)."""
    line = {"level": "INFO", "logger": REQUEST_LOGGER, "message": "request", **fields}
    line["request_id"] = request_id
    line["tenant"] = tenant
    line["timestamp"] = datetime.fromtimestamp(created, tz=UTC).isoformat()
    return json.dumps(line, ensure_ascii=False)


def write_request_line(fields: dict, request_id: str | None, tenant: str | None) -> None:
    """Log a request's line. When the one handler it would reach is ours and none of its
    texts (method, route rule, endpoint, request id, member) looks like a secret, the
    general path would write it unchanged: so it is made here and written straight to
    that handler's stream. The general path (a LogRecord, the filter, python-json-logger's
    generic record handling) took about 50 µs of a 0.45 ms form page in a worker, cold in
    the caches after the page; this one takes a few (tests/bench/RESULTS.md). Otherwise
    (a status link's rule names its token, a test's capture handler): logging as usual."""
    request_log = _REQUEST_LOG
    if not request_log.isEnabledFor(logging.INFO):
        return
    handler = _sole_json_handler(request_log)
    if (
        handler is None
        or _route_may_hold_secret(fields)
        or _id_may_hold_secret(request_id)
        or (tenant is not None and may_hold_secret(tenant))
    ):
        request_log.info("request", extra=fields)
        return
    line = request_line(fields, request_id, tenant, time.time())
    with handler.lock:
        try:
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()
        except Exception:  # as Handler.emit: a broken stream must not fail the request
            handler.handleError(logging.makeLogRecord({"msg": line}))


# A request id as _start_request makes them. The masking patterns match nothing in 32
# hex digits (no separator, no secret's word, ten digits only as the whole text), but
# the quick check's six digits at the start (one id in 17) sent the line the general way.
_OUR_ID = re.compile("[0-9a-f]{32}")


def _id_may_hold_secret(request_id: str | None) -> bool:
    return (
        request_id is not None and not _OUR_ID.fullmatch(request_id) and may_hold_secret(request_id)
    )


# The same logger object every time (logging keeps one per name).
_REQUEST_LOG = logging.getLogger(REQUEST_LOGGER)
# Whether a route's texts (method, rule, endpoint) may hold a secret: a few dozen routes.
_routes_checked: dict[tuple, bool] = {}


def _route_may_hold_secret(fields: dict) -> bool:
    """may_hold_secret of the three texts joined by newlines, as they were checked with
    the request id and member: none of its patterns matches across a newline."""
    key = (fields["method"], fields["route"], fields["endpoint"])
    found = _routes_checked.get(key)
    if found is None:
        found = may_hold_secret("\n".join(map(str, key)))
        if len(_routes_checked) < 1024:
            _routes_checked[key] = found
    return found


def _sole_json_handler(logger: logging.Logger) -> "StderrHandler | None":
    """Our JSON handler, when it is the only handler an INFO record of `logger` reaches and
    the request filter its only filter; else None (a test's capture, another config)."""
    if logger.filters:
        return None
    found = None
    current = logger
    while current is not None:
        for handler in current.handlers:
            # Exactly ours: a subclass's own emit or filter would be skipped.
            if found is not None or type(handler) is not StderrHandler:
                return None
            if handler.level > logging.INFO or not all(
                type(f) is RequestContextFilter for f in handler.filters
            ):
                return None
            if type(handler.formatter) is not RedactingJsonFormatter:
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (gunicorn, a test's capture)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler assigns it; the property always looks it up
        pass


LOG_FORMATS = ("json", "text")


def log_format(text: str | None) -> str:
    """LOG_FORMAT, in any case; a setting that is neither stops the start with its name
    (a typo must not turn the JSON lines, or their masking, off unnoticed)."""
    chosen = str(text or "json").strip().lower()
    if chosen not in LOG_FORMATS:
        raise RuntimeError(f"LOG_FORMAT is 'json' or 'text', not {text!r}")
    return chosen


def log_handler() -> logging.Handler:
    """The handler every log line goes through (config/gunicorn.conf.py names it too):
    JSON lines, or plain ones with LOG_FORMAT=text; masked either way."""
    handler = StderrHandler()
    text = log_format(os.environ.get("LOG_FORMAT")) == "text"
    handler.setFormatter(RedactingTextFormatter() if text else RedactingJsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.set_name("samverkan-log")
    return handler


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(text: str) -> str:
    """LOG_LEVEL as logging takes it. gunicorn takes it in any case (config/gunicorn.conf.py
    reads the same variable), so `info` works here too; a setting that is no level stops
    the start with its name rather than with logging's own "Unknown level"."""
    level = str(text).strip().upper()
    if level not in LOG_LEVELS:
        raise RuntimeError(f"LOG_LEVEL is not a log level ({', '.join(LOG_LEVELS)}): {text!r}")
    return level


def configure_logging(level: str = "INFO") -> None:
    """Send every logger (the app's, SQLAlchemy's, gunicorn's if it propagates) through
    one JSON handler on the root logger. Idempotent: tests create many apps."""
    root = logging.getLogger()
    # No JSON line shows the caller's file and line, thread or process, so records need not
    # look them up: the logging HOWTO's "Optimization" settings, 10-20 µs of the log line
    # every request writes. This holds for the whole process: gunicorn's own lines go
    # through this handler too (config/gunicorn.conf.py), so no format here names them.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if not any(h.get_name() == "samverkan-log" for h in root.handlers):
        root.addHandler(log_handler())
    root.setLevel(level)


def init_app(app: Flask) -> None:
    log_format(os.environ.get("LOG_FORMAT"))  # checked before anything is logged
    configure_logging(log_level(app.config.get("LOG_LEVEL") or os.environ.get("LOG_LEVEL", "INFO")))
    # Flask's own handler would print the same record a second time.
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)

    def log_exception(exc_info) -> None:
        # Flask's own names the path, and paths carry private tokens: name the rule.
        rule = request.url_rule.rule if request.url_rule else "(no route)"
        app.logger.error("Exception on %s [%s]", rule, request.method, exc_info=exc_info)

    app.log_exception = log_exception

    # Both run on every request: each use of Flask's `request` or `g` finds the context
    # again (about a microsecond), so they take the objects behind them once.
    @app.before_request
    def _start_request():
        state = g._get_current_object()
        offered = request._get_current_object().headers.get(REQUEST_ID_HEADER, "")
        fresh = offered if _ACCEPTED_REQUEST_ID.fullmatch(offered) else secrets.token_hex(16)
        state.request_id = fresh
        state.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        state, current = g._get_current_object(), request._get_current_object()
        request_id = state.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = state.get("request_started")
        rule = current.url_rule
        fields = {
            "method": current.method,
            # The rule, never the path: paths carry private tokens.
            "route": rule.rule if rule else None,
            "endpoint": current.endpoint,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }
        write_request_line(fields, request_id, state.get("member_slug"))
        return response
