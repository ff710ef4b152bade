"""Signing staff in and out."""

import time

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from marshmallow import ValidationError

from samverkan.access import public, staff
from samverkan.accounts import operations, session_clock, totp
from samverkan.accounts import session as account_session
from samverkan.accounts.models import HUB_ROLES, ROLES, Membership
from samverkan.accounts.schemas import SignInSchema
from samverkan.extensions import db, limiter, typed_key
from samverkan.i18n import same_site_path
from samverkan.staff_frame import render_staff_page

bp = Blueprint("accounts", __name__, template_folder="templates")


@bp.after_request
def _staff_pages_are_not_cached(response):
    response.headers["Cache-Control"] = "no-store"
    return response


WRONG = "Fel e-postadress eller lösenord, eller så har du inget konto här."


def _account_key() -> str:
    return typed_key("account", operations.normalize_email(request.form.get("email", ""))[:254])


def _failed(response) -> bool:
    return response.status_code != 303  # only failed sign-ins count towards the limits


@bp.route("/<slug:tenant>/staff/logga-in", methods=["GET", "POST"])
@public
@limiter.limit("20 per 10 minutes", methods=["POST"], deduct_when=_failed)
@limiter.limit("5 per 10 minutes", methods=["POST"], key_func=_account_key, deduct_when=_failed)
def login():
    if request.method == "GET":
        return render_template(
            "accounts/login.html", errors={}, email="", expired=request.args.get("utloggad")
        )
    try:
        data = SignInSchema().load(request.form.to_dict())
    except ValidationError as exc:
        errors = {name: list(messages) for name, messages in exc.messages.items()}
        return render_template(
            "accounts/login.html", errors=errors, email=request.form.get("email", "")
        ), 422
    user = operations.authenticate(db.session, data["email"], data["password"])
    member = user and db.session.get(Membership, (g.tenant.id, user.id))
    if not member:
        return render_template(
            "accounts/login.html", errors={"email": [WRONG]}, email=data["email"]
        ), 401
    target = _safe_next(request.args.get("next"), member.role)
    session.clear()  # a fresh session: nothing from before signing in carries over
    if user.totp_secret:
        # The password was right; the session holds only that, until the code is too.
        session[PENDING] = {"user": user.get_id(), "next": target, "at": int(time.time())}
        return redirect(url_for(".second_factor"), 303)
    _sign_in(user)
    return redirect(target, 303)


PENDING = "pending_second_factor"
PENDING_SECONDS = 300


def _sign_in(user) -> None:
    login_user(user)
    session_clock.start()


def _pending_user():
    pending = session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = account_session.load_user(pending["user"])  # still active, same session version
    if user is None or not user.totp_secret:
        return None, None
    return account_session.account_of(user), pending  # its last code step is written


def _pending_key() -> str:
    return "second-factor:" + str((session.get(PENDING) or {}).get("user", ""))


@bp.route("/<slug:tenant>/staff/logga-in/kod", methods=["GET", "POST"])
@public
@limiter.limit("5 per 10 minutes", methods=["POST"], key_func=_pending_key, deduct_when=_failed)
def second_factor():
    user, pending = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        return redirect(url_for(".login", utloggad="kod"), 303)
    if request.method == "GET":
        return render_template("accounts/second_factor.html", errors={})
    try:
        totp.check_code(user, request.form.get("code", ""))
    except totp.CodeError as exc:
        return render_template("accounts/second_factor.html", errors={"code": [str(exc)]}), 401
    db.session.commit()  # the step is used up
    session.clear()
    _sign_in(user)
    return redirect(pending["next"], 303)


def _signed_in_key() -> str:
    return f"user:{current_user.get_id()}"


def _code_refused(response) -> bool:
    return response.status_code == 422


# Turning the second factor on or off takes a code: as many guesses as at sign-in, per
# person, so an unattended open session is no way to guess it off.
two_factor_guesses = limiter.limit(
    "5 per 10 minutes", methods=["POST"], key_func=_signed_in_key, deduct_when=_code_refused
)


@bp.route("/<slug:tenant>/staff/tvastegsverifiering", methods=["GET", "POST"])
@staff()
@two_factor_guesses
def two_factor_settings():
    return two_factor_page(
        ".two_factor_settings",
        lambda **page: render_staff_page("accounts/two_factor.html", **page),
    )


def two_factor_page(endpoint: str, render) -> tuple:
    """Turn the second factor on (scan, then prove with a code) or off (with a code): the
    member's staff here, the hub's staff on the hub's pages (hub/views.py). `endpoint` is
    the page's own, `render(errors=, setup=, done=)` makes it in its frame."""
    errors = {}
    if request.method == "POST":
        action = request.form.get("action")
        account = account_session.account_of(current_user)
        try:
            if action == "enable" and not account.totp_secret:
                totp.enable(
                    db.session,
                    account,
                    session.get("totp_setup", ""),
                    request.form.get("code", ""),
                )
            elif action == "disable" and account.totp_secret:
                totp.disable(db.session, account, request.form.get("code", ""))
            else:
                return redirect(url_for(endpoint), 303)
        except totp.CodeError as exc:
            db.session.rollback()
            errors = {"code": [str(exc)]}
        else:
            # Sessions signed in with the password alone end; this one carries on.
            operations.end_all_sessions(account)
            db.session.commit()
            login_user(account)
            session.pop("totp_setup", None)
            return redirect(url_for(endpoint, klart=action), 303)
    setup = None
    if not current_user.totp_secret:
        # A secret for this setup only, saved on the account once a code matches. The same
        # one until then: reloading the page, or opening it in a second tab after scanning,
        # must not make the scanned one wrong.
        if "totp_setup" not in session:
            session["totp_setup"] = totp.new_secret()
        uri = totp.provisioning_uri(session["totp_setup"], current_user.email)
        setup = {"secret": session["totp_setup"], "qr": totp.qr_svg(uri)}
    page = render(errors=errors, setup=setup, done=request.args.get("klart"))
    return page, (422 if errors else 200)


def _safe_next(target: str | None, role: str | None = None) -> str:
    """Only a path on this member's own staff pages (and the hub's pages, signing in at
    the hub member); never another site."""
    prefixes = (f"/{g.tenant.slug}/staff/",) + (("/hub/",) if g.tenant.is_hub else ())
    if target and target.startswith(prefixes) and "//" not in target and "\\" not in target:
        return target
    return url_for("hub.overview") if role in HUB_ROLES else url_for("casework.inbox")


@bp.post("/personal/fortsatt-inloggad")
@public  # answers only a staff session: any other gets 401 (JSON) or the start page
def keep_signed_in():
    """ "Fortsätt vara inloggad" in the warning shown before an idle staff session ends
    (WCAG 2.2.1): its idle time starts again. Script asks for JSON (the seconds left, 0
    when it has ended); without script the form goes back to the page it was on."""
    left = session_clock.keep_going() if current_user.is_authenticated else 0
    if request.accept_mimetypes.best == "application/json":
        return {"seconds_left": left}, 200 if left else 401
    return redirect(same_site_path(request.referrer), 303)


@bp.post("/<slug:tenant>/staff/logga-ut")
@staff(*ROLES, *HUB_ROLES)  # the hub's staff sign in and out at the hub member too
def logout():
    operations.end_all_sessions(account_session.account_of(current_user))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for(".login"), 303)
