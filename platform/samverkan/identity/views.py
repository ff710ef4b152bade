"""Thin routes for citizens' e-ID sign-in, sign-out and Mina ärenden."""

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError

from samverkan.access import citizen, public
from samverkan.citizen import drafts
from samverkan.errors import error_response
from samverkan.extensions import db
from samverkan.i18n import safe_next
from samverkan.identity import current, operations, provider
from samverkan.identity.own_cases import own_cases
from samverkan.identity.persons import UnusableIdentity, identity_from_claims

bp = Blueprint("identity", __name__, template_folder="templates")
logger = logging.getLogger(__name__)
NEXT_KEY = "citizen_next"  # where to go after signing in: a path on this site
STATE_PREFIX = f"_state_{provider.NAME}_"  # Authlib's session keys for a sign-in under way


def _here(endpoint: str) -> str:
    """An address on the host this request came to (TRUSTED_HOSTS vetted it): the sign-in's
    state is in that host's cookie, so the provider must send the browser back there. Each
    host's callback is registered with the provider (README)."""
    return request.host_url.rstrip("/") + url_for(endpoint)


@bp.after_request
def _never_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable():
    return error_response(
        503,
        _(
            "Inloggning med e-legitimation fungerar inte just nu. Försök igen om en stund. "
            "E-tjänster som inte kräver inloggning kan du använda som vanligt."
        ),
    )


@bp.get("/logga-in")
@public
def sign_in():
    """Off to the e-ID provider; back at `callback`, then on to ?next= (a local path)."""
    if not provider.enabled():
        return _unavailable()
    session[NEXT_KEY] = safe_next(request.args.get("next") or url_for(".my_cases"))
    # Authlib keeps state, nonce and the PKCE verifier in the session cookie, one entry per
    # attempt: only the latest counts, so abandoned ones must not grow the cookie.
    for key in [key for key in session if key.startswith(STATE_PREFIX)]:
        session.pop(key)
    try:
        eid = provider.client()
        return eid.authorize_redirect(_here(".callback"))
    except provider.ProviderUnavailable as exc:
        logger.warning("e-ID provider unavailable: %s", exc)
        return _unavailable()


@bp.get("/logga-in/avbruten")
@public
def cancelled():
    """The person stopped at the provider: say so, and offer to try again."""
    return render_template("identity/cancelled.html", next=session.get(NEXT_KEY))


@bp.get("/logga-in/tillbaka")
@public
def callback():
    if not provider.enabled():
        return _unavailable()
    if request.args.get("error") == "access_denied":
        # A page of its own: this address answers only the provider's one redirect, so
        # the language switch (back to the same path) would find nothing here.
        return redirect(url_for(".cancelled"), 303)
    try:
        token = provider.client().authorize_access_token()
    except provider.ProviderUnavailable as exc:
        logger.warning("e-ID provider unavailable: %s", exc)
        return _unavailable()
    except requests.RequestException as exc:
        logger.warning("e-ID token request failed: %s", type(exc).__name__)
        return _unavailable()
    except (AuthlibBaseError, JoseError, KeyError, ValueError) as exc:
        # A wrong or replayed state, a refused code, a token whose signature, issuer,
        # audience, nonce or expiry does not hold: never signed in.
        logger.warning("e-ID sign-in refused: %s", type(exc).__name__)
        return _refused()
    claims = token.get("userinfo")
    if not claims:
        logger.warning("e-ID sign-in refused: no ID token")
        return _refused()
    try:
        identity = identity_from_claims(claims)
    except UnusableIdentity as exc:
        logger.warning("e-ID sign-in refused: %s", exc)
        return error_response(
            400,
            _(
                "Din e-legitimation talade inte om vem du är på ett sätt som e-tjänsterna "
                "kan använda. Försök med en annan e-legitimation eller kontakta kommunen."
            ),
        )
    next_path = safe_next(session.pop(NEXT_KEY, None))
    earlier = current.token()
    if earlier:
        # Signing in on top of a sign-in (or one that expired): that one ends, and unless it
        # was the same person, nothing of theirs (drafts, receipts) stays in this browser.
        same = operations.same_person(db.session, earlier, identity)
        operations.end(db.session, earlier)
        if not same:
            drafts.forget_this_browsers()
    citizen_token = operations.begin(db.session, identity)
    db.session.commit()
    current.remember(citizen_token)
    return redirect(next_path, 303)


def _refused():
    return error_response(
        400, _("Inloggningen gick inte att slutföra. Gå tillbaka och försök igen.")
    )


@bp.post("/logga-ut")
@public
def sign_out():
    """Ends the session here (the row is deleted, the cookie emptied) and then at the
    provider, when it offers that."""
    person = current.signed_in_person()
    token = current.token()
    if token:
        operations.end(db.session, token)
    db.session.commit()
    session.clear()  # drafts and receipts too: the next person at this computer starts anew
    if person is not None and provider.enabled() and provider.offers_sign_out():
        # No id_token_hint: it would carry the personnummer in the address. The client id
        # says who is asking instead (RP-Initiated Logout 1.0, section 2).
        return provider.client().logout_redirect(
            post_logout_redirect_uri=_here(".signed_out"),
            client_id=provider.client().client_id,
        )
    return redirect(url_for(".signed_out"), 303)


@bp.post("/fortsatt-inloggad")
@public
def keep_signed_in():
    """ "Fortsätt vara inloggad" in the warning shown before an idle sign-in ends (WCAG
    2.2.1): its idle time starts again. Script asks for JSON (the seconds left now, 0
    when it has ended); without script the form goes back to the page it was on."""
    person = current.signed_in_person()
    if person is not None:
        operations.keep_going(person)  # also within a minute of the last request
    db.session.commit()
    left = current.seconds_left(person)
    if request.accept_mimetypes.best == "application/json":
        return {"seconds_left": left}, 200 if person is not None else 401
    return redirect(safe_next(request.form.get("next")), 303)


@bp.get("/utloggad")
@public
def signed_out():
    return render_template("identity/signed_out.html")


@bp.get("/mina-arenden")
@citizen
def my_cases():
    person = current.signed_in_person()
    cases = own_cases(db.session, person)
    db.session.commit()  # the audit entries
    return render_template(
        "identity/my_cases.html",
        cases=[(case, status_address(case.member_slug, case.status_token)) for case in cases],
        person_name=person.display_name,
    )


def status_address(member: str, token: str) -> str:
    """A case's status page, where it opens: on its member's own host name if it has one; a
    member's host serves no other member, so from there the others go to PUBLIC_URL."""
    path = url_for("citizen.status", tenant=member, token=token)
    hosts = current_app.config["TENANT_HOSTS"]
    own = next((host for host, slug in hosts.items() if slug == member), None)
    if own is not None:
        return f"{request.scheme}://{own}{path}"
    if request.host.split(":")[0].lower() in hosts and current_app.config["PUBLIC_URL"]:
        return current_app.config["PUBLIC_URL"].rstrip("/") + path
    return path
