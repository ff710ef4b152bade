"""Which language a page is in: Swedish first, English second (Flask-Babel).

Swedish is the source language of every text in the code and templates; translations/
holds the English catalogue (compiled by the install step, never committed as .mo).

The language of a request, in order:
1. the visitor's own choice, made with the switch on every page and kept in a cookie of
   its own (not the session, which signing in, signing out and time-outs clear);
2. the member's default language (tenants/*.toml, `default_language`);
3. Swedish.
The browser's Accept-Language is deliberately not used: a member that has chosen its
default should get it, a browser set to English on a Swedish computer is common and says
little about what the visitor reads best, and the switch is one click away on every page.
The API always answers in Swedish, its documented language.
"""

import functools
import re
from contextlib import AbstractContextManager, nullcontext
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

from babel import Locale
from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask.globals import _cv_app
from flask_babel import force_locale, get_locale, get_translations, refresh
from jinja2 import pass_context
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from samverkan.access import public
from samverkan.extensions import babel

LANGUAGES = {"sv": "Svenska", "en": "English"}
DEFAULT_LANGUAGE = "sv"
COOKIE = "samverkan_lang"
COOKIE_SECONDS = 365 * 24 * 3600
# What a switch link may carry back to: a path on this site, no scheme, no host, no
# backslash (browsers read "/\evil" as "//evil"), no control characters.
_UNSAFE = re.compile(r"[\\\x00-\x1f\x7f]")

bp = Blueprint("i18n", __name__)


def chosen_language(current: Request | None = None) -> str | None:
    """The language the visitor picked with the switch, if any (`current`: the request,
    when the caller has it at hand)."""
    lang = (current or request).cookies.get(COOKIE)
    return lang if lang in LANGUAGES else None


# One language tag (RFC 5646's shape, no list): a language and any subtags after it.
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*")


def language_of_tag(tag: str) -> str | None:
    """The platform's language for one language tag ("en", "en-GB", "SV-se"), or None."""
    matched = _LANGUAGE_TAG.fullmatch(tag.strip())
    primary = matched and matched[1].lower()
    return primary if primary in LANGUAGES else None


def in_language(lang: str) -> AbstractContextManager:
    """Texts made in the block are in `lang` (Flask-Babel's force_locale). A request that
    is in `lang` already needs no forcing: forcing would only drop its loaded translations
    and load them again."""
    if has_request_context() and str(active_locale()) == lang:
        return nullcontext()
    return force_locale(lang)


def select_language() -> str:
    if not has_request_context():  # the CLI, the outbox worker
        return DEFAULT_LANGUAGE
    current = request._get_current_object()  # once: each use of the proxy finds it again
    if current.path.startswith("/api/"):
        return DEFAULT_LANGUAGE
    return chosen_language(current) or members_language()


def members_language() -> str:
    """What a visitor who has not chosen gets: the member's default language, or Swedish."""
    tenant = g.get("tenant")
    default = getattr(tenant, "default_language", None) if tenant is not None else None
    return default if default in LANGUAGES else DEFAULT_LANGUAGE


def follow_language(lang: str | None) -> None:
    """This request in `lang` (the language a case was sent in, for the pages its status
    link opens), unless the visitor has chosen one with the switch: a link from an English
    receipt opens in English on a phone that never chose."""
    if lang not in LANGUAGES or chosen_language() or current_language() == lang:
        return
    g.lang = lang
    refresh()  # Flask-Babel asks current_language again at the next text
    g._flask_babel.babel_locale = _locale(lang)


def current_language() -> str:
    """This request's language: decided once, after the member is known (see init_app)."""
    lang = g.get("lang")
    if lang is None:
        lang = select_language()
    return lang


def _decide_language() -> None:
    state = g._get_current_object()
    lang = state.lang = select_language()
    # Flask-Babel chooses the same (its selector is current_language) at the request's
    # first text, through the `g` proxy several times and parsing a new Locale: about 2 %
    # of a request. Put where it keeps it.
    babel_state = state.get("_flask_babel")
    if babel_state is None:
        state._flask_babel = SimpleNamespace(babel_locale=_locale(lang))
    else:  # whatever an earlier request in the same app context left there (a test's)
        babel_state.babel_locale = _locale(lang)


@functools.cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def safe_next(target: str | None) -> str:
    """target if it is a path on this site, else the start page: never another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("citizen.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or _UNSAFE.search(target):
        return url_for("citizen.index")
    return target


def same_site_path(address: str | None) -> str:
    """The path (and query) of an address on this host, as safe_next takes it: for a
    Referer, which names the whole address."""
    if not address:
        return safe_next(None)
    parts = urlsplit(address)
    if parts.netloc and parts.netloc != request.host:
        return safe_next(None)
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def switch_url(lang: str) -> str:
    """The switch link for this page: back to the same path (and the one query parameter
    a citizen page needs, ?andra=1), never to whatever else the query string says, since
    public pages are cached and shared (page_cache.py)."""
    current = request._get_current_object()
    here = current.path
    if current.url_rule is not None and "GET" not in current.url_rule.methods:
        # A page answering a POST (a refused form, a confirmation): a GET of this path
        # would be refused. Back to the form's page, or the nearest page above this one.
        here = _a_page(current.referrer, here)
    elif current.args.get("andra") == "1":
        here += "?andra=1"
    # As url_for("i18n.switch", lang=lang, next=here) writes it (werkzeug's query encoding;
    # tests/test_languages.py compares them): the link without `next` is kept per worker
    # (urls.py), a link with one is not, and building it whole was ~3 % of a staff page.
    return f"{url_for('i18n.switch', lang=lang)}?{urlencode({'next': here}, safe=_QUERY_SAFE)}"


def _a_page(referrer: str | None, here: str) -> str:
    """The page a POST's answer switches back to: the form's (`referrer`) if this site
    serves a GET of it (a refused form sent again has its own POST path as Referer), else
    the nearest page above `here` (…/arende/<t>/komplettering: the status page)."""
    adapter = current_app.create_url_adapter(request)

    def served(path: str) -> bool:
        try:
            adapter.match(urlsplit(path).path, method="GET")
        except HTTPException:
            return False
        return True

    if referrer and urlsplit(referrer).netloc in ("", request.host):
        form_page = same_site_path(referrer)
        if served(form_page):
            return form_page
    parts = here.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        if served(above := "/".join(parts) or "/"):
            return above
    return url_for("citizen.index")


_QUERY_SAFE = "!$'()*,/:;?@"  # werkzeug.urls._urlencode's: what a query may carry as it is


@bp.get("/sprak/<lang>")
@public
def switch(lang: str):
    """Choose a language and go back where the visitor was. A plain link, so it works
    without script; answers are kept, since drafts are on the server (citizen/drafts.py)."""
    if lang not in LANGUAGES:
        abort(404)
    response = redirect(safe_next(request.args.get("next")), 303)
    response.set_cookie(
        COOKIE,
        lang,
        max_age=COOKIE_SECONDS,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _vary_on_the_cookie(response):
    """A page's language may come from the cookie: a shared cache must not mix them.
    (Only pages: style sheets, images and the API are the same in every language.)"""
    if response.headers.get("Content-Type", "")[:9].lower() != "text/html":
        return response
    if request.path.startswith("/api/"):
        return response
    # getlist: get() of an absent header raises and catches KeyError inside werkzeug.
    if not response.headers.getlist("Vary"):  # most pages: nothing to parse (vary.add does)
        response.headers.add("Vary", "Cookie")
    else:
        response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    """After tenancy.resolve.init_app: the member's default needs the member."""
    babel.init_app(
        app,
        locale_selector=current_language,
        default_locale=DEFAULT_LANGUAGE,
        default_timezone="Europe/Stockholm",
    )
    # Flask-Babel's callables look the catalogue up again for every text (about 10 µs
    # each with Jinja's wrapper; a staff page has dozens): the page's texts use one lookup.
    app.jinja_env.globals.update(gettext=_page_gettext, _=_page_gettext)
    app.before_request(_decide_language)
    app.after_request(_vary_on_the_cookie)
    app.register_blueprint(bp)


_TRANSLATIONS = "_samverkan_translations"


def active_locale():
    """The locale texts are in now (Flask-Babel's get_locale, force_locale honoured), read
    where Flask-Babel keeps it for the app context (g._flask_babel) instead of through
    get_locale, which goes through the `g` proxy three times: about 5 µs a call on a slow
    core, and templates ask for every text. The first call of a request has Flask-Babel
    choose it."""
    app_context = _cv_app.get(None)
    if app_context is None:
        return get_locale()
    return getattr(app_context.g.get("_flask_babel"), "babel_locale", None) or get_locale()


def _translations():
    """The catalogue of the language texts are in now: Flask-Babel's, looked up again only
    when the locale is another (force_locale gives a new one for its block)."""
    app_context = _cv_app.get(None)
    if app_context is None:
        return get_translations()
    state = app_context.g
    locale = active_locale()
    cached = state.get(_TRANSLATIONS)
    if cached is None or cached[0] is not locale:
        cached = (locale, get_translations())
        setattr(state, _TRANSLATIONS, cached)
    return cached[1]


def gettext(text: str, **variables) -> str:
    """Flask-Babel's gettext, with the catalogue of the language texts are in now found
    once a request (_translations): Flask-Babel's finds it again for each text, which a
    web submission's receipt did a few dozen microseconds' worth of."""
    translated = _translations().ugettext(text)
    return translated % variables if variables else translated


def language_name(lang: str) -> str:
    """A language's name in a sentence, in the language texts are in now ("engelska")."""
    names = {"sv": gettext("svenska"), "en": gettext("engelska")}
    return names[lang]


@pass_context
def _page_gettext(context, text: str, **variables) -> str:
    """A template's _() and gettext: what Jinja's i18n extension makes of Flask-Babel's
    gettext (new-style: the variables escaped and filled in), with _translations()."""
    translated = _translations().ugettext(text)
    if context.eval_ctx.autoescape:
        translated = Markup(translated)  # noqa: S704 - our own catalogue's text, as Jinja does
    # As Jinja: always a format string ("%%" is "%"), with or without variables.
    return translated % variables if variables or "%" in translated else translated
