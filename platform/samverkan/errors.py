"""Error pages for people and error bodies for the API: clear words, never a stack trace."""

import logging
import math
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from werkzeug.exceptions import HTTPException, SecurityError

from samverkan.extensions import db, limiter
from samverkan.i18n import DEFAULT_LANGUAGE, chosen_language
from samverkan.templating import known_hub_slug
from samverkan.tenancy.request_session import end_keeping_prepared_statements

logger = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Felaktig begäran"), _l("Det som skickades gick inte att tolka.")),
    401: (
        _l("Inloggning krävs"),
        _l("Du behöver logga in, eller skicka en giltig nyckel, för det här."),
    ),
    403: (_l("Inte tillåtet"), _l("Ditt konto får inte göra det här.")),
    404: (
        _l("Sidan finns inte"),
        _l("Sidan du letar efter finns inte, eller så är adressen felstavad."),
    ),
    405: (_l("Metoden stöds inte"), _l("Sidan kan inte användas på det sättet.")),
    410: (_l("Borttaget"), _l("Det du letar efter fanns här men är borttaget.")),
    413: (_l("För stor förfrågan"), _l("Det du skickade är för stort för att tas emot.")),
    409: (_l("Konflikt"), _l("Begäran krockar med något som redan finns.")),
    429: (
        _l("För många försök"),
        _l("Du har försökt för många gånger på kort tid. Vänta några minuter och försök igen."),
    ),
    415: (
        _l("Fel innehållstyp"),
        _l("Skicka JSON med rubriken Content-Type: application/json."),
    ),
    500: (
        _l("Något gick fel"),
        _l("Ett oväntat fel inträffade hos oss. Försök igen om en stund."),
    ),
    503: (
        _l("Tjänsten är tillfälligt otillgänglig"),
        _l(
            "Vi kan inte hämta eller spara uppgifter just nu. Försök igen om en liten stund. "
            "Om du skickade in ett formulär kan du skicka det igen: det registreras bara en gång."
        ),
    ),
}
# What the API says instead: the key is what makes sending again safe there.
API_UNAVAILABLE = (
    "Databasen svarar inte just nu. Försök igen om en stund med samma Idempotency-Key: "
    "då registreras ärendet bara en gång."
)
API_UNAVAILABLE_READING = "Databasen svarar inte just nu. Försök igen om en stund."
RETRY_AFTER_SECONDS = 5  # about what a PostgreSQL restart or fail-over takes
# The database cannot be reached now: restarting, connections cut, a fail-over, the pool
# exhausted, a transaction that lost a deadlock or a serialisation race. Temporary, so 503;
# other database errors (a constraint broken, bad SQL) are bugs and stay 500.
DATABASE_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
)


def wants_json() -> bool:
    """The API, and a document asked for as JSON (registerutdrag.json): a client reading
    JSON gets its error in JSON, not a page."""
    return request.path.startswith("/api/") or request.path.endswith(".json")


def error_response(
    code: int, message: str | None = None, description: str | None = None, title: str = ""
):
    usual, default = MESSAGES.get(code, (_("Fel"), _("Något gick fel.")))
    title, text = str(title or usual), str(message or default)
    if wants_json():
        return jsonify({"error": title, "message": text}), code
    return render_template(
        "error.html", code=code, title=title, message=text, description=description
    ), code


def retry_wait() -> str | None:
    """How long until a refused request may be tried again, in words of the page's
    language, rounded up (a minute, 45 minutes, 2 hours); None when not known. The
    submission limits leave the seconds in g.retry_after; Flask-Limiter's own limits
    say it through the limit this request used up."""
    seconds = g.get("retry_after")
    if seconds is None:
        try:
            used_up = limiter.current_limit
            if used_up is None or not used_up.breached:
                return None
            seconds = used_up.reset_at - time.time()
        except StorageError:  # the storage went away since it refused: the plain words
            return None
    # Rounded up; Flask-Limiter's reset time is a second past the window's end, so a
    # few seconds over a whole minute count as that minute ("1 hour", not "2 hours").
    minutes = max(1, math.ceil((seconds - 2) / 60))
    if minutes <= 60:
        wait = timedelta(minutes=minutes)
    elif minutes <= 24 * 60:
        wait = timedelta(hours=math.ceil(minutes / 60))
    else:
        wait = timedelta(days=math.ceil(minutes / (24 * 60)))
    return format_timedelta(wait, threshold=1)


def database_unavailable_response(exc: Exception):
    """503 with Retry-After: the page, or a JSON problem for the API. Rendered
    without the request's session or user (each would ask the database again)."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).splitlines() or [""])[0]  # the server's words, no parameters
    logger.warning("database unavailable: %s: %s", type(cause).__name__, first_line[:200])
    # The language without the member's default (reading it could ask the database).
    g.lang = g.get("lang") or chosen_language() or DEFAULT_LANGUAGE
    title, message = (str(text) for text in MESSAGES[503])
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if wants_json():
        # The key matters only where something is sent; a reading client just tries again.
        reading = request.method in ("GET", "HEAD", "OPTIONS")
        text = API_UNAVAILABLE_READING if reading else API_UNAVAILABLE
        return jsonify({"error": title, "message": text}), 503, headers
    # Straight from the environment: a template context processor would look up the
    # signed-in person and the member's profile in the database that is not answering.
    page = current_app.jinja_env.get_template("error.html").render(
        code=503,
        title=title,
        message=message,
        tenant=None,
        lang=g.lang,
        platform_name=current_app.config["PLATFORM_NAME"],
        region_name=current_app.config["REGION_NAME"],
        # The footer's links without asking the database again: a worker that has not
        # read the hub's slug yet would wait out a second connection timeout for it.
        hub_slug=known_hub_slug,
    )
    return page, 503, headers


def _end_database_session(exc: BaseException | None) -> None:
    """Close the request's session even when its connection died with a transaction open:
    the rollback then fails, and would otherwise escape as a bare 500 from gunicorn after
    the answer was made. The dead connection is thrown away, not pooled."""
    try:
        end_keeping_prepared_statements(db.session)
        db.session.remove()
    except sa.exc.DBAPIError as error:
        logger.warning("database connection lost at the end of a request: %s", error.orig)
        db.session().invalidate()  # the scoped session's own, still registered
        db.session.remove()


def init_app(app: Flask) -> None:
    # Runs before Flask-SQLAlchemy's own teardown (teardowns run last registered first),
    # which then finds the session already closed.
    app.teardown_appcontext(_end_database_session)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, database_unavailable_response)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(
            400,
            _(
                "Formuläret hade gått ut eller kom inte från den här sidan. "
                "Gå tillbaka, ladda om sidan och försök igen."
            ),
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc):
        # No page to render: every link on it would be built from the refused host.
        return (
            _("Okänt värdnamn: adressen hör inte till den här tjänsten.") + "\n",
            400,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        message = None
        if exc.code == 429 and (wait := retry_wait()):
            message = _(
                "Du har försökt för många gånger på kort tid. Försök igen om %(wait)s.",
                wait=wait,
            )
        body, code = error_response(exc.code or 500, message)
        allow = [value for name, value in exc.get_headers() if name == "Allow"]
        return body, code, {"Allow": allow[0]} if allow else {}
