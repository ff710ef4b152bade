"""The optional second factor for staff: time-based one-time codes (RFC 6238) from an
authenticator app, with pyotp. A code is accepted once: the step it belongs to is kept."""

import io
import time

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import orm

from samverkan.accounts.models import User
from samverkan.audit.operations import record
from samverkan.i18n import gettext as _

ISSUER = "Samverkan"


class CodeError(ValueError):
    """A code refused; its message in the page's language (only pages show it)."""


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The setup link as an SVG QR code (markup only, no script or style)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, title="QR-kod"
    )
    # segno's own markup: the address is encoded in the modules, never written as text.
    return Markup(out.getvalue().decode())  # noqa: S704


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step the code belongs to (now, or one step either side for clock drift)."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def check_code(user: User, code: str, now: float | None = None) -> None:
    """Accept the code once, or raise CodeError."""
    step = _matching_step(user.totp_secret or "", code or "", now or time.time())
    if step is None:
        raise CodeError(
            _("Koden stämmer inte. Skriv de sex siffrorna från din app för tvåstegsverifiering.")
        )
    if user.totp_last_step is not None and step <= user.totp_last_step:
        raise CodeError(_("Koden har redan använts. Vänta på nästa kod i appen."))
    user.totp_last_step = step


def enable(session: orm.Session, user: User, secret: str, code: str) -> None:
    """Turn the second factor on, once the user shows their app makes the right codes."""
    if _matching_step(secret, code or "", time.time()) is None:
        raise CodeError(
            _("Koden stämmer inte. Kontrollera att appen har rätt nyckel och försök igen.")
        )
    user.totp_secret = secret
    user.totp_last_step = None
    check_code(user, code)
    record(session, "totp.enabled", "user", user.email)


def disable(session: orm.Session, user: User, code: str) -> None:
    check_code(user, code)
    user.totp_secret = None
    user.totp_last_step = None
    record(session, "totp.disabled", "user", user.email)
