"""What every template can use: the tenant, texts in the right language, dates."""

import functools
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from babel.dates import format_datetime
from babel.numbers import format_currency
from flask import Flask, current_app, g, has_request_context, request, session
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from samverkan import memo
from samverkan.cases.status import history_text, written_by_platform
from samverkan.cases.status import label as status_label
from samverkan.catalogue.fields import file_limit_bytes, file_limit_mb, localized
from samverkan.catalogue.uploads import accept_attribute
from samverkan.clock import SWEDEN
from samverkan.i18n import LANGUAGES, active_locale, current_language, language_name, switch_url

MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
# Swedish "23 november 2026 kl. 14.05", English "23 November 2026 at 14:05".
DATETIME_PATTERNS = {"sv": "d MMMM y 'kl.' HH.mm", "en": "d MMMM y 'at' HH:mm"}


def local_datetime(value: datetime | None, lang: str | None = None) -> str:
    """A moment in Swedish time, written as the page's language writes it."""
    if value is None:
        return ""
    return _formatted(value, lang or current_language())


# Babel takes tens of microseconds per date and an inbox shows dozens, mostly the same
# ones on every visit: each worker remembers the latest few thousand it has written.
@functools.lru_cache(maxsize=8192)
def _formatted(value: datetime, lang: str) -> str:
    pattern = DATETIME_PATTERNS.get(lang, DATETIME_PATTERNS["sv"])
    return format_datetime(value, pattern, tzinfo=SWEDEN, locale=lang)


def html_text(text: str) -> str:
    """`text` escaped for HTML as Jinja's autoescape writes it (MarkupSafe: &amp; &lt; &gt;
    &#39; &#34;), as a plain string: for a list's many cells, where each autoescaped value
    cost a MarkupSafe object made in Python (see casework/views.py, _inbox_rows)."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def select_options(choices, selected: str | None = None) -> Markup:
    """A select's options, (value, text) each as plain text, the one equal to `selected`
    marked: a list page's filters show the same few dozen on every visit."""
    return _options(tuple(choices), selected or "")


@functools.lru_cache(maxsize=256)
def _options(choices: tuple[tuple[str, str], ...], selected: str) -> Markup:
    option = Markup('<option value="{}"{}>{}</option>')
    marked = Markup(" selected")
    return Markup("").join(
        option.format(value, marked if value == selected else "", text) for value, text in choices
    )


_hub = memo.Memo("TENANT_CACHE_SECONDS")


def known_hub_slug() -> str | None:
    """The hub's slug if this worker has it already, without asking the database."""
    return _hub.get("hub")


def hub_slug() -> str | None:
    """The hub's slug, for the footer of the platform's own pages (the member list, the hub's
    pages): the hub runs the platform, so its statement and notice are the ones that apply.
    None while the database cannot answer (the 503 page must still render)."""
    slug = _hub.get("hub")
    if slug is None:
        from samverkan.extensions import db
        from samverkan.tenancy.models import Tenant

        try:
            slug = db.session.scalar(sa.select(Tenant.slug).where(Tenant.is_hub.is_(True)))
        except SQLAlchemyError:
            db.session.rollback()
            return None
        if slug:
            _hub.put("hub", slug)
    return slug


# The citizen's pages that may say who is signed in with e-ID and offer to sign out: not
# a page the same for everyone (a shared cache may keep it), nor a staff page (a worker
# keeps its frame for every colleague: staff_frame.py).
_OWN_PAGES_OF = frozenset({"citizen", "identity"})
CITIZEN_SESSION_KEY = "citizen"  # identity.current.SESSION_KEY (imported late: a cycle)


def _sign_in_seconds_left() -> int | None:
    """How long the signed-in citizen's sign-in has left, on their own pages (for the
    warning before it ends); None elsewhere."""
    if _signed_in_as() is None:
        return None
    from samverkan.identity.current import seconds_left, signed_in_person

    return seconds_left(signed_in_person())


def _signed_in_as() -> str | None:
    """The signed-in citizen's name (or an empty string for an e-ID without one), where
    the page is their own; None otherwise."""
    if not has_request_context() or CITIZEN_SESSION_KEY not in session:
        return None  # the many pages of visitors who are not signed in: nothing more asked
    from samverkan.citizen.views import PUBLIC_PAGES
    from samverkan.identity.current import signed_in_person

    if request.blueprint not in _OWN_PAGES_OF or request.endpoint in PUBLIC_PAGES:
        return None
    person = signed_in_person()
    return None if person is None else (person.display_name or "")


def kronor(ore: int) -> str:
    """An amount in öre as money in the language texts are in now: '1 234,50 kr' in
    Swedish, 'SEK1,234.50' in English (Babel's, with no-break spaces)."""
    return format_currency(Decimal(ore).scaleb(-2), "SEK", locale=active_locale())


def lang_attr(written_in: str | None) -> Markup:
    """' lang="en"' for words written in `written_in` on a page in another language, else
    nothing; None (not known) marks nothing. A case's messages are in the case's language
    (the case page asks the case worker to write in it), Swedish for cases from before it
    was recorded."""
    if written_in not in LANGUAGES or written_in == current_language():
        return Markup("")
    return Markup(f' lang="{written_in}"')  # noqa: S704 - one of LANGUAGES' own keys


def init_app(app: Flask) -> None:
    app.jinja_env.globals["hub_slug"] = hub_slug
    app.jinja_env.filters["local_datetime"] = local_datetime
    # Each takes the page's `lang` where a page has it (a row of a list: once per row
    # instead of finding the request's language again for each).
    app.jinja_env.filters["t"] = lambda text, lang=None: localized(text, lang or current_language())
    app.jinja_env.filters["history_text"] = lambda message: history_text(
        message, current_language()
    )
    # Words a person wrote are marked with their language on a page in another (WCAG
    # 3.1.2); the platform's own history texts are translated instead.
    app.jinja_env.filters["written_lang"] = lambda message, written_in: (
        lang_attr(written_in) if message and not written_by_platform(message) else ""
    )
    app.jinja_env.globals["lang_attr"] = lang_attr
    app.jinja_env.filters["kronor"] = kronor
    # Globals, not context: imported macros (catalogue/fields.html) see them too.
    app.jinja_env.globals["status_label"] = lambda status, lang=None, staff=False: status_label(
        status, lang or current_language(), staff=staff
    )
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["language_switch_url"] = switch_url
    app.jinja_env.globals["languages"] = LANGUAGES
    app.jinja_env.globals["language_name"] = language_name
    # The same on every page (public pages are cached and shared): a link, not who is in.
    app.jinja_env.globals["citizen_sign_in"] = bool(app.config["CITIZEN_OIDC_ISSUER"])
    app.jinja_env.globals["file_accept"] = accept_attribute
    app.jinja_env.globals["file_limit_bytes"] = file_limit_bytes
    app.jinja_env.globals["file_limit_mb"] = file_limit_mb
    app.jinja_env.globals["select_options"] = select_options
    # What a staff page extends: the whole frame, unless staff_frame.py has it write only
    # the page's own part.
    app.jinja_env.globals["staff_layout"] = "staff_layout.html"

    @app.context_processor
    def _globals():
        from samverkan.accounts.models import HUB_ROLES, ROLES
        from samverkan.accounts.session import current_membership

        membership = current_membership()
        hub_membership = g.get("hub_membership")
        return {
            "hub_role_label": HUB_ROLES.get(hub_membership.role) if hub_membership else None,
            "staff_role": membership.role if membership else None,
            "staff_role_label": ROLES.get(membership.role) if membership else None,
            "tenant": g.get("tenant"),
            "signed_in_as": _signed_in_as(),
            "sign_in_seconds_left": _sign_in_seconds_left(),
            "platform_name": current_app.config["PLATFORM_NAME"],
            "region_name": current_app.config["REGION_NAME"],
            "lang": current_language(),
        }
