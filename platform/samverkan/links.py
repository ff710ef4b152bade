"""Absolute links that leave the site (e-mail): from the configured public address, never
from the Host header a client sent, so nobody can make a member mail a link to elsewhere."""

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    # Without a public address the request's host is used; TRUSTED_HOSTS has vetted it.
    return url_for(endpoint, **values, _external=True)
