"""One person's cases at the member, by personnummer: for a request for their data (GDPR
article 15, registerutdrag) or its erasure, whatever channel the cases came in by. Mina
ärenden finds only what a person sent signed in with e-ID; a preschool application
names a guardian's personnummer in its answers, whoever sent it."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _
from sqlalchemy import orm

from samverkan.access import staff
from samverkan.accounts.models import TENANT_ADMIN
from samverkan.admin.blueprint import bp
from samverkan.audit.operations import record
from samverkan.cases.models import Case
from samverkan.catalogue.swedish import InvalidNumber, normalize_personnummer
from samverkan.extensions import db
from samverkan.identity.persons import PERSONNUMMER, Identity, person_key
from samverkan.staff_frame import render_staff_page

MAX_FOUND = 200


@dataclass(frozen=True)
class Found:
    case: Case
    signed_in: bool  # sent by the person signed in with e-ID (else: named in the answers)


def written_forms(number: str) -> list[str]:
    """The ways a normalized personnummer (YYYYMMDD-NNNN) may stand in answers: as the
    form stores it, and as a person may type it into a free-text answer."""
    long, short = number.replace("-", ""), number[2:]
    return [number, long, short, short.replace("-", "")]


def cases_of_person(session: orm.Session, number: str) -> list[Found]:
    """The bound member's cases about the person: sent by them signed in with e-ID, or
    naming their personnummer anywhere in the answers (a thinned case has none left)."""
    identity = Identity(PERSONNUMMER, number, name=None, given_name=None, family_name=None)
    key = person_key(identity)
    text = sa.cast(Case.answers, sa.Text)
    named = sa.or_(*(text.contains(form, autoescape=True) for form in written_forms(number)))
    cases = session.scalars(
        sa.select(Case)
        .where(sa.or_(Case.person_key == key, named))
        .order_by(Case.submitted_at.desc(), Case.id.desc())
        .limit(MAX_FOUND)
    ).all()
    return [Found(case, case.person_key == key) for case in cases]


@bp.route("/<slug:tenant>/admin/person", methods=["GET", "POST"])
@staff(TENANT_ADMIN)
def person_cases():
    """POST, not GET: a personnummer in the address would stay in the browser's history
    and in every log of a proxy on the way."""
    if request.method == "GET":
        return render_staff_page("admin/person.html", found=None, typed="", errors={})
    typed = request.form.get("personnummer", "")[:20]
    try:
        number = normalize_personnummer(typed)
    except InvalidNumber:
        message = _("Skriv ett personnummer eller samordningsnummer, till exempel 19811228-9874.")
        errors = {"personnummer": [message]}
        return render_staff_page("admin/person.html", found=None, typed=typed, errors=errors), 422
    found = cases_of_person(db.session, number)
    # Who looked, and what they found; never whom (the log outlives the cases).
    record(
        db.session, "person.searched", "member", "", {"found": [f.case.reference for f in found]}
    )
    page = render_staff_page(
        "admin/person.html", found=found, typed=number, errors={}, limit=MAX_FOUND
    )
    db.session.commit()
    return page
