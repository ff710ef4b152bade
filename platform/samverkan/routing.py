"""URL parts with a shape: a slug or a token that does not match never reaches a query
(PostgreSQL refuses a NUL byte in text with an error, not a miss)."""

from flask import Flask
from werkzeug.routing import BaseConverter


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
