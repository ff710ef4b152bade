"""Signing a citizen in at the development e-ID provider (oidc-provider-mock) with the real
protocol: our app redirects to the provider, the provider's own form is posted over HTTP,
and its redirect back (code and state) is followed into our app, which exchanges the code
at the provider's token endpoint and verifies the ID token against its published keys."""

from urllib.parse import quote, urlsplit

import httpx

PNR_CLAIM = "https://id.oidc.se/claim/personalIdentityNumber"
TOLVAN = {
    PNR_CLAIM: "191212121212",
    "name": "Tolvan Tolvansson",
    "given_name": "Tolvan",
    "family_name": "Tolvansson",
}
# Skatteverket's example samordningsnummer (FACTS.md), as a second person.
SAM = {
    PNR_CLAIM: "197010632391",
    "name": "Sam Ordning",
    "given_name": "Sam",
    "family_name": "Ordning",
}


def register_person(provider: str, sub: str, claims: dict) -> None:
    """Tell the provider who `sub` is (its own API: PUT /users/<sub>)."""
    response = httpx.put(f"{provider}/users/{quote(sub)}", json=claims, timeout=10)
    assert response.status_code == 204, response.text


def approve_at_provider(authorize_url: str, sub: str, *, deny: bool = False) -> str:
    """Post the provider's authorization form as `sub`; returns where it sends the browser
    back to (our callback, with code and state, or with error=access_denied)."""
    form = {"action": "deny"} if deny else {"sub": sub}
    response = httpx.post(authorize_url, data=form, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return response.headers["location"]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in(client, provider: str, sub: str, claims: dict, next_path: str = "/mina-arenden"):
    """Sign `client` (a Flask test client) in as `sub`; returns our app's final redirect."""
    register_person(provider, sub, claims)
    start = client.get("/logga-in", query_string={"next": next_path})
    assert start.status_code == 302, start.text[:500]
    back = approve_at_provider(start.headers["Location"], sub)
    done = client.get(local(back))
    assert done.status_code == 303, done.text[:1000]
    return done
