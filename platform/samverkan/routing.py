"""URL parts with a shape: a slug or a token that does not match never reaches a query
(PostgreSQL refuses a NUL byte in text with an error, not a miss)."""

from flask import Flask, current_app, has_app_context
from werkzeug.routing import BaseConverter

# Never a member, with or without the app at hand to read its routes from: the first parts
# of the platform's own addresses, and those under a member's (/arvika/staff/, /admin/).
_ALWAYS_RESERVED = frozenset({"hub", "api", "static", "staff", "admin"})


class SlugConverter(BaseConverter):
    """A member, e-service or step name: lower-case letters, digits, '-' and '_'."""

    regex = r"[a-z0-9][a-z0-9_-]{0,59}"


class TokenConverter(BaseConverter):
    """A private status token as secrets.token_urlsafe makes them."""

    regex = r"[A-Za-z0-9_-]{16,64}"


class ReferenceConverter(BaseConverter):
    """A case reference: the member's prefix, the year and the number, ARV-2026-000001."""

    regex = r"[A-Z]{3}-[0-9]{4}-[0-9]{6}"


def init_app(app: Flask) -> None:
    app.url_map.converters["slug"] = SlugConverter
    app.url_map.converters["token"] = TokenConverter
    app.url_map.converters["reference"] = ReferenceConverter


def platform_paths() -> frozenset[str]:
    """What a member's slug may not be: the first part of every address of the platform's
    own (/hub/, /api/, /mina-arenden, /sprak/, /healthz, …), read from the routes, so a
    new one is never forgotten here. A member by such a name would be shadowed by it."""
    firsts = set(_ALWAYS_RESERVED)
    if has_app_context():
        for rule in current_app.url_map.iter_rules():
            first = rule.rule.lstrip("/").split("/", 1)[0]
            if first and "<" not in first:
                firsts.add(first)
    return frozenset(firsts)
