"""The e-ID provider, reached with Authlib's OpenID Connect client: the authorization code
flow with PKCE (S256), state and nonce kept in the signed session cookie and checked on the
way back, and the ID token's signature (the provider's published keys), issuer, audience
and expiry verified before any claim is read."""

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

NAME = "eid"
TIMEOUT_SECONDS = 10


class ProviderUnavailable(Exception):
    """The provider could not be reached or did not answer as an OpenID provider should."""


def init_app(app: Flask) -> None:
    """One client per app, for the configured provider (none when sign-in is off)."""
    oauth = OAuth(app)
    issuer = app.config["CITIZEN_OIDC_ISSUER"]
    if not issuer:
        return
    oauth.register(
        NAME,
        client_id=app.config["CITIZEN_OIDC_CLIENT_ID"],
        client_secret=app.config["CITIZEN_OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["CITIZEN_OIDC_SCOPE"],
            "code_challenge_method": "S256",
            "timeout": TIMEOUT_SECONDS,
        },
    )


def enabled() -> bool:
    return bool(current_app.config["CITIZEN_OIDC_ISSUER"])


def client():
    """The provider's client, its metadata loaded and checked (once per worker)."""
    oauth = current_app.extensions["authlib.integrations.flask_client"]
    eid = oauth.create_client(NAME)
    try:
        metadata = eid.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"metadata: {type(exc).__name__}") from exc
    # OpenID Connect Discovery 4.3: the metadata must be the configured issuer's own.
    if metadata.get("issuer", "").rstrip("/") != current_app.config["CITIZEN_OIDC_ISSUER"]:
        eid.server_metadata = {}  # looked up again next time
        raise ProviderUnavailable("the metadata names another issuer")
    return eid


def offers_sign_out() -> bool:
    """Whether the provider ends its own session on request (RP-Initiated Logout)."""
    try:
        return bool(client().server_metadata.get("end_session_endpoint"))
    except ProviderUnavailable:
        return False
